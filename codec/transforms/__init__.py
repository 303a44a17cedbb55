"""Analysis (g_a) and synthesis (g_s) transforms built from Swin-V2 stages."""

from s2lic.codec.transforms.analysis import AnalysisTransform
from s2lic.codec.transforms.stages import TransformConfig
from s2lic.codec.transforms.synthesis import SynthesisTransform

__all__ = ["AnalysisTransform", "SynthesisTransform", "TransformConfig"]
