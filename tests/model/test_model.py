import time

import numpy as np
import pretty_midi
import pytest
import torch

from helpers_data import REPO
from midi_extractor.config import FrontEndConfig, ModelConfig, load_params
from midi_extractor.model.labels import rolls_from_midi
from midi_extractor.model.labels import HEADS
from midi_extractor.model.transcriber import Transcriber, count_parameters, create_model, loss_weights_from_role

FE = FrontEndConfig()
TINY = ModelConfig(size="small", conv_channels=24, rnn_units=16)


def _batch(n_out=88, b=2, seconds=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = int(seconds * FE.sample_rate_hz)
    t = FE.n_frames(s)
    onset = (torch.rand(b, t, n_out, generator=g) < 0.05).float()
    return {"audio": torch.randn(b, s, generator=g) * 0.1, "onset": onset,
            "offset": (torch.rand(b, t, n_out, generator=g) < 0.05).float(),
            "frame": (torch.rand(b, t, n_out, generator=g) < 0.2).float(),
            "velocity": onset * torch.rand(b, t, n_out, generator=g)}


@pytest.mark.parametrize("size,n_out,kind", [("small", 88, "mel"), ("small", 4, "mel"), ("paper", 3, "mel"),
                                             ("harmonic", 88, "logfreq"), ("harmonic", 7, "logfreq"),
                                             ("harmonic-large", 88, "logfreq")])
def test_forward_shapes(size, n_out, kind):
    fe = FrontEndConfig(kind=kind, f_min_hz=26.0)
    model = create_model(fe, ModelConfig(size=size), n_out, {}).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 12345))
    assert set(out) == set(HEADS)
    assert all(v.shape == (2, fe.n_frames(12345), n_out) for v in out.values())


def test_sizes():
    assert 0.5e6 < count_parameters(create_model(FE, ModelConfig(size="small"), 88, {})) < 1.5e6
    assert count_parameters(create_model(FE, ModelConfig(size="paper"), 88, {})) > 1.5e7
    with pytest.raises(ValueError, match="size"):
        create_model(FE, ModelConfig(size="huge"), 88, {})


def test_role_weights_reach_the_loss():
    params = load_params(REPO / "params.yaml")
    role = params.role("bass")
    weights = loss_weights_from_role(role)
    assert weights == {"onset": role.onset_weight, "offset": role.offset_weight,
                       "frame": role.frame_weight, "velocity": role.velocity_weight,
                       "restrike": role.restrike_weight, "held": role.held_weight,
                       "octave": role.octave_weight}
    torch.manual_seed(0)
    model = create_model(FE, TINY, 88, weights).eval()
    batch = _batch()
    with torch.no_grad():
        _, base = model.run_on_batch(batch)
        model.loss_weights = dict(weights, onset=2 * weights["onset"])
        _, doubled = model.run_on_batch(batch)
    assert float(doubled["onset"]) == pytest.approx(2 * float(base["onset"]), rel=1e-5)
    assert float(doubled["frame"]) == pytest.approx(float(base["frame"]), rel=1e-5)
    assert float(doubled["total"]) == pytest.approx(sum(float(doubled[h]) for h in HEADS), rel=1e-5)
    # a weight of 0 skips the head (percussive offset_weight: 0)
    perc = loss_weights_from_role(params.role("drums"))
    assert perc["offset"] == 0
    model = create_model(FE, TINY, 4, perc).eval()
    with torch.no_grad():
        _, losses = model.run_on_batch(_batch(4))
    assert float(losses["offset"]) == 0 and float(losses["onset"]) > 0
    # keys may be given as onset_weight too; unknown keys are refused
    assert create_model(FE, TINY, 4, {"onset_weight": 3}).loss_weights["onset"] == 3
    with pytest.raises(ValueError, match="unknown loss weight"):
        create_model(FE, TINY, 4, {"pitch": 1})


def _restrike_rolls():
    """C4 struck at 0 s and again 0.05 s after it ends (a re-strike); D4 at 0 s and again
    0.5 s after it ends (not one); E4 once."""
    notes = np.array([[0.0, 0.5, 60, 80], [0.55, 0.9, 60, 80], [0.0, 0.3, 62, 80],
                      [0.8, 1.0, 62, 80], [0.2, 0.6, 64, 80]], dtype=np.float64)
    t = FE.n_frames(FE.sample_rate_hz)
    return {k: torch.from_numpy(v)[None] for k, v in rolls_from_midi(notes, t, FE).items()}, t


def _weighted_losses(rolls, key, factor, n_outputs=88):
    """``(model, batch, logits, losses with every factor 1, losses with loss weight key = factor)``
    of a tiny untrained model on a second of noise with ``rolls`` as targets."""
    batch = {"audio": torch.randn(1, FE.sample_rate_hz) * 0.1, **rolls}
    torch.manual_seed(0)
    model = create_model(FE, TINY, n_outputs, {}).eval()
    with torch.no_grad():
        logits = model(batch["audio"])
    plain = model.compute_losses(logits, batch)
    model.loss_weights[key] = factor
    return model, batch, logits, plain, model.compute_losses(logits, batch)


def test_restrike_mask_marks_only_onsets_right_after_the_same_pitch_sounded():
    from midi_extractor.model.transcriber import restrike_mask

    rolls, _ = _restrike_rolls()
    model = create_model(FE, TINY, 88, {})
    assert model.restrike_frames() == 3            # 0.1 s at a 32 ms hop
    mask = restrike_mask(rolls["onset"], rolls["frame"], model.restrike_frames())[0]
    hit = {(int(t), int(c) + FE.min_midi) for t, c in torch.nonzero(mask)}
    assert hit == {(round(0.55 * FE.frame_rate_hz), 60)}


def test_restrike_weight_scales_the_onset_loss_of_re_strikes_only():
    rolls, t = _restrike_rolls()
    _, _, logits, plain, weighted = _weighted_losses(rolls, "restrike", 4.0)
    on = round(0.55 * FE.frame_rate_hz)
    cell = torch.nn.functional.binary_cross_entropy_with_logits(logits["onset"][0, on, 60 - FE.min_midi], torch.tensor(1.0))
    n_cells = logits["onset"].numel()
    assert float(weighted["onset"] - plain["onset"]) == pytest.approx(3.0 * float(cell) / n_cells, rel=1e-4)
    for head in ("offset", "frame", "velocity"):
        assert float(weighted[head]) == float(plain[head])


def test_held_mask_marks_sounding_cells_away_from_every_onset_of_their_column():
    from midi_extractor.model.transcriber import held_mask

    rolls, _ = _restrike_rolls()
    model = create_model(FE, TINY, 88, {})
    margin = model.held_margin_frames()
    assert margin == 2                               # 0.064 s at a 32 ms hop
    mask = held_mask(rolls["onset"], rolls["frame"], margin)[0]
    fps = FE.frame_rate_hz
    frames = lambda pitch: {int(t) for t in torch.nonzero(mask[:, pitch - FE.min_midi])[:, 0]}
    # E4 sounds 0.2-0.6 s: held from 2 frames after its onset to its end, nothing before
    on, off = round(0.2 * fps), int(torch.nonzero(rolls["frame"][0, :, 64 - FE.min_midi])[-1, 0])
    assert frames(64) == set(range(on + margin + 1, off + 1))
    # C4's re-strike at 0.55 s: no held cell within 2 frames either side of it
    restrike = round(0.55 * fps)
    assert not frames(60) & set(range(restrike - margin, restrike + margin + 1))
    assert frames(60) and max(frames(60)) > restrike + margin
    # silent columns and onset cells are never held
    assert not frames(72)
    assert float((mask * rolls["onset"][0]).sum()) == 0.0


def test_held_weight_scales_the_onset_loss_of_held_cells_only():
    from midi_extractor.model.transcriber import held_mask

    rolls, t = _restrike_rolls()
    model, _, logits, plain, weighted = _weighted_losses(rolls, "held", 3.0)
    mask = held_mask(rolls["onset"], rolls["frame"], model.held_margin_frames())
    cells = torch.nn.functional.binary_cross_entropy_with_logits(logits["onset"], rolls["onset"], reduction="none")
    expected = 2.0 * float((cells * mask).sum()) / cells.numel()
    assert expected > 0
    assert float(weighted["onset"] - plain["onset"]) == pytest.approx(expected, rel=1e-4)
    for head in ("offset", "frame", "velocity"):
        assert float(weighted[head]) == float(plain[head])


def _octave_rolls():
    """A3 held 0-1 s; A4 (an octave above) struck at 0.2 s and 0.6 s; E4 (a fifth) at 0.2 s;
    A5 (two octaves above A3, one above A4) at 0.6 s."""
    notes = np.array([[0.0, 1.0, 57, 80], [0.2, 0.4, 69, 80], [0.6, 0.8, 69, 80],
                      [0.2, 0.4, 64, 80], [0.6, 0.7, 81, 80]], dtype=np.float64)
    t = FE.n_frames(FE.sample_rate_hz)
    return {k: torch.from_numpy(v)[None] for k, v in rolls_from_midi(notes, t, FE).items()}


def test_octave_mask_marks_the_cells_of_notes_an_octave_above_a_sounding_one():
    from midi_extractor.model.transcriber import octave_mask

    rolls = _octave_rolls()
    cells = lambda m: {(int(t), int(c) + FE.min_midi) for t, c in torch.nonzero(m[0])}
    frame = cells(octave_mask(rolls["frame"], rolls["frame"]))
    # A4's frames (while A3 sounds) and A5's (while A4 sounds); never A3's, E4's or A5 for A3
    assert frame == {(t, p) for t, p in cells(rolls["frame"]) if p in (69, 81)}
    assert {p for _, p in frame} == {69, 81}
    onset = cells(octave_mask(rolls["onset"], rolls["frame"]))
    assert onset == {(round(0.2 * FE.frame_rate_hz), 69), (round(0.6 * FE.frame_rate_hz), 69),
                     (round(0.6 * FE.frame_rate_hz), 81)}


def test_octave_weight_scales_onset_and_frame_losses_of_doublings_only():
    from midi_extractor.model.transcriber import octave_mask

    rolls = _octave_rolls()
    model, batch, logits, plain, weighted = _weighted_losses(rolls, "octave", 5.0)
    for head in ("onset", "frame"):
        mask = octave_mask(rolls[head], rolls["frame"])
        cells = torch.nn.functional.binary_cross_entropy_with_logits(logits[head], rolls[head], reduction="none")
        expected = 4.0 * float((cells * mask).sum()) / cells.numel()
        assert expected > 0
        assert float(weighted[head] - plain[head]) == pytest.approx(expected, rel=1e-4)
    for head in ("offset", "velocity"):
        assert float(weighted[head]) == float(plain[head])
    # with held and re-strike factors too, the factors multiply on the cells both mark
    model.loss_weights.update(held=3.0)
    both = model.compute_losses(logits, batch)
    model.loss_weights.update(octave=1.0)
    held_only = model.compute_losses(logits, batch)
    assert float(both["onset"]) > float(held_only["onset"])


def test_octave_weight_leaves_drum_class_models_alone():
    # 24 class columns, two of them 12 apart and sounding together: not an octave, columns are classes
    rolls = {k: torch.zeros_like(v[..., :24]) for k, v in _octave_rolls().items()}
    for column in (0, 12):
        rolls["frame"][0, 5:20, column] = 1.0
        rolls["onset"][0, 5, column] = 1.0
    _, _, _, plain, weighted = _weighted_losses(rolls, "octave", 5.0, n_outputs=24)
    assert float(weighted["frame"]) == float(plain["frame"])
    assert float(weighted["onset"]) == float(plain["onset"])


def test_velocity_loss_is_masked_on_onsets():
    model = create_model(FE, TINY, 88, {}).eval()
    batch = _batch()
    batch2 = dict(batch, velocity=batch["velocity"] + (1 - batch["onset"]) * 0.7)  # change off-onset targets
    with torch.no_grad():
        _, a = model.run_on_batch(batch)
        _, b = model.run_on_batch(batch2)
    assert float(a["velocity"]) == pytest.approx(float(b["velocity"]))


def test_config_round_trip():
    model = create_model(FE, TINY, 4, {"onset": 3.0, "offset": 0.0})
    cfg = model.config_dict()
    import json

    cfg = json.loads(json.dumps({**cfg, "drum_classes": ["a"], "train": {}}))  # plain values only
    clone = Transcriber.from_config(cfg)
    clone.load_state_dict(model.state_dict())
    assert clone.config_dict() == model.config_dict()
    x = torch.randn(1, 8000)
    model.eval(), clone.eval()
    with torch.no_grad():
        assert torch.allclose(model(x)["frame"], clone(x)["frame"])


#: a narrow front end (pitches 40-64, 64 mel bands) keeps the overfit test fast
FE_TINY = FrontEndConfig(min_midi=40, max_midi=64, n_mels=64)


def _sine_clip(seconds=2.0):
    """Decaying sine notes at known frames; returns audio and rolls (FE_TINY)."""
    sr = FE_TINY.sample_rate_hz
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(33)
    hop = FE_TINY.hop_s
    for pitch, f0, f1 in [(45, 4, 14), (52, 16, 26), (57, 30, 40), (45, 44, 56)]:
        inst.notes.append(pretty_midi.Note(100, pitch, f0 * hop, f1 * hop))
    pm.instruments.append(inst)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    audio = np.zeros(n, np.float32)
    for note in inst.notes:
        on = (t >= note.start) & (t < note.end)
        env = np.exp(-3 * (t - note.start)) * on
        audio += (0.4 * env * np.sin(2 * np.pi * pretty_midi.note_number_to_hz(note.pitch) * t)).astype(np.float32)
    return audio, rolls_from_midi(pm, FE_TINY.n_frames(n), FE_TINY)


def test_tiny_model_overfits_one_clip_onsets_on_labelled_frames():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: one thread is 5x faster than two on a busy 2-core box
    try:
        torch.manual_seed(0)
        audio, rolls = _sine_clip()
        batch = {"audio": torch.from_numpy(audio)[None],
                 **{k: torch.from_numpy(v)[None] for k, v in rolls.items()}}
        model = create_model(FE_TINY, ModelConfig(size="small", conv_channels=32, rnn_units=32),
                            rolls["onset"].shape[1], {"onset": 1, "offset": 1, "frame": 1, "velocity": 1})
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        labelled = np.argwhere(rolls["onset"]).tolist()
        assert [[f, FE_TINY.min_midi + c] for f, c in labelled] == [[4, 45], [16, 52], [30, 57], [44, 45]]
        t0 = time.time()
        for step in range(1200):
            model.train()
            _, losses = model.run_on_batch(batch)
            opt.zero_grad()
            losses["total"].backward()
            opt.step()
            if step % 25 == 24:
                model.eval()
                with torch.no_grad():
                    pred, _ = model.run_on_batch(batch)
                if np.argwhere(pred["onset"][0].numpy() > 0.5).tolist() == labelled:
                    break
        model.eval()
        with torch.no_grad():
            pred, _ = model.run_on_batch(batch)
        # thresholded onsets sit exactly on the labelled (frame, pitch) cells
        assert np.argwhere(pred["onset"][0].numpy() > 0.5).tolist() == labelled
        frames = pred["frame"][0].numpy() > 0.5
        assert (frames == (rolls["frame"] > 0)).mean() > 0.98
        assert time.time() - t0 < 90
    finally:
        torch.set_num_threads(threads)


def test_config_model_sizes_are_the_architectures():
    from midi_extractor.config.sections import MODEL_SIZES
    from midi_extractor.model.transcriber import architectures

    assert set(MODEL_SIZES) == set(architectures())
