"""The ``midi-extractor`` command: a thin dispatcher.

Each library module that offers a command defines ``add_cli(subparsers)``,
which adds its sub-command(s) and sets ``func(args) -> int | None`` as the
parser default. Only the module of the command being run is imported, so
``midi-extractor build-index`` does not pay for importing torch.

Here, once for every command: logging (``-v``/``--verbose``; third-party INFO
silenced), help text cleaned of Sphinx markup, a description for every
command, and one spelling per option (old spellings still parse, hidden).
"""
from __future__ import annotations

import argparse
import errno
import importlib
import logging
import re
import sys

from midi_extractor import __version__

#: command name -> module that registers it
COMMANDS: dict[str, str] = {
    "synth": "midi_extractor.synth.cli",
    "build-index": "midi_extractor.dataset.indexing",
    "filter-index": "midi_extractor.dataset.filtering",
    "prepare": "midi_extractor.dataset.prepare",
    "train": "midi_extractor.train.cli",
    "train-per-stem": "midi_extractor.train.cli",
    "evaluate": "midi_extractor.evaluate.run",
    "transcribe": "midi_extractor.infer.cli",
    "export": "midi_extractor.infer.onnx_export",
}

#: old option spelling -> the one shown in help (the old one keeps working); per command, "*" for all
OPTION_ALIASES = {"*": {"--outdir": "--out-dir", "--output-dir": "--out-dir"},
                  "synth": {"--out": "--out-dir"}}  # synth's --out is a folder (evaluate's is a file)

#: errnos of a write that failed for want of room or rights: one line and rc 2, never a traceback
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG})

#: libraries whose INFO lines are noise in our logs
QUIET_LOGGERS = ("matplotlib", "mlflow", "urllib3", "PIL", "numba", "fsspec", "git", "alembic", "httpx",
                 "filelock", "h5py", "asyncio", "botocore", "dvc", "scmrepo", "sqlalchemy", "databricks")

_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc|ref|doc|py:\w+):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain(text: str | None) -> str | None:
    """``text`` without Sphinx markup: ``:func:`x``` -> ``x``, double-backquoted ``x`` -> ``x``."""
    if not text or text is argparse.SUPPRESS:
        return text
    return _LITERAL.sub(r"\1", _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1] + ("()" if "func" in m.group(0)
                                                                                      else ""), text))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(verbosity: int = 0) -> None:
    """One handler on the root logger (replacing ours from an earlier call):
    ``midi_extractor`` at INFO (DEBUG with ``-v``), everything else at WARNING,
    third-party INFO silenced even when another module asks for more."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbosity
                                           else "%(levelname)s: %(message)s"))
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.getLogger("midi_extractor").setLevel(logging.DEBUG if verbosity else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _tidy(parser: argparse.ArgumentParser, name: str, help_text: str | None) -> None:
    """Plain help, a description (the help line when the command has none), aliases hidden."""
    parser.description = plain(parser.description) or plain(help_text)
    parser.epilog = plain(parser.epilog)
    aliases = {**OPTION_ALIASES["*"], **OPTION_ALIASES.get(name, {})}
    for action in parser._actions:
        action.help = plain(action.help)
        shown = [aliases.get(o, o) for o in action.option_strings]
        if shown != action.option_strings:
            for option in shown:
                if option not in parser._option_string_actions:
                    parser._option_string_actions[option] = action  # the canonical spelling parses too
            action.option_strings = list(dict.fromkeys(shown))


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="midi-extractor",
        description="Train per-stem transcription models on Slakh-format data and turn stems into MIDI.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log lines (debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    modules = dict.fromkeys(COMMANDS[c] for c in (commands or COMMANDS))
    for module in modules:
        importlib.import_module(module).add_cli(sub)
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, command_parser in sub.choices.items():
        free = [o for o in ("-v", "--verbose") if o not in command_parser._option_string_actions]
        if "--verbose" in free:  # a command's own -v/--verbose wins
            command_parser.add_argument(*free, dest="verbose", action="count", default=argparse.SUPPRESS,
                                        help="more log lines (debug)")
        _tidy(command_parser, name, helps.get(name))
    for action in sub._choices_actions:
        action.help = plain(action.help)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = [a for a in argv if not a.startswith("-")][:1]
    wanted = wanted if wanted and wanted[0] in COMMANDS else None
    args = build_parser(wanted).parse_args(argv)
    configure_logging(getattr(args, "verbose", 0) or 0)
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        line = write_error_line(exc)
        if line is None or getattr(args, "verbose", 0):
            raise
        print(f"{args.command}: {line}", file=sys.stderr)
        return 2
    return int(result or 0)


def write_error_line(exc: OSError) -> str | None:
    """The one line for an output that could not be written (``atomic.OutputError``, or an
    ``OSError`` of :data:`WRITE_ERRNOS` naming its file), else None (a bug: the traceback)."""
    from midi_extractor.atomic import OutputError

    if isinstance(exc, OutputError):
        return str(exc)
    if exc.errno in WRITE_ERRNOS:
        return f"{exc.filename or '(unnamed file)'}: {exc.strerror or exc} (errno {exc.errno})"
    return None


if __name__ == "__main__":
    sys.exit(main())
