"""The data directory holds the database, the secret key and mail to customers: only its owner may read it.

Folders are made 0700 and files 0600 when they are created (the mode is given to ``mkdir``/``open``, so there is
no moment when they are readable by others), and an existing install is tightened when Cauri starts: group and
other permissions are removed, the owner's are left as they are.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger("cauri.files")

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (created, or tightened if it exists). Missing parents
    are made private too (``mkdir(parents=True)`` would make them with the default mode)."""
    if not path.parent.exists():
        private_directory(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=DIRECTORY_MODE)
    tighten(path)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, a file only its owner can read, created so from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    tighten(path)  # a file that existed kept its mode through O_TRUNC


def write_private_once(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` unless it exists, atomically: of processes starting together, one writes and
    the others keep its file (a half-written file is never seen)."""
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}.draft")
    write_private(draft, data)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def create_private(path: Path) -> None:
    """Make sure ``path`` exists as a file only its owner can read (an empty file is a valid SQLite database,
    and SQLite gives its -wal and -shm files the database file's mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    tighten(path)


def tighten(path: Path) -> None:
    """Remove group and other permissions from ``path`` if it exists; a file another user owns is left as it
    is, with a warning (Cauri cannot change it, and it still works)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
    except FileNotFoundError:
        return
    except PermissionError:
        log.warning("cannot make private", extra={"path": str(path)})
