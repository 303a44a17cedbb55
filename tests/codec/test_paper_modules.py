"""The paper's modules: AC, AG, their maps, the enhancement, the hyperprior, the stages.

Each test checks a module's defining structure (which branch feeds which map, which map
gates which branch, the layers the paper draws) by recomputing the module's output
from its parts, so a rewiring fails; plus shapes, gradients and the stacked BatchNorm.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from s2lic.codec.entropy_model.context.channel import AdaptiveChannelContext
from s2lic.codec.entropy_model.context.global_inter import GlobalInterContext
from s2lic.codec.entropy_model.hyperprior import HyperAnalysis, HyperSynthesis
from s2lic.codec.layers.attention import ChannelMap, SpatialMap
from s2lic.codec.layers.enhancement import (
    EnhancementConfig,
    PaperEnhancement,
    build_enhancement,
)
from s2lic.codec.layers.stacked import StackedBatchNorm2d, StackedConv2d
from s2lic.codec.layers.swinv2 import SwinV2Stage
from s2lic.codec.registry import get_spec
from s2lic.train.trainer import copy_norm_statistics
from tests.conftest import randomize_norm_statistics


def _capture(module: nn.Module, store: dict[str, torch.Tensor], key: str) -> None:
    """Record `module`'s first input under key + '.in' and its output under key."""

    def hook(_m, args, out):  # type: ignore[no-untyped-def]
        store[key + ".in"], store[key] = args[0], out

    module.register_forward_hook(hook)


def _wired(module: nn.Module, prev: torch.Tensor) -> dict[str, torch.Tensor]:
    seen: dict[str, torch.Tensor] = {}
    for name in ("dw_branch", "channel_map", "spatial_map", "out"):
        _capture(getattr(module, name), seen, name)
    first = "conv_branch" if hasattr(module, "conv_branch") else "attention"
    _capture(getattr(module, first), seen, "a")
    seen["result"] = module(prev)
    return seen


def test_ac_branches_and_which_map_gates_which() -> None:
    """AC: S_Map(depth-wise) gates the conv branch, C_Map(conv) the depth-wise one."""
    ac = AdaptiveChannelContext(3, 24, 16, 32)
    randomize_norm_statistics(ac)
    ac.eval()
    convs = [m for m in ac.conv_branch if isinstance(m, StackedConv2d)]
    acts = [m for m in ac.conv_branch if isinstance(m, nn.GELU)]
    assert [c.weight.shape[-1] for c in convs] == [3, 3] and len(acts) == 2
    assert list(ac.conv_branch).index(acts[0]) == 1  # conv-GELU-conv-GELU
    prev = torch.randn(2, 3, 24, 8, 8)
    seen = _wired(ac, prev)
    a, b = seen["a"], seen["dw_branch"]
    assert seen["spatial_map.in"] is b and seen["channel_map.in"] is a
    expected = ac.out(a * ac.spatial_map(b) + b * ac.channel_map(a))
    torch.testing.assert_close(seen["result"], expected)
    # The other way round (the first design's wiring) is a different function.
    crossed = ac.out(a * ac.channel_map(a) + b * ac.spatial_map(b))
    assert not torch.allclose(seen["result"], crossed)


def test_ag_branches_and_which_map_gates_which() -> None:
    """AG: C_Map(depth-wise) gates the attention branch, S_Map(attention) the
    depth-wise one; the attention ends in a 5x5 convolution."""
    ag = GlobalInterContext(2, 16, 8, 32, head_dim=16, grid=4)
    randomize_norm_statistics(ag)
    ag.eval()
    assert ag.attention.proj.weight.shape[-2:] == (5, 5)
    prev = torch.randn(1, 2, 16, 12, 12)
    seen = _wired(ag, prev)
    a, b = seen["a"], seen["dw_branch"]
    assert seen["channel_map.in"] is b and seen["spatial_map.in"] is a
    expected = ag.out(a * ag.channel_map(b) + b * ag.spatial_map(a))
    torch.testing.assert_close(seen["result"], expected)
    swapped = ag.out(a * ag.spatial_map(b) + b * ag.channel_map(a))
    assert not torch.allclose(seen["result"], swapped)


def test_maps_are_the_papers_layers() -> None:
    """C_Map = AvgPool-Conv-BN-GELU-Conv-Sigmoid, S_Map = Conv-BN-GELU-Conv-Sigmoid."""
    kinds = [StackedConv2d, StackedBatchNorm2d, nn.GELU, StackedConv2d]
    for block in (ChannelMap(32), SpatialMap(32)):
        assert [type(m) for m in block] == kinds
    x = torch.randn(2, 32, 6, 7)
    c, s = ChannelMap(32).eval()(x), SpatialMap(32).eval()(x)
    assert c.shape == (2, 32, 1, 1) and s.shape == (2, 1, 6, 7)
    assert ((c > 0) & (c < 1)).all() and ((s > 0) & (s < 1)).all()


@pytest.mark.parametrize("module", ["ac", "ag"])
def test_contexts_train_every_parameter(module: str) -> None:
    torch.manual_seed(1)
    if module == "ac":
        net: nn.Module = AdaptiveChannelContext(3, 24, 16, 32)
    else:
        net = GlobalInterContext(3, 24, 8, 32, head_dim=16, grid=4)
    prev = torch.randn(4, 3, 24, 8, 8)
    net(prev).square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if not name.startswith("attention.offset_dw"):  # behind zero offsets at first
            assert p.grad.abs().sum() > 0, name


def test_stacked_batchnorm_equals_one_batchnorm_per_member() -> None:
    S, C = 3, 4
    stacked = StackedBatchNorm2d(S, C)
    plain = [nn.BatchNorm2d(C) for _ in range(S)]
    with torch.no_grad():
        for i, bn in enumerate(plain):
            bn.weight.copy_(torch.randn(C))
            bn.bias.copy_(torch.randn(C))
            stacked.weight[i * C : (i + 1) * C] = bn.weight
            stacked.bias[i * C : (i + 1) * C] = bn.bias
    x = torch.randn(5, S, C, 6, 6) * 3 + 1
    out = stacked(x)  # training: batch statistics, running statistics updated
    for i, bn in enumerate(plain):
        torch.testing.assert_close(out[:, i], bn(x[:, i]))
    # One member alone updates only its own running statistics.
    before = stacked.running_mean.clone()
    one = stacked(x[:, 1:2] * 2, index=1)
    torch.testing.assert_close(one[:, 0], plain[1](x[:, 1] * 2))
    torch.testing.assert_close(stacked.running_mean[:C], before[:C])
    torch.testing.assert_close(stacked.running_mean[C : 2 * C], plain[1].running_mean)
    stacked.eval()
    for bn in plain:
        bn.eval()
    torch.testing.assert_close(stacked(x[:, 2:3], index=2)[:, 0], plain[2](x[:, 2]))
    # A training batch of one value per channel keeps the running statistics.
    stacked.train()
    mean = stacked.running_mean.clone()
    single = stacked(x[:1, :, :, :1, :1])
    torch.testing.assert_close(stacked.running_mean, mean)
    assert torch.isfinite(single).all()


def test_ema_exports_the_live_norm_statistics() -> None:
    from torch.optim.swa_utils import AveragedModel

    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    ema = AveragedModel(net, use_buffers=False)
    net(torch.randn(4, 3, 5, 5) * 4 + 2)
    assert not torch.equal(ema.module[1].running_mean, net[1].running_mean)
    copy_norm_statistics(net, ema.module)
    torch.testing.assert_close(ema.module[1].running_mean, net[1].running_mean)
    torch.testing.assert_close(ema.module[1].running_var, net[1].running_var)


def test_paper_enhancement() -> None:
    """Xie et al.'s EnhBlock(64): ~314 k parameters, x + 0.2 f, starts as identity."""
    cfg = EnhancementConfig(design="paper")
    enh = build_enhancement(cfg)
    assert isinstance(enh, PaperEnhancement)
    assert sum(p.numel() for p in enh.parameters()) == 313_987
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(enh(x), x, rtol=0, atol=0)
    acts = [m for m in enh.modules() if isinstance(m, nn.LeakyReLU)]
    assert acts and all(a.negative_slope == 0.2 for a in acts)
    with torch.no_grad():
        for p in enh.parameters():
            p.add_(0.01 * torch.randn_like(p))
    torch.testing.assert_close(enh(x), x + 0.2 * enh.body(x))
    with pytest.raises(ValueError, match="one block at full resolution"):
        EnhancementConfig(design="paper", unshuffle=2)
    with pytest.raises(ValueError, match="unknown enhancement"):
        EnhancementConfig(design="other")


def test_paper_hyperprior() -> None:
    """3x3 convolutions only; h_a N, N, N/2, N, N/2; h_s M up, M, 1.5M up, 1.5M, 2M."""
    M, N, Z = 40, 24, 16
    h_a, h_s = HyperAnalysis(M, N, Z), HyperSynthesis(Z, 2 * M)
    convs_a = [m for m in h_a.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.stride[0]) for c in convs_a] == [
        (N, 1),
        (N, 1),
        (N, 2),
        (N, 1),
        (Z, 2),
    ]
    convs_s = [m for m in h_s.modules() if isinstance(m, nn.Conv2d)]
    ups = [m for m in h_s.modules() if isinstance(m, nn.PixelShuffle)]
    # Sub-pixel convolutions produce 4x the channels of the up-sampled width.
    assert [c.out_channels for c in convs_s] == [4 * M, M, 4 * 60, 60, 2 * M]
    assert len(ups) == 2
    assert all(c.kernel_size == (3, 3) for c in convs_a + convs_s)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in h_s.modules())
    z = h_a(torch.randn(1, M, 16, 12))
    assert z.shape == (1, Z, 4, 3)
    assert h_s(z).shape == (1, 2 * M, 16, 12)


def test_stages_without_the_swinir_convolution() -> None:
    stage = SwinV2Stage(16, 1, 2, window_size=4, cpb_hidden=8, conv=False)
    assert not any(isinstance(m, nn.Conv2d) for m in stage.modules())
    x = torch.randn(1, 16, 8, 8)
    assert stage(x).shape == x.shape
    first_design = SwinV2Stage(16, 1, 2, window_size=4, cpb_hidden=8)
    assert isinstance(first_design.conv, nn.Conv2d)


def test_paper_model_is_built_of_the_paper_modules() -> None:
    spec = get_spec("s2lic-paper")
    with torch.device("meta"):
        model = spec.factory(spec.config)
    assert isinstance(model.entropy.ac, AdaptiveChannelContext)
    assert isinstance(model.entropy.ag, GlobalInterContext)
    assert isinstance(model.entropy.h_a, HyperAnalysis)
    assert isinstance(model.entropy.h_s, HyperSynthesis)
    assert isinstance(model.g_a.enh, PaperEnhancement)
    assert isinstance(model.g_s.enh, PaperEnhancement)
    stages = [*model.g_a.stages, *model.g_s.stages]
    assert all(isinstance(s.conv, nn.Identity) for s in stages)
