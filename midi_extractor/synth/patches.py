"""Gravis UltraSound patches (``.pat``, the format of FreePats and TiMidity++), read and played
as a sound source of the generated set, beside the SoundFonts and the sampled kits.

A patch set is a TiMidity configuration file (Debian's ``freepats``: ``/etc/timidity/freepats.cfg``)
whose ``bank 0`` lines map General MIDI programs to ``.pat`` files under its ``dir``; a program it
lacks is played by the nearest program of the same GM family of eight (:meth:`PatchSet.program_for`),
so every pitched part is heard. Its ``drumset 0`` lines map GM drum keys to one patch each: a kit
(:meth:`PatchSet.render_drums`; FreePats' has hats, cymbals, tambourine, cabasa, maracas and a
shaker, which the sampled kits of hydrogen-drumkits lack). TiMidity itself is not used: on Debian
it also loads the system's SoundFont (FluidR3_GM, a held-out source) for whatever the patch set
lacks.

A ``.pat`` file holds samples, each for a frequency range (``low_hz``..``high_hz``) with its root
frequency, rate, loop points and mode bits (16-bit, unsigned, looping). :meth:`Patch.render`
plays a note on the sample whose range holds its pitch (else the nearest root), resampled by
linear interpolation, looping while the note is held, then released over :data:`RELEASE_S`.
Velocity scales it by ``(velocity / 127) ** VELOCITY_POWER``. A drum hit plays its patch's first
sample once, whole, at the pitch it was recorded (a drum channel ignores note-offs). GUS
envelopes, tremolo, vibrato and ping-pong or reversed loops are not modelled: an approximation of
TiMidity's playback, heard as another instrument set.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

HEADER_BYTES = 129 + 63 + 47   # patch, instrument and layer headers before the first sample
SAMPLE_HEADER = struct.Struct("<7sBIIIHIIIhB6s6sBBBBBBBhh36s")   # 96 bytes
MODE_16BIT, MODE_UNSIGNED, MODE_LOOP = 1, 2, 4
RELEASE_S = 0.25               # exponential release after note-off (time constant a fifth of it)
VELOCITY_POWER = 1.66          # TiMidity's "ideal" volume curve
MAGIC = (b"GF1PATCH110", b"GF1PATCH100")


class PatchError(RuntimeError):
    """A patch set or ``.pat`` file that cannot be used."""


@dataclass
class Sample:
    data: np.ndarray          # float32, -1..1
    rate_hz: int
    low_hz: float
    high_hz: float
    root_hz: float
    loop: tuple[int, int] | None   # [start, end) in samples, None: one shot


@dataclass
class Patch:
    samples: list[Sample]
    gain: float = 1.0

    def sample_for(self, freq_hz: float) -> Sample:
        inside = [s for s in self.samples if s.low_hz <= freq_hz <= s.high_hz]
        return inside[0] if inside else min(self.samples, key=lambda s: abs(np.log2(freq_hz / s.root_hz)))

    def render(self, notes, n_samples: int, rate_hz: int) -> np.ndarray:
        """``notes`` (``(start_s, end_s, pitch, velocity)``) mixed into ``n_samples`` at ``rate_hz``."""
        out = np.zeros(n_samples, np.float64)
        for start_s, end_s, pitch, velocity in notes:
            at = int(round(start_s * rate_hz))
            if at >= n_samples:
                continue
            freq = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
            held = max(1, int(round((end_s - start_s) * rate_hz)))
            voice = _play(self.sample_for(freq), freq, held, min(n_samples - at, held + int(RELEASE_S * rate_hz)),
                          rate_hz)
            out[at:at + len(voice)] += voice * self.gain * (velocity / 127.0) ** VELOCITY_POWER
        return out.astype(np.float32)

    def hit(self, velocity: int, rate_hz: int) -> np.ndarray:
        """One drum hit: the first sample, once, whole, at its recorded pitch, scaled by velocity."""
        s = self.samples[0]
        step = s.rate_hz / rate_hz
        n = int((len(s.data) - 1) / step) + 1
        voice = np.interp(np.arange(n) * step, np.arange(len(s.data)), s.data)
        return voice * self.gain * (velocity / 127.0) ** VELOCITY_POWER


def _play(s: Sample, freq_hz: float, held: int, length: int, rate_hz: int) -> np.ndarray:
    """``length`` output samples of ``s`` at ``freq_hz``: looped while ``held``, then released."""
    step = freq_hz / s.root_hz * s.rate_hz / rate_hz
    pos = np.arange(length) * step
    if s.loop is not None:
        start, end = s.loop
        over = pos >= start
        pos[over] = start + np.mod(pos[over] - start, end - start)
    else:
        length = min(length, int((len(s.data) - 1) / step) + 1)
        pos = pos[:length]
    voice = np.interp(pos, np.arange(len(s.data)), s.data)
    if length > held:
        voice[held:] *= np.exp(-np.arange(length - held) / (RELEASE_S / 5.0 * rate_hz))
    return voice


@lru_cache(maxsize=256)
def read_patch(path: Path, gain: float = 1.0) -> Patch:
    """Every sample of the ``.pat`` file at ``path``; :class:`PatchError` when it is not one."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PatchError(f"{path}: {exc}") from None
    if not raw.startswith(MAGIC):
        raise PatchError(f"{path}: not a GUS patch (no GF1PATCH header)")
    n = raw[HEADER_BYTES - 41]   # the layer header's sample count (its seventh byte)
    at, samples = HEADER_BYTES, []
    for _ in range(n):
        if at + SAMPLE_HEADER.size > len(raw):
            raise PatchError(f"{path}: truncated sample header")
        f = SAMPLE_HEADER.unpack_from(raw, at)
        size, loop_start, loop_end, rate, low, high, root, mode = f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[19]
        at += SAMPLE_HEADER.size
        body = raw[at:at + size]
        at += size
        if len(body) < size or rate <= 0 or root <= 0:
            raise PatchError(f"{path}: truncated or malformed sample")
        width = 2 if mode & MODE_16BIT else 1
        kind = ("<u2" if width == 2 else "u1") if mode & MODE_UNSIGNED else ("<i2" if width == 2 else "i1")
        data = np.frombuffer(body[: size - size % width], kind).astype(np.float32)
        if mode & MODE_UNSIGNED:
            data -= 2.0 ** (8 * width - 1)
        data /= 2.0 ** (8 * width - 1)
        loop = (loop_start // width, loop_end // width) if mode & MODE_LOOP and loop_end > loop_start else None
        samples.append(Sample(data, rate, low / 1000.0, high / 1000.0, root / 1000.0, loop))
    if not samples:
        raise PatchError(f"{path}: no sample")
    return Patch(samples, gain)


@dataclass
class PatchSet:
    """A TiMidity configuration's melodic bank 0 (GM program -> ``(.pat path, gain)``) and its
    drumset 0 (GM drum key -> ``(.pat path, gain)``; empty when it has none)."""

    config: Path
    programs: dict[int, tuple[Path, float]]
    drums: dict[int, tuple[Path, float]] = field(default_factory=dict)

    @property
    def drum_keys(self) -> frozenset[int]:
        return frozenset(self.drums)

    def render_drums(self, notes, n_samples: int, rate_hz: int) -> np.ndarray:
        """``notes`` (``(start_s, end_s, key, velocity)``, keys of :attr:`drum_keys`) as hits
        mixed into ``n_samples`` at ``rate_hz``; a key the set lacks is a :class:`PatchError`."""
        out = np.zeros(n_samples, np.float64)
        for start_s, _end_s, key, velocity in notes:
            if key not in self.drums:
                raise PatchError(f"{self.config}: drumset 0 has no patch for key {key}")
            at = int(round(start_s * rate_hz))
            if at < n_samples:
                voice = read_patch(*self.drums[key]).hit(velocity, rate_hz)[: n_samples - at]
                out[at:at + len(voice)] += voice
        return out.astype(np.float32)

    def program_for(self, program: int) -> int:
        """``program``, or the nearest one of its GM family of eight the set has (else the nearest)."""
        if program in self.programs:
            return program
        family = [p for p in self.programs if p // 8 == program // 8]
        return min(family or self.programs, key=lambda p: (abs(p - program), p))

    def patch(self, program: int) -> Patch:
        path, gain = self.programs[program]
        return read_patch(path, gain)


@lru_cache(maxsize=8)
def read_patch_set(config: str | Path) -> PatchSet:
    """The ``bank 0`` programs and ``drumset 0`` keys of a TiMidity configuration (``dir`` lines
    resolve relative names; ``amp=N`` sets the gain to N %); :class:`PatchError` when it names no
    program."""
    config = Path(config)
    try:
        lines = config.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise PatchError(f"{config}: {exc}") from None
    dirs, section, programs, drums = [config.parent], None, {}, {}
    for line in lines:
        words = line.split("#")[0].split()
        if not words:
            continue
        if words[0] == "dir" and len(words) > 1:
            dirs.insert(0, Path(words[1]))
        elif words[0] in ("bank", "drumset"):
            section = (words[0], words[1:2])
        elif section in (("bank", ["0"]), ("drumset", ["0"])) and words[0].isdigit() and len(words) > 1:
            name = words[1] if words[1].endswith(".pat") else words[1] + ".pat"
            found = next((d / name for d in dirs if (d / name).is_file()), None)
            amp = next((float(w[4:]) for w in words[2:] if w.startswith("amp=")), 100.0)
            if found is not None:
                (programs if section[0] == "bank" else drums)[int(words[0])] = (found, amp / 100.0)
    if not programs:
        raise PatchError(f"{config}: no program of bank 0 with a .pat file found (looked in "
                         f"{', '.join(map(str, dirs))}); the patches it names are missing: reinstall the "
                         f"package that provides them (Debian: apt-get install --reinstall freepats)")
    return PatchSet(config, programs, drums)
