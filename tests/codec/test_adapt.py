"""Per-image adaptation: the tools, the section, effort levels and adapted files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from s2lic.codec import api
from s2lic.codec.adapt import fit
from s2lic.codec.adapt.levels import EFFORTS, MAX_EFFORT, Effort
from s2lic.codec.adapt.modules import FiLM, PostFilter
from s2lic.codec.adapt.section import (
    TOOL_FILM,
    TOOL_POSTFILTER,
    Adaptation,
    Tool,
    load,
    pack_section,
    quantize,
    unpack_section,
)
from s2lic.codec.image import pad_to_multiple, to_tensor, to_uint8
from s2lic.entropy.bitstream import Container, pack, unpack
from s2lic.entropy.coders import get_coder
from s2lic.entropy.errors import FormatError
from tests.conftest import smooth_image

TINY = {"model": "s2lic-tiny"}
DIMS = (32, 16, 16)  # s2lic-tiny's synthesis stages


def _random(module: torch.nn.Module, scale: float, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return module


def test_tools_start_as_the_identity() -> None:
    x = torch.rand(1, 3, 20, 24)
    assert torch.equal(PostFilter(4)(x), x)
    film = FiLM(DIMS, (0, 2))
    feats = torch.rand(1, 32, 5, 6)
    assert torch.equal(film(0, feats), feats)
    assert torch.equal(film(1, torch.ones(1, 16, 2, 2)), torch.ones(1, 16, 2, 2))


def test_banded_postfilter_equals_the_whole_pass() -> None:
    pf = _random(PostFilter(6), 0.2)
    x = torch.rand(1, 3, 70, 33)
    with torch.no_grad():
        whole = pf(x)
    assert torch.allclose(pf.apply_banded(x, rows=16), whole, atol=1e-6)


@pytest.mark.parametrize(
    "module", [FiLM(DIMS, (1, 2)), FiLM(DIMS, (0,)), PostFilter(5)], ids=repr
)
def test_section_round_trip(module: FiLM | PostFilter) -> None:
    _random(module, 0.05)
    tool = quantize(module, 9)
    parsed = unpack_section(pack_section([tool]), DIMS)
    got = parsed.film if isinstance(module, FiLM) else parsed.postfilter
    assert got is not None
    want = load(type(module)(*_args(module)), tool)
    for a, b in zip(got.ordered(), want.ordered(), strict=True):
        assert torch.equal(a, b)
    # Quantisation error is at most half a step.
    for a, b in zip(got.ordered(), module.ordered(), strict=True):
        assert (a - b).abs().max() <= 2.0**-10 + 1e-7


def _args(module: FiLM | PostFilter) -> tuple:  # type: ignore[type-arg]
    return (
        (DIMS, module.stages) if isinstance(module, FiLM) else (module.a.out_channels,)
    )


def test_both_tools_in_one_section() -> None:
    film = quantize(_random(FiLM(DIMS, (2,)), 0.1), 8)
    pf = quantize(_random(PostFilter(3), 0.1), 7)
    parsed = unpack_section(pack_section([film, pf]), DIMS)
    assert parsed.film is not None and parsed.film.stages == (2,)
    assert parsed.postfilter is not None and parsed.postfilter.a.out_channels == 3
    with pytest.raises(ValueError, match="distinct kinds"):
        pack_section([pf, film])


def _section() -> bytes:
    return pack_section([quantize(_random(FiLM(DIMS, (1,)), 0.1), 8)])


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda b: b[:1], "too short"),
        (lambda b: bytes([2]) + b[1:], "section version 2: upgrade"),
        (lambda b: b[:1] + bytes([0]) + b[2:], "0 tools"),
        (lambda b: b[:1] + bytes([3]) + b[2:], "3 tools"),
        (lambda b: b[:2] + bytes([9]) + b[3:], "unknown adaptation tool 9"),
        (lambda b: b[:3] + bytes([0]) + b[4:], "stage mask 0x00"),
        (lambda b: b[:3] + bytes([0x08]) + b[4:], "stage mask 0x08"),
        (lambda b: b[:4] + bytes([40]) + b[5:], "exponent 40"),
        (lambda b: b[:5] + bytes([30]) + b[6:], "order 30"),
        (lambda b: b[:6] + bytes([0x7F]) + b[7:], "cut short"),
        (lambda b: b + b"\x00", "bytes after"),
        (lambda b: b[:-1], "end early|cut short"),
        (lambda b: b[:6] + b"\xff\xff\xff\xff\xff\xff", "bad length"),
        # The same length, not minimally encoded (one file, one byte string).
        (lambda b: b[:6] + bytes([b[6] | 0x80, 0]) + b[7:], "bad length"),
    ],
)
def test_bad_sections_are_format_errors(mutate, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatError, match=match):
        unpack_section(mutate(_section()), DIMS)


def test_postfilter_width_is_bounded() -> None:
    tool = Tool(TOOL_POSTFILTER, 0, 8, np.zeros(0, dtype=np.int64))
    with pytest.raises(FormatError, match="0 hidden"):
        unpack_section(pack_section([tool]), DIMS)
    assert TOOL_FILM < TOOL_POSTFILTER


def _plain_file(h: int = 48, w: int = 80) -> tuple[np.ndarray, bytes]:
    rgb = smooth_image(h, w)
    return rgb, api.encode(Image.fromarray(rgb), quality=0.6, **TINY).data


def test_adapted_file_decodes_with_its_tools() -> None:
    rgb, data = _plain_file()
    plain = api.decode(data)
    container = unpack(data)
    film = _random(FiLM(DIMS, (0, 1, 2)), 0.05)
    pf = _random(PostFilter(4), 0.02, seed=1)
    tools = [quantize(film, 8), quantize(pf, 8)]
    adapted = pack(Container(container.header, container.streams, pack_section(tools)))
    assert adapted[4] == 2  # a version-2 container
    out = api.decode(adapted)
    net = api.get_codec("s2lic-tiny").model
    section = unpack_section(pack_section(tools), DIMS)
    x, _ = pad_to_multiple(to_tensor(rgb), net.pad_multiple)
    with torch.inference_mode():
        y_hat, _ = net.decode_latent(
            container.streams, tuple(x.shape[-2:]), get_coder("rans")
        )
        want = to_uint8(fit.reconstruct(net, y_hat, 0.6, rgb.shape[:2], section))
    assert np.array_equal(np.asarray(out.image), want)
    assert not np.array_equal(np.asarray(out.image), np.asarray(plain.image))


def test_corrupted_section_is_one_clear_error() -> None:
    _, data = _plain_file()
    c = unpack(data)
    bad = pack(Container(c.header, c.streams, b"\x01\x01\x07\x00\x08\x00\x00"))
    with pytest.raises(FormatError, match="unknown adaptation tool 7"):
        api.decode(bad)


@pytest.mark.parametrize("effort", range(MAX_EFFORT + 1))
def test_every_effort_level_costs_at_most_the_plain_file(effort: int) -> None:
    """The real cost of each level's file is at most plain's, and the file decodes to
    what the encoder measured."""
    rgb = smooth_image(64, 64, seed=3)
    recipe = dataclasses.replace(
        EFFORTS[effort],
        refine=min(EFFORTS[effort].refine, 4),
        postfilter=min(EFFORTS[effort].postfilter, 20),
    )
    net = api.get_codec("s2lic-tiny").model
    x, _ = pad_to_multiple(to_tensor(rgb), net.pad_multiple)
    with torch.inference_mode():
        y = net.analyze(x)
    from s2lic.codec.image import to_planes

    planes = to_planes(Image.fromarray(rgb))
    done = fit.adapt(net, x, y, planes, 0.7, recipe, get_coder("rans"))
    assert done.cost <= done.start_cost + 1e-12
    assert (done.section is not None) <= recipe.adapts


def test_effort_levels_are_ordered_and_valid() -> None:
    assert EFFORTS[0] == Effort()
    for lower, higher in zip(EFFORTS, EFFORTS[1:], strict=False):
        assert higher.refine >= lower.refine
    for level in EFFORTS:
        assert not level.film or level.refine, "a FiLM is fitted during refinement"


def test_encode_with_effort_decodes_and_rejects_bad_levels() -> None:
    rgb = smooth_image(48, 64, seed=5)
    img = Image.fromarray(rgb)
    plain = api.encode(img, quality=0.8, **TINY)
    result = api.encode(img, quality=0.8, effort=2, refine=3, **TINY)
    assert api.encode(img, quality=0.8, effort=2, refine=3, **TINY).data == result.data
    decoded = api.decode(result.data)
    assert decoded.image.size == img.size
    assert unpack(result.data).version in (1, 2)
    assert result.header.quality == plain.header.quality
    for bad in (-1, MAX_EFFORT + 1):
        with pytest.raises(ValueError, match="effort"):
            api.encode(img, effort=bad, **TINY)


def test_adaptation_moves_to_a_device() -> None:
    a = Adaptation(FiLM(DIMS, (1,)), PostFilter(2)).to("cpu")
    assert a.film is not None and a.postfilter is not None


def test_eval_codec_at_an_effort_level() -> None:
    from s2lic.eval import codecs as lineup

    plain = lineup.make_codec("s2lic-tiny", qualities=(0.5,))
    adapted = lineup.make_codec("s2lic-tiny+effort1", qualities=(0.5,))
    assert adapted.name == "s2lic-tiny+effort1"
    assert "effort 1" in adapted.label and "effort 1" in adapted.settings
    assert lineup.config_id(adapted) != lineup.config_id(plain)
    rgb = smooth_image(40, 56)
    assert np.array_equal(adapted.decode(adapted.encode(rgb, 0.5)).shape, rgb.shape)


def test_describe_reports_the_section() -> None:
    from s2lic.codec.describe import describe

    _, data = _plain_file()
    c = unpack(data)
    section = _section()
    adapted = pack(Container(c.header, c.streams, section))
    assert (describe(data)["container"], describe(data)["adaptation"]) == (1, 0)
    info = describe(adapted)
    assert (info["container"], info["adaptation"]) == (2, len(section))
    assert info["streams"] == [len(s) for s in c.streams]


def test_film_gradient_adds_up_over_tiles() -> None:
    """Large images fit one FiLM for the whole image from tiled gradient passes."""
    from s2lic.codec.objective import RateDistortion
    from s2lic.codec.refine import proxy_gradient
    from s2lic.codec.tiling import Tiling

    net = api.get_codec("s2lic-tiny").model
    rgb = smooth_image(100, 170)
    x, _ = pad_to_multiple(to_tensor(rgb), net.pad_multiple)
    with torch.inference_mode():
        y = net.analyze(x)
    y = y.clone()
    grads = []
    for tiling in (None, Tiling(core=64, overlap=64)):
        film = _random(FiLM(DIMS, (1, 2)), 0.01)
        torch.manual_seed(5)
        kwargs = {"tiling": tiling} if tiling else {}
        proxy_gradient(
            net, y, x, rgb.shape[:2], torch.tensor([0.6]), RateDistortion(),
            film=film, **kwargs,
        )  # fmt: skip
        grads.append(torch.cat([p.grad.flatten() for p in film.ordered()]))
    cos = torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0)
    assert cos > 0.8
    assert grads[1].abs().sum() > 0
