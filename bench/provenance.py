"""What a record names about the code that measured it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The code a measurement runs: a change here, uncommitted, makes the commit alone not name it.
CODE = ["lit", "modules", "datamodules", "bench", "configs"]


def commit() -> str | None:
    """The short commit of HEAD, with `+changes` when the code under it had uncommitted changes."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    if not head:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *CODE], capture_output=True, text=True, cwd=ROOT).stdout
    return head + ("+changes" if dirty.strip() else "")
