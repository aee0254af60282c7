"""Replacing a published file so its readers see the old version or the new one, never half of one."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomically(path: Path, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` to a hidden file beside ``path``, then rename it over ``path``.

    ``mode``: the file's permissions from its creation on (0o600 for personal data in clear, so
    that nobody else can open it even while it is being written)."""
    partial = path.with_name(f".{path.name}.tmp")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(partial, path)
    return path
