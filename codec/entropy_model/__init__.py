"""Entropy models: ACGC with its hyperprior."""

from s2lic.codec.entropy_model.acgc import ACGCConfig, ACGCEntropyModel, CodedLatents
from s2lic.codec.entropy_model.hyperprior import HyperAnalysis, HyperSynthesis

__all__ = [
    "ACGCConfig",
    "ACGCEntropyModel",
    "CodedLatents",
    "HyperAnalysis",
    "HyperSynthesis",
]
