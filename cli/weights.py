"""``s2lic weights restore ID``: bring back retired weights from a git clone.

Weights shipped before every release kept its own (the 12 of 2026-11-26/27) live in
the repository's history only. This takes one out (``git show COMMIT:weights/FILE``),
checks its sha256 against the manifest and writes it where decoding looks for it
(`releases.restored_dir`), so that files encoded with it decode again.
"""

from __future__ import annotations

import argparse
import os

from s2lic.cli.commands import HELP
from s2lic.cli.common import CLIError, path_arg
from s2lic.codec import releases
from s2lic.codec.registry import DEFAULT_MODEL, list_models

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``weights`` subcommand (``restore``)."""
    p = subparsers.add_parser(
        "weights",
        help=HELP["weights"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser(
        "restore",
        help="restore retired weights by id (see 's2lic models')",
        description="Restore the retired weights ID from the git history of a clone "
        "of s2lic (sha256 checked) into the folder decoding looks in "
        f"(default {releases.restored_dir()}; $S2LIC_RESTORED overrides it).",
    )
    r.add_argument("id", metavar="ID", help="weights id: 8 hex digits")
    r.add_argument(
        "--model", default=DEFAULT_MODEL, choices=list_models(), help="model"
    )
    r.add_argument(
        "--repo",
        type=path_arg,
        metavar="DIR",
        help="a full git clone of s2lic (default: the one this s2lic runs from, "
        "else the current folder's)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Restore the weights and say where they went."""
    wid = args.id.lower()
    release = releases.find_release(releases.read_manifest(), args.model, wid)
    if release is None:
        raise CLIError(
            f"no release shipped weights of {args.model} with id {args.id!r} "
            "(see 's2lic models')"
        )
    if not release.retired:
        print(f"weights {wid} of {args.model} are installed: nothing to restore")
        return 0
    if release.decoder_commit:
        raise CLIError(
            f"restoring weights {wid} would not help: " + releases.restore_hint(release)
        )
    path = releases.restore(release, args.repo)
    print(f"restored weights {wid} of {args.model} to '{os.fsdecode(path)}'")
    return 0
