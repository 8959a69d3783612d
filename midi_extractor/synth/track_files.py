"""A rendered track written in Slakh's layout (see :mod:`synth`): one MIDI file and one FLAC
stem per part, ``all_src.mid``, the peak-normalised mix and ``metadata.yaml`` (Slakh's keys plus
``domain`` and ``effects`` per stem), written last and atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf
import yaml

from midi_extractor import taxonomy as tx
from midi_extractor.atomic import write_text
from midi_extractor.synth.render import TARGET_PEAK_DB, RenderedPart, integrated_loudness_db


def stem_metadata(rp: RenderedPart, sample_rate_hz: int, domain: str) -> dict:
    """One ``stems: Sxx:`` entry: Slakh's keys plus ``domain`` and ``effects``."""
    part = rp.part
    meta = {
        "audio_rendered": True,
        "domain": domain,
        "effects": rp.effects,
        "inst_class": part.inst_class,
        "integrated_loudness": integrated_loudness_db(rp.audio, sample_rate_hz),
        "is_drum": part.is_drum,
        "midi_program_name": part.name,
        "midi_saved": True,
        "plugin_name": rp.plugin_name,
        "program_num": tx.SLAKH_DRUM_PROGRAM if part.is_drum else part.program,
    }
    if meta["integrated_loudness"] is None:
        del meta["integrated_loudness"]
    return meta


def write_track(track_dir: Path, bpm: float, rendered: dict[str, RenderedPart], sample_rate_hz: int,
                n_samples: int, uuid: str, domain: str) -> Path:
    """Write one track folder (MIDI, stems, mix, metadata) from its rendered parts
    (stem id -> part); metadata.yaml is written last, atomically."""
    sr = sample_rate_hz
    (track_dir / "MIDI").mkdir(parents=True, exist_ok=True)
    (track_dir / "stems").mkdir(parents=True, exist_ok=True)
    all_src = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    mix = np.zeros(n_samples, np.float64)
    stems_meta = {}
    for stem_id, rp in rendered.items():
        pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
        pm.instruments.append(rp.part.to_instrument())
        pm.write(str(track_dir / "MIDI" / f"{stem_id}.mid"))
        all_src.instruments.append(rp.part.to_instrument())
        sf.write(str(track_dir / "stems" / f"{stem_id}.flac"), rp.audio, sr, format="FLAC", subtype="PCM_16")
        mix += rp.audio
        stems_meta[stem_id] = stem_metadata(rp, sr, domain)
    all_src.write(str(track_dir / "all_src.mid"))
    peak = float(np.max(np.abs(mix))) if n_samples else 0.0
    overall_gain = 10.0 ** (TARGET_PEAK_DB / 20.0) / peak if peak > 0 else 1.0
    sf.write(str(track_dir / "mix.flac"), (mix * overall_gain).astype(np.float32), sr,
             format="FLAC", subtype="PCM_16")
    metadata = {
        "UUID": uuid,
        "audio_dir": f"{track_dir.name}/stems",   # relative to the split folder, as in Slakh2100
        "lmd_midi_dir": None,                    # no Lakh MIDI source: the song is procedural
        "midi_dir": f"{track_dir.name}/MIDI",
        "normalization_factor": TARGET_PEAK_DB,  # stems are peak-normalised to this many dBFS
        "normalized": True,
        "overall_gain": round(overall_gain, 10),
        "stems": stems_meta,
        "target_peak": TARGET_PEAK_DB,
    }
    write_text(track_dir / "metadata.yaml", yaml.safe_dump(metadata, sort_keys=True))
    return track_dir
