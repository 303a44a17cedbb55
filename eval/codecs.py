"""The codecs of an evaluation, by name: the learned models (optionally at an encoder
effort level, ``s2lic-s+effort2``, or with encoder-side refinement only,
``s2lic-s+refine20``) and the classical codecs of `s2lic.eval.classical`, behind the
one `Codec` surface the runner measures."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Final, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from s2lic.entropy.errors import S2LICError

__all__ = [
    "EFFORT_SUFFIX",
    "REFINE_SUFFIX",
    "Learned",
    "RGB",
    "S2LIC_QUALITIES",
    "Codec",
    "EvalError",
    "S2LICCodec",
    "codec_names",
    "config_id",
    "learned_model",
    "make_codec",
    "split_available",
]

S2LIC_QUALITIES: Final = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""Default quality grid of the learned codec: evenly over its whole [0, 1] range."""

REFINE_SUFFIX: Final = "+refine"
"""``s2lic-s+refine20``: the model with 20 steps of encoder-side refinement."""
EFFORT_SUFFIX: Final = "+effort"
"""``s2lic-s+effort2``: the model at encoder effort level 2."""

RGB = npt.NDArray[np.uint8]


class EvalError(S2LICError):
    """A problem with the evaluation's inputs: codec names, images, result files."""


class Codec(Protocol):
    """What the runner needs of a codec (`ClassicalCodec` and `S2LICCodec` have it)."""

    @property
    def name(self) -> str:
        """Registry name, e.g. ``jpeg`` or ``s2lic-s``."""
        ...

    @property
    def label(self) -> str:
        """Name for legends and tables."""
        ...

    @property
    def settings(self) -> str:
        """One line: library, version and encoder options."""
        ...

    @property
    def qualities(self) -> tuple[float, ...]:
        """The quality grid to measure."""
        ...

    def unavailable(self) -> str | None:
        """Why the codec cannot run here (a missing library), or None."""
        ...

    def version(self) -> str:
        """The versions of the libraries behind the codec, one line."""
        ...

    def encode(self, rgb: RGB, quality: float) -> bytes:
        """The complete file of an (H, W, 3) uint8 image at ``quality``."""
        ...

    def decode(self, data: bytes) -> RGB:
        """The (H, W, 3) uint8 image of a file made by `encode`."""
        ...


@dataclass(frozen=True)
class S2LICCodec:
    """The learned codec behind the `Codec` surface, through `s2lic.codec.api`.

    Attributes:
        model: registry model name.
        device: torch device.
        weights: a weights file instead of the installed ones.
        qualities: the quality grid, in [0, 1].
        coder: entropy coder name; None for the default one.
        refine: steps of encoder-side latent refinement (0 = off).
        effort: encoder effort level (0 = plain; `refine` then must be 0).
    """

    model: str
    device: str = "cpu"
    weights: str | None = None
    qualities: tuple[float, ...] = S2LIC_QUALITIES
    coder: str | None = None
    refine: int = 0
    effort: int = 0

    @property
    def _suffix(self) -> str:
        if self.effort:
            return f"{EFFORT_SUFFIX}{self.effort}"
        return f"{REFINE_SUFFIX}{self.refine}" if self.refine else ""

    @property
    def name(self) -> str:
        """The model's name, with ``+effortN`` or ``+refineN`` (`learned_model`)."""
        return self.model + self._suffix

    @property
    def label(self) -> str:
        """``s2lic-s (ours)``, with ``random weights`` when untrained."""
        extra = f", effort {self.effort}" if self.effort else ""
        extra += f", refine {self.refine}" if self.refine else ""
        return f"{self.model} (ours{extra}{'' if self.trained else ', random weights'})"

    @property
    def trained(self) -> bool:
        """False when the model runs with seeded random weights."""
        return self._loaded().trained

    @property
    def settings(self) -> str:
        """Model, weights (source and id), entropy coder and device."""
        loaded = self._loaded()
        return (
            f"s2lic {self.model}, weights {loaded.source} "
            f"(id {loaded.weights_id.hex()}), coder {self._coder()}, "
            f"device {self.device}"
            + (f", effort {self.effort}" if self.effort else "")
            + (f", refine {self.refine}" if self.refine else "")
        )

    def _coder(self) -> str:
        from s2lic.entropy.coders import DEFAULT_CODER

        return self.coder or DEFAULT_CODER

    def version(self) -> str:
        """The versions of s2lic and torch (they decide the bits and the times)."""
        import torch

        return f"s2lic {_package_version('s2lic')}, torch {torch.__version__}"

    def _loaded(self):  # type: ignore[no-untyped-def]  # -> LoadedModel (lazy import)
        from s2lic.codec.api import get_codec

        return get_codec(self.model, self.device, self.weights)

    def unavailable(self) -> str | None:
        """Load the model (cached for the coding), or say why that fails."""
        try:
            self._loaded()
        except (S2LICError, OSError, RuntimeError, AssertionError) as e:
            # AssertionError: torch builds without CUDA fail device checks that way.
            return " ".join(str(e).split()) or type(e).__name__
        return None

    def warm_up(self) -> None:
        """Code one small image, so that torch's lazy set-up (thread pool, kernels,
        allocations) is not charged to the first timed point."""
        rgb = np.zeros((64, 64, 3), np.uint8)
        self.decode(self.encode(rgb, self.qualities[0] if self.qualities else 0.5))

    def encode(self, rgb: RGB, quality: float) -> bytes:
        """``api.encode`` of the image at ``quality``: the complete `.s2lic` file."""
        from s2lic.codec.api import encode

        return encode(
            Image.fromarray(rgb),
            quality=quality,
            model=self.model,
            coder=self._coder(),
            device=self.device,
            weights=self.weights,
            effort=self.effort,
            refine=self.refine or None,
        ).data

    def decode(self, data: bytes) -> RGB:
        """``api.decode`` of a `.s2lic` file, as RGB pixels."""
        from s2lic.codec.api import decode

        image = decode(data, device=self.device, weights=self.weights).image
        return np.asarray(image.convert("RGB"))


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def codec_names() -> list[str]:
    """Every codec `make_codec` knows: the learned models, then the classical ones."""
    from s2lic.codec.registry import list_models
    from s2lic.eval.classical import list_classical

    return [*list_models(), *list_classical()]


class Learned(NamedTuple):
    """A learned codec's name, parsed: model, refinement steps, effort level."""

    model: str
    refine: int = 0
    effort: int = 0


def learned_model(name: str) -> Learned | None:
    """The parts of a learned codec's name, else None.

    ``s2lic-s`` is the model as `s2lic encode` runs it; ``s2lic-s+effort2`` encodes at
    effort level 2 (`s2lic.codec.adapt.levels`); ``s2lic-s+refine20`` refines each
    latent for 20 steps (`s2lic.codec.refine`).
    """
    from s2lic.codec.adapt.levels import MAX_EFFORT
    from s2lic.codec.registry import list_models

    for suffix in (EFFORT_SUFFIX, REFINE_SUFFIX):
        model, sep, number = name.partition(suffix)
        if sep:
            break
    if model not in list_models():
        return None
    if not sep:
        return Learned(model)
    if not number.isdigit() or not int(number):
        return None
    if suffix == REFINE_SUFFIX:
        return Learned(model, refine=int(number))
    return Learned(model, effort=int(number)) if int(number) <= MAX_EFFORT else None


def make_codec(
    name: str,
    *,
    device: str = "cpu",
    weights: str | None = None,
    qualities: Sequence[float] | None = None,
) -> Codec:
    """The codec called ``name``, with its default quality grid unless given one.

    Args:
        name: an s2lic model name (see `list_models`), optionally with an effort
            or refinement suffix (`learned_model`), or a classical codec name.
        device: torch device of a learned model.
        weights: weights file of a learned model.
        qualities: the grid to measure instead of the codec's default.

    Returns:
        An `S2LICCodec` or a `ClassicalCodec`.

    Raises:
        EvalError: ``name`` is no known codec, or a learned model's quality is not in
            [0, 1].
    """
    from s2lic.eval.classical import get_classical, list_classical

    grid = None if qualities is None else tuple(sorted(set(qualities)))
    if learned := learned_model(name):
        if grid is not None and not all(0.0 <= q <= 1.0 for q in grid):
            raise EvalError(f"qualities of {name} must be in [0, 1], got {grid}")
        return S2LICCodec(
            learned.model,
            device,
            weights,
            S2LIC_QUALITIES if grid is None else grid,
            refine=learned.refine,
            effort=learned.effort,
        )
    if name in list_classical():
        codec = get_classical(name)
        return codec if grid is None else dataclasses.replace(codec, qualities=grid)
    raise EvalError(f"unknown codec {name!r}; choose from {', '.join(codec_names())}")


def split_available(codecs: Iterable[Codec]) -> tuple[list[Codec], dict[str, str]]:
    """Separate the codecs that can run here from those that cannot.

    Returns:
        The runnable codecs, in order, and ``{name: reason}`` of the others.
    """
    ready: list[Codec] = []
    missing: dict[str, str] = {}
    for codec in codecs:
        reason = codec.unavailable()
        if reason is None:
            ready.append(codec)
        else:
            missing[codec.name] = reason
    return ready, missing


def config_id(codec: Codec) -> str:
    """8 hex digits identifying the codec's settings and library versions.

    Journal rows carry it, so that a run after a change of settings or an upgrade of
    a library measures again instead of resuming.
    """
    text = f"{codec.settings}\n{codec.version()}"
    return hashlib.sha256(text.encode()).hexdigest()[:8]
