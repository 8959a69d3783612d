"""params.yaml loading: types coerced by field, errors that name the key."""
from dataclasses import replace
from pathlib import Path

import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.config import ConfigError, load_params

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_shipped_params_load_with_one_role_per_stem():
    params = load_params(REPO / "params.yaml")
    assert params.reserved_stems == ["vocals"]
    for name, stem in params.stems.items():
        assert stem.role == tx.role_of(name, params.switches)
        weights = {f"{k}_weight": v for k, v in stem.loss_weights.items()}
        role = replace(params.roles[stem.role], **weights)
        assert params.role(name) == replace(role, augment=replace(role.augment, **stem.augment))


def test_lr_as_dvc_exp_writes_it_is_a_float(tmp_path):
    # `dvc exp run -S stems.bass.lr=3e-5` writes `lr: 3e-05`, which PyYAML reads as a string.
    params = load_params(write(tmp_path, "stems:\n  bass:\n    role: melodic\n    lr: 3e-05\n    epochs: '4'\n"))
    assert params.stems["bass"].lr == pytest.approx(3e-5)
    assert isinstance(params.stems["bass"].lr, float)
    assert params.stems["bass"].epochs == 4


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"stems\.bass: unknown key\(s\) learning_rate"):
        load_params(write(tmp_path, "stems:\n  bass:\n    learning_rate: 0.1\n"))


def test_bad_number_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"stems\.bass\.lr: expected a number, got 'fast'"):
        load_params(write(tmp_path, "stems:\n  bass:\n    lr: fast\n"))


def test_role_must_match_taxonomy_except_bass(tmp_path):
    with pytest.raises(ConfigError, match=r"stems\.piano\.role is 'melodic' but the taxonomy says 'harmonic'"):
        load_params(write(tmp_path, "stems:\n  piano:\n    role: melodic\n"))
    params = load_params(write(tmp_path, "stems:\n  bass:\n    role: harmonic\n"))
    assert params.switches.bass_role == "harmonic"
    assert tx.role_of("bass", params.switches) == "harmonic"


def test_missing_role_is_filled_from_taxonomy(tmp_path):
    params = load_params(write(tmp_path, "stems:\n  guitar: {}\n  drums: {lr: 0.01}\n"))
    assert params.stems["guitar"].role == "harmonic"
    assert params.stems["drums"].role == "percussive"


def test_a_stems_drive_is_checked_at_load(tmp_path):
    """stems.<stem>.saturate: 0 (off) by default, the shipped bass 1.5, out of 0-20 refused naming the key."""
    assert load_params(write(tmp_path, "stems:\n  piano: {}\n")).stems["piano"].saturate == 0.0
    assert load_params(REPO / "params.yaml").stems["bass"].saturate == 1.5
    for bad in ("-1", "21"):
        with pytest.raises(ConfigError, match=r"stems\.bass\.saturate must be a drive from 0 \(off\) to 20"):
            load_params(write(tmp_path, f"stems:\n  bass:\n    saturate: {bad}\n"))
    with pytest.raises(ConfigError, match=r"stems\.bass\.saturate: expected a finite number, got nan"):
        load_params(write(tmp_path, "stems:\n  bass:\n    saturate: .nan\n"))
    with pytest.raises(ConfigError, match=r"pretrain\.pitched\.saturate: a base hears its stems' tracks as they are"):
        load_params(write(tmp_path, "pretrain:\n  pitched:\n    stems: [bass]\n    saturate: 1.5\n"))


def test_vocals_cannot_be_trained_yet(tmp_path):
    with pytest.raises(ConfigError, match="'vocals' is a reserved slot"):
        load_params(write(tmp_path, "stems:\n  vocals: {}\n"))


def test_per_stem_loss_weights_override_the_role(tmp_path):
    params = load_params(write(tmp_path, (
        "stems:\n  bass:\n    loss_weights: {onset: 5.0}\n  synth_lead: {}\n"
        "roles:\n  melodic: {onset_weight: 2.0, frame_weight: 1.5}\n")))
    assert params.role("bass").onset_weight == 5.0
    assert params.role("bass").frame_weight == 1.5
    assert params.role("synth_lead").onset_weight == 2.0


def test_restrike_and_held_weights_are_role_weights_a_stem_can_override(tmp_path):
    params = load_params(write(tmp_path, (
        "stems:\n  piano:\n    loss_weights: {restrike: 4.0, held: 8}\n  guitar: {}\n"
        "roles:\n  harmonic: {restrike_weight: 2.0, held_weight: 3}\n")))
    assert params.role("piano").restrike_weight == 4.0
    assert params.role("piano").held_weight == 8.0
    assert params.role("guitar").restrike_weight == 2.0
    assert params.role("guitar").held_weight == 3.0
    assert load_params(write(tmp_path, "stems:\n  piano:\n    loss_weights: {octave: 4}\n")).role("piano").octave_weight == 4.0
    with pytest.raises(ConfigError, match=r"roles\.harmonic\.octave_weight must be >= 0"):
        load_params(write(tmp_path, "roles:\n  harmonic: {octave_weight: -2}\n"))
    with pytest.raises(ConfigError, match=r"roles\.harmonic\.held_weight must be >= 0"):
        load_params(write(tmp_path, "roles:\n  harmonic: {held_weight: -1}\n"))
    assert load_params(REPO / "params.yaml").role("drums").restrike_weight == 1.0
    with pytest.raises(ConfigError, match=r"roles\.harmonic\.restrike_weight must be >= 0"):
        load_params(write(tmp_path, "roles:\n  harmonic: {restrike_weight: -1}\n"))
    with pytest.raises(ConfigError, match="unknown weight.*restroke.*known: onset, offset, frame, velocity, restrike, held, octave"):
        load_params(write(tmp_path, "stems:\n  piano:\n    loss_weights: {restroke: 4.0}\n"))


def test_organ_switch(tmp_path):
    params = load_params(write(tmp_path, "taxonomy: {organs_as_keys: true}\n"))
    assert tx.stem_for_program(19, switches=params.switches) == "piano"


def test_front_end_constants_derive_from_each_other():
    fe = load_params(REPO / "params.yaml").features
    assert fe.frame_rate_hz == fe.sample_rate_hz / fe.hop_length
    assert fe.n_pitches == fe.max_midi - fe.min_midi + 1
    assert fe.n_frames(fe.sample_rate_hz) == fe.sample_rate_hz // fe.hop_length + 1
    assert fe.frame_of(1.0) == round(fe.frame_rate_hz)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(write(tmp_path, "stems: [\n"))


def test_resolve_params_takes_params_a_path_or_the_local_file(tmp_path, monkeypatch):
    from midi_extractor.config import Params, resolve_params

    given = Params()
    assert resolve_params(given) is given
    path = write(tmp_path, "stems:\n  bass: {lr: 0.5}\n")
    assert resolve_params(path).stems["bass"].lr == 0.5
    monkeypatch.chdir(tmp_path)
    assert resolve_params(None).stems["bass"].lr == 0.5   # ./params.yaml
    path.unlink()
    assert resolve_params(None) == Params()                # no file: the defaults


def test_replace_coerces_as_a_params_file_does_and_checks_the_result():
    from midi_extractor.config import StemConfig, replace

    stem = replace(StemConfig(), "override stems.bass", epochs="3", lr="1e-4")
    assert (stem.epochs, stem.lr) == (3, 1e-4)
    with pytest.raises(ConfigError, match=r"override stems\.bass\.epochs: expected an integer"):
        replace(StemConfig(), "override stems.bass", epochs=2.5)
    with pytest.raises(ConfigError, match=r"override stems\.bass\.lr must be > 0, got -1"):
        replace(StemConfig(), "override stems.bass", lr=-1)


def test_a_section_built_in_code_is_checked_as_a_file_is():
    """No path around the checks: a section built in code, a whole Params, and a decoding
    section are validated when they are made, the error naming the key."""
    from midi_extractor.config import DecodingConfig, FrontEndConfig, Params, StemConfig

    with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
        StemConfig(batch_size=0)
    with pytest.raises(ConfigError, match="kind must be one of mel, logfreq, got 'cqt'"):
        FrontEndConfig(kind="cqt")
    with pytest.raises(ConfigError, match=r"stems\.bass\.base is 'nope', which is not under 'pretrain'"):
        Params(stems={"bass": StemConfig(base="nope")})
    with pytest.raises(ConfigError, match="onset_threshold must lie between 0 and 1"):
        DecodingConfig(onset_threshold=1.5)
    with pytest.raises(ConfigError, match=r"onset_grid: thresholds must lie between 0 and 1"):
        DecodingConfig(onset_grid=[0.0, 0.5])
    assert Params(stems={"piano": StemConfig()}).stems["piano"].role == "harmonic"  # filled in from the taxonomy


def test_a_bad_value_in_a_file_names_the_file_and_the_key(tmp_path):
    path = write(tmp_path, "stems:\n  bass: {batch_size: 0}\ndecoding: {onset_grid: [0.2, 1.2]}\n")
    with pytest.raises(ConfigError, match=r"params\.yaml: stems\.bass\.batch_size must be >= 1, got 0"):
        load_params(path)
    path = write(tmp_path, "decoding: {onset_grid: [0.2, 1.2], onset_threshold: auto}\n")
    with pytest.raises(ConfigError, match=r"params\.yaml: decoding\.onset_grid: thresholds must lie"):
        load_params(path)


def test_onset_candidates_are_what_evaluate_chooses_from():
    from midi_extractor.config import DEFAULT_ONSET_GRID, DecodingConfig

    assert DecodingConfig(onset_grid=[0.1, 0.3]).onset_candidates() == (0.1, 0.3)
    assert DecodingConfig(onset_threshold=0.35).onset_candidates() == (0.35,)
    assert DecodingConfig(onset_threshold="auto").onset_candidates() == DEFAULT_ONSET_GRID
    assert DecodingConfig(onset_threshold=None).frame_candidates() == (0.4,)


def test_index_filter_is_a_typed_section(tmp_path):
    from midi_extractor.config import FilterConfig

    params = load_params(write(tmp_path, "index:\n  filter: {min_notes: '3', silence_db: -50}\n"))
    assert params.index.filter == FilterConfig(min_notes=3, silence_db=-50.0)
    with pytest.raises(ConfigError, match=r"params\.yaml: index\.filter: unknown key\(s\) min_note"):
        load_params(write(tmp_path, "index:\n  filter: {min_note: 3}\n"))
    with pytest.raises(ConfigError, match=r"block_s must be > 0, got 0"):
        FilterConfig(block_s=0)


@pytest.mark.parametrize("value, expected", [("auto", "auto"), (" AUTO ", "auto"), (None, "auto"), (True, True),
                                             ("false", False), ("True", True), (False, False)])
def test_a_three_way_switch_reads_auto_true_or_false(value, expected):
    from midi_extractor.config.fields import auto_or_bool

    assert auto_or_bool(value, "x.y") == expected


@pytest.mark.parametrize("section, key", [({"dataset": {"kind": "slakh2100", "bass_labels_octave_down": "yes"}},
                                           "dataset.bass_labels_octave_down"),
                                          ({"pretrain": {"p": {"stems": ["bass"], "role": "harmonic", "rebuild": 1}}},
                                           "pretrain.p.rebuild")])
def test_both_three_way_switches_refuse_other_values_with_one_message(section, key):
    """bass_labels_octave_down and pretrain.<base>.rebuild share one parser and one wording."""
    from midi_extractor.config import Params, from_dict

    with pytest.raises(ConfigError, match=rf"{key} must be auto, true or false, got "):
        from_dict(Params, section)


def test_kit_tracks_need_kits_and_kits_stay_out_of_the_test_pool():
    from midi_extractor.config import Params, from_dict

    with pytest.raises(ConfigError, match=r"dataset\.kit_tracks is 8 but params\.dataset\.kit_sources is empty: name the sources"):
        from_dict(Params, {"dataset": {"kit_tracks": 8}})
    with pytest.raises(ConfigError, match=r"dataset.ood_sources must be held out of sound_sources; both list AVL_RedZeppelin"):
        from_dict(Params, {"dataset": {"kit_tracks": 1, "kit_sources": ["AVL_RedZeppelin"]}})
    with pytest.raises(ConfigError, match=r"dataset.kit_tracks must be >= 0, got -1"):
        from_dict(Params, {"dataset": {"kit_tracks": -1}})
    ds = from_dict(Params, {"dataset": {"kit_tracks": 4, "kit_sources": ["H2_Forzee"]}}).dataset
    assert (ds.kit_tracks, ds.kit_sources) == (4, ["H2_Forzee"])


KIT_BASE = ("pretrain: {percussive: {stems: [drums, high_percs], role: percussive, drum_stem: drums%s}}\n"
            "stems: {high_percs: {base: percussive}, bass: {}}\n")


def test_a_base_rate_gives_its_stems_the_front_end_at_that_rate_with_the_same_frames(tmp_path):
    params = load_params(write(tmp_path, "dataset: {sample_rate_hz: 32000}\n"
                                         "features: {kind: logfreq, sample_rate_hz: 16000, hop_length: 512, n_fft: 2048,"
                                         " n_fft_low: 8192, f_max_hz: 8000.0}\n" + KIT_BASE % ", sample_rate_hz: 32000"))
    fe, base = params.features, params.front_end("high_percs")
    assert base == params.base_front_end("percussive")
    assert (base.sample_rate_hz, base.hop_length, base.n_fft, base.n_fft_low, base.f_max_hz) == (32000, 1024, 4096,
                                                                                                  16384, 16000.0)
    assert base.hop_s == fe.hop_s and base.n_frames(32000 * 3) == fe.n_frames(16000 * 3)
    assert (base.min_midi, base.max_midi, base.kind, base.bins_per_semitone) == (fe.min_midi, fe.max_midi, fe.kind,
                                                                                 fe.bins_per_semitone)
    assert params.front_end("bass") == fe   # a stem without a base hears features


def test_a_base_n_fft_shortens_the_high_stft_at_the_base_rate_and_keeps_the_rest(tmp_path):
    params = load_params(write(tmp_path, "dataset: {sample_rate_hz: 32000}\n"
                                         "features: {kind: logfreq, sample_rate_hz: 16000, hop_length: 512, n_fft: 2048,"
                                         " n_fft_low: 8192, f_max_hz: 8000.0}\n"
                                         + KIT_BASE % ", sample_rate_hz: 32000, n_fft: 2048"))
    base = params.front_end("high_percs")
    assert (base.sample_rate_hz, base.hop_length, base.n_fft, base.n_fft_low, base.f_max_hz) == (32000, 1024, 2048,
                                                                                                  16384, 16000.0)
    at_16k = load_params(write(tmp_path, KIT_BASE % ", n_fft: 1024"))
    assert at_16k.front_end("high_percs") == replace(at_16k.features, n_fft=1024) != at_16k.features
    assert at_16k.front_end("bass") == at_16k.features


def test_a_base_n_fft_below_two_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"pretrain\.percussive\.n_fft must be >= 2 samples"):
        load_params(write(tmp_path, KIT_BASE % ", n_fft: 1"))


def test_a_base_without_a_rate_hears_features(tmp_path):
    params = load_params(write(tmp_path, KIT_BASE % ""))
    assert params.pretrain["percussive"].sample_rate_hz is None
    assert params.front_end("high_percs") == params.features == params.base_front_end("percussive")


@pytest.mark.parametrize("rate, message", [
    (32000, "pretrain.percussive.sample_rate_hz is 32000 but dataset.sample_rate_hz renders the generated set at "
            "16000: the base would hear nothing above 8000 Hz; raise dataset.sample_rate_hz to 32000"),
    (0, "pretrain.percussive.sample_rate_hz must be >= 1")])
def test_a_base_rate_the_data_cannot_feed_is_refused_naming_the_key(tmp_path, rate, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_params(write(tmp_path, KIT_BASE % f", sample_rate_hz: {rate}"))


def test_params_yaml_lists_each_base_rate_so_dvc_exp_can_set_it():
    import yaml

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert all("sample_rate_hz" in base and "n_fft" in base for base in raw["pretrain"].values())


@pytest.mark.parametrize("text, message", [
    ("stems:\n  bass:\n    epochs: .nan\n", r"stems\.bass\.epochs: expected a finite number, got nan"),
    ("stems:\n  bass:\n    lr: .inf\n", r"stems\.bass\.lr: expected a finite number, got inf"),
    ("stems:\n  bass:\n    grad_clip: nan\n", r"stems\.bass\.grad_clip: expected a finite number, got 'nan'"),
    ("stems:\n  bass:\n    lr: true\n", r"stems\.bass\.lr: expected a finite number, got True"),
])
def test_non_finite_or_boolean_numbers_are_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, text))


@pytest.mark.parametrize("text, message", [
    # `-S stems.bass.base_blends=0.5` writes a scalar; a string would have become its characters
    ("stems:\n  bass:\n    base_blends: 0.5\n", r"stems\.bass\.base_blends: expected a list, got 0\.5 \(write \[0\.5\]\)"),
    ("pretrain:\n  pitched:\n    stems: bass\n    role: harmonic\n", r"pretrain\.pitched\.stems: expected a list, got 'bass'"),
    ("decoding:\n  onset_grid: 0.3\n", r"decoding\.onset_grid: expected a list, got 0\.3"),
])
def test_a_scalar_where_a_list_belongs_is_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, text))


def test_null_string_value_is_refused_not_read_as_none_text(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset\.root: expected a string, got None"):
        load_params(write(tmp_path, "dataset:\n  root:\n"))


@pytest.mark.parametrize("role", ["percussive", "melodik"])
def test_bass_role_outside_melodic_harmonic_is_a_config_error(tmp_path, role):
    # -S stems.bass.role=percussive raised a bare ValueError from the taxonomy before
    with pytest.raises(ConfigError, match=rf"stems\.bass\.role must be melodic or harmonic .* got '{role}'"):
        load_params(write(tmp_path, f"stems:\n  bass:\n    role: {role}\n"))


def test_negative_per_stem_loss_weight_is_refused_like_the_roles(tmp_path):
    with pytest.raises(ConfigError, match=r"stems\.bass\.loss_weights\.onset must be >= 0, got -2\.0"):
        load_params(write(tmp_path, "stems:\n  bass:\n    loss_weights: {onset: -2}\n"))
    with pytest.raises(ConfigError, match=r"pretrain\.pitched\.loss_weights\.held must be >= 0"):
        load_params(write(tmp_path, "pretrain:\n  pitched:\n    stems: [bass]\n    role: harmonic\n"
                                    "    loss_weights: {held: -1}\n"))


def test_a_stems_or_bases_augment_keys_go_over_its_roles_and_are_checked_at_load(tmp_path):
    """``stems.<stem>.augment`` / ``pretrain.<base>.augment`` replace the keys they name of the
    role's augment and keep the rest; another stem of the role keeps the role's own."""
    roles = "roles:\n  harmonic:\n    augment: {gain_db: 6.0, eq_db: 3.0, lowpass_prob: 0.3}\n"
    params = load_params(write(tmp_path, roles + "stems:\n  piano:\n    role: harmonic\n    augment: {lowpass_prob: 0}\n"
                               "    loss_weights: {held: 8}\n  guitar:\n    role: harmonic\n"
                               "pretrain:\n  pitched:\n    stems: [piano]\n    role: harmonic\n"
                               "    augment: {eq_db: 9}\n"))
    piano, guitar, base = params.role("piano"), params.role("guitar"), params.base_role("pitched")
    assert (piano.augment.lowpass_prob, piano.augment.gain_db, piano.augment.eq_db, piano.held_weight) == (0.0, 6.0, 3.0, 8.0)
    assert (guitar.augment.lowpass_prob, guitar.held_weight) == (0.3, 1.0)
    assert (base.augment.eq_db, base.augment.lowpass_prob) == (9.0, 0.3)
    with pytest.raises(ConfigError, match=r"stems\.piano\.augment: unknown key\(s\) lowpas_prob; known: gain_db"):
        load_params(write(tmp_path, "stems:\n  piano:\n    augment: {lowpas_prob: 0}\n"))
    with pytest.raises(ConfigError, match=r"stems\.piano\.augment\.lowpass_prob must be within 0-1, got 2\.0"):
        load_params(write(tmp_path, "stems:\n  piano:\n    augment: {lowpass_prob: 2}\n"))


def test_taxonomy_keys_are_checked_and_read_as_bools(tmp_path):
    with pytest.raises(ConfigError, match=r"taxonomy: unknown key\(s\) organs_as_key; known: organs_as_keys"):
        load_params(write(tmp_path, "taxonomy:\n  organs_as_key: true\n"))
    with pytest.raises(ConfigError, match=r"taxonomy\.organs_as_keys: expected true/false, got 'maybe'"):
        load_params(write(tmp_path, "taxonomy:\n  organs_as_keys: maybe\n"))
    # a quoted 'false' used to be bool('false'), i.e. true
    assert load_params(write(tmp_path, "taxonomy:\n  organs_as_keys: 'false'\n")).switches.organs_as_keys is False
    assert load_params(write(tmp_path, "taxonomy:\n  organs_as_keys: true\n")).switches.organs_as_keys is True


def test_model_size_and_its_front_end_are_checked_at_load(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.size must be one of small, paper, harmonic, harmonic-large, got 'huge'"):
        load_params(write(tmp_path, "model:\n  size: huge\n"))
    with pytest.raises(ConfigError, match=r"model\.conv_channels must be >= 1"):
        load_params(write(tmp_path, "model:\n  size: small\n  conv_channels: -1\n"))
    with pytest.raises(ConfigError, match=r"model\.size 'harmonic' needs features\.kind: logfreq"):
        load_params(write(tmp_path, "model:\n  size: harmonic\nfeatures:\n  kind: mel\n"))


@pytest.mark.parametrize("features, message", [
    ("{kind: logfreq, f_max_hz: 20000}", r"features\.f_max_hz is 20000 Hz, above the Nyquist frequency .* \(8000 Hz\)"),
    ("{kind: logfreq, split_hz: -1}", r"features\.split_hz is -1 Hz; it must lie between f_min_hz"),
    ("{kind: logfreq, split_hz: 9000}", r"features\.split_hz is 9000 Hz"),
])
def test_front_end_bands_that_cannot_exist_are_refused_at_load(tmp_path, features, message):
    # each failed only when the front end was built, a RuntimeError inside torch
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, f"features: {features}\n"))


@pytest.mark.parametrize("drum_split, message", [
    ("{window_s: -1}", r"index\.drum_split\.window_s must be > 0 s, got -1\.0"),  # crashed the index stage
    ("{active_db: -5}", r"index\.drum_split\.active_db must be >= 0 dB"),        # IndexError in drum_split.py
    ("{low_hz: 20000}", r"index\.drum_split\.low_hz must be within 0 Hz - sample_rate_hz / 2"),
    ("{midi_high_share: 2}", r"index\.drum_split\.midi_high_share is a share: it must be within 0-1, got 2\.0"),
    ("{low_vote: -1}", r"index\.drum_split\.low_vote must be >= 0"),
])
def test_drum_split_thresholds_that_break_the_split_are_refused(tmp_path, drum_split, message):
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, f"index:\n  drum_split: {drum_split}\n"))


def test_generated_song_length_and_rate_are_checked_at_load(tmp_path):
    # the synth stage refused them later, naming CLI flags (--seconds) the user never typed
    with pytest.raises(ConfigError, match=r"dataset\.seconds must be at least 0\.5, got 0\.0"):
        load_params(write(tmp_path, "dataset:\n  seconds: 0\n"))
    with pytest.raises(ConfigError, match=r"dataset\.sample_rate_hz must be 8000-96000 Hz .* got 0"):
        load_params(write(tmp_path, "dataset:\n  sample_rate_hz: 0\n"))
    # generated-only settings are not checked for real data
    assert load_params(write(tmp_path, "dataset:\n  kind: redux\n  root: data/slakh\n  seconds: 0\n")).dataset.seconds == 0


@pytest.mark.parametrize("text, message", [
    ("stems: {bass: {}}\nreserved_stems: [vocals, bass]\n",
     r"params\.yaml: reserved_stems lists 'bass', which stems\.bass trains"),
    ("reserved_stems: [kazoo]\n", r"params\.yaml: reserved_stems: unknown stem 'kazoo'; known: bass, "),
    ("stems: null\n", r"params\.yaml: stems is null; list the stems to train"),
    ("stems:\n  bass:\n  piano: {}\n", r"params\.yaml: stems\.bass is null; give its settings"),
    ("index:\n  filter: {silence_db: 6}\n",
     r"params\.yaml: index\.filter\.silence_db is 6 dBFS, above full scale \(0 dBFS\)"),
    ("dataset: {tracks: 20, validation_tracks: 4, test_tracks: 20}\n",
     r"params\.yaml: dataset\.validation_tracks \(4\) \+ test_tracks \(20\) leave no train track out of "
     r"tracks \(20\): raise tracks to at least 25"),
    ("dataset: {tracks: 10, validation_tracks: null, test_tracks: 9}\n",  # null: 10 % of tracks, as synth draws it
     r"dataset\.validation_tracks \(1\) \+ test_tracks \(9\) leave no train track"),
])
def test_settings_that_mean_something_else_are_refused_naming_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, text))


def test_the_limits_of_those_rules_still_load(tmp_path):
    params = load_params(write(tmp_path, "stems: {bass: {}}\nreserved_stems: [vocals, high_percs]\n"
                                         "index:\n  filter: {silence_db: 0}\n"
                                         "dataset: {tracks: 25, validation_tracks: 4, test_tracks: 20, "
                                         "calibration_tracks: 8, calibration_sources: [FreePats]}\n"))
    assert params.reserved_stems == ["vocals", "high_percs"] and params.index.filter.silence_db == 0
    # the split sizes are the generated set's: real data ignores them
    real = "dataset: {kind: redux, root: data/slakh, tracks: 2, validation_tracks: 4, test_tracks: 20}\n"
    assert load_params(write(tmp_path, real)).dataset.tracks == 2
