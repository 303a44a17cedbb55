"""Channel, spatial and global attention blocks, built by name with `get_attention`.

Every block maps ``(B, C, H, W)`` to the same shape and cites its paper. The codec uses
`ChannelMap` and `SpatialMap` in the AC and AG contexts (`ChannelGate` and
`SpatialGate` in the AC of the first design), `DeformableAttention` in the AG context
and any block by name in the enhancement module (`EnhancementConfig.attention`).
"""

from .channel import (
    ChannelGate,
    ChannelMap,
    EfficientChannelAttention,
    FrequencyChannelAttention,
    GatedChannelTransform,
    SimAM,
    SqueezeExcitation,
    eca_kernel_size,
)
from .deformable import DeformableAttention
from .factory import ATTENTION_BLOCKS, attention_names, get_attention
from .selfattention import ChannelSelfAttention, EfficientAttention
from .spatial import (
    CBAM,
    CoordinateAttention,
    EfficientLocalAttention,
    LargeKernelAttention,
    SpatialGate,
    SpatialMap,
    TripletAttention,
)

__all__ = [
    "ATTENTION_BLOCKS",
    "CBAM",
    "ChannelGate",
    "ChannelMap",
    "ChannelSelfAttention",
    "CoordinateAttention",
    "DeformableAttention",
    "EfficientAttention",
    "EfficientChannelAttention",
    "EfficientLocalAttention",
    "FrequencyChannelAttention",
    "GatedChannelTransform",
    "LargeKernelAttention",
    "SimAM",
    "SpatialGate",
    "SpatialMap",
    "SqueezeExcitation",
    "TripletAttention",
    "attention_names",
    "eca_kernel_size",
    "get_attention",
]
