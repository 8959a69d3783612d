"""The generated Slakh-format data set: procedural songs rendered stem by stem
through a pool of sound sources, with an out-of-domain test split.

``midi-extractor synth --out DIR --tracks N --seconds S --seed K`` (options below)
and :func:`generate_dataset` write::

    DIR/{train,validation,test}/TrackNNNNN/
        metadata.yaml     Slakh's keys (UUID, audio_dir, midi_dir, stems: {Sxx: ...}, ...); each stem
                          also has plugin_name "<source>:bank<B>:prog<P>", domain, effects
        MIDI/Sxx.mid      one instrument per file (drums: is_drum, program_num 128 in metadata)
        stems/Sxx.flac    mono, 16-bit, sample_rate_hz, exactly seconds * rate samples
        mix.flac          overall_gain * sum of the stems
        all_src.mid       every stem's instrument in one file
    DIR/synth_report.json tracks per split and domain, stems per source, reference notes per
                          stem and domain, and every skipped stem with its reason

Songs come from :mod:`songs`; each part is rendered (:mod:`render`) with a
source of :mod:`sources` and an effect chain of :mod:`effects`. Domains: train
and validation tracks, and the first half of the test tracks, are ``in_domain``
(``sound_sources``); the rest of the test tracks are ``out_of_domain``, rendered
only with ``ood_sources``, which no other track uses. Sources rotate per stem
over the tracks of a domain (a seeded offset per stem), so every source of a
pool is heard once a domain has as many tracks as the pool has sources.

``calibration_tracks`` validation tracks follow (``TrackNNNNN`` numbered on), every stem of
their songs (as many as a test track's) rendered with ``calibration_sources``, which no other
track uses (GUS patches and sampled kits, no FluidSynth): the validation split then holds sounds
training never hears. Every other three-note chord of theirs gains its bottom note an octave up
(the four-voice voicing other songs draw for half their chord parts), so validation holds octave
doublings, which the pitched models miss most, however the songs fall; every other note of
their songs is as drawn. ``kit_tracks`` drum-only training tracks come next: track ``k``'s song with
its drum parts alone, rendered with ``kit_sources`` (sampled kits or ``SynthKit``, a procedural
kit drawn for every part, :mod:`drum_synth`; no FluidSynth). ``timbre_tracks`` training tracks
come last, their songs' pitched parts rendered with ``timbre_sources`` (``Additive``: a new
procedural instrument for every part, :mod:`additive`). So every track is written exactly as
without the kinds that follow it.

Track ``k``'s song and sources depend only on (K, k, seconds, rate, pools, effects, split sizes);
its samples also carry FluidSynth's reverb and chorus state from the parts rendered before it, in
the same call (:mod:`workers`). So the same call writes byte-identical files, and so does a call
with tracks of other kinds after these.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from midi_extractor.atomic import write_json
from midi_extractor.config import DEFAULT_SAMPLE_RATE_HZ
from midi_extractor.config.dataset import MIN_SONG_SECONDS, SYNTH_RATES_HZ
from midi_extractor.synth import songs
from midi_extractor.synth import sources as src
from midi_extractor.synth.fluid import Renderer, SynthError
from midi_extractor.synth.pools import domain_pools, locate_all, pick_source, track_pool
from midi_extractor.synth.render import IN_DOMAIN, OUT_OF_DOMAIN, Report, SourceCache, StemSkipped, render_dry
from midi_extractor.synth.workers import DryTrack, Finisher, worker_count
from midi_extractor.synth.splits import SPLIT_NAMES, split_counts, track_layout

log = logging.getLogger(__name__)
#: off a terminal, a progress line every this many tracks
PROGRESS_EVERY = 8
DEFAULT_SF2 = src.SOURCES["TimGM6mb"].bundled
REPORT_NAME = "synth_report.json"


# --------------------------------------------------------------- generation
def _track_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(index), int(stream)]))


def _check_arguments(tracks, seconds, sample_rate_hz, effects, kit_tracks=0, calibration_tracks=0,
                     timbre_tracks=0, sub_bass_tracks=0) -> None:
    if int(tracks) < 1:
        raise SynthError(f"--tracks must be at least 1, got {tracks}")
    if not float(seconds) >= MIN_SONG_SECONDS:
        raise SynthError(f"--seconds must be at least {MIN_SONG_SECONDS}, got {seconds}")
    if not SYNTH_RATES_HZ[0] <= int(sample_rate_hz) <= SYNTH_RATES_HZ[1]:
        raise SynthError(f"--sample-rate must be {SYNTH_RATES_HZ[0]}-{SYNTH_RATES_HZ[1]} Hz (FluidSynth's range), "
                         f"got {sample_rate_hz}")
    if not 0.0 <= float(effects) <= 1.0:
        raise SynthError(f"--effects (dataset.effects) must be within 0-1, got {effects}")
    for flag, value in (("kit-tracks", kit_tracks), ("calibration-tracks", calibration_tracks),
                        ("timbre-tracks", timbre_tracks)):
        if int(value) < 0:
            raise SynthError(f"--{flag} (dataset.{flag.replace('-', '_')}) must be >= 0, got {value}")
    if int(sub_bass_tracks) < 0:
        raise SynthError(f"sub_bass_tracks (pretrain.<base>.sub_bass_songs) must be >= 0, got {sub_bass_tracks}")


def _plan(counts, pool: list, ood: list, kits: list, kit_tracks: int, calibration: list,
          calibration_tracks: int, timbres: list = (), timbre_tracks: int = 0, sub_bass_tracks: int = 0) -> list[tuple]:
    """``(k, split, domain, position in its domain, sources, kind)`` of every track to write;
    kind: ``song``, ``kit`` (drum parts only), ``calibration`` (every stem), ``timbre``
    (pitched parts only) or ``sub_bass`` (a song whose bass ``SubBass`` plays)."""
    layout = track_layout(counts, with_ood=bool(ood))
    plan = [(k, split, domain, position, ood if domain == OUT_OF_DOMAIN else pool, "song")
            for k, (split, domain, position) in enumerate(layout)]
    plan += [(len(plan) + j, "validation", OUT_OF_DOMAIN, j, calibration, "calibration")
             for j in range(calibration_tracks)]
    plan += [(len(plan) + j, "train", IN_DOMAIN, j, kits, "kit") for j in range(kit_tracks)]
    plan += [(len(plan) + j, "train", IN_DOMAIN, j, list(timbres), "timbre") for j in range(timbre_tracks)]
    return plan + [(len(plan) + j, "train", IN_DOMAIN, j, pool, "sub_bass") for j in range(sub_bass_tracks)]


def _extra_pools(kit_sources, kit_tracks: int, calibration_sources, calibration_tracks: int, pool: list,
                 ood: list) -> tuple[list, list]:
    """The kit tracks' sources (held out of ``ood``) and the calibration tracks' (held out of every other pool)."""
    kits = track_pool("kit_sources", kit_sources, kit_tracks, ood, "dataset.ood_sources")
    return kits, track_pool("calibration_sources", calibration_sources, calibration_tracks, pool + ood + kits,
                            "the sound, out-of-domain and kit sources")


def _song_for(seed: int, k: int, seconds: float, every_stem: bool, dropped: set[str],
              double_triads: bool = False) -> tuple[songs.Song, set[str]]:
    """Track ``k``'s song; test and calibration tracks carry every optional stem (more reference
    notes per stem), and calibration tracks double every other three-note chord's bottom note an
    octave up (``double_triads``, :func:`songs.double_bottom_notes`), so validation holds octave
    doublings however the songs fall."""
    rng = _track_rng(seed, k)
    stems, dropped = songs.choose_stems(rng, dropped)
    organ = rng.random() < 0.45
    if every_stem:
        stems, dropped = [*songs.CORE_STEMS, *songs.OPTIONAL_STEMS], set()
    song = songs.compose_song(rng, seconds, stems + (["organ"] if organ else []), double_triads)
    if k % 2 == 1:  # every other song: the whole kit in its drums stem (Slakh's usual layout)
        songs.merge_kit(song)
    return song, dropped


def _render_song(song: songs.Song, name: str, pool: list[src.SoundSource], domain: str, position: int,
                 seed: int, k: int, cache: SourceCache, n_samples: int, effects: float,
                 report: Report, bass_source: src.SoundSource | None = None) -> dict:
    """Stem id -> the part as rendered, before its effects (:class:`render.DryPart`), of every part of
    ``song`` that can be heard (``bass_source``, when given, plays its bass parts); the others are
    skipped with a warning and counted in ``report``."""
    rng_source, rng_fx = _track_rng(seed, k, 1), _track_rng(seed, k, 2)
    rendered = {}
    for i, part in enumerate(song.parts):
        source = bass_source if bass_source and part.stem == "bass" else pick_source(pool, part, position, seed)
        try:
            if source is None:
                raise StemSkipped("no_source", f"no {domain} sound source renders "
                                               f"{'drum' if part.is_drum else 'pitched'} stems")
            rendered[f"S{i:02d}"] = render_dry(part, source, cache, n_samples, rng_source, rng_fx, effects)
        except StemSkipped as exc:
            report.skip(name, f"S{i:02d}", part, source.name if source else "-", exc)
    return rendered


def generate_dataset(out_dir: str | Path, tracks: int, seconds: float, seed: int,
                     sf2: str | Path | None = None, sample_rate_hz: int = DEFAULT_SAMPLE_RATE_HZ,
                     progress: bool = True, *,
                     sound_sources=src.DEFAULT_POOL, ood_sources=src.DEFAULT_OOD, effects: float = 1.0,
                     validation_tracks: int | None = None, test_tracks: int | None = None,
                     kit_sources=(), kit_tracks: int = 0, calibration_sources=(),
                     calibration_tracks: int = 0, timbre_sources=(), timbre_tracks: int = 0,
                     sub_bass_tracks: int = 0, double_triads: bool = False, workers: int | None = None) -> list[Path]:
    """Write ``tracks`` procedural songs of ``seconds`` each under
    ``out_dir/{train,validation,test}/TrackNNNNN``, then ``kit_tracks`` drum-only training
    tracks rendered with ``kit_sources`` and ``calibration_tracks`` validation tracks rendered
    with ``calibration_sources``, then ``timbre_tracks`` training tracks whose pitched parts
    ``timbre_sources`` render, then ``sub_bass_tracks`` training songs like the first whose bass
    parts the ``SubBass`` source plays, plus ``synth_report.json``; return the track folders.
    ``double_triads``: every training track's songs double every other three-note chord's bottom
    note an octave up, as calibration tracks always do (:func:`songs.double_bottom_notes`).
    ``workers``: processes applying effects and writing files while this one renders
    (:func:`workers.worker_count`; ``None``: one a core but this one's); the files are the same
    however many.

    ``sf2`` replaces the training pool by that one file. Raises :class:`SynthError`
    for bad arguments, an unknown or missing sound source (naming the package that
    provides it) or a missing FluidSynth library. A stem that cannot be heard is
    skipped with a warning and counted in the report."""
    _check_arguments(tracks, seconds, sample_rate_hz, effects, kit_tracks, calibration_tracks, timbre_tracks,
                     sub_bass_tracks)
    tracks, seconds, sample_rate_hz, effects = int(tracks), float(seconds), int(sample_rate_hz), float(effects)
    pool, ood = domain_pools(sf2, sound_sources, ood_sources)
    kits, calibration = _extra_pools(kit_sources, kit_tracks, calibration_sources, calibration_tracks, pool, ood)
    timbres = track_pool("timbre_sources", timbre_sources, timbre_tracks, ood + calibration,
                         "the out-of-domain and calibration sources")
    plan = _plan(split_counts(tracks, validation_tracks, test_tracks), pool, ood, kits, int(kit_tracks),
                 calibration, int(calibration_tracks), timbres, int(timbre_tracks), int(sub_bass_tracks))
    idents = _idents(f"{seed}|{seconds}|{sample_rate_hz}|{[s.name for s in pool]}|{[s.name for s in ood]}|{effects}"
                     + ("|doubled triads" if double_triads else ""), kits, calibration, timbres)
    with Finisher(worker_count(workers, len(plan))) as finisher, Renderer(sample_rate_hz) as renderer:
        run = _Run(Path(out_dir), seed, seconds, sample_rate_hz, effects, idents, SourceCache(renderer), Report(),
                   bool(double_triads))
        locate_all(pool + kits + calibration + timbres + (ood if any(d == OUT_OF_DOMAIN for _, _, d, *_ in plan) else []),
                   run.cache)
        written = _write_all(run, plan, finisher, progress)
    _warn_stale(run.out_dir, written)
    names = lambda pool_: [s.name for s in pool_]  # noqa: E731
    _write_report(run.out_dir, run.report, {
        "tracks": tracks, "seconds": seconds, "seed": seed, "sample_rate_hz": sample_rate_hz, "effects": effects,
        "sound_sources": names(pool), "ood_sources": names(ood),
        "kit_tracks": int(kit_tracks), "kit_sources": names(kits),
        "calibration_tracks": int(calibration_tracks), "calibration_sources": names(calibration),
        "timbre_tracks": int(timbre_tracks), "timbre_sources": names(timbres), "sub_bass_tracks": int(sub_bass_tracks),
        "double_triads": bool(double_triads),
        "licences": {s.name: s.licence for s in pool + kits + calibration + timbres + ood}})
    return written


def _idents(ident: str, kits: list, calibration: list, timbres: list) -> dict[str, str]:
    """Plan kind -> what its tracks' UUIDs hash beside the track number: the run's ``ident``
    (seed, length, rate, pools, effects, doubled triads) and the kind's own sources."""
    names = lambda pool_: [s.name for s in pool_]  # noqa: E731
    return {"song": ident, "kit": f"{ident}|kits {names(kits)}", "calibration": f"{ident}|calibration {names(calibration)}",
            "timbre": f"{ident}|timbres {names(timbres)}", "sub_bass": f"{ident}|sub basses"}


@dataclasses.dataclass
class _Run:
    """What every track of one :func:`generate_dataset` call shares."""

    out_dir: Path
    seed: int
    seconds: float
    sample_rate_hz: int
    effects: float
    idents: dict[str, str]     # plan kind -> what the track UUIDs hash beside the track number
    cache: SourceCache
    report: Report
    double_triads: bool = False   # training tracks too (calibration tracks always)

    @property
    def n_samples(self) -> int:
        return int(round(self.seconds * self.sample_rate_hz))


def _write_all(run: _Run, plan: list[tuple], finisher: Finisher, progress: bool) -> list[Path]:
    """Render every plan row here, have ``finisher`` finish it; the track folders, in order. A bar
    on a terminal (``progress``), else a line every :data:`PROGRESS_EVERY` tracks (dvc repro)."""
    from tqdm import tqdm

    written, t0 = [], time.perf_counter()
    done = finisher.finish(_rendered(run, plan))
    for i, (path, report) in enumerate(tqdm(done, total=len(plan), desc="synth", unit="track", file=sys.stderr,
                                            disable=not progress), start=1):
        written.append(path)
        run.report.merge(report)
        if not progress and i % PROGRESS_EVERY == 0 and i < len(plan):
            print(f"synth: {i}/{len(plan)} tracks, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return written


def _rendered(run: _Run, plan: list[tuple]) -> Iterator[DryTrack]:
    """Compose and render (FluidSynth, in this process, in order) the track of every plan row."""
    dropped: set[str] = set()
    for k, split, domain, position, sources_, kind in plan:
        song, dropped = _song_for(run.seed, k, run.seconds, split == "test" or kind == "calibration", dropped,
                                  double_triads=kind == "calibration" or (run.double_triads and split == "train"))
        if kind in ("kit", "timbre"):
            song = dataclasses.replace(song, parts=[p for p in song.parts if p.is_drum == (kind == "kit")])
        name = f"Track{k + 1:05d}"
        parts = _render_song(song, name, sources_, domain, position, run.seed, k, run.cache, run.n_samples,
                             run.effects, run.report, src.SOURCES["SubBass"] if kind == "sub_bass" else None)
        uuid = hashlib.md5(f"midi-extractor synth|{k}|{run.idents[kind]}".encode()).hexdigest()
        yield DryTrack(run.out_dir, split, domain, name, song.bpm, uuid, parts, run.sample_rate_hz, run.n_samples)


def _write_report(out_dir: Path, report: Report, settings: dict) -> None:
    """``synth_report.json`` (the settings, then what was made and skipped); one warning line
    when a stem was skipped."""
    write_json(out_dir / REPORT_NAME, {"settings": settings, **report.as_dict()})
    if report.skipped:
        log.warning("synth: %d stem(s) skipped (%s); see %s", len(report.skipped),
                    ", ".join(f"{r} {n}" for r, n in report.as_dict()["skipped_by_reason"].items()),
                    out_dir / REPORT_NAME)


def generate_from_config(out_dir: str | Path, ds, progress: bool | None = None) -> list[Path]:
    """:func:`generate_dataset` with the settings of a ``config.DatasetConfig``
    (progress bar: only on a terminal, unless ``progress`` says)."""
    progress = sys.stderr.isatty() if progress is None else progress
    return generate_dataset(out_dir, ds.tracks, ds.seconds, ds.seed, sf2=ds.sf2, sample_rate_hz=ds.sample_rate_hz,
                            progress=progress, sound_sources=ds.sound_sources, ood_sources=ds.ood_sources,
                            effects=ds.effects, validation_tracks=ds.validation_tracks,
                            test_tracks=ds.test_tracks, kit_sources=ds.kit_sources, kit_tracks=ds.kit_tracks,
                            calibration_sources=ds.calibration_sources, calibration_tracks=ds.calibration_tracks,
                            timbre_sources=ds.timbre_sources, timbre_tracks=ds.timbre_tracks)


def _warn_stale(out_dir: Path, written: list[Path]) -> None:
    stale = sorted(str(d) for split in SPLIT_NAMES for d in (out_dir / split).glob("Track*")
                   if d.is_dir() and d not in written)
    if stale:
        log.warning("synth: %d track folder(s) in %s were not written by this run (an earlier, larger run?) "
                    "and will be read with this set: %s%s; use an empty --out", len(stale), out_dir,
                    ", ".join(stale[:3]), " ..." if len(stale) > 3 else "")
