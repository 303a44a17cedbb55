"""Context models of the ACGC entropy model."""

from s2lic.codec.entropy_model.context.channel import AdaptiveChannelContext
from s2lic.codec.entropy_model.context.checkerboard import SpatialContext, anchor_mask
from s2lic.codec.entropy_model.context.global_inter import GlobalInterContext

__all__ = [
    "AdaptiveChannelContext",
    "GlobalInterContext",
    "SpatialContext",
    "anchor_mask",
]
