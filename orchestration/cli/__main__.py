"""``python -m orchestration.cli``: the ``cdp`` command, for a Python whose scripts are not on PATH."""

from orchestration.cli import app

app()
