"""The attention block library: every block by name, each one's defining behaviour."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from s2lic.codec.layers.attention import (
    CBAM,
    ChannelGate,
    ChannelSelfAttention,
    CoordinateAttention,
    DeformableAttention,
    EfficientAttention,
    EfficientChannelAttention,
    EfficientLocalAttention,
    FrequencyChannelAttention,
    GatedChannelTransform,
    LargeKernelAttention,
    SimAM,
    SpatialGate,
    SqueezeExcitation,
    TripletAttention,
    attention_names,
    eca_kernel_size,
    get_attention,
)
from s2lic.codec.layers.attention.channel import dct_filters
from s2lic.codec.layers.enhancement import EnhancementConfig, EnhancementModule
from s2lic.codec.layers.stacked import run_one

NAMES = attention_names()


def _perturbed(name: str, channels: int = 32) -> nn.Module:
    """The block with every parameter moved off its initialisation (zero-init gates
    would otherwise hide whether gradients reach the layers before them)."""
    torch.manual_seed(0)
    block = get_attention(name, channels)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return block


def test_registry_lists_the_issue_blocks() -> None:
    assert set(NAMES) >= {
        "se", "eca", "fca", "gct", "simam", "channel-sa", "cbam", "triplet",
        "coord", "ela", "lka", "deformable", "efficient",
    }  # fmt: skip


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown attention 'sea'.*se, eca"):
        get_attention("sea", 16)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(2, 32, 16, 16), (1, 32, 7, 5), (1, 32, 1, 1)])
def test_shape_is_kept(name: str, shape: tuple[int, ...]) -> None:
    block = get_attention(name, shape[1]).eval()
    x = torch.randn(shape)
    y = block(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_other_channel_counts(name: str) -> None:
    x = torch.randn(1, 48, 9, 13)
    assert get_attention(name, 48).eval()(x).shape == x.shape


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("none", "simam")])
def test_gradients_reach_every_parameter(name: str) -> None:
    block = _perturbed(name)
    x = torch.randn(2, 32, 12, 10, requires_grad=True)
    (block(x) * torch.randn(2, 32, 12, 10)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", NAMES)
def test_eval_is_deterministic_and_exportable(name: str) -> None:
    block = _perturbed(name).eval()
    x = torch.randn(1, 32, 10, 12)
    with torch.no_grad():
        y = block(x)
        assert torch.equal(block(x), y)
        exported = torch.export.export(block, (x,)).module()
        torch.testing.assert_close(exported(x), y, atol=1e-5, rtol=1e-5)


def test_parameter_free_blocks() -> None:
    assert not list(SimAM(32).parameters())
    assert not list(get_attention("none", 32).parameters())


# Defining behaviour of each block --------------------------------------------------


def test_se_with_zero_weights_is_a_half_gate() -> None:
    se = SqueezeExcitation(32, reduction=4)
    for p in se.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 32, 5, 6)
    torch.testing.assert_close(se(x), 0.5 * x)


def test_channel_gate_is_constant_over_space_and_sees_the_max() -> None:
    gate = ChannelGate(16, reduction=4, max_pool=True)
    x = torch.randn(1, 16, 6, 6)
    assert gate(x).shape == (1, 16, 1, 1)
    y = x.clone()
    y[..., 0, 0] = x.amax() + 5.0  # same mean after the compensation below
    y[..., 0, 1] -= y[..., 0, 0] - x[..., 0, 0]
    assert not torch.allclose(gate(y), gate(x))
    gate.max_pool = False
    torch.testing.assert_close(gate(y), gate(x))


def test_stacked_gates_equal_their_members() -> None:
    x = torch.randn(2, 3, 16, 5, 7)
    for gate in (
        ChannelGate(16, 4, members=3),
        SpatialGate(16, 3, pooled=False, members=3),
        SpatialGate(16, 7, pooled=True, members=3),
    ):
        full = gate(x)
        for i in range(3):
            torch.testing.assert_close(run_one(gate, x[:, i], i), full[:, i])


@pytest.mark.parametrize(
    ("channels", "k"), [(16, 3), (64, 3), (128, 5), (256, 5), (512, 5), (1024, 5)]
)
def test_eca_kernel_size_rule(channels: int, k: int) -> None:
    assert eca_kernel_size(channels) == k
    assert EfficientChannelAttention(channels).conv.kernel_size == (k,)


def test_eca_gate_is_local_across_channels() -> None:
    eca = EfficientChannelAttention(64)  # k = 3: channel 10 sees channels 9..11
    x = torch.randn(1, 64, 4, 4, requires_grad=True)
    eca(x)[0, 10].sum().backward()
    touched = x.grad[0].abs().sum(dim=(1, 2)).nonzero().flatten().tolist()
    assert touched == [9, 10, 11]


def test_fca_dc_frequency_is_se() -> None:
    fca = FrequencyChannelAttention(32, reduction=4, frequencies=((0, 0),))
    se = SqueezeExcitation(32, reduction=4)
    with torch.no_grad():
        for lin, conv in ((fca.fc[0], se.gate[0]), (fca.fc[2], se.gate[2])):
            conv.weight.copy_(lin.weight[None, :, :, None, None])
            conv.bias.copy_(lin.bias[None])
    x = torch.randn(2, 32, 14, 14)  # 14 = 2 x 7: pooling to 7x7 keeps the mean
    torch.testing.assert_close(fca(x), se(x), atol=1e-5, rtol=1e-5)


def test_dct_bases_are_orthogonal() -> None:
    freqs = ((0, 0), (0, 1), (6, 0), (3, 5))
    f = dct_filters(4, 7, freqs).flatten(1).double()
    gram = f @ f.T
    off_diagonal = gram - torch.diag(gram.diag())
    torch.testing.assert_close(off_diagonal, torch.zeros(4, 4).double())
    with pytest.raises(ValueError, match="frequency groups"):
        dct_filters(6, 7, freqs)


def test_gct_starts_as_identity() -> None:
    x = torch.randn(2, 16, 5, 5)
    torch.testing.assert_close(GatedChannelTransform(16)(x), x)


def test_simam_weights_outliers_most() -> None:
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 4.0
    x[0, 0, 0, 0] = 1.0
    ratio = (SimAM()(x) / x)[0, 0]
    assert ratio[2, 2] > ratio[0, 0] > 0.5
    flat = torch.full((1, 2, 3, 3), 2.0)  # no deviation: every weight sigmoid(1/2)
    torch.testing.assert_close(SimAM()(flat), flat * torch.sigmoid(torch.tensor(0.5)))


def test_cbam_spatial_gate_ignores_channel_order() -> None:
    gate = CBAM(16, reduction=4).spatial
    x = torch.randn(2, 16, 9, 9)
    torch.testing.assert_close(gate(x[:, torch.randperm(16)]), gate(x))


def test_triplet_matches_explicit_branches() -> None:
    torch.manual_seed(1)
    t = TripletAttention(8)
    x = torch.randn(2, 8, 6, 5)

    # Each branch without rotations: pool one axis, convolve the remaining plane.
    c_w = torch.sigmoid(t.gates[0](torch.stack([x.amax(2), x.mean(2)], 1)))  # (B,1,C,W)
    h_c = torch.sigmoid(
        t.gates[1](torch.stack([x.amax(3), x.mean(3)], 1).transpose(2, 3))
    )  # pooled over W, the (H, C) plane: (B, 1, H, C)
    h_w = torch.sigmoid(t.gates[2](torch.stack([x.amax(1), x.mean(1)], 1)))  # (B,1,H,W)
    expected = (
        x * c_w[:, 0][:, :, None, :]
        + x * h_c[:, 0].permute(0, 2, 1)[:, :, :, None]
        + x * h_w
    ) / 3
    torch.testing.assert_close(t(x), expected)


def _is_rank_one(ratio: torch.Tensor) -> bool:
    """Whether every (H, W) map of `ratio` is an outer product a_h a_w^T."""
    lhs = ratio * ratio[..., :1, :1]
    rhs = ratio[..., :, :1] * ratio[..., :1, :]
    return torch.allclose(lhs, rhs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "block", [CoordinateAttention(16), EfficientLocalAttention(16)]
)
def test_directional_gates_factorise(block: nn.Module) -> None:
    x = torch.rand(2, 16, 7, 9) + 1.0
    ratio = block(x) / x
    assert _is_rank_one(ratio)
    assert not _is_rank_one(torch.rand(2, 16, 7, 9))  # the check can fail


def test_lka_receptive_field_is_23() -> None:
    lka = _perturbed("lka", 4)
    x = torch.randn(1, 4, 31, 31, requires_grad=True)
    lka(x)[0, :, 15, 15].sum().backward()
    reach = x.grad[0].abs().sum(0)[15]
    assert reach[15 + 11] > 0 and reach[15 - 11] > 0
    assert reach[15 + 12] == 0 and reach[15 - 12] == 0


@pytest.mark.parametrize(
    "block", [ChannelSelfAttention(32, head_dim=8), EfficientAttention(32, head_dim=8)]
)
def test_linear_attentions_are_permutation_equivariant(block: nn.Module) -> None:
    x = torch.randn(1, 32, 6, 8)
    perm = torch.randperm(48)
    shuffled = x.flatten(2)[..., perm].view_as(x)
    expected = block(x).flatten(2)[..., perm].view_as(x)
    torch.testing.assert_close(block(shuffled), expected, atol=1e-5, rtol=1e-5)


def test_efficient_attention_matches_its_formula() -> None:
    block = EfficientAttention(8, head_dim=8)  # one head
    x = torch.randn(1, 8, 3, 4)
    q, k, v = block.qkv(x).flatten(2)[0].split(8)  # (d, N) each
    rho_q, rho_k = F.softmax(q, dim=0), F.softmax(k, dim=1)
    attended = (v @ rho_k.T) @ rho_q  # context applied to every query
    expected = x + block.proj(attended.view(1, 8, 3, 4))
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_deformable_plain_equals_single_member() -> None:
    block = _perturbed("deformable", 16)
    x = torch.randn(2, 16, 9, 11)
    inner = DeformableAttention(16, head_dim=8, grid=4)
    assert block(x).shape == x.shape
    torch.testing.assert_close(inner(x), inner(x.unsqueeze(1)).squeeze(1))
    with pytest.raises(ValueError, match="out == in"):
        DeformableAttention(16, 8, residual=True)


def test_lka_is_a_gate() -> None:
    lka = LargeKernelAttention(4)
    x = torch.randn(1, 4, 9, 9)
    attn = lka.pointwise(lka.dilated(lka.local(x)))
    torch.testing.assert_close(lka(x), x * attn)


# Integration ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cbam", "eca", "lka"])
def test_enhancement_attention_is_configurable(name: str) -> None:
    base = EnhancementModule(EnhancementConfig(channels=16, growth=8, layers=2))
    cfg = EnhancementConfig(channels=16, growth=8, layers=2, attention=name)
    m = EnhancementModule(cfg)
    x = torch.rand(1, 3, 16, 24)
    torch.testing.assert_close(m(x), x)  # still starts as the identity
    n_base = sum(p.numel() for p in base.parameters())
    assert sum(p.numel() for p in m.parameters()) > n_base
    with pytest.raises(ValueError, match="unknown attention"):
        EnhancementModule(EnhancementConfig(channels=16, attention="nope"))
