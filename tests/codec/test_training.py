"""Training: objective, data guards, a few real steps, resume, export, DDP on gloo."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image
from safetensors.torch import load_file

from s2lic.codec import api
from s2lic.codec.models.base import RDOutput
from s2lic.codec.registry import get_spec
from s2lic.codec.zoo import load_model, save_weights
from s2lic.train import RateDistortion, TrainConfig, train
from s2lic.train import data as data_mod
from s2lic.train.data import DataError, RandomCrops, list_images, split_holdout
from s2lic.train.trainer import _Run, _Schedule, amp_bf16, rd_losses
from tests.conftest import smooth_image, tiny_variant


@pytest.fixture()
def image_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        h, w = (96, 130) if i % 2 else (70, 64)  # one smaller than the crop: padded
        Image.fromarray(smooth_image(h, w, seed=i)).save(folder / f"img{i}.png")
    return folder


def test_lambda_mapping_and_loss() -> None:
    rd = RateDistortion(lambda_min=0.01, lambda_max=0.16)
    q = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(rd.lambda_of(q), torch.tensor([0.01, 0.04, 0.16]))
    x = torch.full((1, 3, 4, 4), 0.5)
    lik = torch.full((1, 2, 1, 1), 0.5)  # 2 bits over 16 pixels
    out = RDOutput(x_hat=x + 1 / 255, likelihoods={"y": lik}, y_hat=x)
    parts = rd(out, x, torch.tensor([0.5]))
    assert parts["bpp"].item() == pytest.approx(2 / 16)
    assert parts["loss"].item() == pytest.approx(0.04 * 1.0 + 2 / 16, rel=1e-4)
    assert parts["psnr"].item() == pytest.approx(20 * math.log10(255), rel=1e-4)
    with pytest.raises(ValueError):
        RateDistortion(metric="l1")


def test_kodak_images_are_refused(
    image_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(list_images([image_dir])) == 6
    renamed = image_dir / "kodim07.png"
    (image_dir / "img0.png").rename(renamed)
    with pytest.raises(DataError, match="Kodak"):
        list_images([image_dir])
    renamed.rename(image_dir / "copy.png")
    import hashlib

    digest = hashlib.sha256((image_dir / "copy.png").read_bytes()).hexdigest()
    monkeypatch.setattr(data_mod, "KODAK_SHA256", frozenset({digest}))
    with pytest.raises(DataError, match="never train"):
        list_images([image_dir])
    with pytest.raises(DataError, match="does not exist"):
        list_images([image_dir / "nope"])


def test_crops_and_holdout(image_dir: Path) -> None:
    files = list_images([image_dir])
    train_files, held = split_holdout(files, 2)
    assert len(held) == 2 and not set(held) & set(train_files)
    assert set(split_holdout(list(reversed(files)), 2)[1]) == set(held)  # stable
    crops = RandomCrops(train_files, 64, length=5)
    x = crops[0]
    assert x.shape == (3, 64, 64) and 0 <= x.min() and x.max() <= 1
    with pytest.raises(DataError):
        RandomCrops(train_files, 100)


def _cfg(image_dir: Path, out: Path, **kw: object) -> TrainConfig:
    base = dict(
        model="s2lic-tiny",
        data=(str(image_dir),),
        out=str(out),
        crop=64,
        batch=4,
        workers=0,
        lr=2e-3,
        warmup=2,
        holdout=1,
        val_every=5,
        log_every=1,
        steps=10,
        device="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _log(out: Path) -> list[dict[str, str]]:
    import csv

    with (out / "log.csv").open() as f:
        return list(csv.DictReader(f))


def test_train_resume_and_export(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    torch.manual_seed(0)
    result = train(_cfg(image_dir, out, steps=25))
    assert result.step == 25 and result.weights.is_file()
    rows = _log(out)
    first = np.mean([float(r["loss"]) for r in rows[:5]])
    last = np.mean([float(r["loss"]) for r in rows[-5:]])
    assert last < first  # it learns
    assert (out / "val.csv").is_file()
    # Resume: the same folder continues at step 25, with the schedule where it was.
    result = train(_cfg(image_dir, out, steps=30))
    assert result.step == 30
    steps = [int(r["step"]) for r in _log(out)]
    assert steps == list(range(1, 31))
    state = torch.load(out / "ckpt.pt", weights_only=True)
    assert state["step"] == 30 and state["elapsed"] > 0
    # run.json: the provenance that travels back from a GPU round with the weights.
    info = json.loads((out / "run.json").read_text())
    assert info["step"] == 30 and info["elapsed"] == pytest.approx(state["elapsed"])
    assert info["config"] == state["config"]
    provenance = _ship_script()._round([out], "here", "cpu")
    assert provenance["steps"] == 30 and provenance["init"] == "random"
    assert "ema" not in provenance
    assert provenance["images_per_second"] > 0
    # The exported weights encode and decode through the public API.
    img = Image.fromarray(smooth_image(40, 56))
    enc = api.encode(img, model="s2lic-tiny", weights=str(result.weights))
    dec = api.decode(enc.data, weights=str(result.weights))
    assert dec.image.size == img.size


def _ship_script() -> ModuleType:
    path = Path(__file__).parents[2] / "scripts" / "ship_weights.py"
    spec = importlib.util.spec_from_file_location("ship_weights", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_init_from_weights(image_dir: Path, tmp_path: Path) -> None:
    first = train(_cfg(image_dir, tmp_path / "a", steps=3))
    second = train(
        _cfg(image_dir, tmp_path / "b", steps=2, init=str(first.weights), lr=2e-4)
    )
    assert second.step == 2  # a new run (fresh optimiser) from the given weights
    # Chained runs of one GPU round are recorded as one round.
    runs = [tmp_path / "a", tmp_path / "b"]
    provenance = _ship_script()._round(runs, "here", "gpu")
    single = [_ship_script()._round([run], "here", "gpu") for run in runs]
    assert provenance["steps"] == 5 and provenance["init"] == "random"
    assert provenance["minutes"] == pytest.approx(
        sum(float(p["minutes"]) for p in single), abs=0.11
    )
    assert provenance["lr"] == [single[0]["lr"], 2e-4] != single[0]["lr"]
    assert (
        provenance["crop"] == single[0]["crop"]
        and provenance["data"] == single[0]["data"]
    )


def test_resumed_run_trains_what_is_left_of_its_minutes(
    image_dir: Path, tmp_path: Path
) -> None:
    """Re-running the same command resumes within `minutes`; `schedule_minutes`
    makes `minutes` a per-session budget instead."""
    out = tmp_path / "run"
    first = train(_cfg(image_dir, out, steps=0, minutes=0.02, val_every=0))
    assert first.step >= 1
    again = train(_cfg(image_dir, out, steps=0, minutes=0.02, val_every=0))
    assert again.step == first.step  # the run's minutes are spent
    more = train(
        _cfg(image_dir, out, steps=0, minutes=0.02, schedule_minutes=1, val_every=0)
    )
    assert more.step > first.step


def test_export_leaves_the_average_s_coding_tables_alone(
    image_dir: Path, tmp_path: Path
) -> None:
    """Exporting rebuilds the coding tables, whose length follows the quantiles; done
    in place on the average it broke the next EMA update (run 10 on the CPU)."""
    run = _Run(_cfg(image_dir, tmp_path / "run", ema=0.9))
    assert run.ema is not None
    with torch.no_grad():
        run.ema.module.entropy.entropy_bottleneck.quantiles.mul_(3)
    name = "entropy.entropy_bottleneck._quantized_cdf"
    before = {k: v.clone() for k, v in run.ema.module.named_buffers()}
    run.save()
    assert load_file(run.weights)[name].shape[1] > before[name].shape[1]
    for key, buffer in run.ema.module.named_buffers():
        assert torch.equal(buffer, before[key]), key
    run.train_step(next(iter(run.loader)))  # copies the raw model's buffers in


def test_ema_of_the_weights(image_dir: Path, tmp_path: Path) -> None:
    """`ema`: the average is exported, checkpointed and resumed; raw weights train."""
    out = tmp_path / "run"
    train(_cfg(image_dir, out, steps=1, ema=0.75))
    one = torch.load(out / "ckpt.pt", weights_only=True)
    train(_cfg(image_dir, out, steps=2, ema=0.75))  # resumed: the average goes on
    two = torch.load(out / "ckpt.pt", weights_only=True)
    assert int(one["ema"]["n_averaged"]) == 1 and int(two["ema"]["n_averaged"]) == 2
    assert _ship_script()._round([out], "here", "cpu")["ema"] == 0.75
    exported = load_file(out / "last.safetensors")
    names = [n for n, _ in load_model("s2lic-tiny").model.named_parameters()]
    moved = 0
    for name in names:
        raw1, raw2 = one["model"][name], two["model"][name]
        # The first update copies the weights, each later one moves 1 - decay of
        # the way towards them.
        assert torch.equal(one["ema"][f"module.{name}"], raw1), name
        average = two["ema"][f"module.{name}"]
        torch.testing.assert_close(average, 0.75 * raw1 + 0.25 * raw2)
        assert torch.equal(exported[name], average.half()), name
        moved += not torch.equal(average, raw2)
    assert moved > len(names) // 2  # the raw weights went on without the average
    assert "ema" not in torch.load(
        train(_cfg(image_dir, tmp_path / "plain", steps=1)).checkpoint,
        weights_only=True,
    )
    with pytest.raises(ValueError, match="ema"):
        _cfg(image_dir, out, ema=1.0)


def test_snapshots_of_every_checkpoint(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_cfg(image_dir, out, steps=2, snapshots=True))
    train(_cfg(image_dir, out, steps=3, snapshots=True))
    assert sorted(p.name for p in out.glob("step-*")) == [
        "step-2.safetensors",
        "step-3.safetensors",
    ]
    last = (out / "last.safetensors").read_bytes()
    assert (out / "step-3.safetensors").read_bytes() == last
    assert (out / "step-2.safetensors").read_bytes() != last


def test_a_schedule_over_several_sessions() -> None:
    """`schedule_minutes`: a session stops mid-schedule, the resumed one goes on."""
    one = _Schedule(TrainConfig(minutes=6, warmup=0, lr=1.0))
    split = _Schedule(TrainConfig(minutes=4, schedule_minutes=6, warmup=0, lr=1.0))
    for elapsed in (0.0, 90.0, 240.0, 300.0, 360.0):
        assert split.lr(10, elapsed) == pytest.approx(one.lr(10, elapsed))
    # Without it, the first session anneals to the floor within its own minutes.
    assert _Schedule(TrainConfig(minutes=4, warmup=0, lr=1.0)).lr(10, 240) == 0.1
    assert split.lr(10, 240) == pytest.approx(0.1 + 0.9 * 0.25)  # cos(2π/3)
    with pytest.raises(ValueError, match="schedule_minutes"):
        TrainConfig(minutes=1, schedule_minutes=-1)


def test_bf16_autocast_on_cpus_with_native_bf16(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CPU training runs under bf16 autocast only where the CPU computes in bf16."""
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert not amp_bf16(cpu) and amp_bf16(torch.device("cuda"))
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert amp_bf16(cpu) and not amp_bf16(cpu, wanted=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert not amp_bf16(cpu)  # no probe in this torch: fp32
    # Under autocast the losses move (bf16 ran) but stay close to fp32's.
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, False)
    model = load_model("s2lic-tiny", "cpu").model.train()
    x = torch.from_numpy(smooth_image(64, 64)).permute(2, 0, 1)[None] / 255.0
    losses = {}
    for bf16 in (False, True):
        torch.manual_seed(0)  # same qualities and noise
        parts, _ = rd_losses(model, model, RateDistortion(), x, bf16=bf16)
        losses[bf16] = {k: v.item() for k, v in parts.items()}
    for k in ("loss", "bpp", "psnr"):
        assert losses[True][k] != losses[False][k]
        assert losses[True][k] == pytest.approx(losses[False][k], rel=0.05)


def test_a_resumed_run_on_other_data(
    image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second call of a GPU round: same run folder, the other photographs."""
    other = tmp_path / "more"
    other.mkdir()
    for i in range(3):
        Image.fromarray(smooth_image(80, 90, seed=20 + i)).save(other / f"b{i}.png")
    out = tmp_path / "run"
    train(_cfg(image_dir, out, steps=3))
    seen: list[float] = []
    monkeypatch.setattr(
        _Schedule, "lr", lambda self, step, elapsed: seen.append(step) or 1e-3
    )
    train(_cfg(other, out, steps=5))
    assert seen == [3, 4]  # the step count (and so the warm-up) goes on
    info = json.loads((out / "run.json").read_text())
    assert info["step"] == 5 and info["data"] == [str(image_dir), str(other)]
    provenance = _ship_script()._round([out], "here", "gpu")
    assert provenance["steps"] == 5 and provenance["data"] == "images, more"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ddp_worker(rank: int, world: int, port: int, cfg: TrainConfig) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    train(cfg)
    torch.distributed.destroy_process_group()


def test_ddp_on_gloo(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cfg = _cfg(image_dir, out, steps=3, batch=2, val_every=0)
    mp.spawn(_ddp_worker, args=(2, _free_port(), cfg), nprocs=2, join=True)
    assert (out / "last.safetensors").is_file()
    assert torch.load(out / "ckpt.pt", weights_only=True)["step"] == 3
    assert int(_log(out)[-1]["step"]) == 3


@pytest.mark.parametrize("name", ["muon", "soap", "schedulefree"])
def test_library_optimizers_train_resume_and_export(
    image_dir: Path, tmp_path: Path, name: str
) -> None:
    """Each optimiser of the study trains, checkpoints its state and resumes."""
    out = tmp_path / name
    start = load_model("s2lic-tiny").model.state_dict()
    train(_cfg(image_dir, out, steps=2, optimizer=name))
    first = torch.load(out / "ckpt.pt", weights_only=True)
    assert first["opt"]["state"], "the optimiser's state is checkpointed"
    train(_cfg(image_dir, out, steps=4, optimizer=name))
    assert [int(r["step"]) for r in _log(out)] == [1, 2, 3, 4]
    state = torch.load(out / "ckpt.pt", weights_only=True)
    assert state["step"] == 4 and state["config"]["optimizer"] == name
    moved = [
        n for n, v in state["model"].items() if not torch.equal(v, first["model"][n])
    ]
    assert len(moved) > 10 and all(
        not torch.equal(start[n], state["model"][n]) for n in moved[:3]
    )
    if name != "schedulefree":
        return
    # Schedule-Free trains at y and exports its average x = y + (1 − 1/β1)(z − y).
    exported = load_file(out / "last.safetensors")
    params = [
        n
        for n, _ in load_model("s2lic-tiny").model.named_parameters()
        if not n.endswith("quantiles")
    ]
    checked = 0
    for i, n in enumerate(params):
        z = state["opt"]["state"][i]["z"]
        y = state["model"][n]
        x = y + (1 - 1 / 0.9) * (z - y)
        torch.testing.assert_close(exported[n].float(), x.half().float())
        checked += not torch.equal(x, y)
    assert checked > len(params) // 2


def test_muon_owns_the_plain_weight_matrices_only() -> None:
    from s2lic.train.optim import build_optimizer, muon_parameters

    model = load_model("s2lic-s").model
    owned = muon_parameters(model)
    names = {p: n for n, p in model.named_parameters()}
    owned_names = {names[p] for p in owned}
    assert owned_names and all(names[p].endswith("weight") for p in owned)
    # Stacked per-slice weights (5-D), depth-wise kernels and biases stay on AdamW.
    assert all(p.ndim in (2, 4) and p.shape[1] > 1 for p in owned)
    assert "entropy.spatial.weight" not in owned_names
    opt = build_optimizer("muon", model, list(model.parameters()), 1e-4, 0.0)
    groups = {g["use_muon"]: len(g["params"]) for g in opt.param_groups}
    assert groups[True] == len(owned) and groups[False] > 0
    with pytest.raises(ValueError, match="optimizer"):
        build_optimizer("sgd", model, [], 1e-4, 0.0)


def test_schedule_free_runs_without_cosine_and_without_ema() -> None:
    sf = _Schedule(TrainConfig(minutes=6, warmup=10, lr=1.0, optimizer="schedulefree"))
    assert sf.lr(0, 0) == pytest.approx(0.1) and sf.lr(5, 0) == pytest.approx(0.55)
    assert sf.lr(10, 0) == sf.lr(1000, 300) == sf.lr(10**6, 360) == 1.0
    with pytest.raises(ValueError, match="ema"):
        TrainConfig(minutes=1, optimizer="schedulefree", ema=0.99)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(minutes=1, optimizer="lion")


@pytest.mark.parametrize("tilt", [-1.0, 0.0, 0.5, 1.0])
def test_quality_tilt_moves_training_toward_the_high_rates(tilt: float) -> None:
    """Density 1 + t·(2q − 1): mean 1/2 + t/6, inside [0, 1]."""
    torch.manual_seed(0)
    q = RateDistortion(quality_tilt=tilt).sample_quality(200_000, "cpu")
    assert 0 <= q.min() and q.max() <= 1
    assert q.mean().item() == pytest.approx(0.5 + tilt / 6, abs=0.003)
    top = (q > 0.75).float().mean().item()  # ∫ over [0.75, 1] = 1/4 + t·3/16
    assert top == pytest.approx(0.25 + tilt * 3 / 16, abs=0.004)
    with pytest.raises(ValueError, match="quality_tilt"):
        RateDistortion(quality_tilt=1.5)


def test_resume_refuses_another_optimizer(image_dir: Path, tmp_path: Path) -> None:
    """A checkpoint's optimiser state only fits the optimiser that wrote it."""
    out = tmp_path / "run"
    train(_cfg(image_dir, out, steps=1, optimizer="adamw"))
    with pytest.raises(ValueError, match="trained with --optimizer adamw"):
        train(_cfg(image_dir, out, steps=2, optimizer="soap"))
    assert TrainConfig(steps=1).optimizer == "soap"  # the study's winner


def test_a_run_keeps_the_design_it_started_with(
    image_dir: Path, tmp_path: Path
) -> None:
    """A run started from weights of another design than the registry's (a migrated
    or an older design) trains, checkpoints and resumes as that design."""
    init = tmp_path / "v1.safetensors"
    save_weights(get_spec("s2lic-tiny"), tiny_variant("v1"), init)
    out = tmp_path / "run"
    train(_cfg(image_dir, out, steps=1, ema=0.5, init=str(init)))
    result = train(_cfg(image_dir, out, steps=2, ema=0.5, init=str(init)))
    assert torch.load(result.checkpoint, weights_only=True)["step"] == 2
    exported = load_model("s2lic-tiny", weights=out / "last.safetensors")
    assert exported.spec.config.entropy.contexts == "v1"
    assert exported.spec.config.entropy.num_slices == 4
