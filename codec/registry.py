"""The one registry of models: name -> (bitstream id, class, frozen config).

The CLI's ``--model`` choices, the zoo (weights), the container's model id and the tests
all read from here. Bitstream ids are explicit fields, never derived from order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from s2lic.codec.layers.enhancement import EnhancementConfig
from s2lic.codec.models.s2lic import S2LIC, S2LICConfig
from s2lic.codec.transforms.stages import TransformConfig
from s2lic.entropy.errors import S2LICError
from s2lic.entropy.models.acgc import ACGCConfig

__all__ = [
    "ModelSpec",
    "UnknownModelError",
    "get_spec",
    "spec_from_id",
    "list_models",
    "DEFAULT_MODEL",
]


class UnknownModelError(S2LICError):
    """A model name or bitstream id that is not registered."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes:
        name: kebab-case registry name.
        model_id: id stored in `.s2lic` headers (u16, never reused).
        config: the frozen network configuration.
        factory: builds the (randomly initialised) network from `config`.
        description: one line for `s2lic models`.
    """

    name: str
    model_id: int
    config: S2LICConfig
    factory: Callable[[S2LICConfig], nn.Module]
    description: str


_SPECS = (
    ModelSpec(
        "s2lic-paper",
        1,
        S2LICConfig(),
        S2LIC,
        "paper size (N=192, M=320, 10 slices); slow on CPUs",
    ),
    ModelSpec(
        "s2lic-s",
        2,
        S2LICConfig(
            analysis=TransformConfig(
                dims=(48, 96, 128),
                depths=(1, 1, 2),
                heads=(2, 4, 4),
                mlp_ratio=2.0,
                cpb_hidden=64,
            ),
            synthesis=TransformConfig(
                dims=(128, 96, 48),
                depths=(2, 1, 1),
                heads=(4, 4, 2),
                mlp_ratio=2.0,
                cpb_hidden=64,
            ),
            enhancement=EnhancementConfig(
                channels=24, growth=12, layers=3, unshuffle=2, depthwise=True
            ),
            entropy=ACGCConfig(
                latent_channels=192,
                hyper_channels=96,
                z_channels=64,
                num_slices=6,
                ep_hidden=(160, 96),
                lrp_hidden=(40, 32),
                context_width=64,
            ),
        ),
        S2LIC,
        "the shipped model: same blocks, small widths (<= 8 M parameters)",
    ),
    ModelSpec(
        "s2lic-tiny",
        3,
        S2LICConfig(
            analysis=TransformConfig(
                dims=(16, 16, 32),
                depths=(1, 1, 1),
                heads=(1, 1, 2),
                mlp_ratio=1.0,
                cpb_hidden=16,
            ),
            synthesis=TransformConfig(
                dims=(32, 16, 16),
                depths=(1, 1, 1),
                heads=(2, 1, 1),
                mlp_ratio=1.0,
                cpb_hidden=16,
            ),
            enhancement=EnhancementConfig(
                channels=8, growth=4, layers=2, unshuffle=2, depthwise=True
            ),
            entropy=ACGCConfig(
                latent_channels=32,
                hyper_channels=16,
                z_channels=16,
                num_slices=2,
                ep_hidden=(32, 32),
                lrp_hidden=(16, 16),
                context_width=16,
                ag_head_dim=16,
                ag_grid=4,
                ag_cpb_hidden=8,
            ),
            quality_levels=4,
        ),
        S2LIC,
        "for tests: a few training steps take seconds on a CPU",
    ),
)

_BY_NAME = {s.name: s for s in _SPECS}
_BY_ID = {s.model_id: s for s in _SPECS}
assert len(_BY_ID) == len(_SPECS), "model ids must be unique"

DEFAULT_MODEL = "s2lic-s"


def list_models() -> list[str]:
    """Registered model names, in registration order."""
    return [s.name for s in _SPECS]


def get_spec(name: str) -> ModelSpec:
    """The spec of `name`; `UnknownModelError` lists the choices."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; choose from {', '.join(_BY_NAME)}"
        ) from None


def spec_from_id(model_id: int) -> ModelSpec:
    """The spec stored under a bitstream id."""
    try:
        return _BY_ID[model_id]
    except KeyError:
        raise UnknownModelError(
            f"the file was made by an unknown model (id {model_id}); "
            "it needs a newer s2lic or other weights"
        ) from None
