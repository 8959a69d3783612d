"""Where tracking goes (tracking_store): the default sqlite URI at the DVC root, and the
once-per-process reachability probe of an http tracking server."""
from __future__ import annotations

from midi_extractor import tracking, tracking_store


def test_uri_defaults_to_sqlite_at_dvc_root(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert tracking_store.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_store.tracking_uri() == "http://127.0.0.1:5000"


def test_unreachable_server_is_found_once_in_seconds(monkeypatch, caplog):
    """Issue 14 item 6: http://127.0.0.1:9 (nothing listens) used to stall ~4 min of retries."""
    import time

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.delenv("MIDI_EXTRACTOR_TRACKING", raising=False)
    monkeypatch.setattr(tracking_store, "_REACH", {})
    t0 = time.perf_counter()
    with caplog.at_level("WARNING"):
        tracker = tracking.start_run("exp", "train-bass")
        again = tracking.resume_run("abc123")
    assert time.perf_counter() - t0 < 5.0
    assert not tracker.active and not again.active
    tracker.log_metrics({"loss": 1.0}, 1, flush=True)  # no-op, no error
    assert caplog.text.count("http://127.0.0.1:9 unreachable: no answer from 127.0.0.1:9 within 2 s") == 2
    assert "training goes on without tracking" in caplog.text
    assert list(tracking_store._REACH) == ["http://127.0.0.1:9"]  # probed once


def test_a_server_that_answers_is_reachable(monkeypatch):
    import http.server
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(tracking_store, "_REACH", {})
    try:
        assert tracking_store.unreachable(f"http://127.0.0.1:{server.server_port}") is None
    finally:
        server.shutdown()
    assert tracking_store.unreachable("sqlite:///x.db") is None
