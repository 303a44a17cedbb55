"""Released weights: every weights file a release shipped, found by the id in a header.

The manifest (``weights/manifest.toml``) keeps one record per weights file::

    [s2lic-s]
    default = "b8ec76ff"                 # what encoding uses: the newest
    [s2lic-s.weights.b8ec76ff]           # shipped and installed: decodes as is
    file, sha256, date, release, config, license, totals, kodak, rounds
    [s2lic-s.retired.1e51d57f]           # shipped before every release kept its
    file, sha256, date, commit, bd_rate_vs_jpeg, bd_rate_vs_webp   # weights

An id is the first 4 bytes of the file's sha256, as in every ``.s2lic`` header.
Retired weights are in the git history only: `restore` takes one out of a git
checkout (sha256 checked) into `restored_dir`, where decoding finds it. Torch-free:
``s2lic models`` and ``s2lic weights`` read it without loading a network.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from s2lic.codec.fileio import atomic_output
from s2lic.entropy.errors import S2LICError

__all__ = [
    "WeightsError",
    "weights_dir",
    "read_manifest",
    "Release",
    "RestoreError",
    "releases",
    "default_release",
    "find_release",
    "restored_dir",
    "locate",
    "restore_hint",
    "restore",
]


class WeightsError(S2LICError):
    """Weights are missing, corrupted, or do not fit the model."""


def weights_dir() -> Path:
    """``$S2LIC_WEIGHTS`` if set, else the installed ``s2lic.weights`` folder."""
    env = os.environ.get("S2LIC_WEIGHTS")
    if env:
        return Path(env)
    return Path(str(resources.files("s2lic.weights")))


def read_manifest(folder: Path | None = None) -> dict[str, Any]:
    """The parsed ``manifest.toml`` (empty when absent)."""
    path = (folder or weights_dir()) / "manifest.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise WeightsError(f"cannot read weights manifest {path}: {e}") from None


class RestoreError(S2LICError):
    """Retired weights cannot be restored (no git checkout, unknown id, bad file)."""


@dataclass(frozen=True)
class Release:
    """One weights file that a release of s2lic shipped.

    Attributes:
        model: registry name.
        id: 8 hex digits, the weights id of the files it encodes.
        file: file name in the weights folder (or in `restored_dir`).
        sha256: of the file.
        date: day it shipped.
        commit: the commit that shipped it, for retired weights (else "").
        record: the manifest's whole record (Kodak numbers, provenance).
    """

    model: str
    id: str
    file: str
    sha256: str
    date: str
    commit: str
    record: dict[str, Any]

    @property
    def retired(self) -> bool:
        """Not installed with the package: only in the git history."""
        return bool(self.commit)

    @property
    def decoder_commit(self) -> str:
        """The commit whose code alone decodes its files ("" for today's code)."""
        return str(self.record.get("decoder_commit", ""))


def _release(model: str, wid: str, rec: dict[str, Any]) -> Release:
    return Release(
        model,
        wid,
        str(rec["file"]),
        str(rec["sha256"]),
        str(rec.get("date", "")),
        str(rec.get("commit", "")),
        rec,
    )


def releases(
    manifest: dict[str, Any], model: str, retired: bool = False
) -> list[Release]:
    """The installed weights of `model` (with `retired`: also the retired ones),
    oldest first."""
    entry = manifest.get(model, {})
    found = [_release(model, k, v) for k, v in entry.get("weights", {}).items()]
    if retired:
        found += [_release(model, k, v) for k, v in entry.get("retired", {}).items()]
    return sorted(found, key=lambda r: (r.date, not r.retired))


def default_release(manifest: dict[str, Any], model: str) -> Release | None:
    """The weights encoding uses by default (None: the model has no trained weights)."""
    wid = manifest.get(model, {}).get("default")
    return find_release(manifest, model, wid) if wid else None


def find_release(manifest: dict[str, Any], model: str, wid: str) -> Release | None:
    """The installed or retired weights of `model` with id `wid` (8 hex digits)."""
    entry = manifest.get(model, {})
    for table in ("weights", "retired"):
        rec = entry.get(table, {}).get(wid)
        if rec:
            return _release(model, wid, rec)
    return None


def restored_dir() -> Path:
    """Where restored weights go: ``$S2LIC_RESTORED``, else
    ``$XDG_DATA_HOME/s2lic/weights`` (default ``~/.local/share/s2lic/weights``)."""
    env = os.environ.get("S2LIC_RESTORED")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "s2lic" / "weights"


def locate(release: Release, installed: Path) -> Path | None:
    """The file of `release`: in the `installed` weights folder, else restored."""
    for folder in (installed, restored_dir()):
        if (folder / release.file).is_file():
            return folder / release.file
    return None


def restore_hint(release: Release) -> str:
    """One line: how to get the weights of a retired release back (or, for weights
    whose files need the code they shipped with, that code)."""
    short = release.commit[:10]
    old = release.decoder_commit[:10]
    if old:
        return (
            f"{release.record.get('decoder_note', 'they need older code')}: in a git "
            f"clone of s2lic, 'git worktree add ../s2lic-{old} {old}', install it "
            "there in a new virtual environment (pip install -e .) and decode with it"
        )
    return (
        f"run 's2lic weights restore {release.id}' in a git clone of s2lic, or "
        f"'git show {short}:weights/{release.file} > {release.file}' there and "
        f"decode with '--weights {release.file}'"
    )


def _git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def restore(
    release: Release, repo: Path | None = None, dest: Path | None = None
) -> Path:
    """Take a retired weights file out of git history into `dest` (checked).

    Args:
        release: a retired release (`find_release`).
        repo: a git checkout of s2lic with its history (default: the one holding
            this package, else the current folder's).
        dest: folder to write into (default `restored_dir`).

    Returns:
        The restored file.

    Raises:
        RestoreError: not retired, no git checkout, the commit is missing (a
            shallow clone) or the file's sha256 is not the manifest's.
    """
    if not release.retired:
        raise RestoreError(f"weights {release.id} are installed: nothing to restore")
    root = repo or _git_root(Path(__file__).resolve().parent) or _git_root(Path.cwd())
    if root is None:
        raise RestoreError(
            "not in a git checkout of s2lic: run it in a full git clone of s2lic "
            "or give --repo"
        )
    spec = f"{release.commit}:weights/{release.file}"
    try:
        run = subprocess.run(
            ["git", "-C", os.fspath(root), "show", spec],
            capture_output=True,
            check=False,
        )
    except OSError as e:
        raise RestoreError(f"cannot run git: {e.strerror or e}") from None
    if run.returncode != 0:
        why = run.stderr.decode(errors="replace").strip().splitlines()
        raise RestoreError(
            f"git cannot read {spec} in '{root}' "
            f"({why[-1] if why else 'no message'}); a shallow clone lacks it: "
            "'git fetch --unshallow' first"
        )
    if hashlib.sha256(run.stdout).hexdigest() != release.sha256:
        raise RestoreError(
            f"{spec} does not have the sha256 the manifest records: not restored"
        )
    folder = dest or restored_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(folder / release.file) as tmp:
            tmp.write_bytes(run.stdout)
    except OSError as e:
        raise RestoreError(f"cannot write to '{folder}': {e.strerror or e}") from None
    return folder / release.file
