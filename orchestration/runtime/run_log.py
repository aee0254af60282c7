"""The run's log file: where third-party warnings go instead of the console.

Splink warns on every run ("You have called predict()…", "max_pairs…"), Great Expectations and
SQLAlchemy warn about their own internals, and libraries raise ``DeprecationWarning``s: none of it
is something the person running ``cdp run`` can act on, and it buried the one line per step and
check that is. Python's ``logging`` falls back to printing any warning to the console when no
handler is configured; during a run, every record of the root logger and every Python warning
goes to ``<data dir>/logs/run_<run id>.log`` instead, which the
run's last line names.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _to_log(message: Warning | str, category: type[Warning], filename: str, lineno: int, *_: object) -> None:
    """A Python warning as a record of logger ``py.warnings`` (what logging.captureWarnings writes)."""
    text = warnings.formatwarning(message, category, filename, lineno).rstrip()
    logging.getLogger("py.warnings").warning("%s", text)


def run_log_path(data_dir: Path, run_id: str) -> Path:
    return data_dir / "logs" / f"run_{run_id}.log"


@contextmanager
def third_party_output_to(path: Path) -> Iterator[Path]:
    """Send root-logger warnings and Python warnings to ``path`` while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.WARNING)  # Dagster's own logger is at DEBUG: its chatter stays out
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():  # restores how warnings were shown, at the end
            warnings.simplefilter("default")  # each warning once per place, in the file
            # Not logging.captureWarnings: it does nothing when a library already turned it on.
            warnings.showwarning = _to_log
            yield path
    finally:
        root.removeHandler(handler)
        handler.close()
