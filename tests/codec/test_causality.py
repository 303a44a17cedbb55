"""Causality of the ACGC context: what slice i's entropy parameters may depend on.

A decoder computes slice i's parameters from the hyperprior and the slices before
it, and a slice's non-anchors from its anchors. If a parameter depended on anything
decoded later (a later slice, or a non-anchor of its own slice), the encoder would use
values the decoder does not have yet. These tests change exactly what must not matter
and check that the parameters and the decoded values do not move, for every slice, on
the coding path (`_code_slices` with the float64 coding networks) with the hyperprior
held fixed.
"""

from __future__ import annotations

import pytest
import torch

from s2lic.codec.entropy_model.context.checkerboard import anchor_mask
from tests.conftest import tiny_variant

H = W = 8


@pytest.fixture(scope="module", params=["paper", "v1"])
def model(request):  # type: ignore[no-untyped-def]
    """Four slices (three stacked context members) of each AC / AG design."""
    entropy = tiny_variant(request.param).entropy
    nets = entropy.coding_nets()
    gen = torch.Generator().manual_seed(0)
    z_hat = torch.randn(1, entropy.cfg.z_channels, H // 4, W // 4, generator=gen)
    with torch.no_grad():
        hyper = nets.h_s(z_hat.double())
    return entropy, nets, hyper


def _run(model, y: torch.Tensor):  # type: ignore[no-untyped-def]
    """y_hat and every quantisation call's (scales, means) as [slice][anchor, rest]."""
    entropy, nets, hyper = model
    slices = y.chunk(entropy.cfg.num_slices, dim=1)
    calls: list[list[tuple[torch.Tensor, torch.Tensor]]] = [
        [] for _ in range(entropy.cfg.num_slices)
    ]

    def quantize(i, mask, scales, means):  # type: ignore[no-untyped-def]
        calls[i].append(((scales * mask).clone(), (means * mask).clone()))
        return (torch.round(slices[i] - means) + means) * mask

    with torch.no_grad():
        y_hat = entropy._code_slices(hyper, quantize, nets)
    return y_hat, calls


def _noise(y: torch.Tensor, seed: int) -> torch.Tensor:
    return torch.randn(y.shape, generator=torch.Generator().manual_seed(seed)).double()


def test_no_later_slice_and_no_non_anchor_leaks(model) -> None:  # type: ignore[no-untyped-def]
    entropy = model[0]
    S, sc = entropy.cfg.num_slices, entropy.cfg.slice_channels
    y = 4 * _noise(torch.empty(1, S * sc, H, W), 1)
    y_hat, calls = _run(model, y)
    non_anchor = ~anchor_mask(H, W)
    for i in range(S):
        later = y.clone()
        later[:, (i + 1) * sc :] = 4 * _noise(later[:, (i + 1) * sc :], 2 + i)
        own = later.clone()
        part = own[:, i * sc : (i + 1) * sc]
        part[non_anchor.expand_as(part)] = 9.0  # far from the originals
        y_later, calls_later = _run(model, later)
        y_own, calls_own = _run(model, own)
        # Later slices change nothing of slice i: parameters or decoded values.
        for a, b in zip(calls[i], calls_later[i], strict=True):
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]), i
        assert torch.equal(y_hat[:, : (i + 1) * sc], y_later[:, : (i + 1) * sc]), i
        # Its own non-anchors change nothing of its anchors' parameters; they do
        # change the decoded slice (the test has teeth).
        anchors, anchors_own = calls[i][0], calls_own[i][0]
        assert torch.equal(anchors[0], anchors_own[0]), i
        assert torch.equal(anchors[1], anchors_own[1]), i
        assert not torch.equal(
            y_hat[:, i * sc : (i + 1) * sc], y_own[:, i * sc : (i + 1) * sc]
        )


def test_earlier_slices_do_matter(model) -> None:  # type: ignore[no-untyped-def]
    """The contexts are live: changing slice 0 moves every later slice's parameters."""
    entropy = model[0]
    S, sc = entropy.cfg.num_slices, entropy.cfg.slice_channels
    y = 4 * _noise(torch.empty(1, S * sc, H, W), 1)
    changed = y.clone()
    changed[:, :sc] += 3.0
    _, calls = _run(model, y)
    _, calls_changed = _run(model, changed)
    for i in range(1, S):
        assert not torch.equal(calls[i][0][1], calls_changed[i][0][1]), i
