"""What an `.s2lic` file holds, read without torch (``s2lic info``)."""

from __future__ import annotations

from typing import Any

from s2lic.codec.registry import entry_from_id
from s2lic.entropy.bitstream import Limits, unpack
from s2lic.entropy.coders import coder_from_id
from s2lic.entropy.errors import S2LICError

__all__ = ["describe"]

# Describing decodes no pixels, so it reports files of any declared size.
_NO_LIMITS = Limits(max_pixels=1 << 64, max_stream_bytes=1 << 32)


def describe(data: bytes) -> dict[str, Any]:
    """Verify an `.s2lic` file's structure and checksums and describe its header.

    Args:
        data: the file's bytes.

    Returns:
        The fields of ``s2lic info --json`` but the file name: model, weights id,
        coder, size, mode, quality, symbol checksum, container version, stream
        lengths, adaptation section bytes (0: none), bytes, bpp.

    Raises:
        S2LICError: not an `.s2lic` file, truncated or corrupted.
    """
    container = unpack(data, _NO_LIMITS)
    h = container.header
    try:
        model: str = entry_from_id(h.model_id).name
    except S2LICError:
        model = f"unknown (id {h.model_id})"
    try:
        coder: str = coder_from_id(h.coder_id).name
    except S2LICError:
        coder = f"unknown (id {h.coder_id})"
    return {
        "model": model,
        "model_id": h.model_id,
        "weights_id": h.weights_id.hex(),
        "coder": coder,
        "coder_id": h.coder_id,
        "width": h.width,
        "height": h.height,
        "mode": h.mode.name,
        "quality": h.quality_value,
        "quality_code": h.quality,
        "symbol_crc": f"{h.symbol_crc:08x}",
        "container": container.version,
        "streams": [len(s) for s in container.streams],
        "adaptation": len(container.adaptation or b""),
        "bytes": len(data),
        "bpp": 8.0 * len(data) / h.pixels,
    }
