"""Fuzz the `.s2lic` container parser and the full decoder; count outcomes.

Inputs are mutations of valid files of the tiny model (``tests/fuzzing.py``): random
bytes, truncations, bit flips, splices and trailing data (raw, caught by the CRC32),
and *sealed* mutations whose CRC32 is recomputed: header fields (absurd dimensions,
modes, coder and model ids), stream counts, varints, stream lengths and stream
payloads, so that corrupted streams reach the entropy decoders and the networks.

* parser inputs go through `unpack` and `read_header`;
* decoder inputs (sealed mutations) through `s2lic.codec.api.decode` with the tiny
  model and a 256 MiB decode-memory limit.

Allowed outcomes: a typed `S2LICError`, or a decoded image whose size and mode are
those of its header. Everything else is a bug: another exception, a crash of the
worker process (e.g. a segfault), no answer within ``--timeout`` seconds (a hang), or
RSS growth of the worker. Inputs run in a worker process watched by this one; a crash
or hang is recorded, its input saved under ``--crash-dir``, and a new worker started.

Run::

    python benchmarks/fuzz_decoder.py [--parser 100000] [--decoder 30000] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import multiprocessing as mp
import os
import random
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

# The shared mutators live with the tests; this script runs from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import MUTATORS, make_seeds  # noqa: E402

_SEEDS = 16
_LIMIT_BYTES = 256 * 2**20  # decode-memory limit: keeps one tiny decode < ~0.5 s
_RSS_WARMUP = 2000  # inputs before the baseline RSS (caches, allocator pools)


def _encode(image: object, **kw: object) -> bytes:
    from s2lic.codec import api

    return api.encode(image, model="s2lic-tiny", **kw).data  # type: ignore[arg-type]


def _run_one(kind: str, data: bytes) -> str:
    """Outcome name of one input: an error class, ``ok`` or ``BUG:...``."""
    import numpy as np

    from s2lic.codec import api
    from s2lic.codec.image import to_planes
    from s2lic.entropy.bitstream import Limits, read_header, unpack
    from s2lic.entropy.errors import S2LICError

    try:
        if kind == "digest":  # a valid file: which pixels it decodes to
            pixels = np.asarray(api.decode(data).image)
            return "ok:" + hashlib.sha256(pixels.tobytes()).hexdigest()[:16]
        if kind == "parser":
            try:
                read_header(data)
            except S2LICError:
                pass
            unpack(data)
            return "ok"
        limits = Limits(max_decode_bytes=_LIMIT_BYTES)
        result = api.decode(data, limits=limits)
        header = unpack(data, limits).header
        if result.image.size != (header.width, header.height):
            return "BUG:wrong-size"
        if to_planes(result.image).mode != header.mode:
            return "BUG:wrong-mode"
        return "ok"
    except S2LICError as e:
        return type(e).__name__
    except Exception as e:  # noqa: BLE001 - anything untyped is the finding
        return f"BUG:{type(e).__name__}: {str(e)[:120]}"


def _worker(conn: Connection) -> None:
    """Answer (kind, data) with (outcome, seconds, rss bytes) until told to stop."""
    import psutil
    import torch

    torch.set_num_threads(1)
    proc = psutil.Process()
    while True:
        msg = conn.recv()
        if msg is None:
            return
        start = time.perf_counter()
        outcome = _run_one(*msg)
        conn.send((outcome, time.perf_counter() - start, proc.memory_info().rss))


class _Pool:
    """One watched worker process; restarted after a crash or a hang."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.ctx = mp.get_context("spawn")  # a clean interpreter, no forked torch
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()

    def run(self, kind: str, data: bytes, timeout: float) -> tuple[str, float, int]:
        self.conn.send((kind, data))
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        self.proc.join(0.1)
        outcome = (
            "BUG:hang"
            if self.proc.exitcode is None
            else f"BUG:crash {self.proc.exitcode}"
        )
        self.proc.kill()
        self.proc.join()
        self.restarts += 1
        self._start()
        return outcome, timeout, 0

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parser", type=int, default=100_000, help="parser-only inputs")
    p.add_argument("--decoder", type=int, default=30_000, help="full-decoder inputs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per input")
    p.add_argument("--crash-dir", type=Path, default=Path("fuzz-crashes"))
    p.add_argument("--json", type=Path, help="write the counts here")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    seeds = make_seeds(_encode, _SEEDS, seed=args.seed)
    rng = random.Random(args.seed)
    sealed = [m for m in MUTATORS if m.sealed]
    jobs = [("parser", None)] * args.parser + [("decoder", None)] * args.decoder
    rng.shuffle(jobs)

    pool = _Pool(args.timeout)
    counts: dict[str, collections.Counter[str]] = {
        "parser": collections.Counter(),
        "decoder": collections.Counter(),
    }
    per_mutator: collections.Counter[str] = collections.Counter()
    slowest = (0.0, "")
    rss_base = rss_mid = rss_end = rss_max = 0
    started = time.perf_counter()
    # Valid files must decode to the same pixels before and after all the garbage.
    reference = [pool.run("digest", s, args.timeout)[0] for s in seeds]
    for i, (kind, _) in enumerate(jobs):
        mutator = rng.choice(MUTATORS if kind == "parser" else sealed)
        data = mutator.fn(rng, rng.choice(seeds))
        outcome, seconds, rss = pool.run(kind, data, args.timeout)
        counts[kind][outcome] += 1
        per_mutator[f"{kind}/{mutator.name}"] += 1
        if seconds > slowest[0]:
            slowest = (seconds, f"{kind}/{mutator.name} -> {outcome}")
        if outcome.startswith("BUG"):
            args.crash_dir.mkdir(parents=True, exist_ok=True)
            (args.crash_dir / f"{kind}-{i}.s2lic").write_bytes(data)
            print(f"[{i}] {kind}/{mutator.name}: {outcome}", flush=True)
        if rss:
            if i == _RSS_WARMUP or not rss_base:
                rss_base = rss
            rss_end, rss_max = rss, max(rss_max, rss)
            if i <= len(jobs) // 2:
                rss_mid = rss  # a leak keeps growing; caches level off
        if (i + 1) % 10_000 == 0:
            print(f"{i + 1} inputs, {time.perf_counter() - started:.0f} s", flush=True)
    after = [pool.run("digest", s, args.timeout)[0] for s in seeds]
    pool.close()

    report = {
        "parser_inputs": args.parser,
        "decoder_inputs": args.decoder,
        "seconds": round(time.perf_counter() - started, 1),
        "parser": dict(counts["parser"].most_common()),
        "decoder": dict(counts["decoder"].most_common()),
        "mutators": dict(sorted(per_mutator.items())),
        "bugs": sum(n for c in counts.values() for k, n in c.items() if "BUG" in k),
        "worker_restarts": pool.restarts,
        "seeds_bit_exact_before_and_after": reference == after
        and all(r.startswith("ok:") for r in reference),
        "slowest_input": {"seconds": round(slowest[0], 3), "what": slowest[1]},
        "worker_rss_mib": {
            "after_warmup": round(rss_base / 2**20, 1),
            "half_way": round(rss_mid / 2**20, 1),
            "end": round(rss_end / 2**20, 1),
            "max": round(rss_max / 2**20, 1),
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 1 if report["bugs"] or not report["seeds_bit_exact_before_and_after"] else 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
