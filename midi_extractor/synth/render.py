"""One track of the generated data set: every part rendered through its drawn sound
source and effect chain (written in Slakh's layout by :mod:`track_files`).

:func:`render_part` turns a :class:`songs.Part` plus a :class:`sources.SoundSource`
into audio (or raises :class:`StemSkipped` with a reason: the SoundFont fails to
load, lacks the program, leaves no note playable, or renders silence);
:class:`Report` counts what a run made and skipped. A part
is heard as written in its MIDI file: drum notes on keys a kit lacks are moved
to a key of the same drum class (or dropped), pitched notes outside the
preset's key range are dropped, before the MIDI file is written.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.synth import additive, drum_synth, effects, kits, patches, songs
from midi_extractor.synth.sf2_file import SoundFontError, read_presets
from midi_extractor.synth import sources as src
from midi_extractor.synth.fluid import Renderer, RenderError

log = logging.getLogger(__name__)

TARGET_PEAK_DB = -1.0     # every stem, and the mix, peak at this level (dBFS)
SILENT_PEAK = 1e-4        # a render whose peak stays below this (-80 dBFS) counts as silent
IN_DOMAIN, OUT_OF_DOMAIN = "in_domain", "out_of_domain"


class StemSkipped(Exception):
    """A part that is left out of its track; ``reason`` is a short key for the report."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class RenderedPart:
    part: songs.Part          # with the notes actually heard
    audio: np.ndarray         # float32 mono, peak-normalised
    plugin_name: str
    effects: str
    dropped_notes: int = 0


@dataclass
class DryPart:
    """A part as its sound source played it, before its effect chain (:func:`finish_part`)."""

    part: songs.Part          # with the notes actually heard
    audio: np.ndarray         # float32 mono, as rendered
    plugin_name: str
    chain: effects.Chain
    dropped_notes: int = 0


@dataclass
class SourceCache:
    """Per-run lookups: each source's file, presets and FluidSynth id (or load error)."""

    renderer: Renderer
    paths: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def presets(self, source: src.SoundSource) -> tuple[int, dict]:
        if source.name in self.failed:
            raise StemSkipped("load_failed", self.failed[source.name])
        try:
            path = self.paths.get(source.name) or source.locate()
            presets = read_presets(path)
            sfid = self.renderer.load(path)
        except (src.SourceError, SoundFontError, RenderError, OSError) as exc:
            self.failed[source.name] = f"sound source {source.name} failed to load: {exc}"
            raise StemSkipped("load_failed", self.failed[source.name]) from None
        self.paths[source.name] = path
        return sfid, presets

    def kit(self, source: src.SoundSource) -> kits.Kit:
        """The sampled kit of a ``hydrogen`` source (:class:`StemSkipped` when it fails to load)."""
        return self._read(source, kits.read_kit, kits.KitError)

    def patch_set(self, source: src.SoundSource) -> patches.PatchSet:
        """The GUS patch set of a ``gus`` source (:class:`StemSkipped` when it fails to load)."""
        return self._read(source, patches.read_patch_set, patches.PatchError)

    def _read(self, source: src.SoundSource, read, error: type[Exception]):
        """``read(path)`` of the source's folder or file; a failure is remembered and skips the stem."""
        if source.name in self.failed:
            raise StemSkipped("load_failed", self.failed[source.name])
        try:
            path = self.paths.get(source.name) or source.locate()
            got = read(path)
        except (src.SourceError, error) as exc:
            self.failed[source.name] = f"sound source {source.name} failed to load: {exc}"
            raise StemSkipped("load_failed", self.failed[source.name]) from None
        self.paths[source.name] = path
        return got


# -------------------------------------------------------------------- helpers
def peak_normalise(x: np.ndarray, peak_db: float = TARGET_PEAK_DB) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 1e-9:
        return np.zeros_like(x, dtype=np.float32)
    return (x * (10.0 ** (peak_db / 20.0) / peak)).astype(np.float32)


def integrated_loudness_db(x: np.ndarray, sample_rate_hz: int) -> float | None:
    """An RMS-based stand-in for Slakh's integrated loudness: mean power of the
    400 ms blocks above -70 dBFS (BS.1770's absolute gate, without its K-weighting
    and relative gate), in dB. ``None`` for silence (Slakh omits the key then)."""
    block = max(1, int(0.4 * sample_rate_hz))
    n = len(x) // block
    if n == 0:
        powers = np.array([np.mean(np.square(x, dtype=np.float64))]) if len(x) else np.array([0.0])
    else:
        powers = np.mean(np.square(x[: n * block].reshape(n, block), dtype=np.float64), axis=1)
    gated = powers[powers > 10.0 ** (-70.0 / 10.0)]
    if gated.size == 0:
        return None
    return round(float(10.0 * math.log10(np.mean(gated))), 4)


def _preset_for(part: songs.Part, source: src.SoundSource, presets: dict,
                rng: np.random.Generator) -> tuple[int, int, list, int]:
    """(bank, program, playable notes, dropped) of ``part`` on ``source``."""
    if part.is_drum:
        kits = src.drum_presets(source, presets)
        if not kits:
            raise StemSkipped("program_missing", f"sound source {source.name} has no drum kit")
        bank, program = kits[int(rng.integers(len(kits)))]
        keys = src.drum_keys_of(source, presets[(bank, program)])
        notes, dropped = src.remap_drum_notes(part.notes, keys)
        return bank, program, notes, dropped
    banks = src.melodic_banks(part.program, presets)
    if not banks:
        raise StemSkipped("program_missing", f"sound source {source.name} has no preset for GM program "
                                             f"{part.program} ({part.name})")
    bank = banks[0] if len(banks) == 1 or rng.random() < 0.6 else banks[1 + int(rng.integers(len(banks) - 1))]
    keys = presets[(bank, part.program)].keys
    notes = _fit_octave(part.notes, keys)
    return bank, part.program, notes, len(part.notes) - len(notes)


def _fit_octave(notes: list, keys: frozenset[int]) -> list:
    """The part moved by whole octaves (0 preferred) so most of its notes fall on keys
    the preset plays (a contrabass preset that stops at A3), minus those that still do not."""
    def playable(shift: int) -> list:
        return [(s, e, p + shift, v) for s, e, p, v in notes
                if p + shift in keys and songs.MIN_PITCH <= p + shift <= songs.MAX_PITCH]
    best = playable(0)
    if len(best) < len(notes):
        for shift in (-12, 12, -24, 24):
            moved = playable(shift)
            if len(moved) > len(best):
                best = moved
    return best


def render_part(part: songs.Part, source: src.SoundSource, cache: SourceCache, n_samples: int,
                rng_source: np.random.Generator, rng_fx: np.random.Generator,
                effects_strength: float) -> RenderedPart:
    """``part`` through ``source`` (a preset drawn with ``rng_source``) and a chain drawn
    with ``rng_fx``; :class:`StemSkipped` when it cannot be heard."""
    return finish_part(render_dry(part, source, cache, n_samples, rng_source, rng_fx, effects_strength),
                       cache.renderer.sample_rate_hz)


def finish_part(dry: DryPart, sample_rate_hz: int) -> RenderedPart:
    """A :func:`render_dry` part through its effect chain, peak-normalised before and after."""
    audio = peak_normalise(effects.apply_chain(peak_normalise(dry.audio), sample_rate_hz, dry.chain))
    return RenderedPart(dry.part, audio, dry.plugin_name, dry.chain.label, dry.dropped_notes)


def render_dry(part: songs.Part, source: src.SoundSource, cache: SourceCache, n_samples: int,
               rng_source: np.random.Generator, rng_fx: np.random.Generator,
               effects_strength: float) -> DryPart:
    """``part`` through ``source`` (a preset drawn with ``rng_source``), and the chain drawn with
    ``rng_fx`` that :func:`finish_part` applies; :class:`StemSkipped` when it cannot be heard."""
    if source.engine == "hydrogen":
        kit = cache.kit(source)
        bank, program = 0, 0
        notes, dropped = src.remap_drum_notes(part.notes, kit.keys)
        play = lambda: kit.render(notes, n_samples, cache.renderer.sample_rate_hz)  # noqa: E731
    elif source.engine == "gus" and part.is_drum:  # drumset 0: one patch a key
        patch_set = cache.patch_set(source)
        bank, program = tx.SLAKH_DRUM_PROGRAM, 0
        notes, dropped = src.remap_drum_notes(part.notes, patch_set.drum_keys)
        play = lambda: patch_set.render_drums(notes, n_samples, cache.renderer.sample_rate_hz)  # noqa: E731
    elif source.engine == "gus":  # the set's program nearest the part's in its GM family; every note
        patch_set = cache.patch_set(source)
        bank, program, notes, dropped = 0, patch_set.program_for(part.program), list(part.notes), 0
        play = lambda: patch_set.patch(program).render(notes, n_samples, cache.renderer.sample_rate_hz)  # noqa: E731
    elif source.engine in ("additive", "subbass"):  # a timbre drawn for this part: in the manner of its GM
        timbre = (additive.draw_sub_bass(rng_source) if source.engine == "subbass"   # family, or a sub bass
                  else additive.draw_timbre(part.program, rng_source))
        note_rng = np.random.default_rng(rng_source.integers(1 << 32))
        bank, program, notes, dropped = 0, part.program, list(part.notes), 0
        play = lambda: timbre.render(notes, n_samples, cache.renderer.sample_rate_hz, note_rng)  # noqa: E731
    elif source.engine == "drumsynth":  # a kit drawn for this part (every GM drum key)
        kit = drum_synth.draw_kit(rng_source)
        hit_rng = np.random.default_rng(rng_source.integers(1 << 32))
        bank, program = 0, 0
        notes, dropped = src.remap_drum_notes(part.notes, kit.keys)
        play = lambda: kit.render(notes, n_samples, cache.renderer.sample_rate_hz, hit_rng)  # noqa: E731
    else:
        sfid, presets = cache.presets(source)
        bank, program, notes, dropped = _preset_for(part, source, presets, rng_source)
        play = lambda: cache.renderer.render(notes, n_samples, sfid, bank, program, part.is_drum,  # noqa: E731
                                             part.reverb)
    chain = effects.random_chain(part.stem, rng_fx, effects_strength, cache.renderer.sample_rate_hz)
    if not notes:
        raise StemSkipped("no_playable_notes", f"sound source {source.name} plays none of the part's notes")
    try:
        audio = play()
    except (RenderError, kits.KitError, patches.PatchError) as exc:
        raise StemSkipped("render_failed", f"sound source {source.name}: {exc}") from None
    if not np.isfinite(audio).all() or float(np.max(np.abs(audio), initial=0.0)) < SILENT_PEAK:
        raise StemSkipped("silent", f"sound source {source.name} bank {bank} program {program} rendered silence")
    heard = songs.Part(part.stem, part.program, part.is_drum, notes, part.reverb)
    return DryPart(heard, audio, src.plugin_name(source, bank, program), chain, dropped)


# ------------------------------------------------------------------- report
class Report:
    """What the run made and skipped (written as ``synth_report.json``)."""

    def __init__(self):
        self.tracks: Counter = Counter()
        self.stems_by_source: Counter = Counter()
        self.notes: dict[str, Counter] = {IN_DOMAIN: Counter(), OUT_OF_DOMAIN: Counter()}
        self.skipped: list[dict] = []
        self.dropped_notes = 0

    def add_track(self, split: str, domain: str) -> None:
        self.tracks[f"{split}/{domain}"] += 1

    def add_stem(self, rp, split: str, domain: str) -> None:
        self.stems_by_source[rp.plugin_name.split(":")[0]] += 1
        self.dropped_notes += rp.dropped_notes
        if split == "test":
            part = rp.part
            stem = part.stem if part.is_drum else tx.stem_for_program(part.program)
            self.notes[domain][stem] += len(part.notes)

    def merge(self, other: Report) -> None:
        """Add ``other``'s counts and skipped stems (after this report's) to this one."""
        self.tracks.update(other.tracks)
        self.stems_by_source.update(other.stems_by_source)
        for domain, counts in other.notes.items():
            self.notes[domain].update(counts)
        self.skipped += other.skipped
        self.dropped_notes += other.dropped_notes

    def skip(self, track: str, stem_id: str, part: songs.Part, source: str, exc: StemSkipped) -> None:
        log.warning("synth: %s %s (%s, %s): %s; stem skipped", track, stem_id, part.stem, source, exc)
        self.skipped.append({"track": track, "stem_id": stem_id, "stem": part.stem, "source": source,
                             "reason": exc.reason, "message": str(exc)})

    def as_dict(self) -> dict:
        return {"tracks": dict(sorted(self.tracks.items())),
                "stems_by_source": dict(sorted(self.stems_by_source.items())),
                "test_reference_notes": {d: dict(sorted(c.items())) for d, c in self.notes.items()},
                "dropped_notes": self.dropped_notes,
                "skipped_stems": len(self.skipped),
                "skipped_by_reason": dict(sorted(Counter(s["reason"] for s in self.skipped).items())),
                "skipped": self.skipped}
