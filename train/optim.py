"""The optimisers a training run can use, all from well-kept libraries.

    adamw         torch.optim.AdamW
    muon          Muon (pytorch-optimizer) on the weights of plain conv / linear
                  layers, its built-in AdamW on everything else
    soap          SOAP (pytorch-optimizer): Adam in Shampoo's eigenbasis; the
                  default since the training-efficiency study (docs/training.md)
    schedulefree  Schedule-Free AdamW (Defazio et al., 2024; the `schedulefree`
                  package): no cosine, it averages instead; its weights are
                  evaluated and exported in the optimiser's eval mode

`torch.optim.Muon` is not used because it refuses tensors that are not 2-D (our conv
kernels are 4-D); pytorch-optimizer's Muon orthogonalises the (out, in·k·k) view of a
kernel. The entropy model's stacked per-slice weights (one leading slice dimension)
would be orthogonalised across slices by that view, so they stay on AdamW, like
biases, norms, gains and depth-wise kernels.

The learning rate is set by the trainer every step for every group; Muon's update is
rescaled to AdamW's RMS (Moonlight's ``0.2·sqrt(max(out, in))``) so that one
learning rate serves both of its groups. The libraries are imported only when their
optimiser is asked for: they live in the ``train`` extra.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "build_optimizer", "evaluation_mode", "muon_parameters"]

OPTIMIZERS = ("adamw", "muon", "soap", "schedulefree")

# Kernels of fewer inputs per output than this (depth-wise, 1-channel gates) have too
# few columns for an orthogonalised update to mean anything.
_MUON_MIN_FAN = 16


def muon_parameters(model: nn.Module) -> set[nn.Parameter]:
    """Weights of plain conv / linear layers that Muon should own."""
    owned = set()
    for module in model.modules():
        if type(module) not in (nn.Conv2d, nn.ConvTranspose2d, nn.Linear):
            continue
        w = module.weight
        fan_in = w[0].numel()
        if min(w.shape[0], fan_in) >= _MUON_MIN_FAN:
            owned.add(w)
    return owned


def build_optimizer(
    name: str,
    model: nn.Module,
    params: Sequence[nn.Parameter],
    lr: float,
    weight_decay: float,
) -> torch.optim.Optimizer:
    """The optimiser `name` over `params` (a subset of `model`'s parameters).

    Raises:
        ValueError: unknown name.
        ImportError: the library of `name` is not installed (``pip install
            s2lic[train]``).
    """
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "muon":
        from pytorch_optimizer import Muon

        owned = muon_parameters(model)
        mats = [p for p in params if p in owned]
        rest = [p for p in params if p not in owned]
        return Muon(
            [
                {"params": mats, "use_muon": True},
                {"params": rest, "use_muon": False},
            ],
            lr=lr,
            weight_decay=weight_decay,
            use_adjusted_lr=True,
            adamw_lr=lr,
            adamw_betas=(0.9, 0.999),
            adamw_wd=weight_decay,
            adamw_eps=1e-8,
        )
    if name == "soap":
        from pytorch_optimizer import SOAP

        return SOAP(params, lr=lr, weight_decay=weight_decay)
    if name == "schedulefree":
        from schedulefree import AdamWScheduleFree

        opt = AdamWScheduleFree(params, lr=lr, weight_decay=weight_decay)
        opt.train()  # it starts in its eval mode
        return opt
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")


@contextlib.contextmanager
def evaluation_mode(opt: torch.optim.Optimizer) -> Iterator[None]:
    """Swap in the weights to evaluate while inside (Schedule-Free's average).

    Optimisers without an eval mode leave the weights as they are.
    """
    swap = hasattr(opt, "eval") and hasattr(opt, "train")
    if swap:
        opt.eval()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if swap:
            opt.train()  # type: ignore[attr-defined]
