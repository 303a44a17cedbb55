"""Encoder-side latent refinement: lower real cost, ordinary files, the same decoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from s2lic.codec import api
from s2lic.codec.image import pad_to_multiple, to_tensor
from s2lic.codec.models.base import RDOutput
from s2lic.codec.objective import RateDistortion
from s2lic.codec.refine import LR, default_lr, proxy_gradient, rd_cost, refine_latent
from s2lic.codec.tiling import Tiling
from s2lic.entropy.coders import get_coder
from s2lic.eval import codecs as lineup
from tests.conftest import smooth_image

TINY = {"model": "s2lic-tiny"}


def _setup(h: int = 48, w: int = 80, seed: int = 0):  # type: ignore[no-untyped-def]
    net = api.get_codec("s2lic-tiny", "cpu", None).model
    rgb = smooth_image(h, w, seed=seed)
    x, _ = pad_to_multiple(to_tensor(rgb), net.pad_multiple)
    with torch.no_grad():
        y = net.analyze(x)
    return net, rgb, x, y


def _measure(net, rgb, quality):  # type: ignore[no-untyped-def]
    """Real MSE and bpp of a latent, as `api._refined` measures them."""
    h, w = rgb.shape[:2]
    coder = get_coder("rans")
    calls: list[torch.Tensor] = []

    def measure(y: torch.Tensor) -> tuple[float, float]:
        calls.append(y)
        with torch.no_grad():
            enc = net.compress_latent(y, quality, coder)
            x_hat = net.synthesize(enc.y_hat, quality)[0, :, :h, :w]
        out = (x_hat.clamp(0, 1) * 255).round().permute(1, 2, 0).numpy()
        mse = float(np.mean((out - rgb) ** 2)) / 255.0**2
        return mse, 8 * sum(len(s) for s in enc.streams) / (h * w)

    return measure, calls


@pytest.mark.parametrize("quality", [0.2, 1.0])
def test_refinement_lowers_the_real_cost(quality: float) -> None:
    net, rgb, x, y = _setup()
    measure, calls = _measure(net, rgb, quality)
    weights = [p.detach().clone() for p in net.parameters()]
    out = refine_latent(net, x, y, quality, 6, measure, size=rgb.shape[:2])
    assert out.cost < out.start_cost and out.step > 0
    assert out.y.shape == y.shape and not out.y.requires_grad
    # The reported cost is the real one of the returned latent, at the trained λ.
    lmbda = float(RateDistortion().lambda_of(torch.tensor(quality)))
    assert rd_cost(lmbda, *measure(out.y)) == pytest.approx(out.cost)
    # Measured: the input, every CHECK_EVERY (5) steps and the last one.
    assert len(calls) == 1 + 2 + 1
    # The network is frozen: no weight moves, no gradient is left behind.
    for before, p in zip(weights, net.parameters(), strict=True):
        assert torch.equal(before, p) and p.grad is None


def test_the_input_latent_wins_when_nothing_beats_it() -> None:
    net, rgb, x, y = _setup()

    def measure(candidate: torch.Tensor) -> tuple[float, float]:
        return (0.0, 0.0) if torch.equal(candidate, y) else (1.0, 9.0)

    out = refine_latent(net, x, y, 0.5, 3, measure)
    assert out.step == 0 and torch.equal(out.y, y) and out.cost == out.start_cost == 0
    assert refine_latent(net, x, y, 0.5, 0, measure).y is y
    with pytest.raises(ValueError, match=">= 0"):
        refine_latent(net, x, y, 0.5, -1, measure)


def test_step_size_rises_only_at_the_top_qualities() -> None:
    assert default_lr(0.0) == default_lr(0.8) == LR[0]
    assert default_lr(1.0) == pytest.approx(LR[1])
    assert LR[0] < default_lr(0.9) < LR[1]


def test_proxy_pass_in_eval_mode_is_the_training_pass() -> None:
    net, _, _, y = _setup()
    assert not net.training
    q = torch.tensor([0.7])
    torch.manual_seed(3)
    a = net.forward_latent(y, q, proxy=True)
    net.train()
    for m in net.modules():  # BatchNorm: the running statistics in both passes
        if isinstance(m, torch.nn.modules.batchnorm._NormBase):
            m.eval()
    try:
        torch.manual_seed(3)
        b = net.forward_latent(y, q)
    finally:
        net.eval()
    # (x_hat differs: training mode also drops paths of g_s.)
    torch.testing.assert_close(a.y_hat, b.y_hat)
    for key in ("y", "z"):
        torch.testing.assert_close(a.likelihoods[key], b.likelihoods[key])
    # Without the proxies an eval-mode pass rounds exactly as the coder does.
    c = net.forward_latent(y, q)
    assert torch.equal(c.y_hat, torch.round(c.y_hat * 256) / 256)


def test_refined_files_decode_and_are_repeatable() -> None:
    img = Image.fromarray(smooth_image(40, 56, seed=1))
    plain = api.encode(img, quality=0.9, **TINY)
    state = torch.get_rng_state()
    first = api.encode(img, quality=0.9, refine=5, **TINY)
    assert torch.equal(state, torch.get_rng_state())  # the caller's RNG is untouched
    assert api.encode(img, quality=0.9, refine=5, **TINY).data == first.data
    assert first.data != plain.data and first.quality == plain.quality
    decoded = api.decode(first.data)
    assert decoded.image.size == img.size and decoded.header == first.header


def test_refinement_with_a_target_rate() -> None:
    img = Image.fromarray(smooth_image(64, 96, seed=2))
    low, high = (api.encode(img, quality=q, **TINY).bpp for q in (0.0, 1.0))
    target = (low + high) / 2
    steps: list[tuple[int, int]] = []
    enc = api.encode(
        img,
        bpp=target,
        refine=3,
        on_refine_step=lambda *a: steps.append(a),
        **TINY,
    )
    assert low <= enc.bpp <= target
    api.decode(enc.data)
    assert steps == [(1, 3), (2, 3), (3, 3)]  # one refinement, then the search


def test_negative_steps_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        api.encode(Image.fromarray(smooth_image(40, 56)), refine=-1, **TINY)


# 100x170 pads to 128x192: a latent of 8x12, i.e. 2x3 tiles with 64-pixel cores.
SMALL_TILES = Tiling(core=64, overlap=64)


def test_one_tile_is_the_training_loss() -> None:
    net, rgb, x, y = _setup(100, 170)
    h, w = rgb.shape[:2]
    q, objective = torch.tensor([0.6]), RateDistortion()
    var = y.clone().requires_grad_(True)
    torch.manual_seed(5)
    out = net.forward_latent(var, q, proxy=True)
    crop = RDOutput(out.x_hat[..., :h, :w], out.likelihoods, out.y_hat)
    expected = objective(crop, x[..., :h, :w], q)["loss"]
    (expected_grad,) = torch.autograd.grad(expected, var)
    torch.manual_seed(5)
    loss, grad = proxy_gradient(net, y, x, (h, w), q, objective, Tiling(core=192))
    assert loss == pytest.approx(expected.item(), rel=1e-6)
    torch.testing.assert_close(grad, expected_grad)


def test_tiles_add_up_to_the_whole_image() -> None:
    net, rgb, x, y = _setup(100, 170)
    q, objective = torch.tensor([0.6]), RateDistortion()
    torch.manual_seed(5)
    whole, whole_grad = proxy_gradient(net, y, x, rgb.shape[:2], q, objective)
    torch.manual_seed(5)
    tiled, tiled_grad = proxy_gradient(
        net, y, x, rgb.shape[:2], q, objective, SMALL_TILES
    )
    # Each tile counts its core's share once: the sum is the whole image's loss,
    # up to the proxies' noise and the context the tiles do not see.
    assert tiled == pytest.approx(whole, rel=0.05)
    cos = torch.nn.functional.cosine_similarity(
        tiled_grad.flatten(), whole_grad.flatten(), dim=0
    )
    assert cos > 0.8
    # Every tile's core received its gradient.
    assert (tiled_grad.abs().sum(1) > 0).all()


def test_tiled_refinement_lowers_the_real_cost() -> None:
    net, rgb, x, y = _setup(100, 170)
    measure, calls = _measure(net, rgb, 1.0)
    out = refine_latent(
        net, x, y, 1.0, 5, measure, size=rgb.shape[:2], tiling=SMALL_TILES
    )
    assert out.cost < out.start_cost and out.step > 0 and out.y.shape == y.shape
    assert len(calls) == 2  # the input and the last step, on the whole image


def test_eval_names_of_refined_codecs() -> None:
    assert lineup.learned_model("s2lic-tiny") == ("s2lic-tiny", 0, 0)
    assert lineup.learned_model("s2lic-tiny+refine12") == ("s2lic-tiny", 12, 0)
    assert lineup.learned_model("s2lic-tiny+effort2") == ("s2lic-tiny", 0, 2)
    bad_names = ("s2lic-tiny+refine0", "s2lic-tiny+refine", "jpeg", "nope+refine3")
    for bad in (*bad_names, "s2lic-tiny+effort0", "s2lic-tiny+effort99"):
        assert lineup.learned_model(bad) is None
    plain = lineup.make_codec("s2lic-tiny", qualities=(0.5,))
    refined = lineup.make_codec("s2lic-tiny+refine4", qualities=(0.5,))
    assert (refined.name, refined.refine) == ("s2lic-tiny+refine4", 4)
    assert "refine 4" in refined.label and "refine 4" in refined.settings
    # Points of the two are kept apart in journals and reports.
    assert lineup.config_id(refined) != lineup.config_id(plain)
    rgb = smooth_image(40, 56)
    assert refined.encode(rgb, 0.5) != plain.encode(rgb, 0.5)
    with pytest.raises(lineup.EvalError, match="unknown codec"):
        lineup.make_codec("s2lic-tiny+refinex")
