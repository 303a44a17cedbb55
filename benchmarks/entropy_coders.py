"""Benchmark the entropy-coder backends on Kodak-sized latents.

The workload mimics decoding one 768x512 Kodak image with a stride-16 model: ``y`` is
48x32 with 320 (or 192) channels, coded as 20 calls (10 channel slices x checkerboard
anchors / non-anchors) with a 64-scale `GaussianConditional` table, and ``z`` is
12x8x192 coded in one call with an `EntropyBottleneck` table. Symbols are drawn from
Gaussians whose scales follow a log-normal mix that is mostly small, as in trained
models (most channels near-deterministic, a few wide). ``z`` is drawn from its table's
own pmf, with the untrained bottleneck's densities sharpened per channel.

Run::

    python benchmarks/entropy_coders.py [--channels 320] [--repeat 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional

from s2lic.entropy.coders import CdfTable, EntropyCoder, get_coder, list_coders

Call = tuple[np.ndarray, np.ndarray]


@dataclass
class Workload:
    """Tables and calls of one benchmark image."""

    y_table: CdfTable
    y_calls: list[Call]
    z_table: CdfTable
    z_calls: list[Call]


def _table(
    quantized_cdf: torch.Tensor, length: torch.Tensor, offset: torch.Tensor
) -> CdfTable:
    return CdfTable(
        cdf=quantized_cdf.numpy().astype(np.int32),
        cdf_length=length.numpy().astype(np.int32).reshape(-1),
        offset=offset.numpy().astype(np.int32).reshape(-1),
    )


def make_workload(
    height: int, width: int, channels: int, slices: int, seed: int
) -> Workload:
    """Build the tables and the symbol/index calls of one synthetic image.

    Args:
        height: latent height of ``y`` (image height / 16).
        width: latent width of ``y``.
        channels: channels of ``y``.
        slices: channel slices; each is coded as anchors then non-anchors.
        seed: RNG seed.

    Returns:
        The workload.
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)

    scale_table = torch.exp(torch.linspace(math.log(0.11), math.log(256), 64))
    gauss = GaussianConditional(None)
    gauss.update_scale_table(scale_table)
    gauss.update()
    y_table = _table(gauss._quantized_cdf, gauss._cdf_length, gauss._offset)

    # Per-channel typical scale (a few channels carry most of the information) times a
    # per-position spread; median ~0.3, ~10% above 2, rare ones near 100.
    chan_scale = np.exp(rng.normal(math.log(0.35), 1.1, size=channels))
    scales = chan_scale[:, None, None] * np.exp(
        rng.normal(0.0, 0.6, size=(channels, height, width))
    )
    scales = np.clip(scales, 0.11, 256.0)
    index = np.searchsorted(scale_table.numpy(), scales).clip(0, 63).astype(np.int32)
    y = np.round(rng.normal(0.0, scales)).astype(np.int32)

    anchor = (np.add.outer(np.arange(height), np.arange(width)) % 2) == 0
    y_calls: list[Call] = []
    for chans in np.array_split(np.arange(channels), slices):
        for mask in (anchor, ~anchor):
            y_calls.append((y[chans][:, mask].ravel(), index[chans][:, mask].ravel()))

    z_channels = 192
    bottleneck = EntropyBottleneck(z_channels)
    with torch.no_grad():
        # Untrained densities are wide (~5 bits/symbol) and all alike; sharpen each
        # channel by a random factor k (softplus(matrices[0]) scales the input, so
        # multiply it by k) and shrink its quantiles to match, so rows differ and most
        # channels are cheap, as in trained hyperpriors.
        sharpen = torch.from_numpy(
            np.exp(rng.uniform(0.0, math.log(30.0), z_channels))
        ).float()
        first = bottleneck.matrices[0]
        scaled = torch.nn.functional.softplus(first) * sharpen.view(-1, 1, 1)
        first.copy_(torch.log(torch.expm1(scaled)))
        bottleneck.quantiles[:, 0, 0] = -10.0 / sharpen
        bottleneck.quantiles[:, 0, 2] = 10.0 / sharpen
    bottleneck.update(force=True)
    z_table = _table(
        bottleneck._quantized_cdf, bottleneck._cdf_length, bottleneck._offset
    )
    zh, zw = max(1, height // 4), max(1, width // 4)
    z_index = np.repeat(np.arange(z_channels, dtype=np.int32), zh * zw)
    z_sym = _sample_from_table(z_table, z_index, rng)
    return Workload(y_table, y_calls, z_table, [(z_sym, z_index)])


def _sample_from_table(
    table: CdfTable, index: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw one symbol per index from the table's own (non-escape) pmf."""
    out = np.empty(index.size, dtype=np.int32)
    u = rng.integers(0, 1 << 16, size=index.size)
    for row in np.unique(index):
        at = index == row
        n = int(table.cdf_length[row])
        s = np.searchsorted(table.cdf[row, :n], u[at], side="right") - 1
        out[at] = np.minimum(s, n - 3) + table.offset[row]
    return out


def run_coder(
    coder: EntropyCoder, table: CdfTable, calls: list[Call], repeat: int
) -> tuple[int, float, float]:
    """Encode and decode `calls` `repeat` times.

    Returns:
        ``(bytes, median encode seconds, median decode seconds)``.

    Raises:
        AssertionError: a round trip is not exact.
    """
    enc_times, dec_times = [], []
    size = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        enc = coder.encoder(table)
        for sym, idx in calls:
            enc.encode(sym, idx)
        data = enc.finish()
        t1 = time.perf_counter()
        dec = coder.decoder(table, data)
        decoded = [dec.decode(idx) for _, idx in calls]
        t2 = time.perf_counter()
        for (sym, _), out in zip(calls, decoded, strict=True):
            assert np.array_equal(sym, out), f"{coder.name}: round trip failed"
        size = len(data)
        enc_times.append(t1 - t0)
        dec_times.append(t2 - t1)
    return size, statistics.median(enc_times), statistics.median(dec_times)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run every coder and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=48, help="latent height of y")
    parser.add_argument("--width", type=int, default=32, help="latent width of y")
    parser.add_argument("--channels", type=int, default=320, help="channels of y")
    parser.add_argument("--slices", type=int, default=10, help="channel slices")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--coders", nargs="+", default=list_coders(), choices=list_coders()
    )
    args = parser.parse_args(argv)

    work = make_workload(args.height, args.width, args.channels, args.slices, args.seed)
    n_y = sum(s.size for s, _ in work.y_calls)
    n_z = sum(s.size for s, _ in work.z_calls)
    print(
        f"y: {args.channels}x{args.height}x{args.width} = {n_y} symbols in "
        f"{len(work.y_calls)} calls; z: {n_z} symbols in {len(work.z_calls)} call; "
        f"median of {args.repeat} runs, torch threads {torch.get_num_threads()}"
    )
    print()
    print(
        "| coder | y bytes | z bytes | total bytes | encode ms | decode ms "
        "| y enc ns/sym | y dec ns/sym |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    results = {}
    for name in args.coders:
        coder = get_coder(name)
        run_coder(coder, work.z_table, work.z_calls, 1)  # warm-up (lazy imports)
        y_size, y_enc, y_dec = run_coder(coder, work.y_table, work.y_calls, args.repeat)
        z_size, z_enc, z_dec = run_coder(coder, work.z_table, work.z_calls, args.repeat)
        results[name] = y_size + z_size
        print(
            f"| {name} | {y_size} | {z_size} | {y_size + z_size} "
            f"| {1e3 * (y_enc + z_enc):.1f} | {1e3 * (y_dec + z_dec):.1f} "
            f"| {1e9 * y_enc / n_y:.0f} | {1e9 * y_dec / n_y:.0f} |"
        )
    if len(results) > 1:
        ref = min(results.values())
        print()
        print(
            "size vs smallest: "
            + ", ".join(f"{k} {100 * (v / ref - 1):+.2f}%" for k, v in results.items())
        )


if __name__ == "__main__":
    main()
