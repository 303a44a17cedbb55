"""Shared fixtures: tests are CPU-only, offline, seeded and use tiny configs."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    """Tests use tiny tensors: a second thread brings nothing, and on a busy machine
    every parallel region of torch would wait for it (up to 60x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A deterministic natural-ish (smooth + texture) uint8 RGB image (H, W, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            128
            + 80 * np.sin(xx / 9.0 + c) * np.cos(yy / 13.0 - c)
            + 10 * rng.standard_normal((h, w))
            for c in range(3)
        ],
        axis=-1,
    )
    return np.clip(base, 0, 255).astype(np.uint8)


def randomize_norm_statistics(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm running statistics other than a fresh one's 0 and 1, which
    would hide a mix-up of members or channels."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._NormBase):
                shape = m.running_mean.shape
                m.running_mean.copy_(torch.randn(shape, generator=gen) * 0.5)
                m.running_var.copy_(torch.rand(shape, generator=gen) + 0.5)


def tiny_variant(contexts: str, num_slices: int = 4) -> torch.nn.Module:
    """s2lic-tiny with `num_slices` slices (stacked context members) and the AC / AG
    design `contexts`, in eval mode with coding tables and random BatchNorm statistics.
    """
    import dataclasses

    from s2lic.codec.registry import get_spec

    cfg = get_spec("s2lic-tiny").config
    entropy = dataclasses.replace(cfg.entropy, contexts=contexts, num_slices=num_slices)
    torch.manual_seed(0)
    model = get_spec("s2lic-tiny").factory(dataclasses.replace(cfg, entropy=entropy))
    randomize_norm_statistics(model)
    model.entropy.update(force=True)
    return model.eval()
