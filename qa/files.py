"""File helpers shared by the stages that write or check files."""

from __future__ import annotations

import hashlib
import os
import subprocess
from functools import lru_cache
from pathlib import Path

# The checkout this package runs from, when it does (an installed copy has no .git beside it).
CHECKOUT = Path(__file__).resolve().parent.parent


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, flushed to disk, then rename it into place:
    a reader sees the old file or the new one, never half of one, even after a crash."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


@lru_cache(maxsize=1)
def code_version() -> dict:
    """The commit the code runs at and whether tracked files differ from it; None for both when the
    package does not run from a git checkout of its own (an installed copy inside some other
    repository must not report that repository's commit)."""

    def git(*argv: str) -> str | None:
        try:
            done = subprocess.run(["git", *argv], cwd=CHECKOUT, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD") if (CHECKOUT / ".git").exists() else None
    changed = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "uncommitted_changes": None if changed is None else bool(changed)}
