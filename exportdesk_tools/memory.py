"""This process's own peak memory."""

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """VmHWM belongs to this address space; ru_maxrss also carries the peak of the process
    that spawned us across exec (Linux), which would blame a writer for its parent's memory."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
