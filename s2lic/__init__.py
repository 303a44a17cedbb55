"""s2lic, a learned image codec: the public API.

    from s2lic import encode, decode, load, S2LICError

    result = encode(Image.open("photo.png"), quality=0.75)   # -> EncodeResult
    open("photo.s2lic", "wb").write(result.data)
    image = decode(open("photo.s2lic", "rb").read()).image   # -> DecodeResult

`load(model, device, weights)` returns the loaded network (cached), `describe(data)`
a file's header. Every error these raise for bad input is an `S2LICError` with a
one-line message. The rest of the code is in the packages below (docs/architecture.md):
`s2lic.codec`, `s2lic.entropy`, `s2lic.train`, `s2lic.eval`, `s2lic.cli`, `s2lic.web`.

Importing this package is cheap: the codec (and torch) load on first use of a name.
"""

from __future__ import annotations

from typing import Any

from s2lic.entropy.errors import S2LICError

__all__ = [
    "S2LICError",
    "DecodeResult",
    "EncodeResult",
    "decode",
    "describe",
    "encode",
    "load",
]

_FROM_API = {
    "encode": "encode",
    "decode": "decode",
    "load": "get_codec",
    "EncodeResult": "EncodeResult",
    "DecodeResult": "DecodeResult",
}


def __getattr__(name: str) -> Any:
    if name in _FROM_API:
        from s2lic.codec import api

        return getattr(api, _FROM_API[name])
    if name == "describe":
        from s2lic.codec.describe import describe

        return describe
    raise AttributeError(f"module 's2lic' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
