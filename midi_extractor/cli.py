"""The ``midi-extractor`` command: a thin dispatcher.

Each library module that offers a command defines ``add_cli(subparsers)``,
which adds its sub-command(s) and sets ``func(args) -> int | None`` as the
parser default. Only the module of the command being run is imported, so
``midi-extractor build-index`` does not pay for importing torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from midi_extractor import __version__

#: command name -> module that registers it
COMMANDS: dict[str, str] = {
    "synth": "midi_extractor.dataset.synth",
    "build-index": "midi_extractor.dataset.indexing",
    "filter-index": "midi_extractor.dataset.filtering",
    "train": "midi_extractor.train.run",
    "train-per-stem": "midi_extractor.train.run",
    "evaluate": "midi_extractor.evaluate.scoring",
    "transcribe": "midi_extractor.infer.engine",
}


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="midi-extractor",
        description="Train per-stem transcription models on Slakh-format data and turn stems into MIDI.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    modules = dict.fromkeys(COMMANDS[c] for c in (commands or COMMANDS))
    for module in modules:
        importlib.import_module(module).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else None
    args = build_parser(wanted).parse_args(argv)
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
