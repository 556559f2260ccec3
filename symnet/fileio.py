"""Atomic file writes: a temporary file in the same folder, fsync, then rename.

An interrupted or failed write (KeyboardInterrupt, a full disk, a permission
error) leaves the previous file byte-identical and no temporary file behind.
"""

from __future__ import annotations

import os
import tempfile

from .errors import ModelFileError

__all__ = ["atomic_write_text", "atomic_write_bytes"]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; errors name the path (ModelFileError)."""
    target = os.fspath(path)
    if os.path.isdir(target):
        raise ModelFileError(f"cannot write {target!r}: is a directory")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ModelFileError(f"cannot write {target!r}: folder {folder!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".symnet-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ModelFileError(f"cannot write {target!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.exists(target):
            try:
                os.chmod(tmp, os.stat(target).st_mode & 0o7777)
            except OSError:
                pass
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ModelFileError(f"cannot write {target!r}: {exc.strerror or exc}") from None
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
