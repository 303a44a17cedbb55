"""Imports flow one way: cli, web -> train, eval -> codec -> entropy.

The command line and the web demo use the layers below; training and evaluation use
the codec; the codec knows neither; entropy coding, the ground floor, imports nothing
of s2lic; evaluation does not import training, and the web demo does not reach into
the command line's internals (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
ABOVE = ("s2lic.cli", "s2lic.web")
BANNED = {
    "entropy": ("s2lic.codec", "s2lic.train", "s2lic.eval", *ABOVE),
    "codec": ("s2lic.train", "s2lic.eval", *ABOVE),
    "eval": ("s2lic.train", *ABOVE),
    "train": ABOVE,
    "web": ("s2lic.cli",),
}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", sorted(BANNED))
def test_imports_flow_one_way(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    wrong = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(BANNED[package])
    ]
    assert not wrong, wrong
