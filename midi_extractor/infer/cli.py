"""The ``transcribe`` command: audio files or folders of stems -> MIDI (+ note CSV, rendered WAV).

Everything an input needs is computed before anything is written, and every
file is written atomically, so a failure leaves no half output. Outputs are
planned up front: two inputs that would write the same file, or ``-o x.mid``
with several inputs, stop the run before any work with a message naming them;
so do an output folder that cannot be written, a file already there (unless
``--overwrite``) and an output another ``transcribe`` is writing (its lock,
``infer.outputs.claim_outputs``): one line, rc 2. A write that fails later (a
full disk) is one line naming the file, rc 2 (``midi_extractor.cli``).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Sequence

MIDI_SUFFIXES = (".mid", ".midi")
NOTES_SUFFIX = ".notes.csv"     # --save-note-events, beside the MIDI
SONIFIED_SUFFIX = ".sonified.wav"  # --sonify, beside the MIDI (never over the input stem)


class PlanError(ValueError):
    """Outputs that cannot be written as asked (collisions, a file name for several inputs)."""


def plan_outputs(inputs: Sequence[str | Path], out: str | Path) -> list[tuple[Path, Path]]:
    """``(input, MIDI path)`` per input. ``out`` is a folder, or a ``.mid``/``.midi``
    file name when there is exactly one input. Raises :class:`PlanError` when
    a file name is given for several inputs or two inputs map to one output."""
    out = Path(out)
    sources = [Path(p) for p in inputs]
    names_file = out.suffix.lower() in MIDI_SUFFIXES
    if names_file and len(sources) > 1:
        raise PlanError(f"-o {out} names one MIDI file but {len(sources)} inputs were given; "
                        f"pass a folder with -o/--out-dir")
    plan = [(s, out if names_file else out / f"{s.stem if s.suffix else s.name}.mid") for s in sources]
    seen: dict[Path, Path] = {}
    for source, target in plan:
        key = target.resolve()
        if key in seen:
            raise PlanError(f"{seen[key]} and {source} would both be written to {target}; "
                            f"transcribe them into different folders (-o/--out-dir)")
        seen[key] = source
    return plan


def side_paths(target: Path) -> tuple[Path, Path]:
    """``(note CSV, rendered WAV)`` beside a MIDI path."""
    base = target.with_suffix("")
    return base.with_name(base.name + NOTES_SUFFIX), base.with_name(base.name + SONIFIED_SUFFIX)


def _tempo_arg(text: str) -> float:
    from midi_extractor.infer.tempo import TempoError, check_bpm

    try:
        return check_bpm(text, "--tempo")
    except TempoError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _frame_note_arg(text: str) -> float | str:
    from midi_extractor.infer.settings import OFF

    if text.strip().lower() == OFF:
        return OFF
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 1 (exclusive) or off, got {text!r}")
    return value


def _threads_arg(text: str) -> int:
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:
        raise argparse.ArgumentTypeError(f"--threads must be a whole number of at least 1, got {text!r}")
    return threads


def _grid_arg(text: str) -> str:
    from midi_extractor.infer.tempo import parse_grid

    try:
        parse_grid(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _saturate_arg(text: str) -> tuple[str | None, float]:
    """``DRIVE`` (every stem) or ``STEM=DRIVE`` -> ``(stem or None, drive)``, checked."""
    from midi_extractor.infer.api import checked_drive

    stem, sep, value = text.rpartition("=")
    try:
        return (stem, checked_drive({stem: value})[stem]) if sep else (None, checked_drive(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _drives(given: list[tuple[str | None, float]] | None):
    """``--saturate``'s values -> ``api``'s ``saturate``: None, one drive, or ``{stem: drive}``."""
    if not given:
        return None
    if any(stem is None for stem, _ in given):
        if len(given) > 1:
            raise ValueError("--saturate: give one DRIVE for every stem, or STEM=DRIVE pairs")
        return given[0][1]
    return dict(given)


def _fail(source: Path, exc: BaseException) -> None:
    message = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    print(message if message.startswith(str(source)) else f"{source}: {message}", file=sys.stderr)


def _run_one(args: argparse.Namespace, source: Path, params, tempo, device: str):
    """The :class:`api.Transcription` of one input and its rendered audio (or None)."""
    from midi_extractor.infer import api

    decode = dict(onset_threshold=args.onset_threshold, frame_threshold=args.frame_threshold,
                  min_note_s=args.min_note_s, drum_note_s=args.drum_note_s,
                  frame_note_threshold=args.frame_note_threshold, saturate=args.saturate)
    if source.is_dir():
        result = api.transcribe_stems(source, args.models_dir, params=params, tempo=tempo,
                                      quantize=args.quantize, device=device, runtime=args.runtime,
                                      on_message=lambda m: print(m, file=sys.stderr), **decode)
        if not result.tracks:
            raise ValueError(f"{source}: nothing transcribed")
    else:
        result = api.transcribe_file(source, args.stem, args.models_dir, params=params, tempo=tempo,
                                     quantize=args.quantize, device=device, runtime=args.runtime, **decode)
    from midi_extractor.midi_io import set_programs

    set_programs(result.midi, args.program)  # --program STEM=N over the stems' default programs
    return result, _rendered(args, result)


def _rendered(args: argparse.Namespace, result) -> tuple | None:
    """``(audio, rate)`` of ``--sonify`` / ``--sonify-ab`` (at the rate and level of the files the
    tracks came from; A/B: those files' mix left, the rendering right), or None when neither is asked."""
    if not (args.sonify or args.sonify_ab):
        return None
    from midi_extractor.infer.outputs import ab_stereo, read_reference, sonify

    reference, rate = read_reference(result.inputs)
    audio = sonify(result.midi, result.duration_s, rate, level_of=reference)
    return (ab_stereo(reference, audio) if args.sonify_ab else audio), rate


def cmd_transcribe(args: argparse.Namespace) -> int:
    from midi_extractor.atomic import OutputError
    from midi_extractor.config import ConfigError, load_params
    from midi_extractor.infer.engine import resolve_device, set_cpu_threads
    from midi_extractor.infer.outputs import claim_outputs
    from midi_extractor.infer.routing import resolve_models_dir
    from midi_extractor.midi_io import program_overrides

    try:
        plan = plan_outputs(args.audio, args.out)
        device = resolve_device(args.device)
        set_cpu_threads(args.threads)
        params = load_params(args.params) if args.params else None
        args.models_dir = resolve_models_dir(args.models_dir)
        args.program = program_overrides(args.program or [], *([params.switches] if params else []))
        args.saturate = _drives(args.saturate)
    except (PlanError, ValueError, ConfigError) as exc:
        print(f"transcribe: {exc}", file=sys.stderr)
        return 2
    tempo = None if args.no_tempo else (args.tempo if args.tempo is not None else "auto")
    sonified = args.sonify or args.sonify_ab
    groups = [[target, *(p for p, on in zip(side_paths(target), (args.save_note_events, sonified)) if on)]
              for _, target in plan]
    with contextlib.ExitStack() as stack:
        try:
            claim_outputs(groups, args.overwrite, stack)
        except OutputError as exc:
            print(f"transcribe: {exc}", file=sys.stderr)
            return 2
        return _transcribe_plan(args, plan, params, tempo, device)


def _transcribe_plan(args: argparse.Namespace, plan, params, tempo, device: str) -> int:
    """Transcribe and write each ``(input, MIDI path)``; rc 0, 1 when an input (or a stem file of a
    folder) failed, 2 when the models folder does not fit."""
    from midi_extractor.audio import AudioError
    from midi_extractor.config import ConfigError
    from midi_extractor.infer.outputs import write_midi, write_note_events, write_wav
    from midi_extractor.infer.routing import NoModelError
    from midi_extractor.model.checkpoint import CheckpointMismatch

    failures = 0
    for source, target in plan:
        try:
            result, rendered = _run_one(args, source, params, tempo, device)
        except CheckpointMismatch as exc:  # the models folder is wrong for every input of that stem: stop
            print(f"transcribe: {exc}", file=sys.stderr)
            return 2
        except (AudioError, NoModelError, ConfigError, KeyError, ValueError, FileNotFoundError, RuntimeError) as exc:
            _fail(source, exc)
            failures += 1
            continue
        notes_csv, wav = side_paths(target)
        write_midi(result.midi, target)
        written = [target]
        if args.save_note_events:
            written.append(write_note_events(result.tracks, notes_csv))
        if rendered is not None:
            written.append(write_wav(rendered[0], wav, sample_rate_hz=rendered[1]))
        summary = ", ".join(f"{s} {len(n)} notes" + (f" (heard saturated, drive {result.drives[s]:g})"
                                                       if result.drives.get(s) else "")
                            for s, n in result.tracks.items())
        print(f"{source} -> {', '.join(map(str, written))} ({summary}; {result.tempo_bpm:g} BPM)")
        if result.failed:  # a folder's stem that could not be read: its track is missing, say so in rc
            print(f"{source}: {len(result.failed)} stem file(s) not transcribed: "
                  f"{', '.join(p.name for p in result.failed)}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "transcribe", help="audio stems -> MIDI with the trained per-stem models",
        description="Transcribe audio files, or folders of separated stems (bass.wav, drums.wav, piano.wav, "
                    "guitar.wav, other.wav, vocals.wav) into one multi-track MIDI file each. Decoding "
                    "thresholds come with each model (models/<stem>/decoding.json); the MIDI file carries "
                    "the tempo estimated from the audio.")
    p.add_argument("audio", nargs="+", help="audio file(s) (wav/flac/mp3, any rate) or folder(s) of stems")
    p.add_argument("--stem", default="auto",
                   help="stem, alias, GM instrument name or program; auto (default): from the file name")
    p.add_argument("--models-dir", default=None,
                   help="folder of <stem>/best.pt (default: $MIDI_EXTRACTOR_MODELS, else models)")
    from midi_extractor.taxonomy import STEM_PROGRAMS

    p.add_argument("--program", action="append", metavar="STEM=PROGRAM",
                   help="GM program (0-127 or name) of a stem's track, e.g. guitar=25; repeatable (default: "
                        + ", ".join(f"{stem} {n}" for stem, n in STEM_PROGRAMS.items()) + ")")
    p.add_argument("-o", "--out-dir", dest="out", default=".", metavar="PATH",
                   help="output folder (default: .), or a .mid file name when there is one input")
    p.add_argument("--out", dest="out", default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # the old spelling
    p.add_argument("--overwrite", action="store_true",
                   help="replace output files that are there already (default: refuse, naming the file)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--threads", type=_threads_arg, default=None, metavar="N",
                   help="CPU threads for the models (default: all cores); 1 when several transcribe run side by side")
    p.add_argument("--runtime", default="auto", choices=("auto", "torch", "onnx"),
                   help="auto (default): the model's ONNX export (midi-extractor export) when it matches the "
                        "checkpoint and the device is the CPU, else torch")
    g = p.add_argument_group("decoding (default: the model's decoding.json, else 0.5 / 0.5 / 0.05 s / 0.1 s)")
    g.add_argument("--onset-threshold", type=float, default=None, help="onset probability that starts a note")
    g.add_argument("--frame-threshold", type=float, default=None, help="frame probability that sustains a note")
    g.add_argument("--min-note-s", type=float, default=None, help="shortest note kept, seconds")
    g.add_argument("--drum-note-s", type=float, default=None, help="length of a drum hit, seconds")
    g.add_argument("--frame-note-threshold", type=_frame_note_arg, default=None, metavar="P|off",
                   help="mean frame probability above which a sustained pitch no onset started is a note too "
                        "(slow strings, pads); off: none")
    g.add_argument("--saturate", type=_saturate_arg, action="append", metavar="[STEM=]DRIVE",
                   help="let the model hear tanh(DRIVE x / peak): odd harmonics for a sine sub bass, which the "
                        "models miss without them (0: off; default: each model's, from its decoding.json: bass 1.5). "
                        "DRIVE: every stem of the input; STEM=DRIVE (repeatable): that stem's, e.g. synth_lead=1.5")
    t = p.add_argument_group("tempo and grid")
    tempo = t.add_mutually_exclusive_group()
    tempo.add_argument("--tempo", type=_tempo_arg, default=None, metavar="BPM",
                       help="write this tempo (20-400) instead of estimating it")
    tempo.add_argument("--no-tempo", action="store_true", help="write MIDI's default 120 BPM, no estimate")
    t.add_argument("--quantize", type=_grid_arg, default=None, metavar="GRID",
                   help="snap note starts to a grid at the written tempo: 1/4, 1/8, 1/16, 1/8t ...")
    o = p.add_argument_group("extra outputs, beside each MIDI file")
    o.add_argument("--save-note-events", action="store_true",
                   help=f"<name>{NOTES_SUFFIX}: start_s,end_s,pitch,velocity,stem per note")
    o.add_argument("--sonify", action="store_true",
                   help=f"<name>{SONIFIED_SUFFIX}: the MIDI rendered with FluidSynth at the input's rate and "
                        "RMS level (a folder: its stems' mix), lined up with it")
    o.add_argument("--sonify-ab", action="store_true",
                   help=f"<name>{SONIFIED_SUFFIX} in stereo for an A/B: the input left, the rendering right")
    p.add_argument("--params", default=None,
                   help="params.yaml for taxonomy switches only (bass role, organs as keys); never decoding")
    p.set_defaults(func=cmd_transcribe)
