"""Installation secrets kept in the data folder: the salts of pseudonymous keys and of the privacy
suppression list."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def installation_secret(path: Path) -> str:
    """The secret in ``path``, created on first use (mode 600) and kept, so that what is keyed with
    it stays stable across runs; without a secret, anyone could hash a list of e-mails and match
    the keys."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()
