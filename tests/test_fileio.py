"""Atomic writes: the previous file survives every failure."""

from __future__ import annotations

import errno
import os

import pytest

import symnet as sn
from symnet.fileio import atomic_write_text


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device"),
                                 PermissionError(errno.EACCES, "Permission denied")])
def test_failure_leaves_previous_file_byte_identical(tmp_path, monkeypatch, exc):
    target = tmp_path / "a.txt"
    target.write_text("precious")

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises((KeyboardInterrupt, sn.SymnetError)):
        atomic_write_text(target, "new")
    assert target.read_text() == "precious"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_directory_and_missing_folder_are_named(tmp_path):
    with pytest.raises(sn.ModelFileError, match="is a directory"):
        atomic_write_text(tmp_path, "x")
    with pytest.raises(sn.ModelFileError, match="does not exist"):
        atomic_write_text(tmp_path / "nope" / "a.txt", "x")
