"""Entropy coder backends and their registry.

Backends are looked up by name (CLI option, config) with `get_coder` or by the numeric
id stored in a container with `coder_from_id`. Each call returns a fresh, stateless
coder object that the caller passes on explicitly.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import CoderError
from .base import CdfTable, EntropyCoder, StreamDecoder, StreamEncoder
from .rans import RansCoder
from .torchac_coder import TorchacCoder

__all__ = [
    "CODERS",
    "DEFAULT_CODER",
    "CdfTable",
    "EntropyCoder",
    "RansCoder",
    "StreamDecoder",
    "StreamEncoder",
    "TorchacCoder",
    "coder_from_id",
    "get_coder",
    "list_coders",
]

CODERS: dict[str, Callable[[], EntropyCoder]] = {
    RansCoder.name: RansCoder,
    TorchacCoder.name: TorchacCoder,
}
"""Coder factories by name, in registry order."""

_BY_ID: dict[int, Callable[[], EntropyCoder]] = {
    RansCoder.coder_id: RansCoder,
    TorchacCoder.coder_id: TorchacCoder,
}

DEFAULT_CODER: str = "rans"
"""The faster backend on the Kodak-sized benchmark, see
docs/benchmarks-entropy-coders.md."""


def list_coders() -> list[str]:
    """Names of the available coders, in registry order."""
    return list(CODERS)


def get_coder(name: str) -> EntropyCoder:
    """The coder called `name`.

    Args:
        name: a name from `list_coders`.

    Returns:
        A new coder instance.

    Raises:
        CoderError: no coder has that name.
    """
    try:
        factory = CODERS[name]
    except KeyError:
        raise CoderError(
            f"unknown entropy coder {name!r}; choose one of: {', '.join(CODERS)}"
        ) from None
    return factory()


def coder_from_id(coder_id: int) -> EntropyCoder:
    """The coder whose `coder_id` is `coder_id` (as stored in a container).

    Args:
        coder_id: the numeric id.

    Returns:
        A new coder instance.

    Raises:
        CoderError: no coder has that id (the file is corrupt or from a newer s2lic).
    """
    try:
        factory = _BY_ID[coder_id]
    except (KeyError, TypeError):
        known = ", ".join(f"{i} ({f().name})" for i, f in _BY_ID.items())
        raise CoderError(
            f"The stream uses entropy coder id {coder_id!r}, which this version of "
            f"s2lic does not know (known ids: {known})."
        ) from None
    return factory()
