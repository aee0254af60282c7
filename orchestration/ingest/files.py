"""File-level work before DuckDB sees a file: checksum, encoding check, transcoding.

DuckDB's CSV reader knows UTF-8, UTF-16 and Latin-1 only (Windows-1252 needs the ``encodings``
extension, which would be downloaded at run time). So one streaming pass per file computes the
SHA-256, proves the bytes decode in the declared encoding, and, for Windows-1252 exports, writes a
UTF-8 copy for DuckDB to read. Nothing is held in memory beyond one chunk.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class FileFingerprint:
    """What the streaming pass learnt about one file."""

    sha256: str
    size: int
    lines: int
    ends_with_newline: bool
    readable_path: Path  # the file itself, or its UTF-8 copy
    decode_error: str | None = None


def fingerprint(path: Path, encoding: str, scratch_dir: Path) -> FileFingerprint:
    """Hash the file and check (and if needed transcode) its encoding in one streaming pass.

    A decoding error does not stop hashing: the checksum is still needed to remember the file.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    transcode = encoding.lower().replace("_", "-") not in ("utf-8", "utf8")
    out_path = scratch_dir / f"{path.name}.utf8" if transcode else path
    out = None
    if transcode:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        out = out_path.open("w", encoding="utf-8", newline="")
    lines = 0
    size = 0
    last_byte = b""
    error: str | None = None
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
                if error is None:
                    try:
                        text = decoder.decode(chunk)
                        if out is not None:
                            out.write(text)
                    except UnicodeDecodeError as exc:
                        line = lines + chunk[: exc.start].count(b"\n") + 1
                        byte = size + exc.start
                        error = (
                            f"not valid {encoding} at line {line} (byte {byte}: "
                            f"{chunk[exc.start : exc.end]!r}); was the file exported in another encoding?"
                        )
                lines += chunk.count(b"\n")
                size += len(chunk)
                last_byte = chunk[-1:]
            if error is None:
                try:
                    tail = decoder.decode(b"", final=True)
                    if out is not None:
                        out.write(tail)
                except UnicodeDecodeError:
                    error = f"not valid {encoding}: the file ends inside a character (truncated?)"
    finally:
        if out is not None:
            out.close()
    ends_with_newline = last_byte == b"\n"
    return FileFingerprint(
        sha256=digest.hexdigest(),
        size=size,
        lines=lines + (0 if ends_with_newline or size == 0 else 1),
        ends_with_newline=ends_with_newline,
        readable_path=out_path,
        decode_error=error,
    )
