"""CompressAI's entropy models, ops and rANS coder, without its package ``__init__``.

``import compressai`` runs ``compressai/__init__.py``, which imports every subpackage:
its datasets (point clouds through torch-geometric, which loads ``torch._dynamo``),
pandas, matplotlib and the model zoo, about 3 s on top of torch. Coding needs three of
its modules, re-exported here. `load` registers a bare ``compressai`` package object
(the real folder as its ``__path__``, so every submodule still imports on demand) with
the three functions of the ``__init__`` that the entropy models call at run time; then
``compressai.entropy_models``, ``compressai.ops`` and ``compressai.ans`` import alone.

Its entropy models also import ``scipy.stats`` (over 1 s) for one call, the normal
quantile that building a Gaussian's coding tables needs; decoding with shipped tables
never makes it, so `load` registers a stand-in ``scipy.stats`` that imports the real
one when first used.

If the real package is imported first (training, tests), `load` leaves it alone. Only
CompressAI 1.2.8, the pinned version, is known to need no more than this.
"""

from __future__ import annotations

import importlib.util
import sys
import types

__all__ = ["EntropyBottleneck", "GaussianConditional", "ans", "load", "quantize_ste"]


def load() -> None:
    """Make ``compressai``'s coding modules importable without its ``__init__``."""
    if "compressai" in sys.modules:
        return
    _lazy("scipy.stats")
    spec = importlib.util.find_spec("compressai")  # locates; runs nothing
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the import that follows says so
    package = types.ModuleType("compressai")
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__package__ = "compressai"
    coders = ["ans"]  # what compressai's __init__ offers without range_coder

    def get_entropy_coder() -> str:
        return coders[0]

    def available_entropy_coders() -> list[str]:
        return list(coders)

    def set_entropy_coder(name: str) -> None:
        if name not in coders:
            raise ValueError(f"Invalid entropy coder {name!r}, choose from {coders}")

    package.get_entropy_coder = get_entropy_coder  # type: ignore[attr-defined]
    package.available_entropy_coders = available_entropy_coders  # type: ignore[attr-defined]
    package.set_entropy_coder = set_entropy_coder  # type: ignore[attr-defined]
    sys.modules["compressai"] = package


def _lazy(name: str) -> None:
    """Register a stand-in for module `name` that imports it on first attribute use.

    (The standard `importlib.util.LazyLoader` does not help here: on Python 3.11 the
    import statement that finds it in `sys.modules` reads its ``__spec__``, and that
    first attribute read loads it.)
    """
    if name in sys.modules:
        return
    parent, _, child = name.rpartition(".")
    stand_in = types.ModuleType(name)

    def __getattr__(attr: str) -> object:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        real = importlib.import_module(name)
        setattr(sys.modules[parent], child, real)
        return getattr(real, attr)

    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = stand_in
    setattr(importlib.import_module(parent), child, stand_in)


load()  # before the imports below, which it makes light
from compressai import ans  # noqa: E402
from compressai.entropy_models import EntropyBottleneck, GaussianConditional  # noqa: E402
from compressai.ops import quantize_ste  # noqa: E402
