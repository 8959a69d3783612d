"""The sound-source pools of the generated set: the in-domain pool (``dataset.sound_sources``, or
one ``--sf2`` file) and the held-out out-of-domain pool (``dataset.ood_sources``), checked and
located before anything is rendered, and which source renders a part of a track.

Sources rotate per stem over the tracks of a domain (a seeded offset per stem name), so every
source of a pool is heard once a domain has as many tracks as the pool has sources.
"""
from __future__ import annotations

import zlib

from midi_extractor.synth import songs
from midi_extractor.synth import sources as src
from midi_extractor.synth.fluid import RenderError, SynthError
from midi_extractor.synth.render import SourceCache
from midi_extractor.synth.sf2_file import SoundFontError, read_presets


def pick_source(pool: list[src.SoundSource], part: songs.Part, position: int, seed: int) -> src.SoundSource | None:
    """The source of ``part`` in the ``position``-th track of its domain: the pool's
    sources that can render it, in turn, from a seeded offset per stem name."""
    able = [s for s in pool if s.can_render(part.is_drum)]
    if not able:
        return None
    offset = zlib.crc32(f"{seed}|{part.stem}".encode()) % len(able)
    return able[(position + offset) % len(able)]


def domain_pools(sf2, sound_sources, ood_sources) -> tuple[list[src.SoundSource], list[src.SoundSource]]:
    """``(in-domain pool, out-of-domain pool)`` from source names (``sf2``, a SoundFont path,
    replaces the in-domain pool). Raises :class:`SynthError` for an unknown source, a source in
    both pools, an empty in-domain pool or one without a source for pitched or drum stems."""
    try:
        pool = [src.custom_source(sf2)] if sf2 else src.resolve(sound_sources, "dataset.sound_sources")
        ood = src.resolve(ood_sources, "dataset.ood_sources")
    except src.SourceError as exc:
        raise SynthError(str(exc)) from None
    shared = {s.name for s in pool} & {s.name for s in ood}
    if shared:
        raise SynthError(f"dataset.ood_sources must be held out of dataset.sound_sources; both list "
                         f"{', '.join(sorted(shared))}")
    if not pool:
        raise SynthError("dataset.sound_sources is empty")
    for is_drum, what in ((False, "pitched"), (True, "drum")):
        if not any(s.can_render(is_drum) for s in pool):
            raise SynthError(f"dataset.sound_sources has no source for {what} stems")
    return pool, ood


def track_pool(key: str, names, n_tracks: int, heard: list[src.SoundSource],
               heard_what: str) -> list[src.SoundSource]:
    """The sources of the tracks written after the set (``dataset.<key>``: ``kit_sources``,
    ``calibration_sources``), held out of ``heard`` (``heard_what`` names it); :class:`SynthError`
    otherwise, or when ``n_tracks`` asks for tracks without a source. No track, no source:
    they are not needed on this machine."""
    if not n_tracks:
        return []
    try:
        sources_ = src.resolve(names, f"dataset.{key}")
    except src.SourceError as exc:
        raise SynthError(str(exc)) from None
    shared = sorted({s.name for s in sources_} & {s.name for s in heard})
    if shared:
        raise SynthError(f"dataset.{key} must be held out of {heard_what}; both list {', '.join(shared)}")
    if not sources_:
        raise SynthError(f"{n_tracks} {key.split('_')[0]} tracks asked for, but dataset.{key} names no source")
    return sources_


def locate_all(sources_: list[src.SoundSource], cache: SourceCache) -> None:
    """Find every source's file up front (a missing one stops the run, naming its package);
    a user-supplied file (``--sf2``) must also read as a SoundFont."""
    for s in sources_:
        try:
            path = s.locate()
            if path is None:       # a source with no file (additive)
                continue
            cache.paths[s.name] = path
            if s.package is None and s.engine == "sf2":
                read_presets(path)
                cache.renderer.load(path)
        except (src.SourceError, SoundFontError, RenderError) as exc:
            raise SynthError(str(exc)) from None
