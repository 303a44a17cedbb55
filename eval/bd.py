"""Bjøntegaard deltas (BD-rate, BD-PSNR) with piecewise cubic Hermite interpolation.

Each rate-distortion curve is interpolated with a monotone piecewise cubic Hermite
interpolant (PCHIP, `scipy.interpolate.PchipInterpolator`), which, unlike the
original cubic polynomial fit, passes through every point and never overshoots
between them. The interpolants are integrated exactly over the overlap of the two
curves:

- `bd_rate`: log-rate as a function of PSNR over the PSNR range both curves cover;
  the mean log-rate difference d gives ``(exp(d) - 1) * 100`` percent.
- `bd_psnr`: PSNR as a function of log-rate over the log-rate range both cover; the
  mean PSNR difference in dB.

The same interpolants answer the questions a single average hides: `psnr_at` (a
curve's PSNR at given rates) and `stretches` (where one curve is above the other, and
by how much on average).

This is the method of the `bjontegaard` package with ``method="pchip"`` (and of VCEG
/ JVET's PCHIP variant); the tests check that the two agree.

Cleaning of the points, before interpolation (documented here, logged at DEBUG):

- points are sorted by rate; exact duplicates are dropped;
- points with an infinite PSNR (lossless reconstructions) are dropped: they have no
  place on a PSNR curve;
- only the points on the upper envelope are kept: a point whose PSNR is not above
  that of every cheaper point (same or lower rate) is dominated by one that costs no
  more and looks no worse, so the codec would never be operated there. What remains
  has strictly increasing rate and PSNR, as both interpolations require.

At least 2 points must remain on each curve (2 points interpolate linearly; use 4 or
more for a meaningful cubic), and the curves must overlap on an interval of positive
length; otherwise `ValueError` explains which condition failed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq

__all__ = ["MIN_POINTS", "Stretch", "bd_psnr", "bd_rate", "psnr_at", "stretches"]

_LOG = logging.getLogger(__name__)

MIN_POINTS: Final = 2
"""Fewest points a curve must keep after cleaning."""

_GRID: Final = 4096
"""Intervals of the log-rate grid on which `stretches` looks for crossings."""

FloatArray = npt.NDArray[np.float64]
_Values = Sequence[float] | npt.NDArray[np.floating]


def _clean(rate: _Values, psnr: _Values, which: str) -> tuple[FloatArray, FloatArray]:
    """Validated points of one curve: (log-rate, PSNR), both strictly increasing."""
    r = np.asarray(rate, dtype=np.float64).ravel()
    p = np.asarray(psnr, dtype=np.float64).ravel()
    if r.shape != p.shape:
        raise ValueError(
            f"{which}: {r.size} rates but {p.size} PSNR values; they must pair up"
        )
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError(f"{which}: rates must be finite and positive, got {r}")
    if np.any(np.isnan(p)) or np.any(p == -np.inf):
        raise ValueError(f"{which}: PSNR values must not be NaN or -inf, got {p}")
    keep = np.isfinite(p)
    r, p = r[keep], p[keep]
    # Sort by rate, and at equal rates best PSNR first so that the envelope keeps it.
    order = np.lexsort((-p, r))
    r, p = r[order], p[order]
    kept_r: list[float] = []
    kept_p: list[float] = []
    for ri, pi in zip(r, p, strict=True):
        if not kept_p or (pi > kept_p[-1] and ri > kept_r[-1]):
            kept_r.append(float(ri))
            kept_p.append(float(pi))
    dropped = np.asarray(rate).size - len(kept_r)
    if dropped:
        _LOG.debug(
            "%s: dropped %d of %d points (lossless, duplicate or dominated)",
            which,
            dropped,
            np.asarray(rate).size,
        )
    if len(kept_r) < MIN_POINTS:
        raise ValueError(
            f"{which}: {len(kept_r)} usable point(s) after dropping lossless, "
            f"duplicate and dominated ones; at least {MIN_POINTS} are needed"
        )
    return np.log(np.asarray(kept_r)), np.asarray(kept_p)


def _overlap(a: FloatArray, b: FloatArray, what: str) -> tuple[float, float]:
    lo = max(float(a[0]), float(b[0]))
    hi = min(float(a[-1]), float(b[-1]))
    if not hi > lo:
        raise ValueError(
            f"the curves do not overlap in {what}: anchor covers "
            f"[{a[0]:.4g}, {a[-1]:.4g}], test covers [{b[0]:.4g}, {b[-1]:.4g}]"
        )
    return lo, hi


def _mean_difference(
    x_anchor: FloatArray,
    y_anchor: FloatArray,
    x_test: FloatArray,
    y_test: FloatArray,
    what: str,
) -> float:
    """Mean of ``y_test(x) - y_anchor(x)`` over the overlap of the x ranges."""
    lo, hi = _overlap(x_anchor, x_test, what)
    area_anchor = PchipInterpolator(x_anchor, y_anchor).integrate(lo, hi)
    area_test = PchipInterpolator(x_test, y_test).integrate(lo, hi)
    return float(area_test - area_anchor) / (hi - lo)


def bd_rate(
    rate_anchor: _Values,
    psnr_anchor: _Values,
    rate_test: _Values,
    psnr_test: _Values,
) -> float:
    """Bjøntegaard delta rate: the test's average rate change at equal PSNR.

    Args:
        rate_anchor: rates of the anchor (bpp or bytes; any positive unit shared
            by both curves).
        psnr_anchor: PSNR (dB; or any quality metric) of the anchor, paired with
            `rate_anchor`.
        rate_test: rates of the tested codec.
        psnr_test: PSNR of the tested codec.

    Returns:
        Percent; negative when the test needs fewer bits for the same PSNR
        (-10.0 means 10 % fewer).

    Raises:
        ValueError: mismatched lengths, non-positive rates, NaN PSNR, fewer than
            `MIN_POINTS` usable points, or no PSNR range common to both curves.
    """
    la, pa = _clean(rate_anchor, psnr_anchor, "anchor")
    lt, pt = _clean(rate_test, psnr_test, "test")
    mean_log_ratio = _mean_difference(pa, la, pt, lt, "PSNR")
    return (math.exp(mean_log_ratio) - 1.0) * 100.0


def bd_psnr(
    rate_anchor: _Values,
    psnr_anchor: _Values,
    rate_test: _Values,
    psnr_test: _Values,
) -> float:
    """Bjøntegaard delta PSNR: the test's average PSNR change at equal rate.

    Args:
        rate_anchor: rates of the anchor (any positive unit shared by both curves).
        psnr_anchor: PSNR of the anchor in dB, paired with `rate_anchor`.
        rate_test: rates of the tested codec.
        psnr_test: PSNR of the tested codec.

    Returns:
        dB; positive when the test has a higher PSNR at the same rate.

    Raises:
        ValueError: mismatched lengths, non-positive rates, NaN PSNR, fewer than
            `MIN_POINTS` usable points, or no rate range common to both curves.
    """
    la, pa = _clean(rate_anchor, psnr_anchor, "anchor")
    lt, pt = _clean(rate_test, psnr_test, "test")
    return _mean_difference(la, pa, lt, pt, "rate")


def psnr_at(rate: _Values, psnr: _Values, at: _Values) -> FloatArray:
    """A curve's PSNR at the rates ``at``, interpolated as `bd_psnr` does.

    Args:
        rate: the curve's rates (any positive unit shared with ``at``).
        psnr: its PSNR, paired with ``rate``.
        at: the rates to evaluate at.

    Returns:
        One PSNR per rate of ``at``; NaN outside the curve's rate range (no
        extrapolation) and for non-positive rates.

    Raises:
        ValueError: as `bd_psnr`, for a curve that cannot be interpolated.
    """
    lr, p = _clean(rate, psnr, "curve")
    x = np.asarray(at, dtype=np.float64).ravel()
    out = np.full(x.shape, np.nan)
    positive = x > 0
    logs = np.log(x, where=positive, out=np.full(x.shape, -np.inf))
    inside = positive & (logs >= lr[0]) & (logs <= lr[-1])
    out[inside] = PchipInterpolator(lr, p)(logs[inside])
    return out


@dataclass(frozen=True)
class Stretch:
    """A rate interval over which the test curve stays on one side of the anchor.

    Attributes:
        lo, hi: its ends (in the curves' rate unit).
        difference: the test's mean PSNR minus the anchor's over it (dB, averaged
            over log-rate as in `bd_psnr`); positive: the test is ahead.
    """

    lo: float
    hi: float
    difference: float


def stretches(
    rate_anchor: _Values,
    psnr_anchor: _Values,
    rate_test: _Values,
    psnr_test: _Values,
) -> list[Stretch]:
    """The rate range both curves cover, split where the test crosses the anchor.

    A BD value is one average; this says at which rates the test is ahead. The curves
    are interpolated as in `bd_psnr`; crossings are found on a fine log-rate grid and
    refined to machine precision, so a crossing between two grid nodes that come back
    to the same side (a touch narrower than 1/4096 of the range) is not reported.

    Returns:
        The stretches in order of rate, covering the overlap without gaps; one
        stretch when the curves do not cross.

    Raises:
        ValueError: as `bd_psnr`.
    """
    la, pa = _clean(rate_anchor, psnr_anchor, "anchor")
    lt, pt = _clean(rate_test, psnr_test, "test")
    lo, hi = _overlap(la, lt, "rate")
    anchor, test = PchipInterpolator(la, pa), PchipInterpolator(lt, pt)

    def gap(x: float) -> float:
        return float(test(x) - anchor(x))

    xs = np.linspace(lo, hi, _GRID + 1)
    signs = np.sign(test(xs) - anchor(xs))
    nonzero = np.flatnonzero(signs)
    cuts = []
    for j, k in zip(nonzero[:-1], nonzero[1:], strict=True):
        if signs[j] == signs[k]:
            continue
        # Adjacent nodes bracket a root; otherwise the curves touch on the nodes
        # between (exact zeros), and the middle one is the crossing.
        cuts.append(brentq(gap, xs[j], xs[k]) if k == j + 1 else xs[(j + k) // 2])
    ends = [lo, *cuts, hi]
    return [
        Stretch(
            math.exp(a),
            math.exp(b),
            float(test.integrate(a, b) - anchor.integrate(a, b)) / (b - a),
        )
        for a, b in zip(ends[:-1], ends[1:], strict=True)
    ]
