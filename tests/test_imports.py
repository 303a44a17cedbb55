"""Imports flow one way: the command line and the web demo use the codec's public API,
the codec and entropy packages know neither, and the web demo does not reach into the
command line's internals (docs: STYLE.md, "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BANNED = {
    "codec": ("s2lic.cli", "s2lic.web"),
    "entropy": ("s2lic.cli", "s2lic.web"),
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
