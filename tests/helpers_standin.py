"""A stand-in transcriber whose activations come from the input (an STFT peak picker), so the
notes of a sine are known; sines and click tracks to feed it; and tiny evaluation data sets of
sines with their index (``eval_index``). Used by the infer, evaluate and CLI tests; the
``standin`` fixture (models/<stem>/best.pt loading stand-ins) is in conftest.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf
import torch

from midi_extractor.config import FrontEndConfig

FE = FrontEndConfig()  # 16 kHz, hop 512: 32 ms frames
SR = FE.sample_rate_hz
ONSET_P = 0.35  # the graded stand-in's onset probability: thresholds above it find nothing


class _Spectrum(torch.nn.Module):
    """The stand-in's front end: ``(B, S) -> (B, T, F)`` STFT magnitudes; a frame reads half the FFT."""

    def __init__(self, hop, n_fft=1024):
        super().__init__()
        self.hop, self.n_fft, self.reach_samples = hop, n_fft, n_fft // 2

    def forward(self, audio):
        return torch.stft(audio, self.n_fft, self.hop, window=torch.hann_window(self.n_fft),
                          center=True, return_complex=True).abs().transpose(1, 2)


class StandIn(torch.nn.Module):
    """Frame f is on at pitch round(midi(STFT peak)) when the peak is loud; onset = first on frame."""

    def __init__(self, front_end, n_outputs, drums=False):
        super().__init__()
        self.fe, self.n, self.drums, self.n_fft = front_end, n_outputs, drums, 1024
        self.features = _Spectrum(front_end.hop_length, self.n_fft)

    def forward(self, audio):
        return self.logits_from_features(self.features(audio))

    def logits_from_features(self, feats):
        spec = feats.transpose(1, 2)  # (B, F, T)
        peak, bin_ = spec.max(dim=1)
        hz = bin_.clamp(min=1) * self.fe.sample_rate_hz / self.n_fft
        midi = torch.round(69 + 12 * torch.log2(hz / 440.0)).long()
        col = torch.zeros_like(midi) if self.drums else (midi - self.fe.min_midi).clamp(0, self.n - 1)
        on = peak > 0.25 * self.n_fft / 4 * 0.5  # a quarter of a 0.5-amplitude sine's peak
        frame = torch.zeros(*midi.shape, self.n)
        frame.scatter_(2, col.unsqueeze(-1), on.unsqueeze(-1).float())
        onset = frame * (1 - torch.nn.functional.pad(frame, (0, 0, 1, 0))[:, :-1])
        logit = lambda x: (x * 2 - 1) * 12  # noqa: E731
        return {"onset": logit(onset), "offset": logit(torch.zeros_like(frame)), "frame": logit(frame),
                "velocity": torch.zeros_like(frame)}


class Graded(StandIn):
    """StandIn whose onset probability is ONSET_P instead of ~1."""

    def logits_from_features(self, feats):
        out = super().logits_from_features(feats)
        level = float(np.log(ONSET_P / (1 - ONSET_P)))
        out["onset"] = torch.where(out["onset"] > 0, torch.full_like(out["onset"], level), out["onset"])
        return out


def sine(midi, start, end, total, sr=SR, amp=0.5):
    """``total`` seconds at ``sr`` Hz, float32, silent but for a sine of MIDI note ``midi`` in [start, end) s."""
    t = np.arange(int(total * sr)) / sr
    x = amp * np.sin(2 * np.pi * pretty_midi.note_number_to_hz(midi) * t)
    return (x * ((t >= start) & (t < end))).astype(np.float32)


def click_track(bpm, seconds=12.0, sr=SR, pitch=None):
    """Clicks on every beat; with ``pitch``, a short sine of that MIDI note on each beat instead."""
    beats = np.arange(0.3, seconds - 0.2, 60.0 / bpm)
    if pitch is None:
        x = np.zeros(int(seconds * sr), np.float32)
        n = int(0.02 * sr)
        click = np.sin(2 * np.pi * 1000 * np.arange(n) / sr) * np.exp(-np.arange(n) / (0.004 * sr))
        for b in beats:
            x[int(round(b * sr)):int(round(b * sr)) + n] += click
        return x
    return np.sum([sine(pitch, b, b + 0.15, seconds, sr) for b in beats], axis=0).astype(np.float32)


def _write_track(root, name, pitch_times, ref_notes, drum=False):
    track = root / name
    (track / "stems").mkdir(parents=True)
    (track / "MIDI").mkdir()
    audio = sum(sine(p, s, e, 2.0) for p, s, e in pitch_times)
    sf.write(track / "stems" / "S01.wav", audio, SR)
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0 if drum else 33, is_drum=drum)
    inst.notes += [pretty_midi.Note(100, p, s, e) for p, s, e in ref_notes]
    midi.instruments.append(inst)
    midi.write(str(track / "MIDI" / "S01.mid"))


def eval_index(tmp_path: Path, tracks, stem="bass") -> Path:
    """``tmp_path/filtered_dataset_<stem>.json`` over 2 s tracks under ``tmp_path/data``.
    ``tracks``: (name, split, domain, plugin, sounding (pitch, start, end), reference notes)."""
    root = tmp_path / "data"
    entries = []
    for name, split, domain, plugin, sounding, ref in tracks:
        _write_track(root, name, sounding, ref, drum=stem == "drums")
        entry = {"track": name, "stem_id": "S01", "split": split, "audio": f"{name}/stems/S01.wav",
                 "midi": f"{name}/MIDI/S01.mid", "metadata": {"program_num": 33, "plugin_name": plugin}}
        if domain:
            entry["domain"] = domain
        entries.append(entry)
    index = tmp_path / f"filtered_dataset_{stem}.json"
    index.write_text(json.dumps({"stem": stem, "dataset_root": str(root), "entries": entries}))
    return index


A4 = [(69, 0.5, 1.2)]
#: eval_index tracks: validation A4, two in-domain and two out-of-domain test tracks (one with an E1 never heard)
PITCHED = [
    ("Track00001", "validation", None, "TimGM6mb", A4, A4),
    ("Track00002", "test", "in_domain", "TimGM6mb", A4, A4),
    ("Track00003", "test", "in_domain", "FluidR3", [(81, 0.3, 0.9)], [(81, 0.3, 0.9)]),
    ("Track00004", "test", "out_of_domain", "OPL3", A4, A4),
    ("Track00005", "test", "out_of_domain", "OPL3", A4, [(69, 0.5, 1.2), (28, 1.3, 1.6)]),  # E1 it never hears
]
