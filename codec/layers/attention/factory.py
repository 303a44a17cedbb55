"""`get_attention`: every attention block by name, from one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from .channel import (
    EfficientChannelAttention,
    FrequencyChannelAttention,
    GatedChannelTransform,
    SimAM,
    SqueezeExcitation,
)
from .deformable import DeformableAttention
from .selfattention import ChannelSelfAttention, EfficientAttention
from .spatial import (
    CBAM,
    CoordinateAttention,
    EfficientLocalAttention,
    LargeKernelAttention,
    TripletAttention,
)

__all__ = ["ATTENTION_BLOCKS", "attention_names", "get_attention"]


def _none(channels: int) -> nn.Module:
    return nn.Identity()


def _deformable(channels: int, **kw: Any) -> nn.Module:
    return DeformableAttention(channels, residual=True, **kw)


ATTENTION_BLOCKS: dict[str, Callable[..., nn.Module]] = {
    "none": _none,
    # channel
    "se": SqueezeExcitation,
    "eca": EfficientChannelAttention,
    "fca": FrequencyChannelAttention,
    "gct": GatedChannelTransform,
    "simam": SimAM,
    "channel-sa": ChannelSelfAttention,
    # spatial / hybrid
    "cbam": CBAM,
    "triplet": TripletAttention,
    "coord": CoordinateAttention,
    "ela": EfficientLocalAttention,
    "lka": LargeKernelAttention,
    # global
    "deformable": _deformable,
    "efficient": EfficientAttention,
}
"""Name -> constructor ``(channels, **kw)``; each keeps the (B, C, H, W) shape."""


def attention_names() -> list[str]:
    """The names `get_attention` accepts."""
    return list(ATTENTION_BLOCKS)


def get_attention(name: str, channels: int, **kw: Any) -> nn.Module:
    """Build the attention block `name` for `channels` channels.

    Raises:
        ValueError: unknown name (the message lists the choices).
    """
    try:
        factory = ATTENTION_BLOCKS[name]
    except KeyError:
        raise ValueError(
            f"unknown attention {name!r}; choose one of: {', '.join(ATTENTION_BLOCKS)}"
        ) from None
    return factory(channels, **kw)
