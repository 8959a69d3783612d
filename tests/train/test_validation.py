"""Validation during training: losses over the validation clips; onsets scored on whole tracks
at the thresholds evaluate would choose (the same grid, sweep and tie-break)."""
import numpy as np
import pytest
import torch

from midi_extractor.config import DecodingConfig, FrontEndConfig
from midi_extractor.model.labels import rolls_from_midi
from midi_extractor.model.thresholds import grid_from_decoding
from midi_extractor.model.windows import plan_windows
from midi_extractor.train.validation import VAL_TRACK_S, validate, validate_tracks

FE = FrontEndConfig(kind="logfreq")
#: the repository's decoding grid: what evaluate chooses the shipped thresholds from
GRID = grid_from_decoding(DecodingConfig(onset_grid=[0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5],
                                         frame_grid=[0.3, 0.4, 0.5]), drums=False)
#: (start_s, end_s, pitch, velocity): the last two notes lie past the first 4-s training clip
NOTES = np.array([[0.5, 1.0, 60, 90], [2.0, 2.6, 64, 90], [4.5, 5.0, 67, 90], [5.5, 5.9, 72, 90]])
TRACK_S = 6.0


class _Fixed:
    """A stand-in for the model: its losses are fixed (validate); as a numpy model run in the
    inference windows (validate_tracks) its probabilities are the track's labels, onsets at
    ``onset_prob`` and frames at 0.9, plus a note that is not there (pitch 50 at 3 s) whose
    onset is at ``ghost_prob``."""

    front_end = FE
    is_numpy = True

    def __init__(self, onset_prob, notes=NOTES, ghost_prob=0.0):
        self.onset_prob, self.notes, self.ghost_prob, self.inputs = onset_prob, notes, ghost_prob, []

    def eval(self):
        return self

    def train(self):
        return self

    def run_on_batch(self, batch):
        return {}, {"total": torch.tensor(0.1), "onset": torch.tensor(0.02)}

    def features(self, audio):
        """``(B, S) -> (B, T, 1)``: the sample at each frame's centre (its stamp)."""
        hop = FE.hop_length
        return np.pad(audio, ((0, 0), (0, hop)))[:, ::hop][:, :FE.n_frames(audio.shape[1]), None]

    features.reach_samples = 0

    def logits_from_features(self, feats):
        self.inputs.append(feats.shape)
        n_frames, start_s = feats.shape[1], _start_s(feats[0, :, 0])
        rolls = rolls_from_midi(self.notes, n_frames, FE, start_s=start_s)
        ghost = rolls_from_midi(np.array([[3.0, 3.5, 50, 90]]), n_frames, FE, start_s=start_s)
        prob = {"onset": rolls["onset"] * self.onset_prob + ghost["onset"] * self.ghost_prob,
                "frame": (rolls["frame"] + ghost["frame"]) * 0.9,
                "offset": rolls["offset"] * 0.0, "velocity": rolls["velocity"]}
        to_logit = lambda p: np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))  # noqa: E731
        return {k: to_logit(v)[None] for k, v in prob.items()}


STAMP = 1e-8   # a track's sample k holds (k + 1) * STAMP, so a window knows where it starts


def _start_s(stamps):
    """Where in the track a window's first frame sits (frames before the track included), from
    its frames' stamps."""
    j = int(np.flatnonzero(stamps)[0])
    return ((round(float(stamps[j]) / STAMP) - 1) / FE.hop_length - j) * FE.hop_length / FE.sample_rate_hz


class _Tracks:
    """A stand-in validation set: one track of ``TRACK_S`` seconds with ``NOTES``, its samples
    a faint ramp (``STAMP``)."""

    drum_classes = None

    def __init__(self, seconds=TRACK_S):
        self.entries, self.durations = [{"track": "T1"}], [seconds]

    def read(self, i, offset_s, duration_s):
        n = int(round(duration_s * FE.sample_rate_hz))
        return ((np.arange(n, dtype=np.float64) + 1) * STAMP).astype(np.float32)

    def notes(self, i):
        return NOTES


def test_validation_scores_the_notes_the_frame_head_starts_as_evaluate_would():
    """Onsets never fire; the frame head holds the four notes and the ghost (pitch 50) at 0.9:
    frame notes give all five (precision 4/5), the first frame-note threshold of the tie wins."""
    grid = grid_from_decoding(DecodingConfig(onset_grid=[0.1, 0.5], frame_grid=[0.5],
                                             frame_note_grid=[0.7, 0.8, 0.95]), drums=False)
    out = validate_tracks(_Fixed(0.0), _Tracks(), grid, torch.device("cpu"))
    assert out["val_frame_note_threshold"] == 0.7 and out["val_onset_threshold"] == 0.1
    assert out["val_onset_recall"] == 1.0 and out["val_onset_precision"] == pytest.approx(4 / 5, abs=1e-4)
    off = validate_tracks(_Fixed(0.0), _Tracks(), grid.__class__((0.1, 0.5), (0.5,)), torch.device("cpu"))
    assert off["val_onset_f1"] == 0.0 and off["val_frame_note_threshold"] is None


def test_validate_gives_the_mean_losses_of_the_clips():
    batch = {"audio": torch.zeros(2, 512)}
    out = validate(_Fixed(0.5), [batch, batch], torch.device("cpu"))
    assert out == pytest.approx({"val_loss_total": 0.1, "val_loss_onset": 0.02})


@pytest.mark.parametrize("prob,ghost,threshold", [(0.12, 0.07, 0.1), (0.45, 0.35, 0.4), (0.9, 0.45, 0.5),
                                                  (0.9, 0.0, 0.05)])
def test_whole_tracks_score_at_the_best_onset_threshold_of_the_grid(prob, ghost, threshold):
    model = _Fixed(prob, ghost_prob=ghost)
    out = validate_tracks(model, _Tracks(), GRID, torch.device("cpu"))
    assert out["val_onset_f1"] == 1.0 and out["val_onset_threshold"] == threshold
    assert out["val_onset_precision"] == 1.0 and out["val_onset_recall"] == 1.0
    assert out["val_frame_threshold"] == 0.3      # ties go to the first in grid order, as evaluate's
    assert out["val_frame_note_threshold"] is None
    if ghost:                                      # one threshold lower lets the ghost in
        lower = validate_tracks(_Fixed(prob, ghost_prob=ghost), _Tracks(), GRID.__class__(
            tuple(t for t in GRID.onset if t < threshold), GRID.frame), torch.device("cpu"))
        assert lower["val_onset_precision"] == pytest.approx(4 / 5, abs=1e-4)
    assert model.inputs == [(1, FE.n_frames(int(TRACK_S * FE.sample_rate_hz)), 1)]   # the whole track, one window


def test_notes_past_the_first_clip_count():
    """A model that finds only the notes of the first 4 s recalls half of them."""
    model = _Fixed(0.9, notes=NOTES[:2])
    out = validate_tracks(model, _Tracks(), GRID, torch.device("cpu"))
    assert out["val_onset_recall"] == 0.5 and out["val_onset_precision"] == 1.0
    assert out["val_onset_f1"] == pytest.approx(2 / 3, abs=1e-4)


def test_onsets_below_every_threshold_score_zero_and_no_track_scores_nothing():
    out = validate_tracks(_Fixed(0.01), _Tracks(), GRID, torch.device("cpu"))
    assert out["val_onset_f1"] == 0.0 and out["val_onset_recall"] == 0.0
    empty = _Tracks()
    empty.entries, empty.durations = [], []
    assert validate_tracks(_Fixed(0.9), empty, GRID, torch.device("cpu")) == {}


def test_a_long_track_is_scored_up_to_val_track_s_in_windows():
    model = _Fixed(0.9)
    out = validate_tracks(model, _Tracks(seconds=VAL_TRACK_S + 30), GRID, torch.device("cpu"))
    assert out["val_onset_f1"] == 1.0
    # the inference's windows over the first VAL_TRACK_S, not over all 90 s
    assert len(model.inputs) == len(plan_windows(int(VAL_TRACK_S * FE.sample_rate_hz), FE)) > 1
    assert len(model.inputs) < len(plan_windows(int((VAL_TRACK_S + 30) * FE.sample_rate_hz), FE))


def test_with_the_tone_guard_a_step_that_hears_the_tones_beats_a_higher_f1():
    """A pitched base's steps (Job.tone_guard): one with a wrong frame on model/tone_check's
    harmonic tones loses to any that has none, whatever its F1; among passing (or among failing)
    steps the F1 decides. Without the guard (the stems) the F1 alone decides, as before."""
    from midi_extractor.train.validation import is_better

    clean = {"val_onset_f1": 0.80, "val_loss_total": 0.1, "val_tone_wrong_frames": 0, "val_tone_wrong_onsets": 0}
    harmonic = {**clean, "val_onset_f1": 0.85, "val_tone_wrong_frames": 4}
    _, clean_key = is_better(clean, None, tone_guard=True)
    assert is_better(harmonic, clean_key, tone_guard=True)[0] is False
    assert is_better({**clean, "val_onset_f1": 0.81}, clean_key, tone_guard=True)[0] is True
    _, harmonic_key = is_better(harmonic, None, tone_guard=True)
    assert is_better(clean, harmonic_key, tone_guard=True)[0] is True     # a late first pass still wins
    assert is_better({**harmonic, "val_onset_f1": 0.9, "val_tone_wrong_frames": 0, "val_tone_wrong_onsets": 1},
                     clean_key, tone_guard=True)[0] is False              # a wrong onset fails too
    assert is_better(harmonic, is_better(clean, None)[1])[0] is True      # no guard: F1 alone
    # a best key saved before the guard (F1, -loss) counts as passing on resume
    assert is_better(harmonic, (0.80, -0.1), tone_guard=True)[0] is False
    assert is_better({**clean, "val_onset_f1": 0.81}, (0.80, -0.1), tone_guard=True)[0] is True


def test_score_adds_the_tone_check_for_pitched_models_only_and_passes_the_drive(monkeypatch):
    from types import SimpleNamespace

    from midi_extractor.train import validation

    monkeypatch.setattr(validation, "validate", lambda *a: {"val_loss_total": 0.5})
    drives = []
    monkeypatch.setattr(validation, "validate_tracks", lambda *a: drives.append(a[-1]) or {"val_onset_f1": 0.7})
    monkeypatch.setattr(validation.tone_check, "check_tones",
                        lambda model: {"val_tone_wrong_frames": 3, "val_tone_wrong_onsets": 1})
    run = SimpleNamespace(val_loader=None, device="cpu", amp_dtype=None, val_ds=None, grid=None,
                          job=SimpleNamespace(drum_classes=None, settings=SimpleNamespace(saturate=1.5)))
    assert validation.score(object(), run) == {"val_loss_total": 0.5, "val_onset_f1": 0.7,
                                               "val_tone_wrong_frames": 3, "val_tone_wrong_onsets": 1}
    assert drives == [1.5]   # the tracks are heard at the stem's drive
    run.job.drum_classes = ["kick", "snare"]
    assert validation.score(object(), run) == {"val_loss_total": 0.5, "val_onset_f1": 0.7}


class _Loud(_Fixed):
    """A stand-in whose onsets are as probable as the loudest sample it hears (at most 0.9): the
    faint ramp of :class:`_Tracks` (peak 1e-3) gives none, the same ramp saturated gives all."""

    def logits_from_features(self, feats):
        self.onset_prob = min(0.9, float(np.abs(feats).max()))
        hop = FE.hop_length   # one window from the track's start: stamps as the unsaturated ramp's
        stamps = ((np.arange(feats.shape[1]) * hop + 1) * STAMP).astype(np.float32)
        return super().logits_from_features(np.broadcast_to(stamps[None, :, None], feats.shape))


def test_validation_hears_the_stems_drive():
    """validate_tracks runs the model on the track at the stem's saturate drive, as evaluate and
    transcribe do (model.saturation): off, the faint track yields no onset; at 1.5 every note."""
    plain = validate_tracks(_Loud(0.0), _Tracks(), GRID, torch.device("cpu"))
    assert plain["val_onset_f1"] == 0.0
    driven = validate_tracks(_Loud(0.0), _Tracks(), GRID, torch.device("cpu"), saturate=1.5)
    assert driven["val_onset_f1"] == 1.0 and driven["val_onset_threshold"] == 0.05


def test_validation_runs_a_drum_model_with_a_drum_models_context(monkeypatch):
    """The windows validation plans are the model kind's (model.windows.context_for): 0.5 s of
    context for a pitched model, 1 s for a drum model, as evaluate and transcribe plan them."""
    from midi_extractor.train import validation

    class _Seen(Exception):
        pass

    seen = []

    def spy(model, audio, fe, **kw):
        seen.append(kw["context_s"])
        raise _Seen

    monkeypatch.setattr(validation.windows, "activations", spy)
    for classes in (None, ("hihat", "shaker")):
        tracks = _Tracks()
        tracks.drum_classes = classes
        with pytest.raises(_Seen):
            validate_tracks(_Fixed(0.9), tracks, GRID, torch.device("cpu"))
    assert seen == [0.5, 1.0]
