"""The rate-distortion evaluation engine: every codec, image and quality, measured.

For each (codec, image, quality) point the image is encoded to a real bytestream and
decoded again; the rate is the byte count of that stream (headers included) and the
distortion is measured on the decoded 8-bit RGB pixels (`s2lic.codec.metrics`). The
learned codec goes through the public API (`api.encode` -> bytes -> `api.decode`), the
same path as the CLI, never the training forward.

Every finished point is appended at once as a row of ``per-image.csv`` in the output
folder; a later run with the same folder reads the file back and measures only the
points that are missing, so an interrupted evaluation resumes where it stopped. Each row
carries a short fingerprint of the codec's settings and library versions (for s2lic:
model, weights id, coder, device, s2lic and torch versions), so that rows measured
with other settings or libraries are never taken for current ones.

Classical codecs run in a process pool, one task per (codec, image); the learned codec
runs in this process, after the pool has finished, because torch already uses every
core and concurrent work would distort its timings.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import logging
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Final, TextIO

import numpy as np

from s2lic.codec.fileio import atomic_output
from s2lic.codec.metrics import ms_ssim, psnr
from s2lic.entropy.errors import S2LICError
from s2lic.eval.codecs import RGB, Codec, EvalError, S2LICCodec, config_id

__all__ = [
    "CSV_NAME",
    "IMAGE_SUFFIXES",
    "EvalResult",
    "Failure",
    "Point",
    "find_images",
    "load_rgb",
    "measure_point",
    "read_points",
    "run_eval",
    "summarize",
]

log = logging.getLogger(__name__)

CSV_NAME: Final = "per-image.csv"
"""The per-point journal in the output folder (also the per-image results table)."""

IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")
"""Files of a dataset folder that are evaluated (lossless formats first in mind)."""

_FIELDS: Final = (
    "codec",
    "config",
    "image",
    "width",
    "height",
    "quality",
    "bytes",
    "bpp",
    "psnr",
    "ms_ssim",
    "enc_s",
    "dec_s",
)

_COLUMN_TYPES: Final[dict[str, type]] = {
    "codec": str,
    "config": str,
    "image": str,
    "width": int,
    "height": int,
    "bytes": int,
}
"""Journal columns that are not floats."""


_CLASSICAL: Final = "s2lic.eval.classical"


# --------------------------------------------------------------------------------------
# Images


def find_images(folder: Path, limit: int | None = None) -> list[Path]:
    """The image files directly in ``folder``, sorted by name.

    Args:
        folder: the dataset folder.
        limit: keep only the first ``limit`` images.

    Raises:
        EvalError: the folder does not exist or holds no images.
    """
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "does not exist"
        raise EvalError(f"dataset directory '{os.fsdecode(folder)}' {what}")
    found = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not found:
        raise EvalError(
            f"no images in '{os.fsdecode(folder)}' "
            f"(looked for {', '.join(IMAGE_SUFFIXES)})"
        )
    return found if limit is None else found[:limit]


def load_rgb(path: Path) -> RGB:
    """An image file as (H, W, 3) uint8 RGB (grayscale is repeated, alpha dropped)."""
    from s2lic.codec.image import load_image

    return np.asarray(load_image(path).convert("RGB"))


# --------------------------------------------------------------------------------------
# Points


@dataclass(frozen=True)
class Point:
    """One measured (codec, image, quality) point: one row of the journal.

    Attributes:
        codec: codec name.
        config: `config_id` of the codec when measured.
        image: image file name.
        width: image width in pixels.
        height: image height in pixels.
        quality: the codec's quality parameter.
        bytes: size of the complete encoded file.
        bpp: ``8 * bytes / (width * height)``.
        psnr: PSNR-RGB of the decoded 8-bit image in dB (inf when lossless).
        ms_ssim: MS-SSIM-RGB, NaN for images too small for it.
        enc_s: encoding wall time in seconds.
        dec_s: decoding wall time in seconds.
    """

    codec: str
    config: str
    image: str
    width: int
    height: int
    quality: float
    bytes: int
    bpp: float
    psnr: float
    ms_ssim: float
    enc_s: float
    dec_s: float

    @property
    def key(self) -> tuple[str, str, str, float]:
        """What makes a point unique: codec, settings, image and quality."""
        return (self.codec, self.config, self.image, self.quality)

    def row(self) -> dict[str, str]:
        """The CSV row (``str`` of a float is its shortest exact representation)."""
        return {f: str(getattr(self, f)) for f in _FIELDS}

    @classmethod
    def from_row(cls, row: dict[str, str | None]) -> Point:
        """The point of a CSV row.

        Raises:
            ValueError, TypeError: the row is malformed or truncated.
        """
        return cls(**{f: _COLUMN_TYPES.get(f, float)(row[f]) for f in _FIELDS})


def measure_point(codec: Codec, image: str, rgb: RGB, quality: float) -> Point:
    """Encode, decode and measure one point.

    Args:
        codec: the codec.
        image: the image's name (recorded, not read).
        rgb: its pixels, (H, W, 3) uint8.
        quality: the codec's quality parameter.

    Returns:
        The `Point`; times are wall times around the encode and decode calls.

    Raises:
        EvalError: the decoded image has another shape than the original.
    """
    start = time.perf_counter()
    data = codec.encode(rgb, quality)
    encoded = time.perf_counter()
    out = codec.decode(data)
    decoded = time.perf_counter()
    if out.shape != rgb.shape:
        raise EvalError(f"decoded shape {out.shape}, expected {rgb.shape}")
    h, w = rgb.shape[:2]
    return Point(
        codec=codec.name,
        config=config_id(codec),
        image=image,
        width=w,
        height=h,
        quality=float(quality),
        bytes=len(data),
        bpp=8.0 * len(data) / (h * w),
        psnr=psnr(rgb, out),
        ms_ssim=ms_ssim(rgb, out),
        enc_s=encoded - start,
        dec_s=decoded - encoded,
    )


@dataclass(frozen=True)
class Failure:
    """A point that could not be measured (the run goes on without it)."""

    codec: str
    image: str
    quality: float
    message: str


Outcome = Point | Failure


def summarize(failures: Sequence[Failure]) -> list[str]:
    """One line per codec with failures: how many, and the first one."""
    counts = Counter(f.codec for f in failures)
    first: dict[str, Failure] = {}
    for f in failures:
        first.setdefault(f.codec, f)
    return [
        f"{codec}: {counts[codec]} point(s) failed, e.g. {f.image} at quality "
        f"{f.quality:g}: {f.message}"
        for codec, f in first.items()
    ]


def _measure_unit(unit: _Unit) -> Iterator[Outcome]:
    """The points of one task; a failing point does not stop the others."""
    codec, path = unit.codec, unit.path
    try:
        pixels = load_rgb(path)
    except (S2LICError, OSError) as e:
        for q in unit.qualities:
            yield Failure(codec.name, path.name, q, " ".join(str(e).split()))
        return
    for q in unit.qualities:
        try:
            yield measure_point(codec, path.name, pixels, q)
        except Exception as e:  # a codec's own failure must not end the evaluation
            log.debug("%s on %s at %g failed", codec.name, path.name, q, exc_info=True)
            message = " ".join(str(e).split()) or type(e).__name__
            yield Failure(codec.name, path.name, q, message)


def _measure_unit_list(unit: _Unit) -> list[Outcome]:
    # Pool tasks must return a picklable value, not a generator.
    return list(_measure_unit(unit))


def _init_worker() -> None:
    # Several workers share the cores: one thread each for torch (MS-SSIM), so that
    # the pool does not oversubscribe them. Torch is imported later, by the first
    # image load, and reads the variable then.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


# --------------------------------------------------------------------------------------
# The journal


def read_points(path: Path) -> list[Point]:
    """The points of a journal; missing file: none, malformed rows: skipped.

    Raises:
        EvalError: the file exists but is not a journal (other columns).
    """
    try:
        f = open(path, newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return []
    except OSError as e:
        raise EvalError(f"cannot read '{os.fsdecode(path)}': {e.strerror}") from None
    with f:
        reader = csv.DictReader(f)
        if reader.fieldnames is not None and tuple(reader.fieldnames) != _FIELDS:
            raise EvalError(
                f"'{os.fsdecode(path)}' is not a results file of this version "
                f"(columns {', '.join(reader.fieldnames)}); use another --out"
            )
        points: list[Point] = []
        for row in reader:
            try:
                points.append(Point.from_row(row))
            except (ValueError, TypeError):
                # An interrupted run can leave a truncated last row; it is measured
                # again.
                continue
    return points


def _open_journal(path: Path) -> TextIO:
    """The journal opened for appending, its header written if new.

    A last line without its newline (the run was killed while writing it) is cut
    off, so that the next row starts on a line of its own.
    """
    try:
        f = open(path, "a+", newline="", encoding="utf-8")  # noqa: SIM115
        f.seek(0)
        text = f.read()
        if text and not text.endswith("\n"):
            f.truncate(text.rfind("\n") + 1)
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            csv.writer(f, lineterminator="\n").writerow(_FIELDS)
            f.flush()
    except OSError as e:
        raise EvalError(f"cannot write '{os.fsdecode(path)}': {e.strerror}") from None
    return f


def _rewrite_journal(path: Path, points: Sequence[Point]) -> None:
    """Replace the journal by `points` (atomically: a crash keeps the old one)."""
    try:
        with (
            atomic_output(path) as tmp,
            open(tmp, "w", newline="", encoding="utf-8") as f,
        ):
            writer = csv.DictWriter(f, _FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(p.row() for p in points)
    except OSError as e:
        raise EvalError(f"cannot write '{os.fsdecode(path)}': {e.strerror}") from None


# --------------------------------------------------------------------------------------
# The run


@dataclass(frozen=True)
class EvalResult:
    """What `run_eval` did.

    Attributes:
        points: every point of the requested codecs, images and qualities that the
            journal now holds (resumed and new), sorted by codec order, image,
            quality.
        measured: how many of them this run measured.
        failures: the points that failed in this run.
        stale: per codec, journal rows measured with other settings (ignored).
        seconds: wall time of the run.
    """

    points: list[Point]
    measured: int
    failures: list[Failure]
    stale: dict[str, int]
    seconds: float


def run_eval(
    images: Sequence[Path],
    codecs: Sequence[Codec],
    out_dir: Path,
    *,
    workers: int | None = None,
    on_unit: Callable[[str], None] | None = None,
    prune: bool = False,
) -> EvalResult:
    """Measure every missing (codec, image, quality) point, appending to the journal.

    Args:
        images: the image files.
        codecs: the codecs, each with its quality grid; all must be available (see
            `split_available`). Learned models (`S2LICCodec`) run in this process,
            the others in a pool of ``workers`` processes (in this process when
            ``workers`` is 1).
        out_dir: the output folder (created if needed); holds the journal.
        workers: pool size; default the number of CPUs.
        on_unit: called with ``"codec image"`` whenever one (codec, image) pair is
            done (at once for those the journal already has), e.g. to advance a
            progress bar over ``len(images) * len(codecs)``.
        prune: afterwards, drop the journal rows of these codecs that were measured
            with other settings (e.g. before a library or weights update).

    Returns:
        An `EvalResult`.

    Raises:
        EvalError: the output folder or journal cannot be created, read or written.
    """
    started = time.perf_counter()
    journal = out_dir / CSV_NAME
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EvalError(
            f"cannot create output directory '{os.fsdecode(out_dir)}': "
            f"{e.strerror or e}"
        ) from None
    configs = {c.name: config_id(c) for c in codecs}
    old = read_points(journal)
    notify = on_unit or (lambda _: None)
    units = _plan(images, codecs, configs, {p.key for p in old})
    for unit in units:
        if not unit.qualities:
            notify(unit.label)
    local = [u for u in units if u.qualities and _runs_here(u.codec, workers)]
    pooled = [u for u in units if u.qualities and not _runs_here(u.codec, workers)]
    failures: list[Failure] = []
    measured = 0
    with _open_journal(journal) as f:
        writer = csv.DictWriter(f, _FIELDS, lineterminator="\n")

        def record(outcome: Outcome) -> None:
            nonlocal measured
            if isinstance(outcome, Failure):
                failures.append(outcome)
                return
            writer.writerow(outcome.row())
            f.flush()  # each point survives an interruption
            old.append(outcome)
            measured += 1

        # The pool first: the learned codec's timings must not share the cores.
        for unit, outcomes in chain(_run_pool(pooled, workers), _run_local(local)):
            for outcome in outcomes:
                record(outcome)
            notify(unit.label)

    def is_stale(p: Point) -> bool:
        return p.codec in configs and p.config != configs[p.codec]

    stale = Counter(p.codec for p in old if is_stale(p))
    if prune and stale:
        _rewrite_journal(journal, [p for p in old if not is_stale(p)])
        stale.clear()
    return EvalResult(
        points=_select(old, codecs, configs, images),
        measured=measured,
        failures=failures,
        stale=dict(stale),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _Unit:
    """One task: the missing qualities of one image with one codec."""

    codec: Codec
    path: Path
    qualities: tuple[float, ...]

    @property
    def label(self) -> str:
        return f"{self.codec.name} {self.path.name}"


def _plan(
    images: Sequence[Path],
    codecs: Sequence[Codec],
    configs: dict[str, str],
    done: set[tuple[str, str, str, float]],
) -> list[_Unit]:
    """Every (codec, image) pair with the qualities the journal does not have yet."""
    return [
        _Unit(
            codec,
            path,
            tuple(
                float(q)
                for q in codec.qualities
                if (codec.name, configs[codec.name], path.name, float(q)) not in done
            ),
        )
        for codec in codecs
        for path in images
    ]


def _runs_here(codec: Codec, workers: int | None) -> bool:
    # The learned codec stays in this process: torch already uses every core.
    return isinstance(codec, S2LICCodec) or (workers or os.cpu_count() or 1) <= 1


def _run_local(units: Sequence[_Unit]) -> Iterator[tuple[_Unit, Iterator[Outcome]]]:
    """Run the units here, yielding each with its outcomes as they are measured."""
    warm: set[Codec] = set()
    for unit in units:
        if isinstance(unit.codec, S2LICCodec) and unit.codec not in warm:
            warm.add(unit.codec)
            try:
                unit.codec.warm_up()
            except Exception:  # the unit's points will report the failure
                log.debug("warm-up of %s failed", unit.codec.name, exc_info=True)
        yield unit, _measure_unit(unit)


def _run_pool(
    units: Sequence[_Unit], workers: int | None
) -> Iterator[tuple[_Unit, Iterable[Outcome]]]:
    """Run the units in a process pool, yielding each with its outcomes when done."""
    if not units:
        return
    size = min(workers or os.cpu_count() or 1, len(units))
    # Never fork: this process may hold torch's thread pools (the learned codec),
    # which a forked child can deadlock on. A fork server preloaded with this module
    # (numpy and Pillow, no torch: see the lazy imports) starts workers quickly.
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload([__name__, _CLASSICAL])
    pool = cf.ProcessPoolExecutor(size, mp_context=context, initializer=_init_worker)
    try:
        futures = {pool.submit(_measure_unit_list, unit): unit for unit in units}
        for future in cf.as_completed(futures):
            try:
                outcomes = future.result()
            except cf.process.BrokenProcessPool:
                raise EvalError(
                    f"a worker process died while running {futures[future].label} "
                    "(a codec library crashed?); the finished points are saved: "
                    "run again to resume, or leave that codec out"
                ) from None
            yield futures[future], outcomes
    finally:
        # On an interruption: drop the queued units; finished points are on disk.
        pool.shutdown(wait=True, cancel_futures=True)


def _select(
    points: Iterable[Point],
    codecs: Sequence[Codec],
    configs: dict[str, str],
    images: Sequence[Path],
) -> list[Point]:
    """The current points of the requested grid, deduplicated, in a stable order."""
    order = {c.name: i for i, c in enumerate(codecs)}
    grids = {c.name: {float(q) for q in c.qualities} for c in codecs}
    names = {p.name for p in images}
    chosen: dict[tuple[str, str, str, float], Point] = {}
    for p in points:
        if (
            p.codec in order
            and p.config == configs[p.codec]
            and p.image in names
            and p.quality in grids[p.codec]
        ):
            chosen.setdefault(p.key, p)
    return sorted(chosen.values(), key=lambda p: (order[p.codec], p.image, p.quality))
