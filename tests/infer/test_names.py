"""infer.names: the stem a file's name says (numbers never read as GM programs), the GM program of
an output track, and the stems of a folder in taxonomy order with a message per file left out."""
import re

import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.infer.names import stem_files, stem_from_filename, track_program


@pytest.mark.parametrize("name, stem", [("bass.wav", "bass"), ("Track1_drums.flac", "drums"), ("keys.mp3", "piano"),
                                        ("bass_2.wav", "bass"), ("My-Song_guitar.wav", "guitar"),
                                        # separators' and DAWs' exports: words split on any punctuation
                                        ("1_Song_(Bass).wav", "bass"), ("Song - Drums.wav", "drums"),
                                        ("02 Electric Bass.flac", "bass"), ("song.piano.wav", "piano"),
                                        ("Guitar 1.wav", "guitar"), ("song_hi-hat.wav", "high_percs"),
                                        ("song_bass_guitar.wav", "bass"), ("song_synth_lead.wav", "synth_lead")])
def test_stem_from_filename(name, stem):
    assert stem_from_filename(name) == stem


def test_a_name_that_says_no_stem_is_a_key_error():
    with pytest.raises(KeyError, match="mystery_2.wav: cannot tell the stem from the file name"):
        stem_from_filename("mystery_2.wav")  # "2" is a take number, not GM program 2


def test_track_program_named_by_number_gm_name_or_the_stems_default():
    assert track_program(25, "guitar") == 25 and track_program(" 25 ", "guitar") == 25
    assert track_program(" electric  bass (pick) ", "bass") == 34
    assert track_program("bass", "bass") == tx.default_program("bass")


def test_stem_files_in_taxonomy_order_with_a_message_per_file_left_out(tmp_path):
    for name in ("piano.wav", "drums.flac", "bass.wav", "bass_2.wav", "mystery.wav", "notes.txt"):
        (tmp_path / name).touch()
    (tmp_path / "guitar.wav").mkdir()  # a folder, not a file
    files, problems = stem_files(tmp_path)
    assert list(files) == ["bass", "piano", "drums"]
    assert files["bass"] == tmp_path / "bass.wav" and files["drums"] == tmp_path / "drums.flac"
    assert len(problems) == 2
    assert f"{tmp_path / 'bass_2.wav'}: skipped, bass.wav already holds stem 'bass'" in problems
    assert any(p.startswith(f"{tmp_path / 'mystery.wav'}: cannot tell the stem") for p in problems)


@pytest.mark.parametrize("name, stem", [("no_vocals.wav", "vocals"), ("no_drums.wav", "drums"),
                                        ("Song_no_bass.flac", "bass"), ("1_Song_(No Vocals).wav", "vocals")])
def test_a_separators_mix_without_a_stem_is_not_read_as_that_stem(name, stem):
    # demucs --two-stems writes vocals.wav and no_vocals.wav: the second is everything else
    with pytest.raises(KeyError, match=f"{re.escape(name)}: holds everything but the {stem} .*pass --stem"):
        stem_from_filename(name)


def test_a_two_stem_folder_keeps_the_stem_and_names_the_rest(tmp_path):
    for name in ("drums.wav", "no_drums.wav"):
        (tmp_path / name).touch()
    files, problems = stem_files(tmp_path)
    assert files == {"drums": tmp_path / "drums.wav"}
    assert problems == [f"{tmp_path / 'no_drums.wav'}: holds everything but the drums (a separator's no_drums "
                        f"file, a mix of the other stems), not a drums stem; pass --stem to transcribe it anyway"]
