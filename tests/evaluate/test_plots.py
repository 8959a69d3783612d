"""evaluate.plots: legend with reference / estimate / match, drum rows named by class, worst first."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from midi_extractor import taxonomy as tx  # noqa: E402
from midi_extractor.evaluate.plots import COLOURS, draw_piano_roll, plot_tracks  # noqa: E402
from midi_extractor.model.decoding import Note  # noqa: E402

REF = [Note(0.0, 0.5, 60, 100), Note(1.0, 1.5, 62, 100)]
EST = [Note(0.01, 0.5, 60, 100), Note(2.0, 2.5, 64, 100)]


def _colours(ax):
    """One RGB a drawn note, from the collections the notes are drawn as."""
    return [tuple(round(c, 3) for c in coll.get_facecolor()[0][:3])
            for coll in ax.collections for _ in coll.get_paths()]


def test_legend_names_reference_estimate_and_match_and_colours_matches():
    fig, ax = plt.subplots()
    draw_piano_roll(ax, REF, EST, "t")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["reference", "estimate (no match)", "estimate matching a reference onset"]
    colours = _colours(ax)
    green, red = (tuple(round(c, 3) for c in to_rgb(COLOURS[k])) for k in ("match", "estimate"))
    assert colours.count(green) == 1 and colours.count(red) == 1 and len(colours) == 4
    plt.close(fig)


def test_drum_rows_are_named_by_class():
    fig, ax = plt.subplots()
    hat = Note(0.5, 0.6, 42, 100)
    draw_piano_roll(ax, [hat], [], drums=True)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(tx.DRUM_CLASSES)
    (box,) = ax.collections[0].get_paths()
    rows = box.vertices[:, 1]
    assert (rows.min() + rows.max()) / 2 == list(tx.DRUM_CLASSES).index("hihat")
    assert box.vertices[:, 0].min() == 0.5 and box.vertices[:, 0].max() == 0.6
    plt.close(fig)


def test_every_track_plotted_worst_first_up_to_the_cap(tmp_path):
    (tmp_path / "stale.png").write_bytes(b"")
    tracks = [{"track": f"Track{i}/S01", "domain": "in_domain", "onset_f1": f1, "ref": REF, "est": EST}
              for i, f1 in enumerate((0.5, 0.1, 0.9))]
    paths = plot_tracks(tracks, tmp_path, "bass", drums=False, max_plots=2)
    assert [p.name for p in paths] == ["00_Track1_S01.png", "01_Track0_S01.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00_Track1_S01.png", "01_Track0_S01.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
