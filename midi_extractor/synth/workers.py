"""Finishing a data set's tracks in worker processes while the main process renders the next ones
(:class:`Finisher`).

FluidSynth renders in the main process, every part of every track in turn through one instance, as
it always has: its reverb and chorus keep state from one part to the next, so a track's samples
depend on the parts rendered before it, and rendering them in another order or in other processes
would write other bytes. What follows the render needs no such order: each part's effect chain
(drawn in the main process, applied here), its peak normalisation, and the track's files (FLAC
stems, the mix, MIDI files, ``metadata.yaml``). That is about half of a track's time on one core,
and a forked worker does it beside the renderer: the files are byte-identical to those of one
process (``workers=0``), and a 2-core machine writes a set in 0.57-0.68 of the time
(``benchmarks/bench_synth.py``, ``benchmarks/RESULTS.md``).

Workers are forked (Linux); where ``fork`` is not offered, tracks are finished in this process.
"""
from __future__ import annotations

import collections
import multiprocessing
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from midi_extractor.synth.fluid import SynthError
from midi_extractor.synth.render import DryPart, Report, finish_part
from midi_extractor.synth.splits import SPLIT_NAMES
from midi_extractor.synth.track_files import write_track

#: with the worker count left to the machine, no worker is started for fewer tracks than this
MIN_TRACKS_FOR_WORKERS = 4


@dataclass
class DryTrack:
    """A rendered track before its effects and files: what :func:`finish_track` needs."""

    out_dir: Path                 # the set's folder
    split: str
    domain: str
    name: str                     # TrackNNNNN
    bpm: float
    uuid: str
    parts: dict[str, DryPart]     # stem id (Sxx) -> the part as rendered
    sample_rate_hz: int
    n_samples: int


def worker_count(requested: int | None, n_tracks: int) -> int:
    """How many processes finish ``n_tracks`` tracks beside the renderer: ``requested`` (0: none,
    all in this process), or with ``None`` one a usable core but the renderer's, none for fewer
    than :data:`MIN_TRACKS_FOR_WORKERS` tracks; 0 where workers cannot be forked.
    :class:`SynthError` for a negative count."""
    if requested is not None and int(requested) < 0:
        raise SynthError(f"workers must be 0 or more, got {requested}")
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if requested is not None:
        return min(int(requested), n_tracks)
    if n_tracks < MIN_TRACKS_FOR_WORKERS:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, cores - 1)


def finish_track(track: DryTrack) -> tuple[Path, Report]:
    """Apply every part's effect chain, write the track's folder (removing a track of the same name
    in another split, left by an earlier run); the folder and what it made."""
    rendered = {sid: finish_part(dry, track.sample_rate_hz) for sid, dry in track.parts.items()}
    for split_name in SPLIT_NAMES:
        if (track.out_dir / split_name / track.name).is_dir():
            shutil.rmtree(track.out_dir / split_name / track.name)
    path = write_track(track.out_dir / track.split / track.name, track.bpm, rendered, track.sample_rate_hz,
                       track.n_samples, track.uuid, track.domain)
    report = Report()
    report.add_track(track.split, track.domain)
    for rp in rendered.values():
        report.add_stem(rp, track.split, track.domain)
    return path, report


class Finisher:
    """``with Finisher(n) as f: for folder, report in f.finish(dry_tracks): ...``: ``n`` forked
    processes (started on entry, before the caller makes its FluidSynth instance) finish the tracks
    the caller's iterable renders, at most ``2 n`` waiting; results come in the tracks' order."""

    def __init__(self, workers: int):
        self.workers, self.pool = int(workers), None

    def __enter__(self) -> Finisher:
        if self.workers:
            self.pool = multiprocessing.get_context("fork").Pool(self.workers)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def finish(self, tracks: Iterable[DryTrack]) -> Iterator[tuple[Path, Report]]:
        if self.pool is None:
            yield from map(finish_track, tracks)
            return
        pending: collections.deque = collections.deque()
        for track in tracks:  # rendered here, in this process, while the workers finish earlier ones
            pending.append(self.pool.apply_async(finish_track, (track,)))
            while len(pending) > 2 * self.workers or (pending and pending[0].ready()):
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
