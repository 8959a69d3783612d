"""Audio -> notes -> MIDI with a stem's checkpoint, in small pure steps.

    load (audio.load_audio / an array + its rate) -> window (overlapping
    windows with context either side, so memory does not grow with the file)
    -> run (the model, a few windows at a time) -> unwrap (keep the centre
    frames of each window, concatenate) -> decode (decoding.py) -> MIDI
    (midi_io.py)

API, in the style of Basic Pitch's ``predict``::

    notes, midi = transcribe("bass.wav", stem="bass", models_dir="models")
    midi.write("bass.mid")

CLI::

    midi-extractor transcribe AUDIO [AUDIO ...] --stem S|auto --models-dir models -o OUT

A FOLDER input holds separated stems named like ``bass.wav``, ``drums.wav``,
``piano.wav``, ``vocals.wav``: it becomes one multi-track MIDI file. Each
loaded checkpoint is cached, so a process loads each model once.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.config import DecodingConfig, FrontEndConfig
from midi_extractor.model.decoding import Note, decode

log = logging.getLogger(__name__)

# Shorter windows batched wider keep the GRUs' sequential length down: on 2 CPU cores
# (10 s, 1 s, 8) ran 937x real time against 649x for (20 s, 2 s, 2) (benchmarks/RESULTS.md).
WINDOW_S = 10.0   # audio the model sees at once
CONTEXT_S = 1.0   # of which this much either side is context, not kept
BATCH_WINDOWS = 8  # windows per forward pass
SILENCE_DB = -90.0  # RMS below this is treated as silence
HEADS = ("onset", "offset", "frame", "velocity")


# ------------------------------------------------------------------- models
@dataclass
class LoadedModel:
    """A model ready to run, with what decoding needs to know about it."""

    model: Any                      # forward(audio (B, S)) -> logits dict (B, T, N)
    front_end: FrontEndConfig
    drum_classes: tuple[str, ...] | None
    stem: str | None = None
    path: Path | None = None


_CACHE: dict[tuple[str, int, int], LoadedModel] = {}


def load_model(path: str | Path) -> LoadedModel:
    """Load (once per process, per file version) a checkpoint for inference."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: checkpoint not found") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        ckpt, model = _load_checkpoint(path)
        config = ckpt.get("config", {})
        classes = config.get("drum_classes")
        _CACHE[key] = LoadedModel(model.eval(), FrontEndConfig(**config.get("front_end", {})),
                                  tuple(classes) if classes else None, ckpt.get("stem"), path)
        log.info("loaded %s (stem %s)", path, ckpt.get("stem"))
    return _CACHE[key]


def _load_checkpoint(path: Path) -> tuple[dict, Any]:
    """``(checkpoint dict, model in eval mode)`` through ``checkpoint.py`` (contract 2)."""
    try:
        from midi_extractor.model.checkpoint import build_model, load_checkpoint
    except ImportError:  # checkpoint.py not there yet: the same contract by hand
        import torch

        from midi_extractor.model.transcriber import Transcriber

        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = Transcriber.from_config(ckpt["config"])
        model.load_state_dict(ckpt["model"])
        return ckpt, model.eval()
    ckpt = load_checkpoint(path)
    return ckpt, build_model(ckpt)


def clear_model_cache() -> None:
    _CACHE.clear()


# ----------------------------------------------------------------- window/run
@dataclass(frozen=True)
class Window:
    """One model input: samples ``[start, start + length)`` of the audio (zeros
    outside it); its frames ``[keep_from, keep_from + n_keep)`` are global
    frames ``[frame0, frame0 + n_keep)``."""

    start: int
    length: int
    keep_from: int
    n_keep: int
    frame0: int


def plan_windows(n_samples: int, front_end: FrontEndConfig, window_s: float = WINDOW_S,
                 context_s: float = CONTEXT_S) -> list[Window]:
    """Windows covering all ``front_end.n_frames(n_samples)`` frames once.
    Audio that fits in one window is one window of exactly its length."""
    hop = front_end.hop_length
    n_frames = front_end.n_frames(n_samples)
    win_f = max(1, int(round(window_s * front_end.frame_rate_hz)))
    ctx_f = max(0, int(round(context_s * front_end.frame_rate_hz)))
    centre_f = win_f - 2 * ctx_f
    if centre_f <= 0:
        raise ValueError(f"window_s={window_s} must exceed twice context_s={context_s}")
    if n_samples <= win_f * hop:
        return [Window(0, n_samples, 0, n_frames, 0)]
    windows = []
    for g0 in range(0, n_frames, centre_f):
        n_keep = min(centre_f, n_frames - g0)
        windows.append(Window((g0 - ctx_f) * hop, win_f * hop, ctx_f, n_keep, g0))
    return windows


def cut(audio: np.ndarray, window: Window) -> np.ndarray:
    """The window's samples, zero-padded outside the audio."""
    out = np.zeros(window.length, dtype=np.float32)
    lo, hi = max(window.start, 0), min(window.start + window.length, len(audio))
    if hi > lo:
        out[lo - window.start: hi - window.start] = audio[lo:hi]
    return out


def run_model(model: Any, chunks: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Probabilities ``(T, N)`` per head for equal-length chunks, one forward pass."""
    import torch

    # Trained recurrent layers drift into subnormal floats, which x86 computes ~10x slower
    # (a tiny overfitted GRU: 2.2 s -> 0.25 s per 24 s track); flushing them to zero changes
    # nothing measurable. Process-wide setting.
    torch.set_flush_denormal(True)
    with torch.inference_mode():
        logits = model(torch.from_numpy(np.stack(chunks)).float())
        probs = {k: torch.sigmoid(v).float().cpu().numpy() for k, v in logits.items() if k in HEADS}
    return [{k: v[i] for k, v in probs.items()} for i in range(len(chunks))]


def unwrap(pieces: Sequence[tuple[Window, dict[str, np.ndarray]]], n_frames: int) -> dict[str, np.ndarray]:
    """Stitch the kept centre frames of each window into ``(n_frames, N)`` arrays."""
    out: dict[str, np.ndarray] = {}
    for window, probs in pieces:
        for head, p in probs.items():
            if head not in out:
                out[head] = np.zeros((n_frames, p.shape[-1]), dtype=np.float32)
            kept = p[window.keep_from: window.keep_from + window.n_keep]
            if len(kept) != window.n_keep:
                raise ValueError(f"model returned {len(p)} frames for {window.length} samples; "
                                 f"expected at least {window.keep_from + window.n_keep}")
            out[head][window.frame0: window.frame0 + window.n_keep] = kept
    return out


def activations(model: Any, audio: np.ndarray, front_end: FrontEndConfig, window_s: float = WINDOW_S,
                context_s: float = CONTEXT_S, batch_windows: int = BATCH_WINDOWS) -> dict[str, np.ndarray]:
    """Frame probabilities ``(n_frames, N)`` per head of a whole mono signal at
    the model's rate, ``batch_windows`` windows at a time."""
    windows = plan_windows(len(audio), front_end, window_s, context_s)
    pieces: list[tuple[Window, dict[str, np.ndarray]]] = []
    for i in range(0, len(windows), max(1, batch_windows)):
        batch = windows[i:i + max(1, batch_windows)]
        pieces.extend(zip(batch, run_model(model, [cut(audio, w) for w in batch])))
    return unwrap(pieces, front_end.n_frames(len(audio)))


# ------------------------------------------------------------------ audio in
def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mono float32 from ``(S,)``, ``(S, C)`` or ``(C, S)`` (channels = the shorter axis)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(f"audio array must be 1-D or 2-D, got shape {audio.shape}")
    return audio.mean(axis=0 if audio.shape[0] < audio.shape[1] else 1).astype(np.float32)


def load_input(audio: str | Path | np.ndarray, sample_rate_hz: int | None, target_hz: int) -> tuple[np.ndarray, str]:
    """Mono float32 at ``target_hz`` and a name for messages. Raises ``audio.AudioError``
    (path + problem) or ``ValueError`` for an array without a rate, or an empty input."""
    from midi_extractor.audio import AudioError, load_audio, resample

    if isinstance(audio, (str, Path)):
        x = load_audio(audio, target_hz)
        name = str(audio)
        if x.size == 0:
            raise AudioError(audio, "no audio samples")
        return x, name
    if sample_rate_hz is None:
        raise ValueError("an audio array needs sample_rate_hz")
    x = to_mono(audio)
    if x.size == 0:
        raise ValueError("audio array: no samples")
    if not np.all(np.isfinite(x)):
        raise ValueError("audio array: contains NaN or infinite samples")
    return resample(x, int(sample_rate_hz), target_hz), "audio array"


def is_silent(x: np.ndarray) -> bool:
    from midi_extractor.audio import rms_db

    return rms_db(x) < SILENCE_DB


# ----------------------------------------------------------------------- API
def transcribe_array(loaded: LoadedModel, audio: np.ndarray, *, onset_threshold: float = 0.5,
                     frame_threshold: float = 0.5, min_note_s: float = 0.05, drum_note_s: float = 0.1,
                     window_s: float = WINDOW_S, context_s: float = CONTEXT_S) -> list[Note]:
    """Notes of a mono signal already at the model's rate."""
    fe = loaded.front_end
    probs = activations(loaded.model, audio, fe, window_s, context_s)
    return decode(probs, fe, loaded.drum_classes, onset_threshold, frame_threshold, min_note_s, drum_note_s)


def _decoding(params: Any, **overrides: float | None) -> DecodingConfig:
    from dataclasses import replace

    base = params.decoding if params is not None else DecodingConfig()
    return replace(base, **{k: float(v) for k, v in overrides.items() if v is not None})


def _switches(params: Any) -> tx.TaxonomySwitches:
    return params.switches if params is not None else tx.DEFAULT_SWITCHES


def stem_from_filename(path: str | Path, switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES) -> str:
    """The stem a file's name says (``bass.wav``, ``Track1_drums.flac``, ``keys.mp3``).
    Raises ``KeyError`` when the name says none."""
    name = Path(path).stem
    candidates = [name, *reversed(name.replace("-", "_").split("_"))] if "_" in name else [name]
    for candidate in candidates:
        try:
            return tx.resolve_stem_name(candidate, switches)
        except KeyError:
            continue
    raise KeyError(f"{path}: cannot tell the stem from the file name; name it like bass.wav or pass --stem")


def track_program(name: str | int, stem: str) -> int:
    """GM program of the output track: the program named (number or GM name) if any, else the stem's default."""
    if isinstance(name, int) or (isinstance(name, str) and name.strip().isdigit()):
        return int(name)
    import pretty_midi

    key = " ".join(str(name).strip().lower().split())
    for program, gm in enumerate(pretty_midi.constants.INSTRUMENT_MAP):
        if gm.lower() == key:
            return program
    return tx.default_program(stem)


def transcribe(audio: str | Path | np.ndarray, stem: str | int = "auto", models_dir: str | Path = "models", *,
               sample_rate_hz: int | None = None, onset_threshold: float | None = None,
               frame_threshold: float | None = None, min_note_s: float | None = None,
               drum_note_s: float | None = None, params: Any = None, window_s: float = WINDOW_S,
               context_s: float = CONTEXT_S) -> tuple[list[Note], "pretty_midi.PrettyMIDI"]:  # noqa: F821
    """Transcribe one stem recording.

    ``audio``: a path (any rate, mono or stereo, wav/flac/mp3) or an array
    (``sample_rate_hz`` required). ``stem``: stem name, alias, GM instrument
    name or program, or ``"auto"`` (from the file name). Thresholds default to
    ``params.decoding`` (``config.Params``) or :class:`DecodingConfig`.

    Returns the notes and a one-track ``PrettyMIDI`` (drum channel for
    percussive stems). Silent audio gives no notes and a warning. Raises
    ``routing.NoModelError`` when no checkpoint fits (vocals!), ``KeyError``
    for an unknown name, ``audio.AudioError``/``ValueError`` for bad audio.
    """
    from midi_extractor.midi_io import notes_to_midi
    from midi_extractor.infer.routing import resolve_model

    switches = _switches(params)
    if isinstance(audio, (str, Path)):
        from midi_extractor.audio import audio_info

        audio_info(audio)  # a missing, empty or corrupt file is named before any routing
    if str(stem) == "auto":
        if not isinstance(audio, (str, Path)):
            raise ValueError("stem='auto' needs a file name to read the stem from; pass stem=")
        stem = stem_from_filename(audio, switches)
    route = resolve_model(stem, models_dir, switches)  # logs a fallback
    dec = _decoding(params, onset_threshold=onset_threshold, frame_threshold=frame_threshold,
                    min_note_s=min_note_s, drum_note_s=drum_note_s)
    loaded = load_model(route.checkpoint)
    x, name = load_input(audio, sample_rate_hz, loaded.front_end.sample_rate_hz)
    is_drum = tx.STEMS[route.stem].is_drum
    program = 0 if is_drum else track_program(stem, route.stem)
    if is_silent(x):
        log.warning("%s: audio is silent; writing an empty MIDI track", name)
        return [], notes_to_midi([], program, is_drum, route.stem)
    notes = transcribe_array(loaded, x, onset_threshold=dec.onset_threshold, frame_threshold=dec.frame_threshold,
                             min_note_s=dec.min_note_s, drum_note_s=dec.drum_note_s, window_s=window_s,
                             context_s=context_s)
    return notes, notes_to_midi(notes, program, is_drum, route.stem)


def stem_files(folder: str | Path, switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES) -> tuple[dict[str, Path], list[str]]:
    """``{stem: file}`` of a folder of separated stems, in taxonomy order, and
    a message for each audio file whose name names no stem (or a second file of a stem)."""
    from midi_extractor.audio import AUDIO_EXTENSIONS

    found: dict[str, Path] = {}
    problems: list[str] = []
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file() or path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        try:
            stem = stem_from_filename(path, switches)
        except KeyError as exc:
            problems.append(str(exc.args[0]))
            continue
        if stem in found:
            problems.append(f"{path}: skipped, {found[stem].name} already holds stem {stem!r}")
            continue
        found[stem] = path
    order = {s: i for i, s in enumerate(tx.STEM_NAMES)}
    return dict(sorted(found.items(), key=lambda kv: order[kv[0]])), problems


def transcribe_folder(folder: str | Path, models_dir: str | Path = "models", *, params: Any = None,
                      on_message: Any = None, **kwargs: Any) -> tuple[dict[str, list[Note]], "pretty_midi.PrettyMIDI", list[str]]:  # noqa: F821
    """One multi-track MIDI from a folder of separated stems. A stem with no
    model (vocals!), an unreadable file or an unknown name is skipped with a
    message (to ``on_message(str)``, default a logged warning).
    Returns ``({stem: notes}, midi, messages)``."""
    from midi_extractor.audio import AudioError
    from midi_extractor.midi_io import tracks_to_midi
    from midi_extractor.infer.routing import NoModelError

    files, messages = stem_files(folder, _switches(params))
    if not files:
        messages.append(f"{folder}: no audio file named like a stem (bass.wav, drums.wav, piano.wav, ...)")
    tracks: dict[str, list[Note]] = {}
    for stem, path in files.items():
        try:
            tracks[stem], _ = transcribe(path, stem, models_dir, params=params, **kwargs)
        except NoModelError as exc:
            messages.append(f"{path}: skipped: {exc}")
        except (AudioError, ValueError, KeyError) as exc:
            messages.append(f"{path}: skipped: {exc}")
    for message in messages:
        (on_message or (lambda m: log.warning("%s", m)))(message)
    return tracks, tracks_to_midi(tracks), messages


# ------------------------------------------------------------------------ CLI
def _out_path(out: Path, source: Path, single: bool) -> Path:
    if single and out.suffix.lower() in (".mid", ".midi"):
        return out
    return out / f"{source.stem if source.is_file() else source.name}.mid"


def _inputs(paths: Sequence[str]) -> Iterator[Path]:
    for p in paths:
        yield Path(p)


def _cmd_transcribe(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from midi_extractor.audio import AudioError
    from midi_extractor.config import ConfigError, load_params
    from midi_extractor.infer.routing import NoModelError

    params = None
    params_path = Path(args.params) if args.params else Path("params.yaml")
    if args.params or params_path.is_file():
        try:
            params = load_params(params_path)
        except ConfigError as exc:
            print(f"transcribe: {exc}", file=sys.stderr)
            return 2
    kwargs = dict(onset_threshold=args.onset_threshold, frame_threshold=args.frame_threshold,
                  min_note_s=args.min_note_s, params=params)
    out = Path(args.out)
    single = len(args.audio) == 1
    failures = 0
    for source in _inputs(args.audio):
        target = _out_path(out, source, single)
        try:
            if source.is_dir():
                tracks, midi, messages = transcribe_folder(
                    source, args.models_dir, on_message=lambda m: print(m, file=sys.stderr), **kwargs)
                if not tracks:
                    print(f"{source}: nothing transcribed", file=sys.stderr)
                    failures += 1
                    continue
                summary = ", ".join(f"{s} {len(n)} notes" for s, n in tracks.items())
            else:
                notes, midi = transcribe(source, args.stem, args.models_dir, **kwargs)
                summary = f"{len(notes)} notes"
        except (AudioError, NoModelError, KeyError, ValueError, FileNotFoundError) as exc:
            message = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
            print(message if message.startswith(str(source)) else f"{source}: {message}", file=sys.stderr)
            failures += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        midi.write(str(target))
        print(f"{source} -> {target} ({summary})")
    return 1 if failures else 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "transcribe", help="audio stem(s) -> MIDI with the trained per-stem models",
        description="Transcribe audio files, or folders of separated stems (bass.wav, drums.wav, piano.wav, "
                    "guitar.wav, other.wav, vocals.wav) into one multi-track MIDI file each.")
    p.add_argument("audio", nargs="+", help="audio file(s) (wav/flac/mp3, any rate) or folder(s) of stems")
    p.add_argument("--stem", default="auto",
                   help="stem, alias, GM instrument name or program; auto (default): from the file name")
    p.add_argument("--models-dir", default="models", help="folder of <stem>/best.pt (default: models)")
    p.add_argument("-o", "--out", default=".",
                   help="output: a .mid path for a single input, else a folder (default: .)")
    p.add_argument("--params", default=None, help="params.yaml for decoding thresholds (default: ./params.yaml if present)")
    p.add_argument("--onset-threshold", type=float, default=None)
    p.add_argument("--frame-threshold", type=float, default=None)
    p.add_argument("--min-note-s", type=float, default=None)
    p.set_defaults(func=_cmd_transcribe)
