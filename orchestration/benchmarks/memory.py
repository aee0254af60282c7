"""Resident memory of a process tree (``cdp run``, dbt, Dagster), read from ``/proc``."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import defaultdict
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, from ``/proc``."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name (which may hold spaces, inside parentheses).
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):  # exited meanwhile
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
        todo.extend(children.get(pid, ()))
    return total


class RssSampler:
    """Samples a process tree's resident memory in a background thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), tree_rss_bytes(self.pid)))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self, spans: list[tuple[float, float]] | None = None) -> float | None:
        """Highest sample overall, or within ``spans``; a span shorter than the sampling interval
        gets the last sample taken before it ended."""
        if spans is None:
            values = [rss for _, rss in self.samples]
        else:
            values = [rss for at, rss in self.samples if any(s <= at <= e for s, e in spans)]
            for _, end in spans:
                values += [rss for at, rss in self.samples if at <= end][-1:]
        return round(max(values) / 2**20, 1) if values else None
