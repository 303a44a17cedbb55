"""Tests of `s2lic.eval.bd`: Bjøntegaard deltas with PCHIP interpolation."""

from __future__ import annotations

import json
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from s2lic.eval.bd import bd_psnr, bd_rate, psnr_at, stretches

# CompressAI's published Kodak curves, next to the repository (see SOURCE.md there).
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "kodak"

# Realistic curves that need no files: CompressAI's Kodak numbers for BPG 4:4:4 and
# WebP, rounded.
RATE = [0.068, 0.161, 0.352, 0.66, 1.1, 1.7]
PSNR = [26.2, 28.7, 31.6, 34.3, 37.0, 39.6]
WEBP_RATE = [0.234, 0.353, 0.47, 0.63, 0.88, 1.25, 1.93]
WEBP_PSNR = [28.33, 29.82, 31.0, 32.2, 33.7, 35.5, 38.3]


def _reference(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "embedded-bpg":
        return np.asarray(RATE), np.asarray(PSNR)
    if name == "embedded-webp":
        return np.asarray(WEBP_RATE), np.asarray(WEBP_PSNR)
    path = REFERENCE / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    results = json.loads(path.read_text())["results"]
    return np.asarray(results["bpp"]), np.asarray(results["psnr-rgb"])


def test_identical_curves() -> None:
    assert bd_rate(RATE, PSNR, RATE, PSNR) == pytest.approx(0.0, abs=1e-12)
    assert bd_psnr(RATE, PSNR, RATE, PSNR) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("scale", "expected"), [(0.9, -10.0), (1.1, 10.0)])
def test_scaled_rate(scale: float, expected: float) -> None:
    scaled = [r * scale for r in RATE]
    assert bd_rate(RATE, PSNR, scaled, PSNR) == pytest.approx(expected, abs=1e-9)


def test_shifted_psnr() -> None:
    shifted = [p + 0.37 for p in PSNR]
    assert bd_psnr(RATE, PSNR, RATE, shifted) == pytest.approx(0.37, abs=1e-12)
    assert bd_psnr(RATE, shifted, RATE, PSNR) == pytest.approx(-0.37, abs=1e-12)
    # A better test codec needs fewer bits at equal PSNR.
    assert bd_rate(RATE, PSNR, RATE, shifted) < 0


@pytest.mark.parametrize(
    ("anchor", "test"),
    [
        ("embedded-webp", "embedded-bpg"),
        ("jpeg", "webp"),
        ("vtm", "bpg_444_x265_ycbcr"),
        ("webp", "av1"),
        ("jpeg2000", "vtm"),
    ],
)
def test_agrees_with_bjontegaard_package(anchor: str, test: str) -> None:
    """Same method (PCHIP, exact integrals): equal to rounding, far within 0.1 %."""
    bjontegaard = pytest.importorskip("bjontegaard")
    ra, pa = _reference(anchor)
    rt, pt = _reference(test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_rate = bjontegaard.bd_rate(
            ra, pa, rt, pt, method="pchip", require_matching_points=False, min_overlap=0
        )
        expected_psnr = bjontegaard.bd_psnr(
            ra, pa, rt, pt, method="pchip", require_matching_points=False, min_overlap=0
        )
    assert bd_rate(ra, pa, rt, pt) == pytest.approx(expected_rate, abs=1e-6)
    assert bd_psnr(ra, pa, rt, pt) == pytest.approx(expected_psnr, abs=1e-6)


def test_order_does_not_matter() -> None:
    ra, pa = _reference("jpeg")
    rt, pt = _reference("webp")
    expected = bd_rate(ra, pa, rt, pt)
    assert bd_rate(ra[::-1], pa[::-1], list(rt), list(pt)) == pytest.approx(expected)


def test_duplicate_dominated_and_lossless_points_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rate = [*RATE, RATE[2], 0.5, 2.5]
    psnr = [*PSNR, PSNR[2], 30.0, math.inf]  # a duplicate, a dominated, a lossless
    with caplog.at_level(logging.DEBUG, logger="s2lic.eval.bd"):
        assert bd_rate(RATE, PSNR, rate, psnr) == pytest.approx(0.0, abs=1e-12)
    assert "dropped 3 of 9 points" in caplog.text


def test_two_points_are_enough() -> None:
    assert bd_rate([0.1, 1.0], [25, 35], [0.09, 0.9], [25, 35]) == pytest.approx(-10.0)


def test_errors() -> None:
    with pytest.raises(ValueError, match="do not overlap in PSNR"):
        bd_rate([0.1, 0.2], [20, 25], [0.3, 0.4], [26, 30])
    with pytest.raises(ValueError, match="do not overlap in rate"):
        bd_psnr([0.1, 0.2], [20, 25], [0.3, 0.4], [22, 24])
    with pytest.raises(ValueError, match="at least 2 are needed"):
        bd_rate([0.1], [20], RATE, PSNR)
    with pytest.raises(ValueError, match="at least 2 are needed"):
        bd_rate(RATE, PSNR, [0.1, 0.2], [30, 29])  # the second point is dominated
    with pytest.raises(ValueError, match="pair up"):
        bd_rate(RATE, PSNR[:-1], RATE, PSNR)
    with pytest.raises(ValueError, match="positive"):
        bd_rate([0.0, *RATE[1:]], PSNR, RATE, PSNR)
    with pytest.raises(ValueError, match="NaN"):
        bd_psnr(RATE, [math.nan, *PSNR[1:]], RATE, PSNR)


def test_psnr_at_passes_through_the_points_and_never_extrapolates() -> None:
    assert np.allclose(psnr_at(RATE, PSNR, RATE), PSNR, rtol=0, atol=1e-12)
    # Linear in log-rate between two points: the geometric middle is the mean.
    middle = math.sqrt(RATE[1] * RATE[2])
    two = psnr_at(RATE[1:3], PSNR[1:3], [middle])
    assert two[0] == pytest.approx((PSNR[1] + PSNR[2]) / 2, abs=1e-12)
    outside = psnr_at(RATE, PSNR, [0.0, -1.0, RATE[0] * 0.99, RATE[-1] * 1.01])
    assert np.isnan(outside).all()
    # Monotone (PCHIP): between two points, between their values.
    between = psnr_at(RATE, PSNR, np.geomspace(RATE[0], RATE[-1], 200))
    assert np.all(np.diff(between) > 0)


def test_stretches_of_parallel_curves() -> None:
    shifted = [p + 0.37 for p in PSNR]
    (one,) = stretches(RATE, PSNR, RATE, shifted)
    assert (one.lo, one.hi) == pytest.approx((RATE[0], RATE[-1]))
    assert one.difference == pytest.approx(0.37, abs=1e-12)
    # Only the rates both cover count.
    (part,) = stretches(RATE, PSNR, RATE[2:], shifted[2:])
    assert (part.lo, part.hi) == pytest.approx((RATE[2], RATE[-1]))
    (same,) = stretches(RATE, PSNR, RATE, PSNR)
    assert same.difference == pytest.approx(0.0, abs=1e-12)


def test_stretches_split_where_the_curves_cross() -> None:
    # Both linear in log-rate: the test gains 2 dB less per e-fold of rate than
    # the anchor and starts 1 dB ahead, so it falls behind at rate e^0.5.
    rate = np.geomspace(0.1, 2.0, 7)
    anchor = 30 + 5 * np.log(rate)
    test = 31 + 3 * np.log(rate)
    ahead, behind = stretches(rate, anchor, rate, test)
    assert ahead.lo == pytest.approx(0.1) and behind.hi == pytest.approx(2.0)
    assert ahead.hi == behind.lo == pytest.approx(math.exp(0.5), rel=1e-9)
    # Mean of 1 - 2·ln(r) over each stretch in log-rate.
    assert ahead.difference == pytest.approx(1 - (math.log(0.1) + 0.5), rel=1e-9)
    assert behind.difference == pytest.approx(1 - (0.5 + math.log(2.0)), rel=1e-9)
    # Weighted by their log-rate lengths the stretches give back the BD-PSNR.
    weights = [math.log(s.hi / s.lo) for s in (ahead, behind)]
    mean = (weights[0] * ahead.difference + weights[1] * behind.difference) / sum(
        weights
    )
    assert mean == pytest.approx(bd_psnr(rate, anchor, rate, test), abs=1e-9)


def test_stretches_on_published_curves() -> None:
    """WebP's published Kodak curve crosses JPEG's nowhere: one stretch, ahead."""
    ra, pa = _reference("jpeg")
    rt, pt = _reference("webp")
    found = stretches(ra, pa, rt, pt)
    assert len(found) == 1 and found[0].difference > 0
    assert found[0].difference == pytest.approx(bd_psnr(ra, pa, rt, pt), abs=1e-9)


def test_stretches_need_overlapping_rates() -> None:
    with pytest.raises(ValueError, match="do not overlap in rate"):
        stretches([0.1, 0.2], [20, 25], [0.3, 0.4], [22, 24])
