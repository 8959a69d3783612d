"""Where each track of the generated set goes: split sizes and, per track, its split, domain and
position within the domain.

Tracks are numbered from 0: train first, then validation, then test. Sizes are given or about
80/10/10 (:func:`split_counts`); the second half of the test split (rounded down) is
out-of-domain when there is an out-of-domain pool (:func:`track_layout`).
"""
from __future__ import annotations

from midi_extractor.config.dataset import default_split_tracks
from midi_extractor.synth.fluid import SynthError
from midi_extractor.synth.render import IN_DOMAIN, OUT_OF_DOMAIN

#: the split folders of the generated set, in track order
SPLIT_NAMES = ("train", "validation", "test")


def split_counts(tracks: int, validation: int | None = None, test: int | None = None) -> dict[str, int]:
    """Tracks per split: given sizes, or ~80/10/10 with at least one validation and
    one test track from 3 tracks on."""
    if validation is None and test is None:
        if tracks < 3:
            return {"train": tracks, "validation": 0, "test": 0} if tracks < 2 else \
                {"train": tracks - 1, "validation": 0, "test": 1}
        validation = test = default_split_tracks(tracks)
    validation = default_split_tracks(tracks) if validation is None else int(validation)
    test = default_split_tracks(tracks) if test is None else int(test)
    if validation < 0 or test < 0 or validation + test >= tracks:
        raise SynthError(f"validation ({validation}) + test ({test}) tracks must leave train tracks "
                         f"out of {tracks}")
    return {"train": tracks - validation - test, "validation": validation, "test": test}


def track_split(index: int, tracks: int, validation: int | None = None, test: int | None = None) -> str:
    """Split of track ``index`` (0-based): train first, then validation, then test."""
    counts = split_counts(tracks, validation, test)
    if index < counts["train"]:
        return "train"
    return "validation" if index < counts["train"] + counts["validation"] else "test"


def track_layout(counts: dict[str, int], with_ood: bool) -> list[tuple[str, str, int]]:
    """(split, domain, position within the domain) of every track: the second half of
    the test split (rounded down) is out-of-domain when there is an OOD pool."""
    n_ood = counts["test"] // 2 if with_ood else 0
    n_in = counts["train"] + counts["validation"] + counts["test"] - n_ood
    out = []
    for k in range(n_in + n_ood):
        split = "train" if k < counts["train"] else "validation" if k < counts["train"] + counts["validation"] \
            else "test"
        out.append((split, IN_DOMAIN, k) if k < n_in else (split, OUT_OF_DOMAIN, k - n_in))
    return out
