"""Configuration and construction of the Swin-V2 stages of g_a / g_s."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from s2lic.codec.layers.swinv2 import SwinV2Stage

__all__ = ["TransformConfig", "build_stages"]


@dataclass(frozen=True)
class TransformConfig:
    """Three Swin-V2 stages, listed in processing order.

    The analysis runs them at strides 2, 4, 8 (then a stride-2 convolution to y at 16);
    the synthesis at strides 8, 4, 2.

    Attributes:
        dims: channels of each stage.
        depths: Swin-V2 blocks per stage.
        heads: attention heads per stage.
        window_size: attention window side.
        mlp_ratio: MLP hidden width / dims.
        cpb_hidden: hidden width of the continuous position bias MLPs.
        drop_path: largest stochastic-depth rate (linearly increasing over blocks).
        stage_conv: a 3x3 convolution closing each stage (SwinIR's, the first
            design's; the paper's stages have none).
    """

    dims: tuple[int, int, int] = (192, 192, 192)
    depths: tuple[int, int, int] = (1, 2, 3)
    heads: tuple[int, int, int] = (4, 8, 16)
    window_size: int = 8
    mlp_ratio: float = 4.0
    cpb_hidden: int = 512
    drop_path: float = 0.1
    # The default of a field added after weights shipped keeps those weights' stages.
    stage_conv: bool = True

    def drop_path_rates(self) -> list[tuple[float, ...]]:
        """Per-stage stochastic-depth rates, linearly spaced over all blocks."""
        n = sum(self.depths)
        rates = [self.drop_path * i / max(n - 1, 1) for i in range(n)]
        out, start = [], 0
        for d in self.depths:
            out.append(tuple(rates[start : start + d]))
            start += d
        return out


def build_stages(cfg: TransformConfig, backend: str | None = None) -> nn.ModuleList:
    """The three `SwinV2Stage`s of `cfg`, in processing order."""
    rates = cfg.drop_path_rates()
    return nn.ModuleList(
        SwinV2Stage(
            cfg.dims[s],
            cfg.depths[s],
            cfg.heads[s],
            cfg.window_size,
            cfg.mlp_ratio,
            rates[s],
            cfg.cpb_hidden,
            backend,
            cfg.stage_conv,
        )
        for s in range(3)
    )
