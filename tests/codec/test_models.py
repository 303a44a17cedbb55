"""Every registered model builds, trains, and round-trips through real bitstreams."""

from __future__ import annotations

import pytest
import torch

from s2lic.codec.registry import get_spec, list_models
from s2lic.codec.zoo import load_model
from s2lic.entropy.coders import get_coder, list_coders
from tests.conftest import smooth_image, tiny_variant

MODELS = list_models()


def _image(h: int = 64, w: int = 64) -> torch.Tensor:
    return torch.from_numpy(smooth_image(h, w)).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("name", MODELS)
def test_forward_shapes_and_rate(name: str) -> None:
    spec = get_spec(name)
    model = spec.factory(spec.config).train()
    x = _image()
    out = model(x, torch.tensor([0.3]))
    M = spec.config.entropy.latent_channels
    assert out.x_hat.shape == x.shape
    assert out.likelihoods["y"].shape == (1, M, 4, 4)
    assert out.likelihoods["z"].shape == (1, spec.config.entropy.z_channels, 1, 1)
    for lik in out.likelihoods.values():
        assert torch.isfinite(lik).all() and (lik > 0).all() and (lik <= 1).all()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("coder", ["rans", "torchac"])
def test_compress_decompress_bit_exact(name: str, coder: str) -> None:
    loaded = load_model(name)
    model, backend = loaded.model, get_coder(coder)
    x = _image(64, 128)
    enc = model.compress(x, 0.6, backend)
    x_dec, symbols = model.decompress(enc.streams, enc.shape, 0.6, backend)
    # The decoder rebuilds the encoder's quantised latent exactly, hence the same image.
    torch.testing.assert_close(x_dec, model.synthesize(enc.y_hat, 0.6), rtol=0, atol=0)
    assert len(symbols) == len(enc.symbols)
    for a, b in zip(symbols, enc.symbols, strict=True):
        assert (a == b).all()


def test_eval_forward_matches_coding() -> None:
    """The eval-mode forward quantises exactly like the encoder."""
    loaded = load_model("s2lic-tiny")
    x = _image()
    with torch.no_grad():
        out = loaded.model(x, 0.4)
    enc = loaded.model.compress(x, 0.4, get_coder("rans"))
    torch.testing.assert_close(out.y_hat, enc.y_hat, atol=1e-5, rtol=0)


@pytest.mark.parametrize("contexts", ["paper", "v1"])
def test_batched_training_pass_matches_slice_loop(contexts: str) -> None:
    """The one-pass training path computes the same network as the decoding loop.

    Fed the decoded slices as its context, the batched pass must reproduce the loop's
    scales, means and y_hat (the loop is what the encoder and decoder run), for four
    slices (three stacked context members) of each AC / AG design.
    """
    model = tiny_variant(contexts)
    ent = model.entropy
    with torch.no_grad():
        y = model.gain(model.g_a(_image()), torch.tensor([0.5])) * 3
        z = ent.h_a(y)
        med = ent._z_medians()
        hyper = ent.h_s(torch.round(z - med) + med)
        seen: dict[str, list[torch.Tensor]] = {"scales": [], "means": []}
        y_slices = y.chunk(ent.cfg.num_slices, dim=1)

        def quantize(i, mask, scales, means):  # type: ignore[no-untyped-def]
            seen["scales"].append(torch.where(mask, scales, 0))
            seen["means"].append(torch.where(mask, means, 0))
            return (torch.round(y_slices[i] - means) + means) * mask

        y_loop = ent._code_slices(hyper, quantize)
        y_batch, scales, means = ent._train_slices(y, hyper, context=y_loop, ste=False)
    S = ent.cfg.num_slices
    loop_scales = torch.cat(
        [seen["scales"][2 * i] + seen["scales"][2 * i + 1] for i in range(S)], 1
    )
    loop_means = torch.cat(
        [seen["means"][2 * i] + seen["means"][2 * i + 1] for i in range(S)], 1
    )
    torch.testing.assert_close(scales, loop_scales, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(means, loop_means, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(y_batch, y_loop, atol=1e-4, rtol=1e-4)


def test_quality_controls_rate() -> None:
    loaded = load_model("s2lic-tiny")
    x = _image(128, 128)
    sizes = [
        sum(map(len, loaded.model.compress(x, q, get_coder("rans")).streams))
        for q in (0.0, 0.5, 1.0)
    ]
    assert sizes[0] < sizes[1] < sizes[2]


def test_training_steps_reduce_loss() -> None:
    spec = get_spec("s2lic-tiny")
    torch.manual_seed(1)
    model = spec.factory(spec.config).train()
    x = _image()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss() -> torch.Tensor:
        out = model(x, torch.tensor([0.5]))
        bits = sum(-torch.log2(v).sum() for v in out.likelihoods.values())
        return 0.01 * 255**2 * torch.mean((out.x_hat - x) ** 2) + bits / x[0, 0].numel()

    first = loss().item()
    for _ in range(15):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert loss().item() < 0.8 * first


def test_gradients_reach_every_parameter() -> None:
    spec = get_spec("s2lic-tiny")
    model = spec.factory(spec.config).train()
    out = model(_image(), torch.tensor([0.5]))
    (
        out.x_hat.mean() + sum(-torch.log2(v).mean() for v in out.likelihoods.values())
    ).backward()
    # The EntropyBottleneck's quantiles are trained by the aux loss instead.
    missing = [
        n
        for n, p in model.named_parameters()
        if p.grad is None and not n.endswith("quantiles")
    ]
    assert not missing


def test_coders_listed() -> None:
    assert {"rans", "torchac"} <= set(list_coders())


@pytest.mark.parametrize("name", list_models())
def test_registry_index_matches_the_networks(name: str) -> None:
    """`s2lic models` reads names, ids and parameter counts without building
    networks; they must be the built network's."""
    from s2lic.codec.registry import entry, entry_from_id

    spec, known = get_spec(name), entry(name)
    with torch.device("meta"):  # shapes only
        model = spec.factory(spec.config)
    assert known.parameters == sum(p.numel() for p in model.parameters())
    assert entry_from_id(known.model_id) == known and spec.model_id == known.model_id
