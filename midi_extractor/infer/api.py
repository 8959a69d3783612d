"""The public transcription API: ``from midi_extractor import transcribe``.

Every entry point goes through here and ends in ``stream.transcribe_path`` (a file,
streamed) or ``engine.transcribe_array`` (an array; ``evaluate``), the same windows and
decoding, with the decoding settings of the model that is used (its ``decoding.json``,
see ``infer.settings``) unless the caller overrides one: the same file gives the same
notes from Python, from the command line in any folder, and in ``evaluate``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable, Union

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.infer import engine
from midi_extractor.infer.engine import WINDOW_S
from midi_extractor.infer.names import stem_files, stem_from_filename, track_program
from midi_extractor.model.decoding import Note

log = logging.getLogger(__name__)

#: what ``saturate=`` accepts: None (each model's drive), one drive for every stem, or ``{stem: drive}``
#: (a stem it does not name: its model's)
Drive = Union[float, Mapping[str, float], None]
#: what ``tempo=`` accepts: "auto" (estimate), None (120 BPM) or a BPM
Tempo = Any


@dataclass
class Transcription:
    """One output file's worth: ``{stem: notes}`` in track order, the MIDI file,
    the input's length (s), the tempo written (BPM), messages about skipped parts and the
    audio files the tracks were transcribed from (none for an array); ``failed``: a folder's stem
    files that could not be transcribed (bad audio, a bad ``decoding.json``; not a stem without a model);
    ``drives``: each track's saturation drive as its model heard it (0: none)."""

    tracks: dict[str, list[Note]]
    midi: Any  # pretty_midi.PrettyMIDI
    duration_s: float
    tempo_bpm: float
    messages: list[str] = field(default_factory=list)
    inputs: list[Path] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)
    drives: dict[str, float] = field(default_factory=dict)


def transcribe(audio: str | Path | np.ndarray, stem: str | int = "auto", models_dir: str | Path | None = None, *,
               sample_rate_hz: int | None = None, onset_threshold: float | None = None,
               frame_threshold: float | None = None, min_note_s: float | None = None,
               drum_note_s: float | None = None, frame_note_threshold: float | str | None = None, tempo: Tempo = None,
               quantize: str | None = None, device: str | None = None, runtime: str = "auto", params: Any = None,
               window_s: float = WINDOW_S, context_s: float | None = None,
               saturate: Drive = None) -> tuple[list[Note], "pretty_midi.PrettyMIDI"]:  # noqa: F821
    """Transcribe one stem recording into notes and a one-track MIDI file.

    Args:
        audio: a path to an audio file (wav, flac, mp3, ogg, aiff; any sample rate; stereo is averaged to mono) or a
            float array ``(S,)``, ``(S, C)`` or ``(C, S)`` with ``sample_rate_hz`` (required; integer PCM such as
            scipy's int16 is scaled by its full scale, as a file of that format reads). NaN or infinite samples are
            refused (``ValueError`` / ``audio.AudioError`` naming the input); a peak above 1.0 is scaled down, warned.
        stem: the stem to transcribe as: a stem name (``bass``, ``piano``, ``drums``, ...), an alias (``keys``,
            ``hi-hat``), a General MIDI instrument name (``"Electric Bass (finger)"``) or program number, or
            ``"auto"`` (default) to read it from the file name (``bass.wav``, ``Song_drums.flac``).
        models_dir: folder of ``<stem>/best.pt`` checkpoints (default ``$MIDI_EXTRACTOR_MODELS`` when set, else
            ``models``). A stem without its own model falls back to a trained stem of the same role, then ``other``
            (logged as a warning).
        onset_threshold: onset probability (0-1) that starts a note. ``None`` (default): the model's own value from
            ``<models_dir>/<stem>/decoding.json`` (chosen on validation by the evaluate stage), else 0.5.
        frame_threshold, min_note_s, drum_note_s: frame probability (0-1) that sustains a note, shortest note
            kept (s), length written for drum hits (s); ``None``: the model's value, else 0.5, 0.05 and 0.1.
        frame_note_threshold: mean frame probability (0-1) above which a sustained pitch that no onset started
            is a note too (``model.decoding``); ``None``: the model's value (null: none), ``"off"``: none.
        tempo: the MIDI file's tempo: ``None`` (default) writes 120 BPM, a number forces that BPM (20-400), ``"auto"``
            estimates it from the audio with librosa's beat tracker (``tempo.TempoError`` on silence). Note times in
            seconds do not depend on it.
        quantize: ``None`` (default) or a grid such as ``"1/16"``, ``"1/8"``, ``"1/8t"``: note starts snap to that
            grid at the written tempo.
        device: ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"``; ``ValueError`` when CUDA is asked for and absent.
        runtime: ``"auto"`` (default: the ONNX export beside the checkpoint, made by ``midi-extractor export``, when
            it matches the checkpoint, onnxruntime is installed and the device is the CPU; else torch), ``"torch"`` or
            ``"onnx"``.
        params: a ``config.Params`` for the taxonomy switches (bass role, organs as keys); never for decoding.
        window_s, context_s: the window and its context either side (None: the model's, ``windows.context_for``).
        saturate: the model hears ``tanh(saturate * x / peak)``, 0 (off) to 20, or ``{stem: drive}``; ``None``: the model's.

    Returns:
        ``(notes, midi)``: notes sorted by start (``Note(start_s, end_s, pitch, velocity)``; drums as GM keys of their
        class) and a one-track ``pretty_midi.PrettyMIDI`` (program of the stem or the GM name asked for; drum channel
        for percussive stems). Silent audio gives no notes and a warning (or ``TempoError`` with ``tempo="auto"``).

    Raises:
        ``routing.NoModelError`` when no checkpoint fits (vocals!), ``KeyError`` for an unknown name,
        ``audio.AudioError`` / ``ValueError`` for bad audio, a bad device or a bad option, ``config.ConfigError`` for
        a bad ``decoding.json``, ``model.checkpoint.CheckpointMismatch`` when the checkpoint is another stem's
        (``stem: drums`` at ``models/bass/best.pt``; its role is compared too when ``params`` are given).

    Example::

        notes, midi = transcribe("bass.wav", models_dir="models", tempo="auto")
        midi.write("bass.mid")
    """
    result = transcribe_file(audio, stem, models_dir, sample_rate_hz=sample_rate_hz, tempo=tempo, quantize=quantize,
                             device=device, runtime=runtime, params=params, window_s=window_s, context_s=context_s,
                             onset_threshold=onset_threshold, frame_threshold=frame_threshold, min_note_s=min_note_s,
                             drum_note_s=drum_note_s, frame_note_threshold=frame_note_threshold, saturate=saturate)
    return next(iter(result.tracks.values())), result.midi


def transcribe_folder(folder: str | Path, models_dir: str | Path | None = None, *, params: Any = None,
                      on_message: Callable[[str], None] | None = None, tempo: Tempo = None,
                      quantize: str | None = None,
                      **kwargs: Any) -> tuple[dict[str, list[Note]], "pretty_midi.PrettyMIDI", list[str]]:  # noqa: F821
    """One multi-track MIDI from a folder of separated stems (``bass.wav``,
    ``drums.wav``, ``piano.wav``, ...). A stem with no model (vocals!), an
    unreadable file or an unknown name is skipped with a message (to
    ``on_message(str)``, default a logged warning). ``tempo="auto"`` estimates
    the tempo of the mix of all stems; ``models_dir`` (default
    ``$MIDI_EXTRACTOR_MODELS`` when set, else ``models``) and other keywords
    as :func:`transcribe`. Returns ``({stem: notes}, midi, messages)``."""
    result = transcribe_stems(folder, models_dir, params=params, on_message=on_message, tempo=tempo,
                              quantize=quantize, **kwargs)
    return result.tracks, result.midi, result.messages


# ------------------------------------------------------------------ one file
def transcribe_file(audio: str | Path | np.ndarray, stem: str | int = "auto", models_dir: str | Path | None = None, *,
                    sample_rate_hz: int | None = None, tempo: Tempo = None, quantize: str | None = None,
                    device: str | None = None, runtime: str = "auto", params: Any = None,
                    **decode_kwargs: Any) -> Transcription:
    """:func:`transcribe` returning a :class:`Transcription` (what the CLI writes from)."""
    from midi_extractor.midi_io import notes_to_midi

    stem_name, got, rate, program = _notes(audio, stem, models_dir, sample_rate_hz=sample_rate_hz, device=device,
                                           runtime=runtime, params=params, onsets=_is_auto(tempo), **decode_kwargs)
    name = str(audio) if isinstance(audio, (str, Path)) else "audio array"
    bpm = _tempo_of(tempo, got, rate, name)
    notes = _quantized(got.notes, bpm, quantize)
    midi = notes_to_midi(notes, program, tx.STEMS[stem_name].is_drum, stem_name, tempo_bpm=bpm)
    return Transcription({stem_name: notes}, midi, got.n_samples / rate, bpm,
                         inputs=[Path(audio)] if isinstance(audio, (str, Path)) else [], drives={stem_name: got.drive})


def _notes(audio: str | Path | np.ndarray, stem: str | int, models_dir: str | Path | None, *,
           sample_rate_hz: int | None, device: str | None = None, runtime: str = "auto", params: Any = None,
           window_s: float = WINDOW_S, context_s: float | None = None, onsets: bool = False, keep_signal: bool = False,
           saturate: Drive = None, **overrides: float | str | None) -> tuple[str, "Streamed", int, int]:  # noqa: F821
    """``(stem, stream.Streamed, the model's rate, GM program)`` of one input: a file streams (with
    ``onsets``: the tempo's envelope too; ``keep_signal``: the signal, for a mix), an array does not."""
    from midi_extractor.audio import audio_info
    from midi_extractor.infer import stream
    from midi_extractor.infer.audio_in import check_rate, warn_if_below_model_rate
    from midi_extractor.infer.routing import resolve_model, resolve_models_dir
    from midi_extractor.infer.settings import with_overrides
    from midi_extractor.model.checkpoint import check_fits

    switches = params.switches if params is not None else tx.DEFAULT_SWITCHES
    saturate = checked_drive(saturate)
    is_file = isinstance(audio, (str, Path))
    # a missing, empty or corrupt file is named before any routing
    source_hz = audio_info(audio)[0] if is_file else check_rate(sample_rate_hz)
    if str(stem) == "auto":
        if not is_file:
            raise ValueError("stem='auto' needs a file name to read the stem from; pass stem=")
        stem = stem_from_filename(audio, switches)
    route = resolve_model(stem, resolve_models_dir(models_dir), switches)  # logs a fallback
    options = {k: v for k, v in (("device", device), ("runtime", runtime)) if v not in (None, "auto")}
    loaded = engine.load_model(route.checkpoint, **options)
    role = tx.role_of(route.used_stem, switches) if params is not None else None  # switches given: bass_role
    check_fits(loaded.identity, route.checkpoint, route.used_stem, role=role, params=params,
               fallback_for=route.stem if route.is_fallback else None)
    if source_hz:
        warn_if_below_model_rate(int(source_hz), loaded.front_end.sample_rate_hz,
                                 str(audio) if is_file else "audio array")
    dec = with_overrides(loaded.decoding, **overrides)
    saturate = drive_for(saturate, route.stem, loaded.saturate)
    program = 0 if tx.STEMS[route.stem].is_drum else track_program(stem, route.stem)
    thresholds = dict(onset_threshold=dec.onset_threshold, frame_threshold=dec.frame_threshold,
                      min_note_s=dec.min_note_s, drum_note_s=dec.drum_note_s,
                      frame_note_threshold=dec.frame_note_threshold, window_s=window_s, context_s=context_s)
    if is_file:
        got = stream.transcribe_path(loaded, audio, onsets=onsets, keep_signal=keep_signal, saturate=saturate,
                                     **thresholds)
    else:
        got = stream.transcribe_whole(loaded, audio, sample_rate_hz, saturate, **thresholds)
    return route.stem, replace(got, drive=saturate), loaded.front_end.sample_rate_hz, program


def checked_drive(saturate: Drive) -> Drive:
    """``saturate`` checked (``ValueError``): each drive a number from 0 to 20, each key a stem name."""
    from midi_extractor.model.saturation import check_saturate

    if not isinstance(saturate, Mapping):
        return None if saturate is None else check_saturate(saturate)
    unknown = sorted(set(saturate) - set(tx.STEM_NAMES))
    if unknown:
        raise ValueError(f"saturate: unknown stem(s) {', '.join(map(str, unknown))}; stems: {', '.join(tx.STEM_NAMES)}")
    return {stem: check_saturate(drive) for stem, drive in saturate.items()}


def drive_for(saturate: Drive, stem: str, model_drive: float) -> float:
    """The drive ``stem``'s model hears: ``saturate``'s (checked already: one for every stem, or
    the mapping's entry), else the model's own (``decoding.json``)."""
    drive = saturate.get(stem) if isinstance(saturate, Mapping) else saturate
    return model_drive if drive is None else drive


def _is_auto(tempo: Tempo) -> bool:  # tempo="auto": estimate it
    return isinstance(tempo, str) and tempo.strip().lower() == "auto"


def _tempo_of(tempo: Tempo, source: Any, rate: int, name: str) -> float:
    """The BPM to write: 120 for ``None``, a checked number, or for ``"auto"`` the estimate
    from ``source`` (a signal, or a ``stream.Streamed`` with its onset envelope)."""
    from midi_extractor.infer import tempo as tempo_mod

    if tempo is None:
        return tempo_mod.DEFAULT_BPM
    if _is_auto(tempo):
        if isinstance(source, np.ndarray):
            return tempo_mod.estimate_tempo(source, rate, name).bpm
        return source.tempo(rate, name).bpm
    return tempo_mod.check_bpm(tempo, "tempo")


def _quantized(notes: list[Note], bpm: float, quantize: str | None) -> list[Note]:
    if not quantize:
        return notes
    from midi_extractor.infer.tempo import parse_grid, quantize_notes

    return quantize_notes(notes, bpm, parse_grid(quantize))


# ---------------------------------------------------------------- a folder
def transcribe_stems(folder: str | Path, models_dir: str | Path | None = None, *, params: Any = None,
                     on_message: Callable[[str], None] | None = None, tempo: Tempo = None,
                     quantize: str | None = None, **kwargs: Any) -> Transcription:
    """:func:`transcribe_folder` returning a :class:`Transcription`."""
    from midi_extractor.audio import AudioError, resample
    from midi_extractor.config import ConfigError
    from midi_extractor.infer.outputs import mix
    from midi_extractor.infer.routing import NoModelError
    from midi_extractor.midi_io import tracks_to_midi
    from midi_extractor.model.checkpoint import CheckpointMismatch

    switches = params.switches if params is not None else tx.DEFAULT_SWITCHES
    checked_drive(kwargs.get("saturate"))   # a bad drive is the caller's, not one stem file's
    files, messages = stem_files(folder, switches)
    if not files:
        messages.append(f"{folder}: no audio file named like a stem (bass.wav, drums.wav, piano.wav, ...)")
    tracks: dict[str, list[Note]] = {}
    drives: dict[str, float] = {}
    failed: list[Path] = []
    mixed, n_mixed, lengths = np.zeros(0, np.float32), 0, [0]  # the mix only for a tempo estimate
    rate = 16000  # the rate the mix is summed at (each model's own rate is resampled to it)
    for stem, path in files.items():
        try:
            _, got, x_rate, _ = _notes(path, stem, models_dir, params=params, sample_rate_hz=None,
                                       keep_signal=_is_auto(tempo), **kwargs)
        except CheckpointMismatch:
            raise  # a model that is not the stem's: the user's setup, not this file
        except (NoModelError, AudioError, ConfigError, ValueError, KeyError) as exc:
            text = str(exc.args[0] if isinstance(exc, KeyError) else exc)
            messages.append(f"{path}: skipped: {text.removeprefix(f'{path}: ')}")
            failed.extend(() if isinstance(exc, NoModelError) else (path,))
            continue
        tracks[stem], drives[stem] = got.notes, got.drive
        lengths.append(int(round(got.n_samples * rate / x_rate)))
        if got.signal is not None:
            mixed, n_mixed = mix([mixed, resample(got.signal, x_rate, rate)]), n_mixed + 1
    for message in messages:
        (on_message or (lambda m: log.warning("%s", m)))(message)
    bpm = _tempo_of(tempo, mixed, rate, f"{folder} (mix of {n_mixed} stems)") if tracks else \
        _tempo_of(None if tempo == "auto" else tempo, mixed, rate, str(folder))
    tracks = {s: _quantized(n, bpm, quantize) for s, n in tracks.items()}
    return Transcription(tracks, tracks_to_midi(tracks, tempo_bpm=bpm), max(lengths) / rate, bpm, messages,
                         [files[s] for s in tracks], failed, drives)
