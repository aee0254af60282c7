"""What a benchmark result was measured on: the code's commit and the machine."""

from __future__ import annotations

import os
import subprocess

from orchestration.benchmarks.memory import PAGE_SIZE
from orchestration.settings import REPO_ROOT


def code_commit() -> str | None:
    """The short commit of the checkout (``None`` outside a git checkout): read it before a long
    run, so that the result names the code measured."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def machine() -> dict[str, int | None]:
    """CPUs and memory of the machine."""
    return {"cpus": os.cpu_count(), "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * PAGE_SIZE / 2**30)}
