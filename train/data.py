"""Training data: random crops of photographs from folders, never evaluation images.

Images are listed recursively (JPEG, PNG, WebP), a few are held back for validation
(chosen by a hash of their name, so the split is stable as folders grow), and every file
is checked against the Kodak test set (by sha256 and by name) so that evaluation images
can never leak into training.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from s2lic.entropy.errors import S2LICError

__all__ = ["DataError", "list_images", "split_holdout", "RandomCrops", "CenterCrops"]

log = logging.getLogger(__name__)

SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})

# sha256 of kodim01..24.png (Kodak PhotoCD, the evaluation set).
KODAK_SHA256 = frozenset(
    {
        "a56e27cbf5f843c048b6af1d6e090760e9c92fadba88b7dee0205918a37523bd",
        "4f4b74a79237e311d72cad958237b5f7088d8bce1c82305ebefe1a70e3022dfd",
        "e25ca1ff2f0c0cb5fdfd5f9b0a0bb21ac4c3de3c84a67f35b09a85d3306249db",
        "e3b946107c5d3441c022f678d0c3caf1e224d81b1604ba840a4f88e562de61aa",
        "10349e963c5c813d327852f82c1795fa4148d69fedffc4c589bee458e3ac3d53",
        "363510303b715d4cbc384e1ce227e466b613a09e1b71ae985882bf8e7fbd9b18",
        "b77d3f006f42414bb242222e0482e750c0fb9e5ee8d4bed2f6f11c5605fe54a4",
        "ba23983c76b4832ee0e8af0592664756841a16779acd69f792e268fb6d13d6e7",
        "6a4361c2fc194feb4edaa9f9a4a0620fb9943e460ac7fdf037fb0f6dd6607a7d",
        "9dfb70f5867c29ff9ed6313683f19b3d867849e40fbc0c4c54a4a89df341cf23",
        "7936814b58b5387fce2e4e2488b4ec830dadd95fa9520f358ddb30990b50f2b6",
        "d78c37c2f04f23761ed2367dd77e2db584ddd4c3950833fecf89f199a8126980",
        "bc34a3ce58dea09dce1704c997171602de90cb34d0c8503a988b77f473d39b08",
        "55a94550ff18f3246c4074fd32b77b0c74447c26b6ad274d564d999c0450ba6e",
        "7538cbb80cb9103606c48b806eae57d56c885c7f90b9b3be70a41160f9cbb683",
        "a89c7268ccd4718ba424a99fc4643c572cf692ca6eae887185ceb4e9f11d2e54",
        "37afcc89fbdcb76d9518e04b2fc011027e2f4cd14b3b2f83cefd721641a47c5b",
        "1a9258c365988961d87a0598725b609139c303ad48a5aad6c503c3b1a87849aa",
        "b7450b264b1b0a411390d8931b112c27905a992520fc90569dc4b920aa32bbdc",
        "3b46c71e3b92a563820ba32936be8330c586c41f938efd94be938386aae4328a",
        "ac958597c82073f6bb65129c68f72b651db5b9efd82e11547d07350214bc268b",
        "1cee58eb1f2d9c7ebb254d208a03c783ce6cf2c4d8c2cf45e235dd23b4ce1b29",
        "e3111a2fd4da24af15d6459ef9eacfe54106b38e27b4a21821b75c3f5d2d5baf",
        "1071c68372cc5a01435c2c225a5cf7d4bb803846ec08bb6b3d6721b156d7cb96",
    }
)
_KODAK_NAME = re.compile(r"kodim\d\d", re.IGNORECASE)


class DataError(S2LICError):
    """Training data is missing, unreadable or contains evaluation images."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def list_images(folders: Sequence[str | Path]) -> list[Path]:
    """All images under `folders`, sorted; refuses evaluation images.

    Raises:
        DataError: a folder is missing, holds no images, or holds a Kodak image.
    """
    files: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise DataError(f"training folder {folder} does not exist")
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
        if not found:
            raise DataError(f"training folder {folder} holds no images")
        files += found
    for path in files:
        if _KODAK_NAME.search(path.name) or _sha256(path) in KODAK_SHA256:
            raise DataError(f"{path} is a Kodak evaluation image: never train on it")
    return files


def split_holdout(files: Sequence[Path], count: int) -> tuple[list[Path], list[Path]]:
    """(train, held-out): the `count` files with the smallest name hash are held out."""
    ranked = sorted(files, key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())
    held = set(ranked[:count])
    return [f for f in files if f not in held], [f for f in files if f in held]


def _load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255.0  # writable


def _pad_to(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    ph, pw = max(size - h, 0), max(size - w, 0)
    return np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else rgb


class RandomCrops(Dataset[torch.Tensor]):
    """Random `size` x `size` crops with random flips; `length` samples per epoch.

    Args:
        files: image paths.
        size: crop side (a multiple of 64).
        length: samples per epoch (crops are random, so an epoch is a convention).
    """

    def __init__(
        self, files: Sequence[Path], size: int = 256, length: int = 100_000
    ) -> None:
        if size % 64:
            raise DataError(f"crop size {size} is not a multiple of 64")
        self.files, self.size, self.length = list(files), size, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        # Per-sample RNG from the worker's torch seed: reproducible per run, different
        # across workers and epochs.
        rng = random.Random(torch.initial_seed() + index)
        path = self.files[rng.randrange(len(self.files))]
        try:
            rgb = _pad_to(_load_rgb(path), self.size)
        except OSError as e:
            raise DataError(f"cannot read training image {path}: {e}") from None
        h, w = rgb.shape[:2]
        y, x = rng.randrange(h - self.size + 1), rng.randrange(w - self.size + 1)
        crop = rgb[y : y + self.size, x : x + self.size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.5:
            crop = crop[::-1]
        return _to_tensor(crop)


class CenterCrops(Dataset[torch.Tensor]):
    """Deterministic centre crops for validation."""

    def __init__(self, files: Sequence[Path], size: int = 256) -> None:
        self.files, self.size = list(files), size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        rgb = _pad_to(_load_rgb(self.files[index]), self.size)
        h, w = rgb.shape[:2]
        y, x = (h - self.size) // 2, (w - self.size) // 2
        return _to_tensor(rgb[y : y + self.size, x : x + self.size])
