"""Run a module or script as on the lent GPU machine: without the packages it lacks.

The GPU machine (DEVELOPERS.md, ../shared/gpu-wheels/README.md) has torch, triton,
numpy, Pillow, safetensors, scipy, matplotlib, tqdm, torch-geometric (hence psutil) and
the carried wheels (compressai, torchac, pytorch-msssim, tomli, pytest), but none of
the packages below. A device minute is too scarce to find a stray import there, so the
tests run the scripts' commands through this hider first.

    python tests/device_sim.py -m s2lic.cli train ...
    python tests/device_sim.py benchmarks/determinism.py ...
    python tests/device_sim.py -c "import rich"
"""

from __future__ import annotations

import runpy
import sys
from importlib.machinery import ModuleSpec, PathFinder

#: Installed here (web/test extras) but absent on the GPU machine.
ABSENT = frozenset(
    {
        "gradio",
        "hypothesis",
        "pillow_avif",
        "pillow_heif",
        "pillow_jxl",
        "playwright",
        "rich",
        "tomli_w",
    }
)


class _HidingPathFinder(PathFinder):
    """The path finder, blind to the absent packages (as if not installed)."""

    @classmethod
    def find_spec(  # type: ignore[override]
        cls, fullname: str, path: object = None, target: object = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in ABSENT:
            return None
        return PathFinder.find_spec(fullname, path, target)  # type: ignore[arg-type]


def hide_absent() -> None:
    """Make the absent packages unimportable in this process (and forked children)."""
    sys.meta_path[:] = [
        _HidingPathFinder if f is PathFinder else f for f in sys.meta_path
    ]
    for name in list(sys.modules):
        if name.partition(".")[0] in ABSENT:
            del sys.modules[name]


def main(argv: list[str]) -> None:
    hide_absent()
    if argv[0] == "-c":
        sys.argv = ["-c", *argv[2:]]
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
    elif argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
