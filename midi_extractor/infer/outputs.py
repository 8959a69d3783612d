"""What ``transcribe`` writes beside each MIDI file, each atomically (``atomic.atomic_open``):

* ``<name>.mid``: the MIDI file (:func:`write_midi`).
* ``<name>.csv`` (``--save-note-events``): one row per note, header
  ``start_s,end_s,pitch,velocity,stem``; seconds with 6 decimals, MIDI pitch
  (GM drum key on drum tracks), velocity 1..127, the stem of the track;
  sorted by start, then pitch (:func:`write_note_events`).
* ``<name>.sonified.wav`` (``--sonify``): the MIDI rendered with FluidSynth and the
  General MIDI SoundFont that ships inside pretty_midi (``TimGM6mb.sf2``), 16-bit PCM at
  the input's own rate and RMS level (a folder: its stems' mix), padded or cut to the
  input's length so it lines up with the stem; mono, or with ``--sonify-ab`` stereo with
  the input on the left and the rendering on the right (:func:`sonify`, :func:`ab_stereo`).

Before any audio is read, :func:`claim_outputs` makes sure every file a run will write can be
written: each folder is probed (``atomic.check_writable``), each MIDI file locked against a
second ``transcribe`` writing it (``atomic.exclusive_output``: ``.<name>.lock`` beside it,
holding the pid), and a file already there is refused (``atomic.OutputExists``: "FILE exists;
pass --overwrite to replace it") unless ``overwrite``.
"""
from __future__ import annotations

import contextlib
import csv
import logging
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from midi_extractor.atomic import OutputExists, atomic_open, check_writable, exclusive_output
from midi_extractor.model.decoding import Note

log = logging.getLogger(__name__)

NOTE_EVENT_COLUMNS = ("start_s", "end_s", "pitch", "velocity", "stem")
SONIFY_RATE_HZ = 22050


def claim_outputs(groups: Sequence[Sequence[Path]], overwrite: bool, stack: contextlib.ExitStack) -> None:
    """Check and lock the outputs of a run, before its compute: ``groups`` holds, per input,
    its MIDI path first and then the files written beside it. Every folder is probed, every
    MIDI path locked on ``stack`` (released when it closes), and an existing file refused
    unless ``overwrite``. Raises ``atomic.OutputError`` (``OutputBusy``, ``OutputExists``)
    naming the file."""
    for folder in dict.fromkeys(Path(p).parent for group in groups for p in group):
        check_writable(folder)
    for group in groups:
        stack.enter_context(exclusive_output(group[0]))
    if not overwrite:
        for path in (Path(p) for group in groups for p in group):
            if path.exists():
                raise OutputExists(path)


def write_midi(midi, path: str | Path) -> Path:
    """Write a ``pretty_midi.PrettyMIDI`` to ``path`` atomically; returns the path."""
    path = Path(path)
    with atomic_open(path, "wb") as f:
        midi.write(f)
    return path


def note_event_rows(tracks: Mapping[str, Sequence[Note]]) -> list[tuple[float, float, int, int, str]]:
    """``(start_s, end_s, pitch, velocity, stem)`` of every note of ``{stem: notes}``, by start then pitch."""
    rows = [(float(n.start_s), float(n.end_s), int(n.pitch), int(n.velocity), stem)
            for stem, notes in tracks.items() for n in notes]
    return sorted(rows, key=lambda r: (r[0], r[2], r[4], r[1]))


def write_note_events(tracks: Mapping[str, Sequence[Note]], path: str | Path) -> Path:
    """Write the note-event CSV of ``{stem: notes}`` atomically; returns the path."""
    path = Path(path)
    with atomic_open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(NOTE_EVENT_COLUMNS)
        for start, end, pitch, velocity, stem in note_event_rows(tracks):
            writer.writerow([f"{start:.6f}", f"{end:.6f}", pitch, velocity, stem])
    return path


def read_note_events(path: str | Path) -> list[tuple[str, Note]]:
    """``(stem, Note)`` per row of a note-event CSV (for tests and scripts)."""
    with open(path, newline="") as f:
        return [(r["stem"], Note(float(r["start_s"]), float(r["end_s"]), int(r["pitch"]), int(r["velocity"])))
                for r in csv.DictReader(f)]


def sonify(midi, duration_s: float, sample_rate_hz: int = SONIFY_RATE_HZ,
           level_of: np.ndarray | None = None) -> np.ndarray:
    """Mono float32 ``(round(duration_s * sample_rate_hz),)``: the MIDI rendered with
    FluidSynth (pretty_midi's TimGM6mb.sf2). With ``level_of`` (the input, any length) its RMS
    level is matched to that signal's, and cut back only where its peak would pass 0.99; without
    it, peak-normalised to 0.9 when not silent. Raises ``RuntimeError`` when FluidSynth
    (pyfluidsynth + libfluidsynth) is missing."""
    from midi_extractor.audio import SILENCE_DB, rms_db

    n = int(round(duration_s * sample_rate_hz))
    if not any(i.notes for i in midi.instruments):
        return np.zeros(n, dtype=np.float32)
    try:
        audio = midi.fluidsynth(fs=sample_rate_hz)
    except ImportError as exc:
        raise RuntimeError(f"--sonify needs FluidSynth: pip install pyfluidsynth and the system library "
                           f"(Debian/Ubuntu: apt-get install libfluidsynth3) ({exc})") from None
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, len(audio))] = audio[:n]
    peak = float(np.max(np.abs(out))) if n else 0.0
    if peak == 0:
        return out
    want_db = rms_db(level_of) if level_of is not None else SILENCE_DB
    if want_db <= SILENCE_DB:
        return out * (0.9 / peak)
    gain = min(10.0 ** ((want_db - rms_db(out)) / 20.0), 0.99 / peak)
    return (out * gain).astype(np.float32)


def read_reference(paths: Sequence[str | Path]) -> tuple[np.ndarray, int]:
    """What a rendering is compared with: the inputs' mono mix ``(S,)`` float32 at the first
    input's own rate (the others resampled to it), and that rate in Hz."""
    from midi_extractor.audio import audio_info, load_audio

    rate = audio_info(paths[0])[0]
    return mix(load_audio(p, rate) for p in paths), rate


def ab_stereo(reference: np.ndarray, rendered: np.ndarray) -> np.ndarray:
    """``(S, 2)``, S = ``len(rendered)``: the input on the left, its rendering on the right (the
    input zero-padded or cut to the rendering's length)."""
    left = np.zeros(len(rendered), dtype=np.float32)
    left[: min(len(left), len(reference))] = reference[: len(left)]
    return np.stack([left, np.asarray(rendered, dtype=np.float32)], axis=1)


def write_wav(audio: np.ndarray, path: str | Path, sample_rate_hz: int = SONIFY_RATE_HZ) -> Path:
    """Write float audio ``(S,)`` or ``(S, channels)`` to ``path`` as 16-bit PCM WAV atomically."""
    import soundfile as sf

    path = Path(path)
    with atomic_open(path, "wb") as f:
        sf.write(f, np.asarray(audio, dtype=np.float32), sample_rate_hz, format="WAV", subtype="PCM_16")
    return path


def mix(signals: Iterable[np.ndarray]) -> np.ndarray:
    """Sum of mono signals of any lengths (zero-padded to the longest)."""
    signals = [np.asarray(s, dtype=np.float32) for s in signals]
    out = np.zeros(max((len(s) for s in signals), default=0), dtype=np.float32)
    for s in signals:
        out[: len(s)] += s
    return out
