"""benchmarks/compare_peers.py: every column is the peers' aggregation (the mean over stems)."""
import json

from helpers_data import script_module


def _module():
    return script_module("benchmarks/compare_peers.py")


def test_ours_is_the_mean_over_out_of_domain_stems_and_peers_read_json_and_json_lines(tmp_path):
    cp = _module()
    (tmp_path / "piano_tracks.csv").write_text(
        "track,domain,onset_f1\nTrack00001/S01,in_domain,0.1\nTrack00047/S01,out_of_domain,0.9\n"
        "Track00048/S02,out_of_domain,0.6\n")
    assert cp.ours(tmp_path, "piano") == (0.75, 2)
    assert cp.ours(tmp_path, "bass") is None
    lines = tmp_path / "medium.jsonl"
    lines.write_text("\n".join(json.dumps({"key": k, "category": c, "scores": [f, 0.0, 0.0]})
                               for k, c, f in [("T1/S1", "piano", 0.8), ("T2/S1", "piano", 1.0),
                                               ("T1/S2", "bass", 0.5)]) + "\n")
    assert cp.peer(lines) == {"piano": (0.9, 2), "bass": (0.5, 1)}
    summary = tmp_path / "bp.json"
    summary.write_text(json.dumps({"piano": {"onset_f1": 0.7, "n": 2}, "_speed": {"x_realtime": 50}}))
    assert cp.peer(summary) == {"piano": (0.7, 2)}


def test_the_table_bolds_each_rows_best_counts_leads_and_flags_other_files():
    cp = _module()
    rows = cp.table({"ours": {"piano": (0.75, 2), "bass": (0.9, 10)},
                     "medium": {"piano": (0.9, 2), "bass": (0.5, 9)}})
    assert rows[2] == "| bass | **0.900** | 0.500 (9 stems) |"
    assert rows[3] == "| piano | 0.750 | **0.900** |"
    assert rows[-1] == "| stems led (ties count for each) | 1 | 1 |"


def test_paired_differences_over_the_tracks_both_scored_with_a_bootstrap_interval(tmp_path):
    cp = _module()
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "piano_tracks.csv").write_text(
        "track,domain,onset_f1\nT0/S1,in_domain,0.0\n" + "".join(f"T{i}/S1,out_of_domain,{0.5 + i / 10}\n" for i in range(1, 5)))
    lines = tmp_path / "peer.jsonl"
    lines.write_text("\n".join(json.dumps({"key": f"T{i}/S1", "category": "piano", "scores": [0.5, 0, 0]})
                               for i in range(1, 6)) + "\n" + json.dumps({"key": "T1/S2", "category": "bass", "scores": [1, 0, 0]}))
    mine = cp.per_track(tmp_path / "ours", "piano")
    assert mine == {"T1/S1": 0.6, "T2/S1": 0.7, "T3/S1": 0.8, "T4/S1": 0.9}       # out of domain only
    theirs = cp.peer_tracks(lines, "piano")
    assert len(theirs) == 5 and cp.peer_tracks(lines, "bass") == {"T1/S2": 1}
    mean, low, high, n = cp.paired(mine, theirs)                # T5 has no row of ours: left out
    assert n == 4 and abs(mean - 0.25) < 1e-9 and 0.1 <= low < mean < high <= 0.4
    assert cp.paired(mine, cp.peer_tracks(tmp_path / "ours", "piano")) == (0.0, 0.0, 0.0, 4)   # a folder, the same rows
    assert cp.paired(mine, {"T1/S1": 0.1}) is None              # one common track: nothing to resample
