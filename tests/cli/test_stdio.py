"""``-`` for standard input and output: pipes in and out of ``s2lic encode/decode``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2lic.cli.__main__ import main
from s2lic.codec.api import decode as api_decode
from tests.cli.test_cli import MODEL, assert_one_error, listing
from tests.conftest import smooth_image

Piped = Callable[..., tuple[int, bytes, str]]


class _Pipe(io.TextIOWrapper):
    """A text stream over bytes, as a pipe (``tty=True``: as a terminal)."""

    def __init__(self, data: bytes = b"", tty: bool = False) -> None:
        super().__init__(io.BytesIO(data))
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def data(self) -> bytes:
        self.flush()
        assert isinstance(self.buffer, io.BytesIO)
        return self.buffer.getvalue()


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Piped:
    """``run(stdin_bytes, *args, tty_in=False, tty_out=False)``.

    Returns (exit status, stdout bytes, stderr text).
    """

    def run(
        stdin: bytes, *args: object, tty_in: bool = False, tty_out: bool = False
    ) -> tuple[int, bytes, str]:
        out = _Pipe(tty=tty_out)
        monkeypatch.setattr(sys, "stdin", _Pipe(stdin, tty=tty_in))
        monkeypatch.setattr(sys, "stdout", out)
        code = main([os.fspath(a) if isinstance(a, Path) else str(a) for a in args])
        data = out.data()
        monkeypatch.undo()
        return code, data, capsys.readouterr().err

    return run


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_encode_and_decode_through_pipes(piped: Piped, tmp_path: Path) -> None:
    img = Image.fromarray(smooth_image(40, 56))
    code, s2lic, err = piped(_png(img), "encode", "-", "-o", "-", *MODEL)
    assert code == 0, err
    assert_clean_stderr_or_result(err, "<stdin> -> <stdout>: ")
    assert s2lic[:4] == b"S2LC"
    expected = api_decode(s2lic).image
    code, png, err = piped(s2lic, "decode", "-", "-o", "-")
    assert code == 0, err
    assert_clean_stderr_or_result(err, "<stdin> -> <stdout>: 56x40 RGB")
    decoded = Image.open(io.BytesIO(png))
    assert decoded.format == "PNG"
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(expected))
    # A file in, standard output out, and standard input to a file: the same bytes.
    src = tmp_path / "a.png"
    img.save(src)
    code, again, _ = piped(b"", "encode", src, "-o", "-", *MODEL)
    assert code == 0 and again == s2lic
    code, line, err = piped(s2lic, "decode", "-", "-o", tmp_path / "b.png")
    assert code == 0 and "<stdin>" not in err, err
    assert line.decode().startswith(f"<stdin> -> {tmp_path / 'b.png'}: 56x40 RGB")
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "b.png")), np.asarray(expected)
    )


def assert_clean_stderr_or_result(err: str, result: str) -> None:
    """stderr holds the result line (stdout carries the data), besides warnings."""
    lines = [ln for ln in err.splitlines() if not ln.startswith("s2lic: warning: ")]
    assert len(lines) == 1 and lines[0].startswith(result), err


@pytest.mark.parametrize(
    ("args", "tty_in", "tty_out", "phrase"),
    [
        (("encode", "-"), False, False, "give -o FILE"),
        (("encode", "-", "other.png", "-o", "."), False, False, "the only input"),
        (("encode", "a.png", "b.png", "-o", "-"), False, False, "takes one input"),
        # The hints name the kind of file each command reads or writes.
        (
            ("encode", "-", "-o", "-"),
            True,
            False,
            "terminal: pipe a file into '-' (e.g. '< photo.png')",
        ),
        (
            ("encode", "a.png", "-o", "-"),
            False,
            True,
            "terminal: redirect it (e.g. '> out.s2lic')",
        ),
        (("decode", "-", "-o", "-"), False, True, "standard output is a terminal"),
        (
            ("decode", "a.png", "-o", "-"),
            False,
            True,
            "terminal: redirect it (e.g. '> out.png')",
        ),
        (
            ("decode", "-", "-o", "x.png"),
            True,
            False,
            "terminal: pipe a file into '-' (e.g. '< photo.s2lic')",
        ),
        (
            ("info", "-"),
            True,
            False,
            "terminal: pipe a file into '-' (e.g. '< photo.s2lic')",
        ),
    ],
)
def test_misused_dash_is_one_clear_error(
    piped: Piped,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    tty_in: bool,
    tty_out: bool,
    phrase: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    png = _png(Image.fromarray(smooth_image(16, 16)))
    for name in ("a.png", "b.png", "other.png"):
        (tmp_path / name).write_bytes(png)
    model = MODEL if args[0] == "encode" else ()
    code, data, err = piped(png, *args, *model, tty_in=tty_in, tty_out=tty_out)
    assert_one_error(code, err, phrase)
    assert data == b""
    assert listing(tmp_path) == ["a.png", "b.png", "other.png"]


def test_info_of_standard_input(piped: Piped) -> None:
    png = _png(Image.fromarray(smooth_image(16, 24)))
    code, s2lic, _ = piped(png, "encode", "-", "-o", "-", *MODEL, "-q", "0.5")
    assert code == 0
    code, text, err = piped(s2lic, "info", "-")
    assert code == 0, err
    lines = text.decode().splitlines()
    assert lines[0] == "<stdin>:" and "24x16" in text.decode(), text
    code, _, err = piped(s2lic[:-1], "info", "-")
    assert_one_error(code, err, "'<stdin>'")
    for args in (("-", "-"), ("-", "other.s2lic")):
        code, text, err = piped(s2lic, "info", *args)
        assert_one_error(code, err, "the only input")
        assert text == b""


def test_bad_data_on_stdin(piped: Piped, tmp_path: Path) -> None:
    code, data, err = piped(
        b"not an image", "encode", "-", "-o", tmp_path / "x", *MODEL
    )
    assert_one_error(code, err, "'<stdin>'")
    assert data == b"" and listing(tmp_path) == []
    code, data, err = piped(b"", "decode", "-", "-o", "-")
    assert_one_error(code, err, "'<stdin>'")
    assert data == b""
    png = _png(Image.fromarray(smooth_image(16, 16)))
    code, s2lic, _ = piped(png, "encode", "-", "-o", "-", *MODEL)
    assert code == 0
    code, data, err = piped(s2lic, "encode", "-", "-o", "-", *MODEL)
    assert_one_error(code, err, "is already an .s2lic file")
    code, data, err = piped(s2lic[:-3], "decode", "-", "-o", "-")
    assert_one_error(code, err, "truncated")
    assert data == b""


def test_a_file_named_dash_is_still_a_file(
    piped: Piped,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Image.fromarray(smooth_image(16, 16)).save(tmp_path / "-", format="PNG")
    code, line, err = piped(b"", "encode", "./-", "-o", "./-.s2lic", *MODEL)
    assert code == 0 and line.decode().startswith("- -> -.s2lic: "), err
    assert (tmp_path / "-.s2lic").read_bytes()[:4] == b"S2LC"


def test_real_pipes(tmp_path: Path) -> None:
    """Through the console entry point: the data are bytes, the line on stderr."""
    png = _png(Image.fromarray(smooth_image(24, 32)))
    command = [sys.executable, "-m", "s2lic.cli"]
    enc = subprocess.run(
        [*command, "encode", "-", "-o", "-", *MODEL],
        input=png,
        capture_output=True,
        timeout=120,
    )
    assert enc.returncode == 0, enc.stderr
    assert enc.stdout[:4] == b"S2LC"
    dec = subprocess.run(
        [*command, "decode", "-", "-o", "-"],
        input=enc.stdout,
        capture_output=True,
        timeout=120,
    )
    assert dec.returncode == 0, dec.stderr
    assert Image.open(io.BytesIO(dec.stdout)).size == (32, 24)
    assert_clean_stderr_or_result(dec.stderr.decode(), "<stdin> -> <stdout>: 32x24")


def test_reader_gone_is_one_error(tmp_path: Path) -> None:
    """A reader that closed the pipe (``| head -c0``): one error line, no traceback."""
    png = _png(Image.fromarray(smooth_image(16, 16)))
    read, write = os.pipe()
    os.close(read)
    try:
        enc = subprocess.run(
            [sys.executable, "-m", "s2lic.cli", "encode", "-", "-o", "-", *MODEL],
            input=png,
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=120,
        )
    finally:
        os.close(write)
    assert_one_error(enc.returncode, enc.stderr.decode(), "its reader has gone")
    assert listing(tmp_path) == []  # nothing left behind where it ran
