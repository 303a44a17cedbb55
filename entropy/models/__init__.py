"""Entropy models: ACGC with its hyperprior."""

from s2lic.entropy.models.acgc import ACGCConfig, ACGCEntropyModel, CodedLatents
from s2lic.entropy.models.hyperprior import HyperAnalysis, HyperSynthesis

__all__ = [
    "ACGCConfig",
    "ACGCEntropyModel",
    "CodedLatents",
    "HyperAnalysis",
    "HyperSynthesis",
]
