"""FluidSynth rendering of one part at a time, with any number of SoundFonts loaded.

:class:`Renderer` holds one FluidSynth instance; :meth:`Renderer.load` loads a
SoundFont once (its id is cached), :meth:`Renderer.render` plays a list of
notes through one preset (bank, program) of a loaded SoundFont and returns
float32 mono (the mean of FluidSynth's two channels, its reverb included).
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

_INSTALL_HINT = ("FluidSynth's system library was not found; install it "
                 "(Debian/Ubuntu: apt-get update && apt-get install -y libfluidsynth3; "
                 "macOS: brew install fluid-synth) and pyfluidsynth (pip install pyfluidsynth)")
DRUM_CHANNEL, MELODIC_CHANNEL = 9, 0


class SynthError(RuntimeError):
    """The data set cannot be rendered (no FluidSynth, unreadable SoundFont, bad arguments)."""


class RenderError(RuntimeError):
    """One part could not be rendered (a SoundFont that fails to load, a preset it lacks)."""


def _import_fluidsynth():
    try:
        import fluidsynth  # pyfluidsynth; raises ImportError when libfluidsynth is missing
    except (ImportError, OSError) as exc:
        raise SynthError(f"{_INSTALL_HINT} ({exc})") from None
    return fluidsynth


class Renderer:
    """One FluidSynth instance rendering parts to float32 mono at ``sample_rate_hz``."""

    def __init__(self, sample_rate_hz: int):
        fluidsynth = _import_fluidsynth()
        self.sample_rate_hz = int(sample_rate_hz)
        # the C library pyfluidsynth loaded: float output straight into numpy buffers
        self._fl = getattr(fluidsynth, "_fl", None) or ctypes.CDLL(fluidsynth.find_libfluidsynth())
        self._fl.fluid_synth_write_float.restype = ctypes.c_int
        self._fl.fluid_synth_write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                                     ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self.synth = fluidsynth.Synth(gain=0.5, samplerate=float(self.sample_rate_hz))
        self._sfids: dict[str, int] = {}

    def close(self) -> None:
        if self.synth is not None:
            self.synth.delete()
            self.synth = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def load(self, sf2: str | Path) -> int:
        """FluidSynth's id of SoundFont ``sf2``, loading it on first use.
        :class:`RenderError` naming the file when it is unreadable or not a SoundFont."""
        key = str(Path(sf2).resolve())
        if key not in self._sfids:
            if not os.access(key, os.R_OK):
                raise RenderError(f"SoundFont not readable: {sf2}")
            sfid = self.synth.sfload(key)
            if sfid == -1:
                raise RenderError(f"FluidSynth could not load the SoundFont {sf2} (not a valid .sf2 file?)")
            self._sfids[key] = sfid
        return self._sfids[key]

    def render(self, notes, n_samples: int, sfid: int, bank: int, program: int, is_drum: bool,
               reverb: tuple[float, float] = (0.2, 0.3)) -> np.ndarray:
        """``notes`` ((start_s, end_s, pitch, velocity), ...) through preset (bank, program)
        of SoundFont ``sfid`` as exactly ``n_samples`` float32 mono samples."""
        self._flush()
        room, level = reverb
        self.synth.set_reverb(roomsize=room, damping=0.3, width=0.8, level=level)
        channel = DRUM_CHANNEL if is_drum else MELODIC_CHANNEL
        if self.synth.program_select(channel, sfid, bank, program) != 0:
            raise RenderError(f"no preset bank {bank} program {program}")
        events = []
        for start, end, pitch, velocity in notes:
            events.append((int(round(start * self.sample_rate_hz)), 1, pitch, velocity))
            events.append((int(round(end * self.sample_rate_hz)), 0, pitch, 0))
        events.sort()  # note-offs (0) before note-ons (1) at the same sample
        left = np.zeros(n_samples, np.float32)
        right = np.zeros(n_samples, np.float32)
        pos = 0
        for when, is_on, pitch, velocity in events:
            when = min(when, n_samples)
            if when > pos:
                self._write(left, right, pos, when - pos)
                pos = when
            if is_on:
                self.synth.noteon(channel, pitch, velocity)
            else:
                self.synth.noteoff(channel, pitch)
        if pos < n_samples:
            self._write(left, right, pos, n_samples - pos)
        return (left + right) * np.float32(0.5)

    def _flush(self, block: int = 4096, max_blocks: int = 200) -> None:
        """Silence the last part: kill its voices, then render (and drop) audio
        until the reverb and chorus tails have died away."""
        for channel in (MELODIC_CHANNEL, DRUM_CHANNEL):
            self.synth.all_sounds_off(channel)
        self.synth.system_reset()
        left = np.zeros(block, np.float32)
        right = np.zeros(block, np.float32)
        for _ in range(max_blocks):
            self._write(left, right, 0, block)
            if max(float(np.max(np.abs(left))), float(np.max(np.abs(right)))) < 1e-7:
                return

    def _write(self, left: np.ndarray, right: np.ndarray, offset: int, n: int) -> None:
        lp = left.ctypes.data + 4 * offset
        rp = right.ctypes.data + 4 * offset
        if self._fl.fluid_synth_write_float(self.synth.synth, n, lp, 0, 1, rp, 0, 1) != 0:
            raise SynthError("FluidSynth failed to render audio")
