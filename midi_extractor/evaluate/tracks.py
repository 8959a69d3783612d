"""The per-track work of an evaluation (:mod:`midi_extractor.evaluate.run`): which index
entries a split means, an entry's ``(track id, domain, plugin_name)``, its reference notes as
training sees them (seconds, MIDI pitch), the model's frame probabilities ``{head: (T, N)}``, the
validation pass that chooses the decoding thresholds, and the transcription and scoring of each
test track (``scoring.track_counts``: note counts at the model's hop, seconds). One track's audio
and activations are held at a time; an unreadable track is skipped with a warning, never fatal.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

from midi_extractor.model import thresholds
from midi_extractor.evaluate.outputs import DOMAINS
from midi_extractor.evaluate.scoring import ALL_DRUM_CLASSES, figures_from_counts, track_counts

log = logging.getLogger(__name__)


# --------------------------------------------------------------------- splits
def select_entries(index: dict, split: str) -> tuple[str, list[dict]]:
    """Entries of ``split``. When it is empty: the ``validation`` split; else the
    train tracks the trainer held out for validation (``index_io.select_split``,
    recorded as ``train_holdout``); else all of ``train`` (recorded as ``train``:
    tracks the model was trained on). Returns the split used and its entries; each
    fallback is logged."""
    from midi_extractor.index_io import select_split

    entries = index.get("entries", [])
    stem = index.get("stem", "?")
    chosen = [e for e in entries if e.get("split") == split]
    if chosen:
        return split, chosen
    candidates = [("validation", [e for e in entries if e.get("split") == "validation"])]
    if split != "train":
        candidates.append(("train_holdout", list(select_split(entries, "validation", f"index of {stem}"))))
    candidates.append(("train", [e for e in entries if e.get("split") == "train"]))
    for name, chosen in candidates:
        if chosen and name != split:
            note = " (the model was trained on these)" if name == "train" else ""
            log.warning("split %r of stem %s is empty; evaluating on %r instead: %d entries%s",
                        split, stem, name, len(chosen), note)
            return name, chosen
    raise ValueError(f"index for stem {stem!r} has no entries in {split!r}, validation or train "
                     f"({len(entries)} entries in all)")


def entry_info(entry: dict, source: str) -> tuple[str, str, str | None]:
    """``(track id, domain, plugin_name)`` of an index entry. Raises ``ValueError``
    naming ``source`` and the track for an unknown domain."""
    meta = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
    name = f"{entry.get('track', '?')}/{entry.get('stem_id', '?')}"
    domain = entry.get("domain") or meta.get("domain") or "in_domain"
    if domain not in DOMAINS:
        raise ValueError(f"{source}: entry {name}: domain {domain!r} is not one of {', '.join(DOMAINS)}")
    return name, domain, entry.get("plugin_name") or meta.get("plugin_name")


# ---------------------------------------------------------------- per track
def reference_notes(midi_path: Path, entry: dict, front_end: Any, drums: bool) -> tuple[list, int]:
    """``(reference notes, how many were left out)`` of an entry's MIDI: drum keys folded to
    their classes (every class); pitched notes corrected by ``index_io.label_notes`` (the
    entry's label shift; outside ``front_end.min_midi..max_midi`` left out), as training sees them."""
    import numpy as np

    from midi_extractor.index_io import label_notes
    from midi_extractor.midi_io import notes_from_midi
    from midi_extractor.model.decoding import Note

    if drums:
        return notes_from_midi(midi_path, ALL_DRUM_CLASSES), 0
    rows = [(n.start_s, n.end_s, n.pitch, n.velocity) for n in notes_from_midi(midi_path)]
    kept, n_dropped = label_notes(np.array(rows, dtype=np.float64), entry, front_end.min_midi, front_end.max_midi)
    return [Note(float(s), float(e), int(p), int(v)) for s, e, p, v in kept], n_dropped


def fitted_notes(ref: list, duration_s: float, midi_path: Path) -> list:
    """Reference notes under ``index_io.fit_labels`` (ends a little past the audio trimmed);
    raises its ``LabelFitError`` for notes that do not fit the audio."""
    import numpy as np

    from midi_extractor.index_io import fit_labels
    from midi_extractor.model.decoding import Note

    rows = np.array([(n.start_s, n.end_s, n.pitch, n.velocity) for n in ref], dtype=np.float64)
    kept, n_trimmed = fit_labels(rows, duration_s, midi_path)
    if not n_trimmed:
        return ref
    return [Note(float(s), float(e), int(p), int(v)) for s, e, p, v in kept]


def _load_track(entry: dict, root: Path, loaded: Any, source: str) -> tuple[Any, list] | None:
    """``(audio at the model's rate, reference notes)``, or None (logged) when unreadable."""
    from midi_extractor.audio import load_audio
    from midi_extractor.index_io import inside_root

    name = f"{entry.get('track', '?')}/{entry.get('stem_id', '?')}"
    fe = loaded.front_end
    try:
        audio_path, midi_path = (inside_root(root, entry[key]) for key in ("audio", "midi"))
        audio = load_audio(audio_path, fe.sample_rate_hz)
        ref, n_dropped = reference_notes(midi_path, entry, fe, bool(loaded.drum_classes))
        ref = fitted_notes(ref, len(audio) / fe.sample_rate_hz, midi_path)
    except Exception as exc:  # noqa: BLE001 - one bad track must not stop the evaluation
        log.warning("%s: skipping %s: %s", source, name, exc)
        return None
    if n_dropped:
        log.info("%s: %s: %d reference notes outside MIDI %d-%d (the model's range) left out", source, name,
                 n_dropped, fe.min_midi, fe.max_midi)
    return audio, ref


def model_activations(loaded: Any, audio: Any) -> dict[str, Any]:
    """Frame probabilities ``{head: (T, N)}`` of a signal at the model's rate, computed as
    ``transcribe`` computes them (``engine.probabilities``: conditioning, drive ``loaded.saturate``,
    device and windows), so decoding them gives its notes."""
    from midi_extractor.infer import engine

    return engine.probabilities(loaded, audio)


def sweep_tracks(entries: list[dict], root: Path, loaded: Any, source: str) -> Iterator[tuple[list, dict]]:
    """``(reference notes, frame probabilities)`` of each entry that can be read, one at a time
    (what ``thresholds.sweep`` and ``thresholds.decide`` take)."""
    for entry in entries:
        got = _load_track(entry, root, loaded, source)
        if got is not None:
            yield got[1], model_activations(loaded, got[0])


def choose_decoding(entries: list[dict], root: Path, loaded: Any, grid: thresholds.Grid,
                    source: str) -> dict[str, Any]:
    """Run the model once per validation entry and pick thresholds (``thresholds.decide``);
    one track's activations are held at a time."""
    return thresholds.decide(sweep_tracks(entries, root, loaded, source), loaded.front_end, loaded.drum_classes, grid)


def score_entries(entries: list[dict], root: Path, loaded: Any, decoding: dict, source: str,
                  ) -> tuple[list[dict], int]:
    """Transcribe and score each entry. Returns per-track dicts (``track``, ``domain``,
    ``plugin_name``, counts, figures, ``ref``/``est`` notes) and how many were skipped."""
    from midi_extractor.infer.engine import transcribe_array
    from midi_extractor.infer.settings import pinned

    rows, skipped = [], 0
    drums = bool(loaded.drum_classes)
    for i, entry in enumerate(entries):
        try:
            name, domain, plugin = entry_info(entry, source)
        except ValueError as exc:
            log.warning("skipping: %s", exc)
            skipped += 1
            continue
        got = _load_track(entry, root, loaded, source)
        if got is None:
            skipped += 1
            continue
        audio, ref = got
        try:
            est = transcribe_array(loaded, audio, **pinned(decoding))
        except ValueError as exc:  # e.g. non-finite samples, named by the engine
            log.warning("%s: skipping %s: %s", source, name, exc)
            skipped += 1
            continue
        counts = track_counts(ref, est, hop_s=loaded.front_end.hop_s, drums=drums)
        rows.append({"track": name, "domain": domain, "plugin_name": plugin, "counts": counts,
                     "n_ref_notes": len(ref), "n_est_notes": len(est), **figures_from_counts(counts),
                     "ref": ref, "est": est})
        log.info("%d/%d %s (%s) onset_f1=%.3f", i + 1, len(entries), name, domain, rows[-1]["onset_f1"])
    return rows, skipped
