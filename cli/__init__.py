"""The ``s2lic`` command line: ``s2lic encode|decode|info|models``.

``main(argv)`` runs it in-process and returns the exit status; each subcommand lives in
its own module (`encode`, `decode`, `info`, `models`) with ``add_parser`` and ``run``,
and the helpers they share are in `common`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``python -m s2lic.cli`` does not find ``s2lic.cli.__main__``
    # already imported by the package (runpy warns about that).
    if name == "main":
        from s2lic.cli.__main__ import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
