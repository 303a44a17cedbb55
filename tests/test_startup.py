"""What each command loads: ``--help``, ``info``, ``models`` and argument errors never
import torch; encode and decode never import training, evaluation or the heavy parts
of CompressAI (its datasets pull in torch-geometric and pandas), matplotlib or
scipy.stats. Each case runs in a fresh interpreter and inspects ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import smooth_image

ROOT = Path(__file__).parents[1]
GOLDEN = ROOT / "tests" / "golden" / "s2lic-s-b8ec76ff-v1.s2lic"

_PROBE = """
import json, sys
from s2lic.cli.__main__ import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

# Top-level packages (and s2lic subpackages) each path must not load.
NO_TORCH = ("torch", "compressai", "scipy", "PIL.ImageCms")
LEAN = (
    "s2lic.train",
    "s2lic.eval",
    "compressai.datasets",
    "compressai.zoo",
    "compressai.models",
    "torch_geometric",
    "torchvision",
    "pandas",
    "matplotlib",
    "scipy.stats._stats_py",
    "torch._dynamo",
)


def _loaded(*args: str) -> tuple[int, list[str]]:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    out = json.loads(run.stdout.strip().splitlines()[-1])
    return out["code"], out["modules"]


def _offending(modules: list[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(
        {b for m in modules for b in banned if m == b or m.startswith(b + ".")}
    )


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--help",), 0),
        (("--version",), 0),
        (("models",), 0),
        (("models", "--json"), 0),
        (("info", str(GOLDEN)), 0),
        (("encode",), 2),  # argument errors
        (("decode", "--bogus", "x.s2lic"), 2),
        (("encode", "--help"), 0),
        (("decode", "--help"), 0),
        (("decode", "missing.s2lic"), 1),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_light_paths_never_import_torch(args: tuple[str, ...], code: int) -> None:
    got, modules = _loaded(*args)
    assert got == code
    assert not _offending(modules, NO_TORCH)


def test_encode_and_decode_load_only_the_coding_path(tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    Image.fromarray(smooth_image(48, 64)).save(src)
    out = tmp_path / "a.s2lic"
    code, modules = _loaded("encode", str(src), "-o", str(out))
    assert code == 0 and "torch" in modules
    assert not _offending(modules, LEAN)
    code, modules = _loaded("decode", str(GOLDEN), "-o", str(tmp_path / "g.png"))
    assert code == 0 and "torch" in modules
    assert not _offending(modules, LEAN)


def test_the_public_api_is_at_the_top_and_cheap_to_import() -> None:
    """``from s2lic import ...``: the names load the codec on first use only."""
    probe = (
        "import sys, s2lic; light = 'torch' not in sys.modules; "
        "from s2lic import S2LICError, decode, describe, encode, load; "
        "from s2lic.codec import api; "
        "assert (encode, decode, load) == (api.encode, api.decode, api.get_codec); "
        "assert issubclass(api.WeightsMismatchError, S2LICError); "
        "print(light, sorted(s2lic.__all__) == sorted(dir(s2lic)))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT
    )
    assert run.stdout.split() == ["True", "True"], run.stderr
