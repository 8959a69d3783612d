"""Piano-roll PNGs of reference against estimate (matplotlib, Agg backend).

Colours: reference notes grey, estimated notes green when their onset matches a
reference note (mir_eval, 50 ms, same pitch) and red when not; the legend always
names all three. Drum stems get one row per drum class, named
(``taxonomy.DRUM_CLASSES`` order); pitched stems are drawn on MIDI pitch.

:func:`plot_tracks` draws every track, worst onset F1 first, up to a cap; file
names start with the rank (``00_Track00012_S01.png`` is the worst).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Sequence

from midi_extractor import taxonomy as tx
from midi_extractor.atomic import atomic_open
from midi_extractor.matching import ONSET_TOLERANCE_S, match_notes
from midi_extractor.model.decoding import Note

log = logging.getLogger(__name__)

DEFAULT_MAX_PLOTS = 12
COLOURS = {"reference": "0.55", "estimate": "tab:red", "match": "tab:green"}
DRUM_ROWS = tuple(tx.DRUM_CLASSES)


def matched_estimates(ref: Sequence[Note], est: Sequence[Note],
                      onset_tolerance: float = ONSET_TOLERANCE_S) -> set[int]:
    """Indices of estimated notes whose onset matches a reference note (``matching.match_notes``)."""
    return {j for _, j in match_notes(ref, est, ("onset",), onset_tolerance)["onset"]}


def _row(note: Note, drums: bool) -> float:
    return float(DRUM_ROWS.index(tx.drum_class(note.pitch))) if drums else float(note.pitch)


def _boxes(notes: Sequence[Note], height: float, drums: bool) -> list[list[tuple[float, float]]]:
    """Each note's rectangle as four (time_s, row) corners; at least 20 ms wide so a hit shows."""
    boxes = []
    for note in notes:
        x0, x1 = note.start_s, note.start_s + max(note.end_s - note.start_s, 0.02)
        y0 = _row(note, drums) - height / 2
        boxes.append([(x0, y0), (x0, y0 + height), (x1, y0 + height), (x1, y0)])
    return boxes


def draw_piano_roll(ax: Any, ref_notes: Sequence[Note], est_notes: Sequence[Note], title: str = "",
                    *, drums: bool = False) -> Any:
    """Draw reference under estimate on a matplotlib ``ax`` (module docstring); returns ``ax``.
    Each kind of note is one ``PolyCollection`` in ``ax.collections`` (reference, match,
    estimate), in that order: a few thousand notes draw in a fraction of a second."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    ref_notes, est_notes = list(ref_notes), list(est_notes)
    matched = matched_estimates(ref_notes, est_notes)
    kinds = [("reference", ref_notes, 0.6, 0.8),
             ("match", [n for j, n in enumerate(est_notes) if j in matched], 0.65, 0.5),
             ("estimate", [n for j, n in enumerate(est_notes) if j not in matched], 0.65, 0.5)]
    for kind, notes, alpha, height in kinds:
        ax.add_collection(PolyCollection(_boxes(notes, height, drums), facecolors=COLOURS[kind], alpha=alpha,
                                         linewidths=0, label="_" + kind))
    everything = [*ref_notes, *est_notes]
    ax.set_xlim(0, max([n.end_s for n in everything], default=1.0) + 0.1)
    if drums:
        ax.set_ylim(-0.7, len(DRUM_ROWS) - 0.3)
        ax.set_yticks(range(len(DRUM_ROWS)), DRUM_ROWS)
        ax.set_ylabel("drum class")
    else:
        rows = [n.pitch for n in everything] or [60]
        ax.set_ylim(min(rows) - 2, max(rows) + 2)
        ax.set_ylabel("MIDI pitch")
    ax.legend(handles=[Patch(color=COLOURS["reference"], alpha=0.6, label="reference"),
                       Patch(color=COLOURS["estimate"], alpha=0.65, label="estimate (no match)"),
                       Patch(color=COLOURS["match"], alpha=0.65, label="estimate matching a reference onset")],
              loc="upper right", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_title(title)
    return ax


def plot_piano_roll(ref_notes: Sequence[Note], est_notes: Sequence[Note], path: str | Path, title: str = "",
                    *, drums: bool = False) -> Path:
    """:func:`draw_piano_roll` into a PNG at ``path``, atomically; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4.5))
    draw_piano_roll(ax, ref_notes, est_notes, title, drums=drums)
    fig.tight_layout()
    try:
        with atomic_open(path, "wb") as f:
            fig.savefig(f, dpi=80, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def plot_tracks(tracks: Sequence[dict[str, Any]], plots_dir: str | Path, stem: str, *, drums: bool,
                max_plots: int = DEFAULT_MAX_PLOTS) -> list[Path]:
    """One PNG per track, worst onset F1 first, at most ``max_plots``. Each track is a
    dict with ``track`` (id), ``domain``, ``onset_f1``, ``ref`` and ``est`` notes. PNGs
    left in ``plots_dir`` from an earlier run are removed first."""
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    for old in plots_dir.glob("*.png"):
        old.unlink()
    ranked = sorted(tracks, key=lambda t: (t["onset_f1"], str(t["track"])))[:max(0, max_plots)]
    paths = []
    for rank, t in enumerate(ranked):
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(t["track"]))
        title = f"{stem} {t['track']} ({t['domain']}): onset F1 {t['onset_f1']:.3f}"
        paths.append(plot_piano_roll(t["ref"], t["est"], plots_dir / f"{rank:02d}_{name}.png", title, drums=drums))
    if len(tracks) > len(ranked):
        log.info("plotted the %d worst of %d tracks in %s", len(ranked), len(tracks), plots_dir)
    return paths
