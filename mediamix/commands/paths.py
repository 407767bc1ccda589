"""Checks of the paths a command will write, made before it does any work."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mediamix.errors import MediamixError

__all__ = ["check_output_dir", "check_output_file"]


def check_output_file(path: Path, flag: str) -> None:
    """Refuse an output file that cannot be written, before any work is done."""
    if path.is_dir():
        raise MediamixError(f"{flag} {path}: is a directory; give a file name")
    check_output_dir(path.parent, flag, shown=path)


def check_output_dir(path: Path, flag: str, shown: Path | None = None) -> None:
    """Refuse an output directory that is a file or not writable, before any work is done."""
    shown = shown or path
    existing = next((p for p in (path, *path.parents) if p.exists()), Path.cwd())
    if not existing.is_dir():
        raise MediamixError(f"{flag} {shown}: {existing} is a file, not a directory")
    try:  # a real probe: permission bits do not tell (root, read-only mounts, /proc)
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise MediamixError(f"{flag} {shown}: cannot write in {existing}: {exc.strerror}") from None
