"""The run's log file: where libraries' output goes instead of the console.

Splink warns on every run ("You have called predict()…", "max_pairs…"), Great Expectations and
SQLAlchemy warn about their own internals, libraries raise ``DeprecationWarning``s, and
dagster-dbt copies every line of dbt's own log (its deprecations included) to standard output:
hundreds of lines that buried the one line per step and check a person can act on. During a
run, every warning record of the root logger, every Python warning and everything written to
``sys.stdout`` go to ``<data dir>/logs/run_<run id>.log``, which the run's output names; the
progress lines keep the console (``console()``).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The console while a run's standard output goes to its log file (None outside a run).
_console: TextIO | None = None


def console() -> TextIO:
    """Where the progress lines go: the console, also while standard output is redirected."""
    return _console or sys.stdout


def _to_log(message: Warning | str, category: type[Warning], filename: str, lineno: int, *_: object) -> None:
    """A Python warning as a record of logger ``py.warnings`` (what logging.captureWarnings writes)."""
    text = warnings.formatwarning(message, category, filename, lineno).rstrip()
    logging.getLogger("py.warnings").warning("%s", text)


def run_log_path(data_dir: Path, run_id: str) -> Path:
    return data_dir / "logs" / f"run_{run_id}.log"


@contextmanager
def third_party_output_to(path: Path) -> Iterator[Path]:
    """Send root-logger warnings, Python warnings and standard output to ``path`` while the block runs."""
    global _console
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    with path.open("a", encoding="utf-8") as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.setLevel(logging.WARNING)  # Dagster's own logger is at DEBUG: its chatter stays out
        root.addHandler(handler)
        _console = sys.stdout
        try:
            with warnings.catch_warnings(), redirect_stdout(log):  # both restored at the end
                warnings.simplefilter("default")  # each warning once per place, in the file
                # Not logging.captureWarnings: it does nothing when a library already turned it on.
                warnings.showwarning = _to_log
                yield path
        finally:
            _console = None
            root.removeHandler(handler)
