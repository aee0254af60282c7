"""Wall seconds per step of a run, for its profile (``ResolutionResult.steps``, ``Clustering.seconds``)."""

from __future__ import annotations

import time


class Steps(dict[str, float]):
    """Wall seconds per step: ``done(name)`` adds the time since the previous step ended (or since
    the timer started) to ``name``; a step that runs several times adds up."""

    def __init__(self) -> None:
        super().__init__()
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self[name] = self.get(name, 0.0) + now - self._last
        self._last = now
