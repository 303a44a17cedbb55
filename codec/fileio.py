"""Atomic file output: readers see the old file (or none) or the whole new one.

The files that are read back later go through `atomic_output`: encoded and decoded
images, evaluation reports and journals, weights (snapshots included), checkpoints and
the weights manifest. An error, a crash or Ctrl-C mid-write never leaves a truncated
file behind or breaks the old one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output"]

_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, replace: bool = True
) -> Iterator[Path]:
    """Yield a temporary path to write; publish it as ``path`` when the block ends.

    The temporary file lies in the same directory (a hidden ``.<name>.*.tmp``), so
    publishing is one rename. When the block ends normally the file gets the usual
    mode (0666 less the umask), is fsynced, and is published with ``os.replace``, or,
    when ``replace`` is false, with ``os.link``, which fails if ``path`` exists even if
    it appeared a moment ago. On any failure, interruptions included, the temporary
    file is removed and ``path`` is left as it was.

    Raises:
        FileExistsError: ``path`` exists and ``replace`` is false.
        OSError: the file cannot be written.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); outputs get the usual mode.
        os.chmod(tmp, 0o666 & ~_umask())
        _fsync(tmp)
        _publish(tmp, path, replace)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _umask() -> int:
    # The only portable way to read the umask is to set it; the lock keeps other
    # threads of this process from seeing the temporary value twice.
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _fsync(file: Path) -> None:
    fd = os.open(file, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, path: Path, replace: bool) -> None:
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
            raise
        # Filesystems without hard links: reserve the name exclusively, then replace
        # the empty placeholder (never someone else's file) atomically.
        placeholder = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(placeholder)
        try:
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise


def _fsync_dir(folder: Path) -> None:
    # Makes the new directory entry durable; not possible everywhere (e.g. Windows).
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
