"""Migrate trained weights of the first AC / AG design to the paper's (issue #27).

`to_paper_contexts` builds the same model with ``contexts="paper"`` and fills it from
a first-design model, so that fine-tuning starts from the trained network instead of
from scratch. Everything outside AC and AG is copied unchanged.

- **AG, exactly function-preserving.** The first design's AG is the paper's attention
  branch with a 1x1 projection. Its attention weights move to ``ag.attention``; the
  paper's 5x5 convolution starts as 2 x identity (centre tap), the channel map that
  gates it at 0.5 (zero last layer), so the gated branch equals the attention's output;
  the first design's projection becomes the output projection; the depth-wise branch
  starts at zero (zero depth-wise kernel, GELU(0) = 0), so its gated term vanishes.
  The first forward pass equals the first design's, bit for bit.
- **AC, approximately.** The gates are wired the other way round, so no setting of
  the paper's AC computes the first design's function. The first conv3x3, the depth-
  wise branch and the output projection are copied; the paper's second conv3x3 starts
  as the identity (then ``a' = GELU(a)``, close to ``a`` where the branch is active);
  both maps start at 0.5 (zero last layers). That alone costs 26-61 % more bits on
  the held-back crops, so `distill_ac` then fits the new AC to the old one's outputs
  on the contexts of real training crops (a few thousand cheap steps of the AC alone)
  before the whole network is fine-tuned; docs/model.md has the numbers.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from s2lic.codec.zoo import load_state

__all__ = ["to_paper_contexts", "distill_ac"]

_ATTENTION = ("q.", "offset_dw.", "offset_pw.", "k.", "v.", "bias.")


def _identity_kernel(weight: torch.Tensor, scale: float) -> torch.Tensor:
    """A stacked (S, C, C, k, k) kernel that maps every channel to itself x scale."""
    S, C, _, k, _ = weight.shape
    out = torch.zeros_like(weight)
    idx = torch.arange(C)
    out[:, idx, idx, k // 2, k // 2] = scale
    return out


@torch.no_grad()
def to_paper_contexts(model: nn.Module) -> nn.Module:
    """A copy of first-design `model` (an S2LIC) with the paper's AC and AG.

    Raises:
        ValueError: `model` does not have the first design's contexts.
    """
    cfg = model.cfg
    if cfg.entropy.contexts != "v1":
        raise ValueError(f"expected first-design contexts, got {cfg.entropy.contexts}")
    new_cfg = dataclasses.replace(
        cfg, entropy=dataclasses.replace(cfg.entropy, contexts="paper")
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the new layers' initialisation, reproducibly
        new = type(model)(new_cfg)
    old = model.state_dict()
    state = new.state_dict()
    # Every key the designs share, coding tables included (`load_state` takes their
    # stored sizes; any other shape mismatch is an error).
    for key, value in old.items():
        if key in state:
            state[key] = value.clone()
    # AG: the attention moves, its 5x5 conv starts as 2 x identity under a 0.5 gate.
    for key, value in old.items():
        rest = key.removeprefix("entropy.ag.")
        if rest != key and rest.startswith(_ATTENTION):
            state[f"entropy.ag.attention.{rest}"] = value.clone()
    proj = state["entropy.ag.attention.proj.weight"]
    state["entropy.ag.attention.proj.weight"] = _identity_kernel(proj, 2.0)
    state["entropy.ag.attention.proj.bias"].zero_()
    state["entropy.ag.out.weight"] = old["entropy.ag.proj.weight"].clone()
    state["entropy.ag.out.bias"] = old["entropy.ag.proj.bias"].clone()
    state["entropy.ag.dw_branch.1.weight"].zero_()
    state["entropy.ag.dw_branch.1.bias"].zero_()
    # AC: second conv starts as the identity; both maps at 0.5.
    conv = state["entropy.ac.conv_branch.2.weight"]
    state["entropy.ac.conv_branch.2.weight"] = _identity_kernel(conv, 1.0)
    state["entropy.ac.conv_branch.2.bias"].zero_()
    for name in ("ag.channel_map", "ac.channel_map", "ac.spatial_map"):
        state[f"entropy.{name}.3.weight"].zero_()
        state[f"entropy.{name}.3.bias"].zero_()
    load_state(new, state)
    return new.train(model.training)


def distill_ac(
    old: nn.Module,
    new: nn.Module,
    crops: torch.Tensor,
    steps: int = 2000,
    batch: int = 8,
    lr: float = 1e-3,
    log_every: int = 0,
) -> list[float]:
    """Fit `new`'s AC to reproduce `old`'s AC on the contexts of `crops`.

    The contexts are what the training pass feeds the AC (noisy decoded slices of
    every crop at a random quality); only ``new.entropy.ac`` changes.

    Returns:
        The mean squared error of the AC outputs per logged step (every `log_every`).
    """
    pairs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def keep(_m, args, out):  # type: ignore[no-untyped-def]
        pairs.append((args[0].detach(), out.detach()))

    hook = old.entropy.ac.register_forward_hook(keep)
    was_training = old.training
    old.train()
    try:
        with torch.no_grad():
            for chunk in crops.split(batch):
                old(chunk, torch.rand(chunk.shape[0]))
    finally:
        hook.remove()
        old.train(was_training)
    inputs = torch.cat([p for p, _ in pairs])
    targets = torch.cat([t for _, t in pairs])
    ac = new.entropy.ac.train()
    opt = torch.optim.Adam(ac.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    errors = []
    for step in range(steps):
        pick = torch.randint(len(inputs), (batch,))
        loss = torch.nn.functional.mse_loss(ac(inputs[pick]), targets[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log_every and step % log_every == 0:
            errors.append(loss.item())
    ac.train(new.training)
    return errors
