"""splits.py: split sizes of the generated set and each track's split and domain."""
import pytest

from midi_extractor.synth.fluid import SynthError
from midi_extractor.synth.splits import split_counts, track_layout, track_split


def test_split_sizes_given_or_about_80_10_10():
    assert split_counts(1) == {"train": 1, "validation": 0, "test": 0}
    assert split_counts(2) == {"train": 1, "validation": 0, "test": 1}
    assert split_counts(3) == {"train": 1, "validation": 1, "test": 1}
    assert split_counts(40) == {"train": 32, "validation": 4, "test": 4}
    assert split_counts(10, validation=0, test=3) == {"train": 7, "validation": 0, "test": 3}
    assert [track_split(k, 5) for k in range(5)] == ["train"] * 3 + ["validation", "test"]
    with pytest.raises(SynthError, match=r"validation \(2\) \+ test \(2\) tracks must leave train tracks out of 4"):
        split_counts(4, 2, 2)


def test_the_second_half_of_the_test_split_is_out_of_domain():
    counts = {"train": 3, "validation": 1, "test": 3}
    assert track_layout(counts, with_ood=True) == [
        ("train", "in_domain", 0), ("train", "in_domain", 1), ("train", "in_domain", 2),
        ("validation", "in_domain", 3), ("test", "in_domain", 4), ("test", "in_domain", 5),
        ("test", "out_of_domain", 0)]
    assert {d for _, d, _ in track_layout(counts, with_ood=False)} == {"in_domain"}
