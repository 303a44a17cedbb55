"""Encoder effort levels: how much encode time buys which per-image adaptation.

Torch-free, so that the command line can list the levels without loading the codec.
Each level is a recipe run by `s2lic.codec.adapt.fit.adapt`; its time and gain on
Kodak are measured in ``docs/effort.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["EFFORTS", "MAX_EFFORT", "Effort"]


@dataclass(frozen=True)
class Effort:
    """One encoder effort level.

    Attributes:
        refine: steps of latent refinement (0 = g_a's latent).
        film: g_s stages given a jointly fitted `FiLM` (empty: none; needs `refine`).
        postfilter: steps fitting a `PostFilter` (0: none).
        hidden: the post-filter's hidden channels.
    """

    refine: int = 0
    film: tuple[int, ...] = ()
    postfilter: int = 0
    hidden: int = 8

    @property
    def adapts(self) -> bool:
        """Whether the level may write an adaptation section."""
        return bool(self.film) or self.postfilter > 0


EFFORTS: tuple[Effort, ...] = (
    Effort(),
    Effort(refine=10),
    Effort(refine=20, film=(1, 2)),
    Effort(refine=40, film=(1, 2), postfilter=300),
    Effort(refine=100, film=(1, 2), postfilter=600),
)
"""Levels 0 (plain) to 4; measured per Kodak image in ``docs/effort.md``."""

MAX_EFFORT: Final = len(EFFORTS) - 1
"""The highest level."""
