"""Download names that make one safe Content-Disposition header whatever a dataset is called."""

import re
import unicodedata

MAX_LENGTH = 150
UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/;:*?<>|%]+')


def safe_filename(name: str, max_length: int = MAX_LENGTH) -> str:
    """No control characters (CR/LF would split the header), no quotes, backslashes, `;` or
    path separators; non-ASCII stays (Django sends it as `filename*`); the extension survives
    truncation."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = UNSAFE.sub("_", name).strip(" .") or "export"
    if len(name) <= max_length:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and 0 < len(ext) <= 10:
        return stem[: max_length - len(ext) - 1] + "." + ext
    return name[:max_length]
