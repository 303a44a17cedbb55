"""Tiled analysis / synthesis: tile layout, exact stitching, small seams."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from s2lic.codec.memory import decode_memory_bytes
from s2lic.codec.registry import get_spec
from s2lic.codec.tiling import Span, Tiling, spans, tiled
from s2lic.codec.zoo import load_model
from tests.conftest import smooth_image


def _image(h: int, w: int) -> torch.Tensor:
    return torch.from_numpy(smooth_image(h, w)).permute(2, 0, 1)[None].float() / 255


def test_spans_cover_the_axis_in_aligned_near_equal_cores() -> None:
    out = spans(640, 256, 64, 64)
    assert out == [
        Span(0, 256, 0, 320),
        Span(256, 448, 192, 512),
        Span(448, 640, 384, 640),
    ]
    assert spans(256, 256, 64, 64) == [Span(0, 256, 0, 256)]
    for length in range(64, 4096, 64):
        s = spans(length, 512, 128, 64)
        assert s[0].start == 0 and s[-1].stop == length
        assert all(a.stop == b.start for a, b in zip(s, s[1:], strict=False))
        sizes = {t.stop - t.start for t in s}
        assert max(sizes) <= 512 and max(sizes) - min(sizes) <= 64
        assert all(v % 64 == 0 for t in s for v in t)


@pytest.mark.parametrize(
    "args", [(100, 64, 0, 64), (128, 96, 0, 64), (128, 64, 32, 64)]
)
def test_spans_reject_unaligned_sizes(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="multiple"):
        spans(*args)


@pytest.mark.parametrize(
    ("fn", "scale"),
    [
        (lambda t: F.avg_pool2d(t, 16) * 2, Fraction(1, 16)),
        (lambda t: F.interpolate(t, scale_factor=16.0), 16),
    ],
)
def test_tiles_stitch_exactly_for_a_local_map(fn, scale) -> None:  # type: ignore[no-untyped-def]
    """A map whose receptive field stays in one aligned block is stitched exactly."""
    x = torch.randn(1, 3, 192, 320) if scale != 16 else torch.randn(1, 5, 12, 20)
    align = 64 if scale != 16 else 4
    for overlap in (0, align):
        out = tiled(fn, x, align, overlap, scale, align)
        torch.testing.assert_close(out, fn(x), rtol=0, atol=0)


def test_one_tile_is_exactly_the_whole_transform() -> None:
    model = load_model("s2lic-tiny").model
    x = _image(128, 192)
    with torch.inference_mode():
        y = model.g_a(x)
        assert torch.equal(model.analyze(x, Tiling(256, 64)), y)
        q = torch.tensor([0.5])
        x_hat = model.g_s(model.gain(y, q, inverse=True))
        assert torch.equal(model.synthesize(y, 0.5, Tiling(256, 64)), x_hat)


def test_tiling_must_follow_the_padding() -> None:
    model = load_model("s2lic-tiny").model
    with pytest.raises(ValueError, match="multiples of 64"):
        model.synthesize(torch.zeros(1, 32, 4, 4), 0.5, Tiling(96, 64))


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


@pytest.mark.parametrize("core", [128, 192])
def test_tiled_reconstruction_is_close_to_the_whole(core: int) -> None:
    """Shipped s2lic-s: tiles of `core` px with 64 px overlap leave small seams only."""
    model = load_model("s2lic-s").model
    x = _image(384, 512)
    small = Tiling(core, 64)
    with torch.inference_mode():
        y = model.analyze(x)  # one tile: the plain g_a
        y_tiled = model.analyze(x, small)
        assert not torch.equal(y, y_tiled)  # several tiles did run
        x_hat = model.synthesize(y, 0.75)
        x_tiled = model.synthesize(y, 0.75, small)
        assert _psnr(x_tiled, x_hat) > 40.0
        assert _psnr(model.synthesize(y_tiled, 0.75), x_hat) > 40.0


def test_decode_memory_estimate_counts_one_synthesis_tile() -> None:
    """Beyond one tile only the entropy model and image buffers grow with pixels."""
    cfg = get_spec("s2lic-s").config
    small = decode_memory_bytes(cfg, 1024, 1024) / 1024**2
    large = decode_memory_bytes(cfg, 4032, 6016) / (4032 * 6016)  # 24 MP
    assert large < small / 3
    assert decode_memory_bytes(cfg, 4032, 6016) < 8 * 2**30
