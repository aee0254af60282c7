"""What a benchmark stage cost the disk: the bytes it left, and the IO pressure while it ran.

A stage can be slow because the disk is: after gigabytes of writes a throttled disk makes readers
wait, and the seconds measured are then the disk's, not the code's. Linux says how much time tasks
spent waiting for IO in ``/proc/pressure/io`` (PSI; ``some``: at least one task waiting, ``full``:
all non-idle tasks waiting), as running averages (``avg10``: the last 10 s, in %) and a ``total``
counter in microseconds. ``cdp bench`` reads it before and after each stage: the growth of
``total`` over the stage's wall time is the share of the stage spent stalled on IO.
"""

from __future__ import annotations

import time
from pathlib import Path

PRESSURE = Path("/proc/pressure/io")


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def read_pressure(path: Path = PRESSURE) -> dict[str, dict[str, float]] | None:
    """``{"some": {"avg10": …, "total": …}, "full": {…}}`` from ``/proc/pressure/io``; None where
    the kernel has no pressure information (not Linux, PSI off, or a sandbox without it)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    lines = {}
    for line in text.splitlines():
        kind, *fields = line.split()
        lines[kind] = {key: float(value) for key, value in (f.split("=") for f in fields)}
    return lines if "some" in lines and "full" in lines else None


class IoPressure:
    """IO pressure over a stage: ``with IoPressure() as io: …``, then ``io.figures``."""

    def __init__(self, path: Path = PRESSURE) -> None:
        self.path = path
        self.figures: dict[str, float] | None = None

    def __enter__(self) -> IoPressure:
        self._before = read_pressure(self.path)
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        wall_us = (time.perf_counter() - self._started) * 1e6
        after = read_pressure(self.path)
        if self._before is None or after is None:
            return  # figures stay None: reported as "n/a"
        some_us = after["some"]["total"] - self._before["some"]["total"]
        full_us = after["full"]["total"] - self._before["full"]["total"]
        self.figures = {
            "some_avg10": after["some"]["avg10"],
            "full_avg10": after["full"]["avg10"],
            "some_stall_us": int(some_us),
            "full_stall_us": int(full_us),
            "some_stall_share": round(some_us / wall_us, 4) if wall_us > 0 else 0.0,
            "full_stall_share": round(full_us / wall_us, 4) if wall_us > 0 else 0.0,
        }


def describe(figures: dict[str, float] | None) -> str:
    """IO pressure for the terminal: ``io some 3.1% full 1.2% (avg10 0.5/0.2)``, or ``io n/a``."""
    if figures is None:
        return "io n/a"
    return (
        f"io stall some {figures['some_stall_share']:.1%} full {figures['full_stall_share']:.1%} "
        f"(avg10 {figures['some_avg10']:.1f}/{figures['full_avg10']:.1f})"
    )
