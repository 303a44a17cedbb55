"""Behaviour of the network building blocks."""

from __future__ import annotations

import math

import pytest
import torch

from s2lic.codec.entropy_model.context.channel import (
    AdaptiveChannelContext,
    AdaptiveChannelContextV1,
)
from s2lic.codec.entropy_model.context.checkerboard import anchor_mask, gather, scatter
from s2lic.codec.entropy_model.context.global_inter import (
    GlobalInterContext,
    GlobalInterContextV1,
)
from s2lic.codec.layers.attention_fn import window_attention
from s2lic.codec.layers.enhancement import EnhancementConfig, EnhancementModule
from s2lic.codec.layers.gain import QualityGain
from s2lic.codec.layers.position_bias import log_spaced, window_relative_table
from s2lic.codec.layers.stacked import StackedConv2d, StackedLinear, run_one
from s2lic.codec.layers.swinv2 import SwinV2Block, SwinV2Stage


def test_attention_backends_agree() -> None:
    q, k, v = (torch.randn(2, 3, 4, 64, 16) for _ in range(3))
    scale = torch.full((4, 1, 1), 10.0)
    bias = torch.randn(3, 4, 64, 64)
    outs = [
        window_attention(q, k, v, scale, bias, backend=b) for b in ("eager", "sdpa")
    ]
    for o in outs[1:]:
        torch.testing.assert_close(o, outs[0], atol=1e-5, rtol=1e-4)


def test_attention_is_cosine() -> None:
    # Scaling q or k must not change scaled cosine attention.
    q, k, v = (torch.randn(1, 2, 64, 8) for _ in range(3))
    scale = torch.ones(2, 1, 1) * 5
    a = window_attention(q, k, v, scale, None, backend="eager")
    b = window_attention(q * 7.0, k * 0.1, v, scale, None, backend="eager")
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_unknown_backend() -> None:
    q = torch.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="choose from"):
        window_attention(q, q, q, torch.ones(1, 1, 1), None, backend="nope")


def test_relative_table() -> None:
    table, index = window_relative_table(8)
    assert table.shape == (225, 2) and index.shape == (64, 64)
    assert table.abs().max() == 1.0
    # The diagonal (a token with itself) is displacement (0, 0).
    assert torch.all(table[index.diagonal()] == 0)
    # Swin-V2: sign(x) * log2(1 + 8|x|) / log2(8), odd and monotone.
    e = math.log2(9.0) / 3.0
    out = log_spaced(torch.tensor([1.0, -1.0, 0.0, 0.5]))
    torch.testing.assert_close(out, torch.tensor([e, -e, 0.0, math.log2(5.0) / 3.0]))


def test_shift_mask_keeps_regions_apart() -> None:
    """In a shifted block, a token at the image corner only reaches its own region."""
    torch.manual_seed(0)
    H = W = 16
    w, s = 8, 4
    block = SwinV2Block(8, 2, w, shift=s).eval()
    x = torch.randn(1, H, W, 8)
    x2 = x.clone()
    x2[0, 0, 0] += 5.0
    with torch.no_grad():
        diff = (block(x2) - block(x)).abs().sum(-1)[0]
    changed = diff > 1e-6
    # Rolled by -s, (0, 0) joins the bottom-right window, but only the s x s corner
    # region that came from the top-left may see it.
    assert changed[:s, :s].all()
    changed[:s, :s] = False
    assert not changed.any()


def test_logit_scale_is_clamped() -> None:
    block = SwinV2Block(8, 2, 4).eval()
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        block.attn.logit_scale.fill_(math.log(100.0))
        a = block(x)
        block.attn.logit_scale.fill_(10.0)
        b = block(x)
    torch.testing.assert_close(a, b)


def test_stage_pads_to_windows() -> None:
    stage = SwinV2Stage(16, 2, 2, window_size=8).eval()
    x = torch.randn(1, 16, 13, 21)
    assert stage(x).shape == x.shape


def test_enhancement_starts_as_identity() -> None:
    for cfg in (
        EnhancementConfig(channels=8, growth=4, layers=2),
        EnhancementConfig(8, 4, 2, unshuffle=2, depthwise=True),
    ):
        m = EnhancementModule(cfg)
        x = torch.rand(1, 3, 16, 24)
        torch.testing.assert_close(m(x), x)


def test_quality_gain_interpolates() -> None:
    g = QualityGain(4, 3)
    with torch.no_grad():
        g.log_gain.copy_(
            torch.log(torch.tensor([[1.0], [2.0], [4.0], [8.0]])).repeat(1, 3)
        )
    y = torch.ones(3, 3, 1, 1)
    out = g(y, torch.tensor([0.0, 1.0 / 6.0, 1.0]))[:, 0, 0, 0]
    # Half-way between levels 0 and 1 is the geometric mean.
    torch.testing.assert_close(out, torch.tensor([1.0, math.sqrt(2.0), 8.0]))
    # At initialisation the inverse gain undoes the gain.
    g2 = QualityGain(4, 3)
    q = torch.rand(3)
    torch.testing.assert_close(g2(g2(y, q), q, inverse=True), y)


@pytest.mark.parametrize("hw", [(1, 1), (3, 5), (4, 4)])
def test_checkerboard_gather_scatter(hw: tuple[int, int]) -> None:
    x = torch.randn(1, 2, *hw)
    m = anchor_mask(*hw)
    a, n = gather(x, m), gather(x, ~m)
    assert a.numel() + n.numel() == x.numel()
    assert a.numel() == 2 * ((hw[0] * hw[1] + 1) // 2)
    torch.testing.assert_close(scatter(a, m, x) + scatter(n, ~m, x), x)


def test_stacked_conv_members_and_prefix() -> None:
    """All members in one call == each member alone; padding == weight prefix."""
    conv = StackedConv2d(3, 8, 5, 3)
    x = torch.randn(2, 3, 8, 6, 7)
    x[:, 0, 4:] = 0  # member 0 only has 4 real input channels
    out = conv(x)
    for i in range(3):
        torch.testing.assert_close(run_one(conv, x[:, i], i), out[:, i])
    torch.testing.assert_close(run_one(conv, x[:, 0, :4], 0), out[:, 0])
    dw = StackedConv2d(3, 8, 8, 5, groups=8)
    torch.testing.assert_close(run_one(dw, x[:, 2], 2), dw(x)[:, 2])
    lin = StackedLinear(3, 4, 2)
    v = torch.randn(2, 3, 5, 4)
    torch.testing.assert_close(lin(v[:, 1:2], 1), lin(v)[:, 1:2])


@pytest.mark.parametrize(
    "ac, ag",
    [
        (AdaptiveChannelContext, GlobalInterContext),
        (AdaptiveChannelContextV1, GlobalInterContextV1),
    ],
)
def test_context_modules_shapes(ac, ag) -> None:  # type: ignore[no-untyped-def]
    prev = torch.randn(2, 3, 32, 6, 10)
    assert ac(3, 32, 16, 24).eval()(prev).shape == (2, 3, 16, 6, 10)
    g = ag(3, 32, 8, 32, head_dim=16, grid=4).eval()
    assert g(prev).shape == (2, 3, 8, 6, 10)
    assert run_one(g, prev[:, 1, :20], 1).shape == (2, 8, 6, 10)


@pytest.mark.parametrize("ag", [GlobalInterContext, GlobalInterContextV1])
def test_global_context_is_global(ag) -> None:  # type: ignore[no-untyped-def]
    """AG output at one corner depends on inputs near the opposite corner."""
    g = ag(1, 16, 4, 16, head_dim=8, grid=4)
    prev = torch.randn(1, 1, 16, 16, 16, requires_grad=True)
    g(prev)[0, 0, :, 0, 0].sum().backward()
    assert prev.grad[0, 0, :, 13, 13].abs().sum() > 0


def test_global_context_offsets_start_on_grid() -> None:
    ag = GlobalInterContext(1, 16, 4, 16, head_dim=8, grid=4).attention
    pts = ag.sample_points(ag.q(torch.randn(1, 1, 16, 8, 8)))
    c = torch.tensor([-0.75, -0.25, 0.25, 0.75])
    torch.testing.assert_close(pts[0, 0, :, :, 0], c.expand(4, 4))
    torch.testing.assert_close(pts[0, 0, :, :, 1], c[:, None].expand(4, 4))
