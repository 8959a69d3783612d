"""Octave doublings: how often a stem's reference notes double a note an octave below, per split,
and how the shipped model's out-of-domain recall splits between those notes and the rest.

    python benchmarks/octave_misses.py --stem piano            # after dvc repro (models/, data/)
    python benchmarks/octave_misses.py --stem piano --models /tmp/runs --splits-only

A note is a *doubling* when, at its onset (+ 30 ms), a note of the same stem an octave below is
sounding: the case the model hears as that note's second harmonic (benchmarks/RESULTS.md,
"Octave doublings"). References are the index's MIDI files; the model's notes come from
``midi_extractor.transcribe`` at the model's own ``decoding.json``, matched as ``evaluate``
matches (onsets within 50 ms, offsets ignored). A missed note that is not a doubling is counted
as *short* when it lasts under 0.1 s. Prints Markdown tables.
"""
import argparse
import collections
from pathlib import Path

from midi_extractor.index_io import read_index
from midi_extractor.matching import match_notes
from midi_extractor.midi_io import notes_from_midi
from midi_extractor.midi_notes import octave_doublings

SHORT_S = 0.1


def doublings(notes) -> list[bool]:
    """For each ``Note``: does a note an octave below sound at its onset (+ 30 ms)?"""
    return octave_doublings([(n.start_s, n.end_s, n.pitch) for n in notes]).tolist()


def entries(index: Path, data: Path | None = None):
    """``(split or test domain, track/stem, midi path, audio path)`` of every index entry, read by
    ``index_io.read_index`` (``data`` overrides the index's dataset root)."""
    root, rows, _ = read_index(index, data)
    for e in rows:
        split = e["split"]
        if split == "test":
            split = f"test, {e.get('metadata', {}).get('domain', '?').replace('_', ' ')}"
        yield split, f"{e['track']}/{e['stem_id']}", root / e["midi"], root / e["audio"]


def split_table(rows) -> None:
    counts = collections.defaultdict(lambda: [0, 0])
    for split, _, midi, _ in rows:
        flags = doublings(notes_from_midi(midi))
        counts[split][0] += sum(flags)
        counts[split][1] += len(flags)
    print("| split | reference notes | doublings |\n|---|---|---|")
    for split, (n_double, n) in sorted(counts.items()):
        print(f"| {split} | {n} | {n_double} ({100 * n_double / max(n, 1):.1f} %) |")


def miss_table(rows, stem: str, models: Path) -> None:
    from midi_extractor import transcribe

    kinds = collections.Counter()
    for split, _, midi, audio in rows:
        if split != "test, out of domain":
            continue
        ref = notes_from_midi(midi)
        est, _ = transcribe(audio, stem=stem, models_dir=models)
        hit = {i for i, _ in match_notes(ref, est)["onset"]}
        for i, (note, double) in enumerate(zip(ref, doublings(ref))):
            kind = "doubling" if double else ("short" if note.end_s - note.start_s < SHORT_S else "other")
            kinds[kind, i in hit] += 1
    print(f"\n{stem}, out of domain ({models}):\n\n| reference notes | found | missed | recall |\n|---|---|---|---|")
    for kind in ("doubling", "short", "other"):
        found, missed = kinds[kind, True], kinds[kind, False]
        print(f"| {kind} | {found} | {missed} | {found / max(found + missed, 1):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stem", default="piano")
    ap.add_argument("--index", type=Path, help="default data/index/filtered_dataset_<stem>.json")
    ap.add_argument("--data", type=Path, help="the dataset root (default: the index's own)")
    ap.add_argument("--models", type=Path, default=Path("models"), help="holds <stem>/best.pt")
    ap.add_argument("--splits-only", action="store_true", help="count doublings only, no model")
    args = ap.parse_args()
    rows = list(entries(args.index or Path(f"data/index/filtered_dataset_{args.stem}.json"), args.data))
    split_table(rows)
    if not args.splits_only:
        miss_table(rows, args.stem, args.models)


if __name__ == "__main__":
    main()
