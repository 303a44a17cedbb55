"""The one registry of models: name -> (bitstream id, class, frozen config).

The CLI's ``--model`` choices, the zoo (weights), the container's model id and the tests
all read from here. Bitstream ids are explicit fields, never derived from order.

Names, ids, descriptions and parameter counts are plain data, so ``s2lic --help``,
``info`` and ``models`` read them without importing torch; `get_spec` builds the
specs (configs and network classes) on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s2lic.entropy.errors import S2LICError

if TYPE_CHECKING:
    from torch import nn

    from s2lic.codec.models.s2lic import S2LICConfig

__all__ = [
    "ModelEntry",
    "ModelSpec",
    "UnknownModelError",
    "entry",
    "entry_from_id",
    "get_spec",
    "spec_from_id",
    "list_models",
    "DEFAULT_MODEL",
    "DEFAULT_QUALITY",
]


class UnknownModelError(S2LICError):
    """A model name or bitstream id that is not registered."""


@dataclass(frozen=True)
class ModelEntry:
    """What is known of a registered model without building it.

    Attributes:
        name: kebab-case registry name.
        model_id: id stored in `.s2lic` headers (u16, never reused).
        description: one line for `s2lic models`.
        parameters: its number of parameters (a test checks it against the network).
    """

    name: str
    model_id: int
    description: str
    parameters: int


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


_ENTRIES = (
    ModelEntry(
        "s2lic-paper",
        1,
        "paper size and modules (N=192, M=320, 10 slices); slow on CPUs",
        82_294_382,
    ),
    ModelEntry(
        "s2lic-s",
        2,
        "the shipped model: same blocks, small widths (<= 8 M parameters)",
        7_738_775,
    ),
    ModelEntry(
        "s2lic-tiny",
        3,
        "for tests: a few training steps take seconds on a CPU",
        327_512,
    ),
)
_BY_NAME = {e.name: e for e in _ENTRIES}
_BY_ID = {e.model_id: e for e in _ENTRIES}
assert len(_BY_ID) == len(_ENTRIES), "model ids must be unique"

DEFAULT_MODEL = "s2lic-s"
DEFAULT_QUALITY = 0.75
"""The quality knob's default, in [0, 1]."""


@functools.cache
def _specs() -> dict[str, ModelSpec]:
    """The specs by name (imports torch and the networks)."""
    from s2lic.codec.entropy_model.acgc import ACGCConfig
    from s2lic.codec.layers.enhancement import EnhancementConfig
    from s2lic.codec.models.s2lic import S2LIC, S2LICConfig
    from s2lic.codec.transforms.stages import TransformConfig

    configs = {
        "s2lic-paper": S2LICConfig(
            analysis=TransformConfig(stage_conv=False),
            synthesis=TransformConfig(
                depths=(3, 2, 1), heads=(16, 8, 4), stage_conv=False
            ),
            enhancement=EnhancementConfig(design="paper"),
            entropy=ACGCConfig(
                ep_hidden=(320, 256, 128), contexts="paper", hyperprior="paper"
            ),
        ),
        "s2lic-s": S2LICConfig(
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
        "s2lic-tiny": S2LICConfig(
            analysis=TransformConfig(
                dims=(16, 16, 32),
                depths=(1, 1, 1),
                heads=(1, 1, 2),
                mlp_ratio=1.0,
                cpb_hidden=16,
                stage_conv=False,
            ),
            synthesis=TransformConfig(
                dims=(32, 16, 16),
                depths=(1, 1, 1),
                heads=(2, 1, 1),
                mlp_ratio=1.0,
                cpb_hidden=16,
                stage_conv=False,
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
                contexts="paper",
                hyperprior="paper",
            ),
            quality_levels=4,
        ),
    }
    return {
        name: ModelSpec(name, e.model_id, configs[name], S2LIC, e.description)
        for name, e in _BY_NAME.items()
    }


def list_models() -> list[str]:
    """Registered model names, in registration order."""
    return [e.name for e in _ENTRIES]


def entry(name: str) -> ModelEntry:
    """What is known of `name` without building it; `UnknownModelError` lists the
    choices."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; choose from {', '.join(_BY_NAME)}"
        ) from None


def entry_from_id(model_id: int) -> ModelEntry:
    """The model stored under a bitstream id."""
    try:
        return _BY_ID[model_id]
    except KeyError:
        raise UnknownModelError(
            f"the file was made by an unknown model (id {model_id}); "
            "it needs a newer s2lic or other weights"
        ) from None


def get_spec(name: str) -> ModelSpec:
    """The spec of `name` (imports torch); `UnknownModelError` lists the choices."""
    return _specs()[entry(name).name]


def spec_from_id(model_id: int) -> ModelSpec:
    """The spec stored under a bitstream id."""
    return _specs()[entry_from_id(model_id).name]
