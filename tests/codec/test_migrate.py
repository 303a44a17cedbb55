"""Migration of first-design weights to the paper's AC / AG (s2lic.train.migrate)."""

from __future__ import annotations

import pytest
import torch

from s2lic.codec.entropy_model.context.channel import AdaptiveChannelContext
from s2lic.codec.entropy_model.context.global_inter import GlobalInterContext
from s2lic.train.migrate import distill_ac, to_paper_contexts
from tests.conftest import tiny_variant


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    old = tiny_variant("v1")
    with torch.no_grad():  # trained-like offsets: the moved attention must keep them
        old.entropy.ag.offset_pw.weight.normal_(0, 0.1)
    return old, to_paper_contexts(old).eval()


def test_migrated_ag_is_the_same_function(pair) -> None:  # type: ignore[no-untyped-def]
    old, new = pair
    assert isinstance(new.entropy.ag, GlobalInterContext)
    assert isinstance(new.entropy.ac, AdaptiveChannelContext)
    prev = torch.randn(2, 3, 24, 8, 8)
    with torch.no_grad():
        assert torch.equal(new.entropy.ag(prev), old.entropy.ag(prev))
        for i in range(3):  # and one member at a time, as decoding runs it
            one = prev[:, i : i + 1, : 8 * (i + 1)]
            assert torch.equal(new.entropy.ag(one, i), old.entropy.ag(one, i))


def test_everything_outside_the_contexts_is_copied(pair) -> None:  # type: ignore[no-untyped-def]
    old, new = pair
    old_state, new_state = old.state_dict(), new.state_dict()
    outside = [k for k in old_state if not k.startswith(("entropy.ac.", "entropy.ag."))]
    assert outside
    for key in outside:
        assert torch.equal(old_state[key], new_state[key]), key
    with pytest.raises(ValueError, match="first-design"):
        to_paper_contexts(new)


def test_distillation_brings_the_ac_close_to_the_old_one(pair) -> None:  # type: ignore[no-untyped-def]
    old, new = pair
    crops = torch.rand(8, 3, 64, 64)
    before = {k: v.clone() for k, v in new.state_dict().items() if ".ac." not in k}
    errors = distill_ac(old, new, crops, steps=150, batch=4, lr=3e-3, log_every=50)
    assert len(errors) == 3 and errors[-1] < 0.5 * errors[0]
    for key, value in before.items():  # only the AC moved
        assert torch.equal(new.state_dict()[key], value), key
