"""Stage `prepare@<stem>`: resample each stem of a filtered index once to the model's rate
(params: features.sample_rate_hz, or the stem's base's pretrain.<base>.sample_rate_hz) and parse its notes once, for fast training reads; the
notes are stored corrected (label shift, notes outside features.min_midi..max_midi left out).
A stem that takes songs of its own (stems.<stem>.songs, generated data only) gets the first that
many of the shared songs (--songs: stage stem_songs' folder) prepared under <out>/songs/ and added
to its index as training entries.
Prints one summary line (the whole report is the index's header); a user error (params, index,
an unwritable out folder) is one line naming its cause, exit status 2."""
import argparse
import os
import sys
from pathlib import Path

from midi_extractor.config import ConfigError, load_params
from midi_extractor.dataset.bleed import stored_for
from midi_extractor.dataset.prepare import index_stem, prepare_index
from midi_extractor.index_io import DataError
from midi_extractor.dataset.own_songs import add_songs, prepare_stem_songs

SONGS = "songs"   # the stem's own songs (stems.<stem>.songs), inside --out
parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", required=True)
parser.add_argument("--index", required=True)
parser.add_argument("--out", required=True, help="folder: index.json, audio/, notes/")
parser.add_argument("--splits", default="train,validation")
parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes (default: every core; the output does not depend on it)")
parser.add_argument("--dataset-root", default=None, help="the data folder the index's paths are relative to")
parser.add_argument("--songs", default=None,
                    help="the stems' shared songs (stage stem_songs: data/stem_songs), for a stem that takes some")
args = parser.parse_args()
name = f"prepare@{Path(args.out).name}"
try:
    params = load_params(args.params)
    stem = index_stem(args.index)
    n_wanted = params.stem_songs_of(stem)[0]
    if n_wanted and not args.songs:   # before any work
        raise ConfigError(f"stems.{stem}.songs is {n_wanted}: give --songs, the folder stage "
                          f"stem_songs wrote them to (data/stem_songs)")
    features = params.front_end(stem)   # its base's rate
    r = prepare_index(args.index, args.out, features.sample_rate_hz, splits=args.splits, jobs=args.jobs,
                      dataset_root=args.dataset_root, pitch_range=(features.min_midi, features.max_midi),
                      bleed=stored_for(params, stem), switches=params.switches)
    songs = prepare_stem_songs(params, stem, args.songs, Path(args.out) / SONGS, args.jobs) if args.songs else None
    n_songs = add_songs(r["index"], songs) if songs else 0
except (ConfigError, DataError, OSError) as exc:
    print(f"{name}: {exc}", file=sys.stderr)
    sys.exit(2)
print(f"{name}: {r['entries']} entries ({r['prepared']} prepared, {r['skipped']} already there, {r['bad']} bad), "
      f"{r['audio_s'] / 60:.1f} min of audio, {r['out_of_range_notes']} notes out of range left out, "
      f"{r['trimmed_notes']} trimmed, " + (f"{r['bleed']} with their song's bleed, " if r["bleed"] else "")
      + f"{r['wall_s']:.0f} s -> {r['index']}"
      + (f"; {n_songs} training entries from songs of its own ({SONGS}/)" if songs else ""))
