"""File paths, strict reads and atomic writes (a temporary file in the same folder,
fsync, then rename).

An interrupted or failed write (KeyboardInterrupt, a full disk, a permission
error) leaves the previous file byte-identical and no temporary file behind.
:func:`atomic_write_many` writes several files as one: every file goes to a
temporary first, and the targets are replaced only when all were written.
Reads open only regular files (a FIFO or a device would block or never end).
"""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Any, Sequence

from .errors import InputError, ModelFileError, shown

__all__ = ["atomic_write_text", "atomic_write_bytes", "atomic_write_many", "check_path", "check_targets", "read_regular_file"]


def check_path(path: Any, what: str = "path") -> str:
    """``path`` as a ``str``: a ``str`` or ``os.PathLike`` of text, without NUL bytes.

    >>> check_path(123)
    Traceback (most recent call last):
    ...
    symnet.errors.InputError: path must be a str or os.PathLike file name, got int 123
    """
    if isinstance(path, str):
        target = path
    elif isinstance(path, os.PathLike):
        target = os.fspath(path)
    else:
        target = path
    if not isinstance(target, str):
        raise InputError(f"{what} must be a str or os.PathLike file name, got {type(path).__name__} {shown(path, 40)}")
    if not target:
        raise InputError(f"{what} is empty")
    if "\x00" in target:
        raise InputError(f"{what} {shown(target, 60)} contains a NUL character")
    return target


def read_regular_file(path: Any, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, refusing anything else (a folder, a FIFO,
    a device) and files over ``max_bytes`` before reading them (ModelFileError).

    >>> read_regular_file("/dev/null", 100)
    Traceback (most recent call last):
    ...
    symnet.errors.ModelFileError: cannot read /dev/null: not a regular file (a character device)
    """
    source = check_path(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the mode is checked next
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise ModelFileError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ModelFileError(f"cannot read {source}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(f"cannot read {source}: not a regular file ({_file_type(info.st_mode)})")
        if info.st_size > max_bytes:
            raise ModelFileError(f"{source}: file too large ({info.st_size} bytes; the limit is {max_bytes}, "
                                 "pass max_bytes= to raise it)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ModelFileError(f"cannot read {source}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise ModelFileError(f"{source}: file too large (over {max_bytes} bytes, pass max_bytes= to raise it)")
    return data


def _file_type(mode: int) -> str:
    for test, label in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return label
    return "not a plain file"


def _check_target(target: str) -> str:
    if os.path.isdir(target):
        raise ModelFileError(f"cannot write {target!r}: is a directory")
    if os.path.exists(target) and not os.path.isfile(target):
        raise ModelFileError(f"cannot write {target!r}: not a regular file")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ModelFileError(f"cannot write {target!r}: folder {folder!r} does not exist")
    return folder


def _write_temp(target: str, folder: str, data: bytes) -> str:
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
    except BaseException as exc:
        _unlink(tmp)
        if isinstance(exc, OSError):
            raise ModelFileError(f"cannot write {target!r}: {exc.strerror or exc}") from None
        raise
    return tmp


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def check_targets(paths: Sequence[Any]) -> list[str]:
    """Check that every path can be a write target (not a folder, in an existing folder)
    before any work is done; returns them as strings (InputError, ModelFileError)."""
    targets = [check_path(p) for p in paths]
    for t in targets:
        _check_target(t)
    return targets


def atomic_write_many(files: Sequence[tuple[Any, bytes]]) -> None:
    """Write every ``(path, data)`` pair, all or nothing: every target is checked and
    written to a temporary file first, and the targets are replaced (renamed over)
    only when every temporary file was written. On a failure no target changes and
    no temporary file is left."""
    targets = [check_path(p) for p, _ in files]
    folders = [_check_target(t) for t in targets]
    temps: list[str] = []
    try:
        for target, folder, (_, data) in zip(targets, folders, files):
            temps.append(_write_temp(target, folder, data))
        for k, (tmp, target) in enumerate(zip(temps, targets)):
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise ModelFileError(f"cannot write {target!r}: {exc.strerror or exc}") from None
            temps[k] = ""
    finally:
        for tmp in temps:
            if tmp:
                _unlink(tmp)


def atomic_write_bytes(path: Any, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; errors name the path (ModelFileError)."""
    atomic_write_many([(path, data)])


def atomic_write_text(path: Any, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
