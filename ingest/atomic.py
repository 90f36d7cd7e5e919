"""Writing and removing files so that neither a crash nor a power cut leaves half of it.

``write_atomically`` writes a temporary ``.partial-*`` file beside the target, syncs it, renames
it over the target and then syncs the folder: a rename is durable only once its folder's entry
is on disk, and a file renamed before its bytes are would come back empty after a power cut.
``remove_durably`` does the same for a removal. Both the upload spool (``ingest.spool``) and the
stored originals (``ingest.originals``) write through here, so this is the one place that knows
the ``.partial-`` prefix: a process killed mid-write leaves such a file, which
``sweep_partials`` removes on the next start (``ingest.recovery.remove_partial_files``).

A write that finds the disk full (``ENOSPC``, or ``EDQUOT`` past a quota) raises
``StorageFullError`` naming the user's file and the folder, after removing its temporary file:
nothing of it is left.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
from pathlib import Path

from ingest.errors import StorageFullError

PARTIAL_PREFIX = ".partial-"
#: The errors of a disk with no room left (for everyone, or for this user's quota).
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def write_atomically(target: Path, data: bytes, *, name: str, sync: bool = True) -> None:
    """Write ``data`` to ``target`` durably and whole, or not at all.

    ``name``: the file as the user knows it, for ``StorageFullError``. Other ``OSError`` are
    raised as they are. ``sync=False`` leaves the folder's sync to the caller, who writes
    several files into it and syncs it once (``sync_folder``) before relying on any: until
    then the file is whole if it is there, but may not be there after a power cut."""
    folder = target.parent
    tmp: str | None = None
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            sync_folder(folder.parent)  # the new folder's own entry
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=PARTIAL_PREFIX)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        tmp = None
        if sync:
            sync_folder(folder)
    except OSError as error:
        if error.errno in DISK_FULL:
            raise StorageFullError(name, folder) from error
        raise
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def remove_durably(*paths: Path) -> None:
    """Remove these files (absent ones are fine), then sync each folder they were in once, so
    that a removal is not undone by a power cut."""
    folders: dict[Path, None] = {}
    for path in paths:
        path.unlink(missing_ok=True)
        folders[path.parent] = None
    for folder in folders:
        if folder.is_dir():
            sync_folder(folder)


def sync_folder(folder: Path) -> None:
    """fsync a folder, which makes the creations, renames and removals in it durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_partials(folder: Path, *, older_than_s: float = 0.0) -> int:
    """Remove the temporary files that writes cut short left in ``folder``; how many.

    ``older_than_s``: keep those modified more recently, which another process sharing the
    folder may be writing right now."""
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    swept = []
    for partial in folder.glob(f"{PARTIAL_PREFIX}*"):
        try:
            if partial.is_file() and partial.stat().st_mtime <= cutoff:
                swept.append(partial)
        except FileNotFoundError:  # its writer finished or removed it meanwhile
            continue
    if swept:
        remove_durably(*swept)
    return len(swept)
