"""Piano rolls from MIDI, aligned to the front end's frames.

Frame ``t`` sits at ``t * hop_s`` seconds (``FrontEndConfig``; torch
``center=True`` framing, as in :mod:`midi_extractor.model.features`). A time maps to
its nearest frame, ``round(time_s / hop_s)``.

:func:`rolls_from_midi` returns four float32 arrays ``(n_frames, n_outputs)``:

Pitched stems (``drum_classes=None``), column ``pitch - front_end.min_midi``
(notes outside ``min_midi..max_midi`` are ignored):
    * ``onset``: 1 at the onset frame ``on = round(start / hop_s)``.
    * ``frame``: 1 on frames ``on .. off - 1`` with ``off = max(round(end / hop_s), on + 1)``
      (end exclusive, like :func:`decoding.decode_notes`), so a note shorter
      than a frame still gets its onset and one frame.
    * ``offset``: 1 at frame ``off`` (the first frame after the note).
    * ``velocity``: ``velocity / 127`` on onset frames, 0 elsewhere.

Percussive stems (``drum_classes`` = the stem's class tuple from
``taxonomy.STEM_DRUM_CLASSES``), column = index of ``taxonomy.drum_class(key)``
in ``drum_classes`` (keys of other classes are ignored):
    * ``onset`` and ``frame``: 1 at the onset frame only (hits have no length).
    * ``offset``: 1 on the frame after the onset.
    * ``velocity``: ``velocity / 127`` on onset frames (the loudest hit when
      several share a frame).

Notes that start before the window (``start_s``) but still sound in it give
frames (and an offset) but no onset; parts outside ``0 .. n_frames - 1`` are cut.
"""
from __future__ import annotations

import functools

from typing import Sequence

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.config import FrontEndConfig
from midi_extractor.midi_notes import MidiError, load_notes  # noqa: F401

#: the four heads, in order: the rolls made here, the model's outputs and losses
#: (``transcriber``), the probabilities of a window (``windows``) and the ONNX outputs
#: (``infer.onnx_runtime``). Their one home: everything else imports this.
HEADS = ("onset", "offset", "frame", "velocity")


def n_outputs(front_end: FrontEndConfig, drum_classes: Sequence[str] | None = None) -> int:
    """Columns of the rolls: drum classes for percussive stems, else pitches."""
    return len(drum_classes) if drum_classes else front_end.n_pitches


@functools.lru_cache(maxsize=16)
def _drum_columns(drum_classes: tuple[str, ...]) -> np.ndarray:
    """Roll column of every MIDI key 0-127 for ``drum_classes`` (-1: a class not in it)."""
    index = {c: i for i, c in enumerate(drum_classes)}
    return np.array([index.get(tx.drum_class(key), -1) for key in range(128)], dtype=np.int64)


def rolls_from_midi(midi, n_frames: int, front_end: FrontEndConfig,
                    drum_classes: Sequence[str] | None = None, start_s: float = 0.0, *,
                    time_scale: float = 1.0, transpose: int = 0) -> dict[str, np.ndarray]:
    """Onset/offset/frame/velocity rolls ``(n_frames, n_outputs)`` float32.

    ``midi``: a path, a ``pretty_midi.PrettyMIDI`` or a :func:`load_notes` array.
    ``start_s``: the source time (seconds) of frame 0 (for clips).
    ``time_scale``: source seconds per output second (a clip played
    ``time_scale`` times faster: a note at source time ``s`` lands at
    ``(s - start_s) / time_scale``). ``transpose``: semitones added to every
    pitch (pitched stems only; ignored for drums). See the module docstring
    for the encodings.
    """
    notes = load_notes(midi)
    n_out = n_outputs(front_end, drum_classes)
    rolls = {k: np.zeros((n_frames, n_out), dtype=np.float32) for k in HEADS}
    if len(notes) == 0 or n_frames <= 0:
        return rolls
    fps = front_end.frame_rate_hz
    on = np.rint((notes[:, 0] - start_s) / time_scale * fps).astype(np.int64)
    off = np.rint((notes[:, 1] - start_s) / time_scale * fps).astype(np.int64)
    pitch = notes[:, 2].astype(np.int64)
    vel = (notes[:, 3] / 127.0).astype(np.float32)

    if drum_classes:
        col = _drum_columns(tuple(drum_classes))[np.clip(pitch, 0, 127)]
        keep = (col >= 0) & (on >= 0) & (on < n_frames)  # keys outside 0-127 read as other_perc, as drum_class says
        on, col, vel = on[keep], col[keep], vel[keep]
        rolls["onset"][on, col] = 1.0
        rolls["frame"][on, col] = 1.0
        np.maximum.at(rolls["velocity"], (on, col), vel)
        nxt = on + 1
        ok = nxt < n_frames
        rolls["offset"][nxt[ok], col[ok]] = 1.0
        return rolls

    col = pitch + int(transpose) - front_end.min_midi
    off = np.maximum(off, on + 1)
    keep = (col >= 0) & (col < n_out) & (off > 0) & (on < n_frames)
    on, off, col, vel = on[keep], off[keep], col[keep], vel[keep]
    for a, b, c in zip(np.clip(on, 0, None), np.minimum(off, n_frames), col):
        rolls["frame"][a:b, c] = 1.0
    has_on = on >= 0
    rolls["onset"][on[has_on], col[has_on]] = 1.0
    np.maximum.at(rolls["velocity"], (on[has_on], col[has_on]), vel[has_on])
    has_off = off < n_frames
    rolls["offset"][off[has_off], col[has_off]] = 1.0
    return rolls
