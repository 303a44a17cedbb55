"""Deformable global-inter attention context: after S2LIC's AG, attention branch only.

Wang et al., arXiv 2403.14471: every position of the current slice attends to keys
sampled at learned locations of the already decoded slices, which gives the entropy
model a global context at a cost linear in the number of positions. The mechanism is the
library's `DeformableAttention` (s2lic.codec.layers.attention), one network per slice
(stacked weights).

Left out of the paper's AG (docs/model.md, "Deviations from the paper"): its depth-wise
convolution branch beside the attention, the channel and spatial maps with which each
branch gates the other, and the 5x5 convolution after the attention (here a 1x1
projection).
"""

from __future__ import annotations

from s2lic.codec.layers.attention import DeformableAttention

__all__ = ["GlobalInterContext"]


class GlobalInterContext(DeformableAttention):
    """Deformable attention from the decoded slices (B, s, C, H, W) to the context.

    Args:
        members: number of slices with a context (stacked networks).
        in_channels: channels of the decoded slices (the widest member's).
        out_channels: context channels.
        dim: attention width.
        head_dim, grid, offset_range, cpb_hidden: as `DeformableAttention`.
    """

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        dim: int,
        head_dim: int = 32,
        grid: int = 8,
        offset_range: float = 2.0,
        cpb_hidden: int = 64,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            dim,
            head_dim,
            grid,
            offset_range,
            cpb_hidden,
            members=members,
        )
