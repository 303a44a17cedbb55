"""The subcommands: name -> (module, one-line help), read without importing them.

`s2lic --help` lists these lines and imports no subcommand; a command's module (and
what it needs: torch for encode and decode, gradio for web) is imported only when that
command runs or shows its own help.
"""

from __future__ import annotations

__all__ = ["COMMANDS", "HELP"]

COMMANDS: dict[str, tuple[str, str]] = {
    "encode": ("s2lic.cli.encode", "compress images to .s2lic files"),
    "decode": ("s2lic.cli.decode", "decompress .s2lic files to images"),
    "info": ("s2lic.cli.info", "show the header of .s2lic files"),
    "models": ("s2lic.cli.models", "list the available models and weights releases"),
    "weights": ("s2lic.cli.weights", "restore retired weights from a git clone"),
    "train": ("s2lic.cli.train", "train a model (resumable, time-budgeted)"),
    "eval": (
        "s2lic.cli.eval",
        "measure rate-distortion curves of s2lic and classical codecs",
    ),
    "web": ("s2lic.cli.web", "start the compare-and-compress web demo"),
}

HELP: dict[str, str] = {name: text for name, (_, text) in COMMANDS.items()}
"""The one-line help of each command (its module registers it with this text)."""
