"""Tools for the management commands and tests (load test, peak memory, child processes);
not part of an export's path."""
