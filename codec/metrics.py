"""Image quality metrics on 8-bit images, computed as CompressAI's evaluation does.

Both metrics take the original and the reconstruction as uint8 arrays, (H, W, C) or
grayscale (H, W), so that every codec (the learned one and the classical ones) is
measured on exactly the pixels a user would get, after rounding to 8 bits.

- `psnr`: CompressAI's ``psnr-rgb``: one MSE over all samples of all channels.
- `ms_ssim`: CompressAI's ``ms-ssim-rgb``: `pytorch_msssim.ms_ssim` on float tensors
  in [0, 255] with ``data_range=255`` and its default 11x11 Gaussian window and five
  scales. Images whose shorter side is under 161 pixels are too small for five scales;
  for them `ms_ssim` returns NaN instead of raising, so that an evaluation over mixed
  image sizes can skip them.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["MS_SSIM_MIN_SIDE", "ms_ssim", "mse", "psnr"]

MS_SSIM_MIN_SIDE: Final = 161
"""Smallest height and width `ms_ssim` accepts: pytorch_msssim needs a side greater
than (win_size - 1) * 2**4 = 160 for its five scales with the 11-pixel window."""


def _check_pair(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    if a.ndim not in (2, 3) or a.size == 0:
        raise ValueError(
            f"expected a non-empty (H, W) or (H, W, C) image, got shape {a.shape}"
        )


def mse(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> float:
    """Mean squared difference of all samples of all channels, in float64.

    Raises:
        ValueError: the shapes differ or are not 2-D/3-D images.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    _check_pair(a, b)
    return float(np.mean(np.square(a.astype(np.float64) - b.astype(np.float64))))


def psnr(
    a: npt.NDArray[np.generic], b: npt.NDArray[np.generic], data_range: float = 255.0
) -> float:
    """Peak signal-to-noise ratio over all channels (CompressAI's ``psnr-rgb``).

    The MSE is the mean of the squared differences of all samples of all channels
    (not the mean of per-channel PSNRs), computed in float64.

    Args:
        a: the original, uint8 (H, W, C) or (H, W).
        b: the reconstruction, same shape as `a`.
        data_range: the peak value (255 for 8-bit samples).

    Returns:
        PSNR in dB; ``inf`` for identical images.

    Raises:
        ValueError: the shapes differ or are not 2-D/3-D images.
    """
    err = mse(a, b)
    if err == 0.0:
        return math.inf
    return 20.0 * math.log10(data_range) - 10.0 * math.log10(err)


def ms_ssim(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> float:
    """Multi-scale SSIM as CompressAI's ``ms-ssim-rgb``.

    Computed by `pytorch_msssim.ms_ssim` on float32 tensors of shape (1, C, H, W) in
    [0, 255] with ``data_range=255`` (grayscale images are one channel), on the CPU.

    Args:
        a: the original, uint8 (H, W, C) or (H, W).
        b: the reconstruction, same shape as `a`.

    Returns:
        MS-SSIM in [0, 1] (1.0 for identical images), or NaN when the image is too
        small for five scales (a side under `MS_SSIM_MIN_SIDE` = 161 pixels).

    Raises:
        ValueError: the shapes differ or are not 2-D/3-D images.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    _check_pair(a, b)
    if min(a.shape[0], a.shape[1]) < MS_SSIM_MIN_SIDE:
        return math.nan
    # torch and pytorch_msssim are imported here: `psnr` alone must not pay for them.
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    def to_tensor(x: npt.NDArray[np.generic]) -> torch.Tensor:
        chw = x[None] if x.ndim == 2 else np.moveaxis(x, -1, 0)
        return torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))[None]

    with torch.no_grad():
        value = _ms_ssim(to_tensor(a), to_tensor(b), data_range=255, size_average=True)
    return float(value.item())
