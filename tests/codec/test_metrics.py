"""Tests of `s2lic.codec.metrics`: PSNR and MS-SSIM as CompressAI computes them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pytorch_msssim import ms_ssim as reference_ms_ssim

from s2lic.codec.metrics import MS_SSIM_MIN_SIDE, ms_ssim, mse, psnr
from tests.conftest import smooth_image


def test_psnr_of_a_constant_offset() -> None:
    a = smooth_image(32, 48)
    b = a.copy()
    b[a < 255] += 1
    b[a == 255] -= 1  # every sample off by exactly 1: MSE = 1
    assert psnr(a, b) == pytest.approx(20 * math.log10(255), abs=1e-12)
    assert psnr(a, b) == pytest.approx(48.1308, abs=1e-4)


def test_psnr_is_one_mse_over_all_channels() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[..., 0] = 6  # channel MSEs 36, 0, 0 -> MSE 12, not a mean of channel PSNRs
    assert mse(a, b) == mse(b, a) == 12.0  # no uint8 wrap-around
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 12))


def test_psnr_identical_is_inf() -> None:
    a = smooth_image(16, 16)
    assert psnr(a, a.copy()) == math.inf


def test_psnr_grayscale_and_data_range() -> None:
    a = np.full((8, 8), 10, np.uint8)
    b = np.full((8, 8), 12, np.uint8)  # MSE 4
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 4))
    assert psnr(a, b, data_range=1.0) == pytest.approx(10 * math.log10(1 / 4))


def test_psnr_needs_matching_images() -> None:
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="image"):
        psnr(np.zeros(4, np.uint8), np.zeros(4, np.uint8))


def test_ms_ssim_identical_is_one() -> None:
    a = smooth_image(MS_SSIM_MIN_SIDE, 200)
    assert ms_ssim(a, a.copy()) == pytest.approx(1.0, abs=1e-6)


def test_ms_ssim_of_noisy_image_matches_pytorch_msssim() -> None:
    a = smooth_image(176, 192)
    rng = np.random.default_rng(1)
    b = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    value = ms_ssim(a, b)
    assert 0.5 < value < 1.0

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).permute(2, 0, 1)[None].float()

    expected = reference_ms_ssim(t(a), t(b), data_range=255).item()
    assert value == pytest.approx(expected, rel=1e-6)


def test_ms_ssim_grayscale() -> None:
    a = smooth_image(MS_SSIM_MIN_SIDE, MS_SSIM_MIN_SIDE)[..., 0]
    b = np.clip(a.astype(int) + 5, 0, 255).astype(np.uint8)
    assert 0.5 < ms_ssim(a, b) < 1.0


@pytest.mark.parametrize(
    "shape", [(MS_SSIM_MIN_SIDE - 1, 300, 3), (300, 64), (8, 8, 3)]
)
def test_ms_ssim_of_small_image_is_nan(shape: tuple[int, ...]) -> None:
    a = np.zeros(shape, np.uint8)
    assert math.isnan(ms_ssim(a, a))
