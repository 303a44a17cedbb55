"""Equal-size comparisons: encode a classical codec to (nearly) a given number of bytes.

A fair side-by-side of two codecs shows them at the same file size. Classical codecs
take a quality parameter, not a size, so `match_size` searches the parameter for the
largest file that is not above the target: bisection on the quality, with most steps
chosen by interpolating ``log(bytes)`` linearly in the quality (regula falsi), which
is how file sizes of JPEG, WebP, AVIF and JPEG XL grow over most of their range. Every
step keeps the target bracketed, so the search ends like a plain bisection even where
the interpolation is poor; the answer is the best fit among all files tried, which also
covers codecs whose size is not quite monotone in the quality (WebP).

Cost: a handful of encodes (about 4 to 7 for an integer quality in 0..100, fewer when
the first fits within the tolerance), which matters for slow encoders such as AVIF at
speed 2.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

import numpy as np
import numpy.typing as npt

from s2lic.eval.classical import ClassicalCodec

__all__ = [
    "DEFAULT_TOLERANCE",
    "MatchResult",
    "MatchStatus",
    "match_classical",
    "match_size",
    "quality_range",
]

DEFAULT_TOLERANCE: Final = 0.01
"""Stop once a file is at most this fraction below the target (1 %)."""

_MAX_STEPS: Final = 12
_MIN_FLOAT_STEP: Final = 0.01  # finer qualities do not change any file we compare

# libjxl refuses quality 100 (distance 0) in lossy mode: that is lossless coding.
_QUALITY_CAPS: Final = {"jxl": 99.9}

U8Array = npt.NDArray[np.uint8]


class MatchStatus(Enum):
    """How a `MatchResult` relates to its target."""

    MATCHED = "matched"
    """The largest file found that is not above the target."""
    BELOW_MINIMUM = "below_minimum"
    """Even the lowest quality gives a larger file: the smallest file is returned."""
    ABOVE_MAXIMUM = "above_maximum"
    """Even the highest quality fits: the largest file is returned."""


@dataclass(frozen=True)
class MatchResult:
    """A file encoded to (nearly) a target size.

    Attributes:
        data: the encoded file.
        quality: the codec quality that produced it.
        target: the target size in bytes.
        status: whether the target was reachable (see `MatchStatus`).
        seconds: wall time of the one encode that produced `data`.
        total_seconds: wall time of the whole search.
        tries: how many encodes the search made.
    """

    data: bytes
    quality: float
    target: int
    status: MatchStatus
    seconds: float
    total_seconds: float
    tries: int

    @property
    def size(self) -> int:
        """Length of `data` in bytes."""
        return len(self.data)

    @property
    def relative_difference(self) -> float:
        """``(size - target) / target``: -0.004 is 0.4 % smaller than the target."""
        return (self.size - self.target) / self.target

    @property
    def message(self) -> str:
        """How close the file came to the target: ``−0.4 %``, ``+12.0 % (lowest
        quality)`` when even that is too large, ``−38.1 % (highest quality)`` when
        even that is smaller."""
        diff = f"{self.relative_difference:+.1%}".replace("-", "\u2212")
        diff = diff.replace("%", "\u202f%")
        if self.status is MatchStatus.BELOW_MINIMUM:
            return f"{diff} (lowest quality)"
        if self.status is MatchStatus.ABOVE_MAXIMUM:
            return f"{diff} (highest quality)"
        return diff


def _interpolate(
    a: float, size_a: int, b: float, size_b: int, target: int
) -> float | None:
    """The quality where ``log(size)`` reaches ``log(target)`` on the line a-b."""
    if size_b <= size_a or size_a <= 0:
        return None
    t = (math.log(target) - math.log(size_a)) / (math.log(size_b) - math.log(size_a))
    return a + t * (b - a)


def _next_quality(
    a: float,
    size_a: int,
    b: float,
    size_b: int,
    target: int,
    *,
    integer: bool,
    bisect: bool,
) -> float:
    """A quality strictly inside (a, b): interpolated, or the midpoint."""
    q = None if bisect else _interpolate(a, size_a, b, size_b, target)
    if q is None or not math.isfinite(q):
        q = (a + b) / 2
    # Keep away from the ends: a point next to a known one tells little.
    margin = (b - a) / 16
    q = min(max(q, a + margin), b - margin)
    if integer:
        q = float(min(max(round(q), a + 1), b - 1))
    return q


def match_size(
    encode: Callable[[float], bytes],
    target: int,
    low: float,
    high: float,
    *,
    integer: bool,
    start: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    max_steps: int = _MAX_STEPS,
) -> MatchResult:
    """Search the quality whose file is the largest not above ``target`` bytes.

    The file size must grow (not necessarily strictly) with the quality; where it
    does not quite, the answer is still the best fit among the files tried.

    Args:
        encode: quality -> complete file.
        target: the size to reach, in bytes (>= 1).
        low: the lowest valid quality.
        high: the highest valid quality.
        integer: the codec takes integer qualities only.
        start: the first quality to try (default: the middle of the range).
        tolerance: stop once a file is within this fraction below the target; 0
            searches until the bracket cannot shrink any more.
        max_steps: the most encodes between the two ends of the bracket.

    Returns:
        The best file found, with its quality and `MatchStatus`.

    Raises:
        ValueError: ``target`` is not positive, or the range is empty.
    """
    if target < 1:
        raise ValueError(f"target must be at least 1 byte, got {target}")
    if not low <= high:
        raise ValueError(f"empty quality range [{low}, {high}]")
    trials = _Trials(encode, integer, target)
    q0 = (low + high) / 2 if start is None else min(max(start, low), high)
    if integer:
        q0 = float(round(q0))
    # The bracket: size(a) <= target < size(b).
    if trials.size(q0) <= target:
        a, b = q0, high
        if trials.size(high) <= target:
            return trials.result(high, MatchStatus.ABOVE_MAXIMUM)
    else:
        a, b = low, q0
        if trials.size(low) > target:
            return trials.result(low, MatchStatus.BELOW_MINIMUM)
    bisect = False
    resolution = 1 if integer else _MIN_FLOAT_STEP
    for _ in range(max_steps):
        if trials.size(a) >= target * (1 - tolerance) or b - a <= resolution:
            break
        q = _next_quality(
            a, trials.size(a), b, trials.size(b), target, integer=integer, bisect=bisect
        )
        width = b - a
        if trials.size(q) <= target:
            a = q
        else:
            b = q
        # Regula falsi can creep in from one side; a bisection step then restores
        # the guaranteed halving.
        bisect = not bisect and (b - a) > width / 2
    return trials.result(trials.best_fit(), MatchStatus.MATCHED)


class _Trials:
    """The files a search has made, by quality (each quality is encoded once)."""

    def __init__(
        self, encode: Callable[[float], bytes], integer: bool, target: int
    ) -> None:
        self._encode = encode
        self._integer = integer
        self._target = target
        self._files: dict[float, tuple[bytes, float]] = {}
        self._start = time.perf_counter()

    def size(self, q: float) -> int:
        if q not in self._files:
            t0 = time.perf_counter()
            data = self._encode(int(q) if self._integer else q)
            self._files[q] = (data, time.perf_counter() - t0)
        return len(self._files[q][0])

    def best_fit(self) -> float:
        """The quality of the largest file not above the target (lowest on ties)."""
        fits = [q for q, (d, _) in self._files.items() if len(d) <= self._target]
        return max(fits, key=lambda q: (len(self._files[q][0]), -q))

    def result(self, q: float, status: MatchStatus) -> MatchResult:
        data, seconds = self._files[q]
        return MatchResult(
            data=data,
            quality=q,
            target=self._target,
            status=status,
            seconds=seconds,
            total_seconds=time.perf_counter() - self._start,
            tries=len(self._files),
        )


def quality_range(codec: ClassicalCodec) -> tuple[float, float, bool]:
    """The usable lossy quality range of a classical codec.

    Args:
        codec: the codec.

    Returns:
        ``(low, high, integer)``: the interval in the codec's own quality parameter,
        oriented so that a higher value gives more bytes, and whether the codec takes
        integers only.

    Raises:
        ValueError: the codec's quality is a compression ratio (more bytes for a
            lower value, e.g. JPEG 2000), which `match_classical` does not search.
    """
    if not codec.higher_is_better_quality:
        raise ValueError(f"{codec.name}: only codecs with a quality knob are matched")
    low, high, integer = codec.quality_range()
    return low, min(high, _QUALITY_CAPS.get(codec.name, high)), integer


def match_classical(
    codec: ClassicalCodec,
    rgb: U8Array,
    target: int,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    max_steps: int = _MAX_STEPS,
) -> MatchResult:
    """Encode an image with a classical codec to the largest file not above ``target``.

    Args:
        codec: a codec with a quality knob (JPEG, WebP, AVIF, JPEG XL, HEIC).
        rgb: (H, W, 3) uint8 image.
        target: the size to reach, in bytes.
        tolerance: see `match_size`.
        max_steps: see `match_size`.

    Returns:
        `MatchResult`; ``quality`` is in the codec's own quality parameter.

    Raises:
        ValueError: see `quality_range` and `ClassicalCodec.encode`.
        CodecUnavailableError: the codec's library is missing.
    """
    low, high, integer = quality_range(codec)
    return match_size(
        lambda q: codec.encode(rgb, q),
        target,
        low,
        high,
        integer=integer,
        tolerance=tolerance,
        max_steps=max_steps,
    )
