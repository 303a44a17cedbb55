"""The adaptation section of a version-2 `.s2lic` file: quantised tool parameters.

Layout (normative; ``docs/format.md``, "The adaptation section")::

    u8 section_version (1) | u8 tool_count (1..2) | tool_count x tool
    tool: u8 kind | u8 arg | u8 exponent | u8 order | varint n_bytes | n_bytes codes

- ``kind`` 1 = `FiLM` (``arg``: bit i set = g_s stage i is modulated), 2 =
  `PostFilter` (``arg``: hidden channels, 1..`MAX_HIDDEN`); each kind at most once, in
  increasing order.
- The tool's parameters, in the order of its ``ordered()`` (for FiLM: per stage,
  scale then bias), are ``value · 2^-exponent`` with the integer values coded as
  signed exp-Golomb codes of ``order`` (`s2lic.entropy.golomb`). Their number follows
  from ``kind``, ``arg`` and the model, so the section does not store it.

Everything is integers until the values are scaled, so every platform rebuilds the
same parameters; only their floating-point use in the synthesis can differ, as g_s's
own arithmetic does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import torch

from s2lic.codec.adapt.modules import FiLM, PostFilter
from s2lic.entropy import golomb
from s2lic.entropy.bitstream import VarintError, decode_varint, encode_varint
from s2lic.entropy.errors import FormatError

__all__ = [
    "MAX_HIDDEN",
    "SECTION_VERSION",
    "Adaptation",
    "Tool",
    "build",
    "pack_section",
    "quantize",
    "unpack_section",
]

SECTION_VERSION: Final = 1
TOOL_FILM: Final = 1
TOOL_POSTFILTER: Final = 2
MAX_HIDDEN: Final = 64
MAX_EXPONENT: Final = 24


@dataclass(frozen=True)
class Tool:
    """One tool's quantised parameters, as stored.

    Attributes:
        kind: `TOOL_FILM` or `TOOL_POSTFILTER`.
        arg: FiLM's stage mask or the post-filter's hidden channels.
        exponent: quantisation step ``2^-exponent``.
        values: the integer parameters, flat, in the module's ``ordered()`` order.
    """

    kind: int
    arg: int
    exponent: int
    values: npt.NDArray[np.int64]


@dataclass
class Adaptation:
    """The decoded tools of a file (None: the tool is not used)."""

    film: FiLM | None = None
    postfilter: PostFilter | None = None

    def to(self, device: torch.device | str) -> Adaptation:
        """These tools on `device`."""
        return Adaptation(
            self.film.to(device) if self.film else None,
            self.postfilter.to(device) if self.postfilter else None,
        )


def _film_stages(mask: int, stages: int) -> list[int]:
    return [i for i in range(stages) if mask >> i & 1]


def build(kind: int, arg: int, synthesis_dims: Sequence[int]) -> FiLM | PostFilter:
    """The zero-initialised module of a tool.

    Raises:
        FormatError: an unknown kind, or an argument this model cannot have.
    """
    if kind == TOOL_FILM:
        stages = _film_stages(arg, len(synthesis_dims))
        if not stages or arg >> len(synthesis_dims):
            raise FormatError(
                f"corrupted adaptation data: FiLM stage mask 0x{arg:02x} for a "
                f"synthesis of {len(synthesis_dims)} stages"
            )
        return FiLM(synthesis_dims, stages)
    if kind == TOOL_POSTFILTER:
        if not 1 <= arg <= MAX_HIDDEN:
            raise FormatError(
                f"corrupted adaptation data: post-filter with {arg} hidden channels"
            )
        return PostFilter(arg)
    raise FormatError(
        f"unknown adaptation tool {kind}: upgrade s2lic to decode this file"
    )


def _arg(module: FiLM | PostFilter) -> tuple[int, int]:
    if isinstance(module, FiLM):
        return TOOL_FILM, sum(1 << i for i in module.stages)
    return TOOL_POSTFILTER, module.a.out_channels


@torch.no_grad()
def quantize(module: FiLM | PostFilter, exponent: int) -> Tool:
    """`module`'s parameters rounded to multiples of ``2^-exponent``."""
    if not 0 <= exponent <= MAX_EXPONENT:
        raise ValueError(f"exponent must be in 0..{MAX_EXPONENT}, got {exponent}")
    flat = torch.cat([p.detach().flatten().double().cpu() for p in module.ordered()])
    values = torch.round(flat * 2.0**exponent).long().numpy()
    limit = golomb.MAX_MAGNITUDE
    return Tool(*_arg(module), exponent, np.clip(values, -limit, limit))


@torch.no_grad()
def load(module: FiLM | PostFilter, tool: Tool) -> FiLM | PostFilter:
    """`module` with the tool's dequantised parameters (in place; returned)."""
    values = torch.from_numpy(tool.values).double() * 2.0**-tool.exponent
    pos = 0
    for p in module.ordered():
        p.copy_(values[pos : pos + p.numel()].view_as(p).to(p.dtype))
        pos += p.numel()
    return module


def pack_section(tools: Sequence[Tool]) -> bytes:
    """The section bytes of `tools` (1 or 2, distinct kinds)."""
    kinds = [t.kind for t in tools]
    if not 1 <= len(tools) <= 2 or kinds != sorted(set(kinds)):
        raise ValueError(f"need one or two tools of distinct kinds, got {kinds}")
    out = bytearray([SECTION_VERSION, len(tools)])
    for t in tools:
        order = golomb.best_order(t.values)
        codes = golomb.encode(t.values, order)
        out += bytes([t.kind, t.arg, t.exponent, order])
        out += encode_varint(len(codes)) + codes
    return bytes(out)


def unpack_section(data: bytes, synthesis_dims: Sequence[int]) -> Adaptation:
    """Parse and dequantise an adaptation section for a model whose g_s stages have
    `synthesis_dims` channels.

    Raises:
        FormatError: an unknown section version or tool, or bytes that break the
            layout (the message names the problem in one line).
    """
    if len(data) < 2:
        raise FormatError("corrupted adaptation data: the section is too short")
    if data[0] != SECTION_VERSION:
        hint = (
            ": upgrade s2lic to decode this file" if data[0] > SECTION_VERSION else ""
        )
        raise FormatError(f"unsupported adaptation section version {data[0]}{hint}")
    count, pos = data[1], 2
    if not 1 <= count <= 2:
        raise FormatError(f"corrupted adaptation data: {count} tools")
    result, last = Adaptation(), 0
    for _ in range(count):
        if pos + 4 > len(data):
            raise FormatError("corrupted adaptation data: a tool header is cut short")
        kind, arg, exponent, order = data[pos : pos + 4]
        pos += 4
        if kind <= last:
            raise FormatError("corrupted adaptation data: tools out of order")
        last = kind
        if exponent > MAX_EXPONENT:
            raise FormatError(
                f"corrupted adaptation data: quantisation exponent {exponent}"
            )
        module = build(kind, arg, synthesis_dims)
        try:
            length, pos = decode_varint(data, pos)
        except VarintError:
            raise FormatError("corrupted adaptation data: a bad length") from None
        if pos + length > len(data):
            raise FormatError("corrupted adaptation data: a tool is cut short")
        count_values = sum(p.numel() for p in module.ordered())
        values = golomb.decode(data[pos : pos + length], count_values, order)
        pos += length
        load(module, Tool(kind, arg, exponent, values))
        if isinstance(module, FiLM):
            result.film = module
        else:
            result.postfilter = module
    if pos != len(data):
        raise FormatError(
            f"corrupted adaptation data: {len(data) - pos} bytes after the tools"
        )
    return result
