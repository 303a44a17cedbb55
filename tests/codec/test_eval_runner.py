"""The evaluation engine and its report, on two tiny generated images.

The tiny model (random weights) and JPEG at a few qualities keep a whole evaluation
to a few seconds. Images of 48x64 pixels are too small for MS-SSIM (NaN), which the
report must survive: no ``ms-ssim-rgb`` list, no MS-SSIM curve, "n/a" BD-rates.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2lic.codec import api
from s2lic.codec.metrics import psnr
from s2lic.eval import codecs as lineup
from s2lic.eval import curves, report, runner
from s2lic.eval.classical import ClassicalCodec
from tests.conftest import smooth_image

S2LIC_GRID = (0.25, 0.75)
JPEG_GRID = (10.0, 50.0, 90.0)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_dataset(folder: Path, count: int = 2) -> list[Path]:
    """``count`` 48x64 RGB PNGs (and a file that is not an image) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(smooth_image(48, 64, seed=i)).save(folder / f"img{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return runner.find_images(folder)


def codecs() -> list[lineup.Codec]:
    return [
        lineup.make_codec("s2lic-tiny", qualities=S2LIC_GRID),
        lineup.make_codec("jpeg", qualities=JPEG_GRID),
    ]


@dataclasses.dataclass(frozen=True)
class Evaluated:
    images: list[Path]
    out: Path
    result: runner.EvalResult


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Evaluated:
    """One serial evaluation shared by the tests that only read its outputs."""
    root = tmp_path_factory.mktemp("eval")
    images = make_dataset(root / "data")
    result = runner.run_eval(images, codecs(), root / "out", workers=1)
    return Evaluated(images, root / "out", result)


def rows(points: list[runner.Point], times: bool = True) -> list[dict[str, str]]:
    """Points as journal rows: comparable although MS-SSIM is NaN (NaN != NaN)."""
    cleared = (
        points if times else [dataclasses.replace(p, enc_s=0, dec_s=0) for p in points]
    )
    return sorted((p.row() for p in cleared), key=lambda r: list(r.values()))


@dataclasses.dataclass(frozen=True)
class RawCodec:
    """A lossless stand-in codec: the size, then the raw pixels."""

    name: str = "raw"
    label: str = "Raw"
    settings: str = "raw pixels"
    qualities: tuple[float, ...] = (1.0,)
    missing: str | None = None
    fail_at: float | None = None

    def unavailable(self) -> str | None:
        return self.missing

    def version(self) -> str:
        return "numpy"

    def encode(self, rgb: np.ndarray, quality: float) -> bytes:
        if quality == self.fail_at:
            raise RuntimeError("encoder\nexploded")
        return np.array(rgb.shape[:2], ">u2").tobytes() + rgb.tobytes()

    def decode(self, data: bytes) -> np.ndarray:
        h, w = np.frombuffer(data[:4], ">u2")
        return np.frombuffer(data[4:], np.uint8).reshape(h, w, 3)


# -------------------------------------------------------------------------------------
# Measuring


def test_find_images(tmp_path: Path) -> None:
    images = make_dataset(tmp_path / "d", 3)
    assert [p.name for p in images] == ["img0.png", "img1.png", "img2.png"]
    assert len(runner.find_images(tmp_path / "d", limit=2)) == 2
    with pytest.raises(lineup.EvalError, match="does not exist"):
        runner.find_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(lineup.EvalError, match="no images"):
        runner.find_images(tmp_path / "empty")


def test_every_point_is_measured_from_real_bytes(evaluated: Evaluated) -> None:
    points = evaluated.result.points
    assert evaluated.result.measured == len(points) == 2 * (2 + 3)
    assert not evaluated.result.failures
    s2lic, jpeg = codecs()
    for p in points:
        rgb = runner.load_rgb(evaluated.images[0].parent / p.image)
        if p.codec == "s2lic-tiny":
            # An independent encode through the public API gives the same file.
            data = api.encode(
                Image.fromarray(rgb), quality=p.quality, model="s2lic-tiny"
            ).data
            decoded = np.asarray(api.decode(data).image.convert("RGB"))
        else:
            data = jpeg.encode(rgb, p.quality)
            decoded = jpeg.decode(data)
        assert p.bytes == len(data)
        assert p.bpp == 8 * len(data) / (48 * 64)
        assert (p.width, p.height) == (64, 48)
        assert p.psnr == pytest.approx(psnr(rgb, decoded))
        assert math.isnan(p.ms_ssim)  # 48 px: too small for five scales
        assert p.enc_s > 0 and p.dec_s > 0
    assert {p.quality for p in points if p.codec == "jpeg"} == set(JPEG_GRID)
    assert s2lic.name == "s2lic-tiny"


def test_journal_rows(evaluated: Evaluated) -> None:
    lines = (evaluated.out / runner.CSV_NAME).read_text().splitlines()
    assert lines[0].split(",")[:3] == ["codec", "config", "image"]
    assert len(lines) == 1 + 10
    read = runner.read_points(evaluated.out / runner.CSV_NAME)
    assert rows(read) == rows(evaluated.result.points)


def test_resume_measures_nothing(
    evaluated: Evaluated, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (evaluated.out / runner.CSV_NAME).read_bytes()

    def boom(*args: object) -> bytes:
        raise AssertionError("encode called on a finished point")

    monkeypatch.setattr(lineup.S2LICCodec, "encode", boom)
    monkeypatch.setattr(ClassicalCodec, "encode", boom)
    done: list[str] = []
    again = runner.run_eval(
        evaluated.images, codecs(), evaluated.out, on_unit=done.append
    )
    assert again.measured == 0 and not again.failures
    assert rows(again.points) == rows(evaluated.result.points)
    assert len(done) == 2 * 2
    assert (evaluated.out / runner.CSV_NAME).read_bytes() == before


def test_resume_after_a_truncated_row(tmp_path: Path) -> None:
    images = make_dataset(tmp_path / "d", 1)
    jpeg = [lineup.make_codec("jpeg", qualities=JPEG_GRID)]
    first = runner.run_eval(images, jpeg, tmp_path / "out", workers=1)
    journal = tmp_path / "out" / runner.CSV_NAME
    text = journal.read_text()
    journal.write_text(text[: text.rstrip("\n").rfind("\n") + 20])  # a killed write
    again = runner.run_eval(images, jpeg, tmp_path / "out", workers=1)
    assert again.measured == 1
    assert rows(again.points, False) == rows(first.points, False)
    assert len(journal.read_text().splitlines()) == 1 + 3


def test_other_settings_are_not_resumed(tmp_path: Path) -> None:
    images = make_dataset(tmp_path / "d", 1)
    runner.run_eval(images, [RawCodec()], tmp_path / "o", workers=1)
    changed = RawCodec(settings="raw pixels, other settings")
    result = runner.run_eval(images, [changed], tmp_path / "o", workers=1)
    assert result.measured == 1 and result.stale == {"raw": 1}
    assert [p.config for p in result.points] == [lineup.config_id(changed)]
    assert result.points[0].psnr == math.inf  # lossless; the report must cope
    journal = tmp_path / "o" / runner.CSV_NAME
    assert len(runner.read_points(journal)) == 2
    pruned = runner.run_eval(images, [changed], tmp_path / "o", workers=1, prune=True)
    assert pruned.measured == 0 and pruned.stale == {}
    assert [p.key for p in runner.read_points(journal)] == [
        p.key for p in result.points
    ]


def test_foreign_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / runner.CSV_NAME).write_text("a,b\n1,2\n")
    with pytest.raises(lineup.EvalError, match="not a results file"):
        runner.read_points(tmp_path / runner.CSV_NAME)


def test_pool_gives_the_same_points(evaluated: Evaluated, tmp_path: Path) -> None:
    jpeg = [lineup.make_codec("jpeg", qualities=JPEG_GRID)]
    pooled = runner.run_eval(evaluated.images, jpeg, tmp_path, workers=2)
    serial = [p for p in evaluated.result.points if p.codec == "jpeg"]
    assert rows(pooled.points, False) == rows(serial, False)


def test_unavailable_codec_is_split_off() -> None:
    missing = RawCodec(name="fake", missing="libfake is not installed")
    ready, skipped = lineup.split_available([*codecs(), missing])
    assert [c.name for c in ready] == ["s2lic-tiny", "jpeg"]
    assert skipped == {"fake": "libfake is not installed"}


def test_a_failing_point_does_not_stop_the_run(tmp_path: Path) -> None:
    images = make_dataset(tmp_path / "d", 1)
    flaky = RawCodec(qualities=(1.0, 2.0, 3.0), fail_at=2.0)
    result = runner.run_eval(images, [flaky], tmp_path / "o", workers=1)
    assert [p.quality for p in result.points] == [1.0, 3.0]
    assert result.failures == [
        runner.Failure("raw", "img0.png", 2.0, "encoder exploded")
    ]
    built = report.build_report(result, [flaky], 1)
    assert (
        "raw: 1 point(s) failed, e.g. img0.png at quality 2: encoder exploded"
        in built.files["results.md"].decode()
    )
    assert "quality 2 not measured on all images" in built.files["results.md"].decode()


def test_qualities_are_checked() -> None:
    with pytest.raises(lineup.EvalError, match=r"in \[0, 1\]"):
        lineup.make_codec("s2lic-tiny", qualities=(0.5, 2.0))
    with pytest.raises(lineup.EvalError, match="unknown codec 'gif'.*jpeg"):
        lineup.make_codec("gif")
    assert lineup.make_codec("jpeg", qualities=(30, 10)).qualities == (10, 30)


# -------------------------------------------------------------------------------------
# Report


def reference_json(
    folder: Path, stem: str, bpp: list[float], psnr: list[float]
) -> Path:
    """A reference file without MS-SSIM or times, points in falling rate order."""
    folder.mkdir(exist_ok=True)
    path = folder / f"{stem}.json"
    doc = {"name": stem.upper(), "results": {"bpp": bpp, "psnr-rgb": psnr}}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def built(evaluated: Evaluated) -> report.Report:
    return report.build_report(evaluated.result, codecs(), 2, dataset="tiny")


def test_report_files(evaluated: Evaluated, built: report.Report) -> None:
    assert set(built.files) == {
        "s2lic-tiny.json",
        "jpeg.json",
        "results.md",
        "rd-psnr.png",
        "rd-psnr.svg",
        "rd-ms-ssim.png",
        "rd-ms-ssim.svg",
    }
    for name, points in (("s2lic-tiny.json", 2), ("jpeg.json", 3)):
        doc = json.loads(built.files[name])
        assert {"name", "description", "results"} <= set(doc)
        results = doc["results"]
        # MS-SSIM is NaN for every point: the list is left out, never NaN in JSON.
        assert set(results) == {"bpp", "psnr-rgb", "encoding_time", "decoding_time"}
        assert {len(v) for v in results.values()} == {points}
        assert results["bpp"] == sorted(results["bpp"])
    s2lic = json.loads(built.files["s2lic-tiny.json"])
    assert s2lic["description"].startswith("UNTRAINED")
    jpeg_points = [p for p in evaluated.result.points if p.codec == "jpeg"]
    mean_bpp = [
        math.fsum(p.bpp for p in jpeg_points if p.quality == q) / 2 for q in JPEG_GRID
    ]
    assert json.loads(built.files["jpeg.json"])["results"]["bpp"] == mean_bpp
    md = built.files["results.md"].decode()
    assert "| codec | points | bpp |" in md and "BD-rate PSNR vs jpeg" in md
    assert "WARNING: s2lic-tiny has no trained weights" in md
    assert "n/a" in md  # no MS-SSIM BD-rate on images this small
    for stem in ("rd-psnr", "rd-ms-ssim"):
        assert built.files[f"{stem}.png"].startswith(PNG_MAGIC)
        assert Image.open(io.BytesIO(built.files[f"{stem}.png"])).size[0] > 500
        assert b"<svg" in built.files[f"{stem}.svg"][:1000]
    table, equal_rate = built.summary.split("\n\n")
    assert table in md
    # The learned model is set against the anchor at equal rate; the anchor is not.
    assert "## s2lic-tiny vs jpeg at equal rate (PSNR-RGB)" in md
    assert "| quality | bpp | PSNR (dB) | jpeg PSNR at that bpp |" in md
    assert equal_rate.startswith("s2lic-tiny vs jpeg at equal rate (PSNR-RGB): ")
    assert equal_rate.split(": ", 1)[1] in md
    assert "## jpeg vs" not in md


def _curve(
    key: str, bpp: list[float], psnr: list[float], quality: tuple[float, ...] = ()
) -> curves.Curve:
    nan = (math.nan,) * len(bpp)
    return curves.Curve(
        key, key, "", tuple(bpp), tuple(psnr), nan, nan, nan, True, quality
    )


def test_equal_rate_table_and_stretches() -> None:
    anchor = _curve("jpeg", [0.2, 0.5, 1.0, 2.0], [25.0, 30.0, 34.0, 38.0])
    test = _curve(
        "s2lic-s",
        [0.1, 0.5, 1.0, 1.5],
        [26.0, 31.0, 34.5, 36.0],
        quality=(0.0, 0.4, 0.8, 1.0),
    )
    rows = report.equal_rate_table(anchor, test).splitlines()[2:]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert cells[0] == ["0", "0.100", "26.00", "n/a", "n/a"]  # below JPEG's range
    assert cells[1] == ["0.4", "0.500", "31.00", "30.00", "+1.00"]
    assert cells[2] == ["0.8", "1.000", "34.50", "34.00", "+0.50"]
    assert cells[3][0] == "1" and float(cells[3][4]) < 0  # JPEG ahead at 1.5 bpp
    found = report.curve_stretches(anchor, test)
    assert [s.difference > 0 for s in found] == [True, False]
    assert found[0].lo == pytest.approx(0.2) and found[-1].hi == pytest.approx(1.5)
    assert 1.0 < found[0].hi < 1.5
    assert report.curve_stretches(anchor, _curve("far", [3.0, 4.0], [40, 41])) == []
    assert report.curve_stretches(anchor, _curve("one", [1.0], [34.5])) == []  # one q
    assert report._crossing_note(found, "jpeg", "s2lic-s").startswith("Stretches split")
    above = report.curve_stretches(anchor, _curve("above", [0.3, 1.0], [29.0, 35.0]))
    note = report._crossing_note(above, "jpeg", "above")
    assert "do not cross: above is ahead of jpeg" in note
    below = report.curve_stretches(anchor, _curve("below", [0.3, 1.0], [26.0, 33.0]))
    assert "below is behind jpeg" in report._crossing_note(below, "jpeg", "below")
    one = report.curve_stretches(anchor, _curve("one", [1.0], [34.5]))
    assert report._crossing_note(one, "jpeg", "one") == ""


def test_report_is_deterministic(evaluated: Evaluated, built: report.Report) -> None:
    again = report.build_report(evaluated.result, codecs(), 2, dataset="tiny")
    for name, data in built.files.items():
        if name != "results.md":  # it carries the date
            assert again.files[name] == data, name


def test_load_references(tmp_path: Path) -> None:
    reference_json(tmp_path, "vtm", [1.0, 0.5, 0.2, 0.1], [38.0, 34.0, 30.0, 27.0])
    (tmp_path / "unrelated.json").write_text("{}")
    loaded = curves.load_references(tmp_path)
    assert [c.key for c in loaded] == ["vtm"]
    vtm = loaded[0]
    assert vtm.label == "VTM" and vtm.bpp == (0.1, 0.2, 0.5, 1.0)
    assert vtm.psnr == (27.0, 30.0, 34.0, 38.0)
    assert all(math.isnan(v) for v in (*vtm.ms_ssim, *vtm.enc_s, *vtm.dec_s))
    assert vtm.series("ms-ssim") == ([], [])
    (tmp_path / "av1.json").write_text('{"results": {"bpp": [1, 2]}}')
    with pytest.raises(report.EvalError, match="not a CompressAI results file"):
        curves.load_references(tmp_path)
    with pytest.raises(report.EvalError, match="does not exist"):
        curves.load_references(tmp_path / "missing")


def test_bd_rate_table_says_na_without_overlap(tmp_path: Path) -> None:
    low = curves.load_curve(
        reference_json(tmp_path, "low", [0.1, 0.2, 0.3, 0.4], [20, 22, 24, 26])
    )
    high = curves.load_curve(
        reference_json(tmp_path, "high", [1.0, 2.0, 3.0, 4.0], [40, 42, 44, 46])
    )
    assert report.curve_bd_rate(low, high) is None
    assert report.curve_bd_rate(low, low) == pytest.approx(0.0)
    table = report.reference_table([high], [low])
    assert table.splitlines()[-1] == "| HIGH | n/a |"
    assert report.resolve_anchor("low", [high], [low]) is low
    assert report.resolve_anchor(None, [high], [low]) is high
    with pytest.raises(report.EvalError, match="neither"):
        report.resolve_anchor("vtm", [high], [low])


def test_incomplete_qualities_are_left_out(evaluated: Evaluated) -> None:
    jpeg = lineup.make_codec("jpeg", qualities=JPEG_GRID)
    some = [
        p
        for p in evaluated.result.points
        if not (p.codec == "jpeg" and p.quality == 90.0 and p.image == "img1.png")
    ]
    curve = curves.measured_curve(jpeg, some, images=2)
    assert curve is not None and curve.quality == (10.0, 50.0)
    assert curves.measured_curve(jpeg, [], images=2) is None
