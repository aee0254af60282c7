"""File-level work before DuckDB sees a file: what the file is, checksum, encoding, line breaks.

Retailers' exports arrive in every shape a desktop tool can save: gzip-compressed, UTF-16 from a
spreadsheet, re-saved as UTF-8 when the contract says Windows-1252, with old-Mac CR line breaks,
or not text at all (an ``.xlsx`` dropped in the folder). DuckDB's CSV reader knows UTF-8, UTF-16
and Latin-1 only (Windows-1252 needs the ``encodings`` extension, downloaded at run time), and
``read_csv`` / ``read_text`` treat ``[``, ``*`` and ``?`` in a path as a glob pattern.

So one streaming pass per file, before DuckDB reads it:

- hashes the delivered bytes (the key under which the file is remembered);
- recognises what the bytes are from their first bytes (gzip, zip / Excel workbook, legacy Office,
  PDF, UTF-16 / UTF-32 byte-order marks, UTF-16 without a mark) and names it when it cannot be read;
- decodes the text strictly in the encoding found: the declared one, or what the byte-order mark
  says, or UTF-8 when a file declared Windows-1252 is valid UTF-8 with non-ASCII characters (a file
  re-saved as UTF-8 would otherwise load as mojibake such as ``LefÃ¨vre``);
- refuses text that is already mojibake (UTF-8 read as Windows-1252 and saved again as UTF-8);
- writes a UTF-8 copy with LF line breaks whenever DuckDB could not read the delivered bytes as
  they are (other encoding, compression, CR or mixed line breaks, a name with glob characters).

Nothing is held in memory beyond one chunk. Every choice made is returned as a note for the load
log, so a file read in another way than declared never goes unsaid.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 8 * 1024 * 1024
HEAD_BYTES = 64 * 1024
GLOB_CHARACTERS = frozenset("*?[]{}")
# Text with fewer than one NUL byte per this many bytes (in its first 4 KiB) is text with stray
# NULs; more, and it is binary data (or UTF-16 without a byte-order mark, told apart before).
STRAY_NUL_RATIO = 100

# UTF-8 read as Windows-1252 and saved again: a lead byte C2 / C3 ('Â', 'Ã') followed by one
# continuation byte 80-BF rendered in Windows-1252, or E2 ('â') followed by two: 'é' -> 'Ã©',
# 'è' -> 'Ã¨', '€' -> 'â\u201a¬'.
_CONTINUATION = frozenset(bytes(range(0x80, 0xC0)).decode("cp1252", errors="ignore"))
_MOJIBAKE_LEADS = (("\u00c2", 1), ("\u00c3", 1), ("\u00e2", 2))

ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with byte-order mark",
    "cp1252": "Windows-1252",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "latin-1": "Latin-1",
}


@dataclass(frozen=True)
class FileFingerprint:
    """What the streaming pass learnt about one file."""

    sha256: str
    size: int
    lines: int
    ends_with_newline: bool
    readable_path: Path  # the file itself, or a UTF-8 / LF copy DuckDB can read
    decode_error: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    is_text: bool = True
    # The one line break ``readable_path`` uses: LF, or CRLF in a file delivered with CRLF only.
    line_break: str = "\n"
    # No U+0001 in the text: DuckDB's CSV reader can split it into lines, with that character as
    # a delimiter that never occurs (see ``formats._read_lines``).
    plain_lines: bool = True
    # NUL bytes (U+0000) in the text: each line holding one is quarantined, naming it.
    nul_bytes: int = 0


@dataclass(frozen=True)
class Kind:
    """What the first bytes of a file say it is."""

    name: str  # e.g. "gzip archive", "Excel workbook (.xlsx)", "text"
    encoding: str | None = None  # set by a byte-order mark
    readable: bool = True


def kind_of(head: bytes, name: str) -> Kind:
    """Recognise a file from its first bytes (magic numbers, byte-order marks, NUL patterns)."""
    if head.startswith(b"\x1f\x8b"):
        return Kind("gzip archive")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        excel = b"xl/" in head or name.lower().endswith((".xlsx", ".xlsm"))
        return Kind("Excel workbook (.xlsx)" if excel else "zip archive", readable=False)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Kind("Excel 97-2003 workbook (.xls) or other Office document", readable=False)
    if head.startswith(b"%PDF"):
        return Kind("PDF document", readable=False)
    if head.startswith(b"\xff\xfe\x00\x00") or head.startswith(b"\x00\x00\xfe\xff"):
        return Kind("UTF-32 text", readable=False)
    if head.startswith(b"\xff\xfe"):
        return Kind("UTF-16 LE text with byte-order mark", encoding="utf-16")
    if head.startswith(b"\xfe\xff"):
        return Kind("UTF-16 BE text with byte-order mark", encoding="utf-16")
    if head.startswith(b"\xef\xbb\xbf"):
        return Kind("UTF-8 text with byte-order mark", encoding="utf-8-sig")
    if b"\x00" in head:
        sample = head[:4096]
        odd_zeros, even_zeros = sample[1::2].count(0), sample[0::2].count(0)
        half = len(sample) // 2
        if odd_zeros > 0.4 * half and even_zeros < 0.1 * half:
            return Kind("UTF-16 LE text without byte-order mark", readable=False)
        if even_zeros > 0.4 * half and odd_zeros < 0.1 * half:
            return Kind("UTF-16 BE text without byte-order mark", readable=False)
        if sample.count(0) * STRAY_NUL_RATIO < len(sample):
            # A few NUL bytes in text (a damaged transfer, a till's padding): the lines holding
            # them are quarantined (``casting``), not the whole file of good rows.
            return Kind("text")
        return Kind(f"binary data (a NUL byte at byte {head.index(0)})", readable=False)
    return Kind("text")


@dataclass
class _Pass:
    """Counters of one streaming decode pass."""

    lines: int = 0
    size: int = 0
    last_char: str = ""
    lone_cr: int = 0
    crlf: int = 0
    bare_lf: int = 0
    non_ascii: bool = False
    soh: bool = False  # U+0001 seen
    nul: int = 0  # U+0000 seen
    error: str | None = None
    mojibake: str | None = None


def _stream(
    open_bytes: Callable[[], BinaryIO],
    encoding: str,
    out_path: Path | None,
    digest: hashlib._Hash | None,
) -> _Pass:
    """Decode the whole stream strictly, counting lines and line-break styles; copy it if asked.

    The copy is UTF-8 with every line break (CRLF, CR) written as LF. ``digest`` gets the bytes as
    read; without one, the pass stops at the first decoding error.
    """
    stats = _Pass()
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    out = out_path.open("w", encoding="utf-8", newline="") if out_path is not None else None
    carry = ""  # a CR ending a chunk: the LF of its CRLF may start the next chunk

    def take(text: str) -> None:
        _count(stats, text)
        if text:
            stats.last_char = text[-1]
        if out is not None:
            out.write(text.replace("\r\n", "\n").replace("\r", "\n"))

    try:
        with open_bytes() as handle:
            while chunk := handle.read(CHUNK_BYTES):
                if digest is not None:
                    digest.update(chunk)
                offset = stats.size
                stats.size += len(chunk)
                if stats.error is not None:
                    if digest is None and out is None:
                        break  # a probe: the answer is known
                    # Keep hashing (the checksum remembers the file) and counting lines (every
                    # line of a quarantined file counts as a quarantined row).
                    stats.lines += _line_breaks(chunk)
                    stats.last_char = "\n" if chunk.endswith((b"\n", b"\r")) else "?"
                    continue
                try:
                    text = carry + decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    # A CR held back from the previous chunk ends a line unless this one opens with LF.
                    held = 1 if carry and not chunk.startswith(b"\n") else 0
                    line = stats.lines + held + _line_breaks(chunk[: exc.start]) + 1
                    stats.lines += held + _line_breaks(chunk)
                    stats.last_char = "\n" if chunk.endswith((b"\n", b"\r")) else "?"
                    name = ENCODING_NAMES.get(encoding, encoding)
                    stats.error = (
                        f"not valid {name} at line {line} (byte {offset + exc.start}: "
                        f"{chunk[exc.start : exc.end]!r})"
                    )
                    continue
                carry = "\r" if text.endswith("\r") else ""
                take(text[:-1] if carry else text)
            if stats.error is None:
                try:
                    take(carry + decoder.decode(b"", final=True))
                except UnicodeDecodeError:
                    stats.error = "the file ends inside a character (truncated?)"
    finally:
        if out is not None:
            out.close()
    return stats


def _line_breaks(data: bytes) -> int:
    """Line breaks in raw bytes that could not be decoded: LF, CRLF and a lone CR (old Mac) each
    end one line, as ``_count`` counts them in decoded text. Counting LF alone made a CR-only file
    that is quarantined whole report one row for all of its lines."""
    crlf = data.count(b"\r\n")
    return data.count(b"\n") + data.count(b"\r") - crlf


def _count(stats: _Pass, text: str) -> None:
    """Line-break styles, lines, non-ASCII and the first mojibake sequence of decoded text."""
    cr, lf = text.count("\r"), text.count("\n")
    crlf = text.count("\r\n") if cr and lf else 0
    lines_before = stats.lines
    stats.crlf += crlf
    stats.lone_cr += cr - crlf
    stats.bare_lf += lf - crlf
    stats.lines += lf + cr - crlf
    if not stats.soh and "\x01" in text:
        stats.soh = True
    if "\x00" in text:
        stats.nul += text.count("\x00")
    if text.isascii():
        return
    stats.non_ascii = True
    if stats.mojibake is None and (found := find_mojibake(text)) is not None:
        start_at, end_at = found
        before = text[:start_at]
        line = lines_before + before.count("\n") + before.count("\r") - before.count("\r\n") + 1
        start = max(before.rfind("\n") + 1, start_at - 15)
        stats.mojibake = f"{text[start : end_at + 10]!r} at line {line}"


def find_mojibake(text: str) -> tuple[int, int] | None:
    """(start, end) of the first mojibake sequence in ``text``, or None.

    Only the occurrences of the three lead characters are looked at (a regular expression over
    every chunk cost more than decoding it).
    """
    first: tuple[int, int] | None = None
    for lead, need in _MOJIBAKE_LEADS:
        i = text.find(lead)
        while i >= 0 and (first is None or i < first[0]):
            following = text[i + 1 : i + 1 + need]
            if len(following) == need and all(c in _CONTINUATION for c in following):
                first = (i, i + 1 + need)
                break
            i = text.find(lead, i + 1)
    return first


def sha256_of(path: Path, digest: hashlib._Hash | None = None) -> str:
    """SHA-256 of a file, read in chunks (into ``digest`` when one is given)."""
    digest = digest or hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _unreadable(path: Path, error: str) -> FileFingerprint:
    """A file that is not text we can read: remembered by its checksum, rows not counted."""
    return FileFingerprint(sha256_of(path), path.stat().st_size, 0, True, path, error, is_text=False)


def _recognise(path: Path) -> tuple[Kind, bool, list[str]] | FileFingerprint:
    """What the file is, looking inside a gzip archive: (kind, compressed, notes), or the
    fingerprint of a file that is not text we can read."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    kind = kind_of(head, path.name)
    notes: list[str] = []
    compressed = kind.name == "gzip archive"
    if compressed:
        try:
            with gzip.open(path, "rb") as inner:
                head = inner.read(HEAD_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            return _unreadable(path, f"gzip archive that cannot be decompressed ({exc})")
        kind = kind_of(head, path.name.removesuffix(".gz"))
        if kind.name == "gzip archive":
            return _unreadable(path, "a gzip archive inside a gzip archive")
        notes.append("gzip archive, decompressed")
    if not kind.readable:
        inside = " inside a gzip archive" if compressed else ""
        return _unreadable(path, f"{kind.name}{inside}, not a text export")
    return kind, compressed, notes


def _explained(stats: _Pass, declared: str, chosen: str, open_text: Callable[[], BinaryIO]) -> str | None:
    """The decoding error of a pass, with the likely cause, or the mojibake found; None if neither."""
    error = stats.error
    if error is not None and declared == "utf-8" and chosen == "utf-8":
        if _stream(open_text, "cp1252", None, None).error is None:
            error += (
                "; the bytes look like Windows-1252 / Latin-1 (one byte per accented letter): "
                "re-export as UTF-8 or declare the file's encoding"
            )
    elif error is not None:
        error += "; was the file exported in another encoding?"
    if error is None and stats.mojibake:
        error = (
            f"text is mojibake (UTF-8 read as Windows-1252 and saved again): {stats.mojibake}; "
            "re-export from the source tool"
        )
    return error


def fingerprint(path: Path, encoding: str, scratch_dir: Path) -> FileFingerprint:
    """Hash the file, find what it is and how to read it, and prepare a copy DuckDB can read."""
    recognised = _recognise(path)
    if isinstance(recognised, FileFingerprint):
        return recognised
    kind, compressed, notes = recognised

    def open_text() -> BinaryIO:
        return gzip.open(path, "rb") if compressed else path.open("rb")  # type: ignore[return-value]

    declared = encoding.lower().replace("_", "-")
    chosen = kind.encoding or declared
    if kind.encoding == "utf-8-sig" and declared != "utf-8":
        notes.append(
            f"declared {ENCODING_NAMES.get(declared, declared)} but starts with a UTF-8 byte-order "
            "mark: read as UTF-8"
        )
    elif kind.encoding and kind.encoding != "utf-8-sig":
        notes.append(f"{kind.name}: read as {ENCODING_NAMES[kind.encoding]}")
    glob_in_name = bool(GLOB_CHARACTERS & set(str(path)))
    scratch_dir.mkdir(parents=True, exist_ok=True)
    copy_path = scratch_dir / f"{hashlib.sha1(str(path).encode()).hexdigest()[:16]}.utf8"
    must_copy = compressed or chosen not in ("utf-8", "utf-8-sig") or glob_in_name

    digest = hashlib.sha256()
    stats = _stream(open_text, chosen, copy_path if must_copy else None, None if compressed else digest)
    if compressed:
        sha256_of(path, digest)  # remembered by the delivered (compressed) bytes
    if declared == "cp1252" and chosen == "cp1252" and stats.error is None and stats.non_ascii:
        # Windows-1252 text with accents is almost never valid UTF-8; a file that is was re-saved
        # as UTF-8, and reading it as declared would turn 'Lefèvre' into 'LefÃ¨vre'.
        probe = _stream(open_text, "utf-8", None, None)
        if probe.error is None:
            chosen, stats = "utf-8", probe
            notes.append("declared Windows-1252 but the bytes are UTF-8 (re-saved?): read as UTF-8")
            must_copy = compressed or glob_in_name
            if must_copy:
                stats = _stream(open_text, chosen, copy_path, None)
    mixed = stats.lone_cr > 0 or (stats.crlf > 0 and stats.bare_lf > 0)
    if mixed and not must_copy and stats.error is None:
        must_copy = True
        stats = _stream(open_text, chosen, copy_path, None)
    if mixed:
        only_cr = stats.bare_lf == 0 and stats.crlf == 0
        notes.append(f"{'CR (old Mac)' if only_cr else 'mixed CR / LF / CRLF'} line breaks read as line ends")

    if stats.nul:
        notes.append(f"{stats.nul} NUL byte(s) in the text: the lines holding them are quarantined")
    error = _explained(stats, declared, chosen, open_text)
    if not must_copy:
        copy_path.unlink(missing_ok=True)
    ends_with_newline = stats.last_char in ("\n", "\r")
    return FileFingerprint(
        sha256=digest.hexdigest(),
        size=path.stat().st_size,
        lines=stats.lines + (0 if ends_with_newline or stats.size == 0 else 1),
        ends_with_newline=ends_with_newline,
        readable_path=copy_path if must_copy else path,
        decode_error=error,
        notes=tuple(notes),
        line_break="\r\n" if stats.crlf and not must_copy else "\n",
        plain_lines=not stats.soh,
        nul_bytes=stats.nul,
    )
