"""Atomic output: the file appears whole or not at all, and never clobbers."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from s2lic.codec.fileio import atomic_output


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_publishes_with_the_usual_mode(tmp_path: Path) -> None:
    dst = tmp_path / "out.bin"
    old = os.umask(0o027)
    try:
        with atomic_output(dst) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".out.bin.")
            assert not dst.exists()
            tmp.write_bytes(b"abc")
    finally:
        os.umask(old)
    assert dst.read_bytes() == b"abc"
    assert dst.stat().st_mode & 0o777 == 0o640
    assert listing(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("error", [ValueError("bad"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file(
    tmp_path: Path, error: BaseException
) -> None:
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_output(dst) as tmp:
        tmp.write_bytes(b"half")
        raise error
    assert dst.read_bytes() == b"old"
    assert listing(tmp_path) == ["out.bin"]


def test_replace_false_never_clobbers(tmp_path: Path) -> None:
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"theirs")
    with pytest.raises(FileExistsError), atomic_output(dst, replace=False) as tmp:
        tmp.write_bytes(b"ours")
    assert dst.read_bytes() == b"theirs"
    with atomic_output(dst) as tmp:
        tmp.write_bytes(b"ours")
    assert dst.read_bytes() == b"ours"
    assert listing(tmp_path) == ["out.bin"]


def test_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    dst = tmp_path / "out.bin"
    with atomic_output(dst, replace=False) as tmp:
        tmp.write_bytes(b"first")
    assert dst.read_bytes() == b"first"
    with pytest.raises(FileExistsError), atomic_output(dst, replace=False) as tmp:
        tmp.write_bytes(b"second")
    assert dst.read_bytes() == b"first"
    assert listing(tmp_path) == ["out.bin"]


def test_a_missing_folder_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_output(tmp_path / "no" / "out.bin"):
        pytest.fail("the block must not run")
    assert listing(tmp_path) == []
