"""The playground's JSON API, against a real server on a free port."""
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from scratchnn import Dense, Network
from scratchnn.data import make_xor, train_test_split
from scratchnn.explain import explain_iteration
from scratchnn.playground import SessionStore, serve

XOR = {"dataset": "xor", "points": 200, "test_ratio": 0.3, "seed": 0,
       "layers": [{"units": 8, "activation": "tanh"}],
       "optimizer": "adam", "lr": 0.05, "batch_size": 20}


@pytest.fixture
def server():
    store = SessionStore(max_sessions=3, max_train_seconds=3.0)
    srv = serve("127.0.0.1", 0, store)
    yield srv
    srv.stop()
    # Every training thread ends with the server.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and _playground_threads():
        time.sleep(0.01)
    assert not _playground_threads()


def _playground_threads():
    return [t for t in threading.enumerate()
            if t.name.startswith("playground-") and t.is_alive()]


def call(srv, method, path, body=None):
    """(status, parsed JSON or raw bytes) through urllib."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(srv.url.rstrip("/") + path, data=data,
                                     method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, kind, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as err:
        status, kind, raw = err.code, err.headers, err.read()
    if kind.get("Content-Type", "").startswith("application/json"):
        return status, json.loads(raw)
    return status, raw


def raw_call(srv, method, path, body=b"", headers=None):
    """A request sent as given (no path cleaning) through http.client."""
    host, port = srv.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest(method, path, skip_accept_encoding=True,
                          skip_host="Host" in (headers or {}))
    headers = {"Content-Length": str(len(body)), **(headers or {})}
    for key, value in headers.items():
        connection.putheader(key, value)
    connection.endheaders()
    if body:
        connection.send(body)
    answer = connection.getresponse()
    status, raw = answer.status, answer.read()
    connection.close()
    return status, raw


def new_session(srv, config=XOR):
    status, answer = call(srv, "POST", "/api/sessions", config)
    assert status == 201, answer
    return answer["id"]


def library_split(config=XOR):
    X, y = make_xor(config["points"], seed=config["seed"])
    return train_test_split(X, y, test_size=config["test_ratio"],
                            seed=config["seed"])


def download_model(srv, sid, tmp_path):
    status, raw = call(srv, "GET", f"/api/sessions/{sid}/model.npz")
    assert status == 200
    path = tmp_path / "model.npz"
    path.write_bytes(raw)
    return Network.load(path)


def test_page_health_and_limits(server):
    status, page = call(server, "GET", "/")
    assert status == 200 and b"<html" in page and b"http" not in page.lower()
    assert call(server, "GET", "/api/health") == (
        200, {"ok": True, "sessions": 0}
    )
    status, limits = call(server, "GET", "/api/limits")
    assert limits["max_layers"] == 6 and limits["max_units"] == 32
    assert limits["points"] == [20, 2000]


def test_state_has_grids_weights_and_points(server):
    sid = new_session(server, {**XOR, "dataset": "spirals",
                               "layers": [{"units": 5, "activation": "relu"},
                                          {"units": 3, "activation": "tanh"}]})
    status, state = call(server, "GET", f"/api/sessions/{sid}/state")
    assert status == 200 and state["epoch"] == 0 and state["step"] == 0

    proba = np.array(state["decision"]["proba"])
    assert proba.shape == (40, 40, 3)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=2), 1.0, atol=1e-4)
    assert state["decision"]["classes"] == [0, 1, 2]

    units = state["units"]
    assert [len(layer) for layer in units] == [5, 3]
    assert np.array(units[1]).shape == (3, 20, 20)
    assert np.abs(np.array(units[1])).max() <= 1.0  # tanh
    shapes = [np.array(w["W"]).shape for w in state["weights"]]
    assert shapes == [(2, 5), (5, 3), (3, 3)]
    assert len(state["points"]["train"]) + len(state["points"]["test"]) == 200


def test_step_is_one_minibatch_and_matches_fit(server, tmp_path):
    sid = new_session(server)
    status, answer = call(server, "POST", f"/api/sessions/{sid}/step")
    assert status == 200
    position = (answer["step"], answer["epoch"], answer["batch_size"])
    assert position == (1, 0, 20)

    # 140 training points in batches of 20: 7 steps an epoch.
    for _ in range(13):
        call(server, "POST", f"/api/sessions/{sid}/step")
    status, state = call(server, "GET", f"/api/sessions/{sid}/state")
    assert (state["step"], state["epoch"]) == (14, 2)

    X_train, _, y_train, _ = library_split()
    net = Network([Dense(8, "tanh"), Dense(1, "sigmoid")],
                  loss="binary_crossentropy", optimizer="adam", lr=0.05)
    history = net.fit(X_train, y_train, epochs=2, batch_size=20, seed=0)
    served = download_model(server, sid, tmp_path)
    for ours, theirs in zip(served.parameters(), net.parameters()):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(state["history"]["loss"], history["loss"],
                               atol=1e-5)


def test_training_thread_learns_xor(server):
    sid = new_session(server)
    status, answer = call(server, "POST", f"/api/sessions/{sid}/train")
    assert status == 200 and answer["status"] == "training"
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        _, summary = call(server, "GET", f"/api/sessions/{sid}")
        if summary["epoch"] >= 40:
            break
        time.sleep(0.05)
    status, answer = call(server, "POST", f"/api/sessions/{sid}/pause")
    assert answer["status"] == "paused"
    assert answer["epoch"] >= 40
    assert answer["test_loss"] < 0.1 and answer["test_accuracy"] >= 0.95

    # Paused means paused: nothing moves any more.
    time.sleep(0.05)
    _, later = call(server, "GET", f"/api/sessions/{sid}")
    assert later["step"] == answer["step"]


def test_reset_and_config(server):
    sid = new_session(server)
    call(server, "POST", f"/api/sessions/{sid}/step")
    status, answer = call(server, "POST", f"/api/sessions/{sid}/reset", {})
    assert (answer["step"], answer["epoch"]) == (0, 0)

    status, config = call(server, "POST", f"/api/sessions/{sid}/config",
                          {"dataset": "gaussians", "points": 100,
                           "batch_size": None})
    assert status == 200 and config["dataset"] == "gaussians"
    assert config["lr"] == XOR["lr"]  # the rest kept
    assert call(server, "GET", f"/api/sessions/{sid}/config") == (200, config)
    _, answer = call(server, "POST", f"/api/sessions/{sid}/step")
    assert (answer["epoch"], answer["batch_size"]) == (1, 70)  # full batch


def test_events_stream_summaries(server):
    sid = new_session(server)
    call(server, "POST", f"/api/sessions/{sid}/step")
    started = time.monotonic()
    status, raw = call(server, "GET", f"/api/sessions/{sid}/events?limit=2")
    assert status == 200
    events = [block for block in raw.decode().split("\n\n") if block]
    assert len(events) == 2
    assert time.monotonic() - started >= 0.2  # at most 4 a second
    name, data = events[0].split("\n")
    assert name == "event: state"
    first = json.loads(data[len("data: "):])
    assert first["step"] == 1
    assert np.array(first["decision"]["proba"]).shape == (40, 40, 1 + 1)
    # Nothing changed, so the second event carries no grid.
    assert "decision" not in json.loads(events[1].split("data: ")[1])


def test_explain_matches_the_library(server, tmp_path):
    sid = new_session(server)
    status, answer = call(server, "GET", f"/api/sessions/{sid}/explain?rows=4")
    assert status == 200 and answer["step"] == 1
    assert np.array(answer["forward"][0]["z"]["value"]).shape == (4, 8)

    X_train, _, y_train, _ = library_split()
    net = download_model(server, sid, tmp_path)
    expected = explain_iteration(net, X_train[:4], y_train[:4], step=1)
    assert answer["loss"] == expected.to_dict()["loss"]


def test_python_export_predicts_like_the_model(server, tmp_path):
    sid = new_session(server)
    for _ in range(3):
        call(server, "POST", f"/api/sessions/{sid}/step")
    status, source = call(server, "GET", f"/api/sessions/{sid}/model.py")
    assert status == 200
    module = {}
    exec(compile(source, "playground_model.py", "exec"), module)

    X = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    net = download_model(server, sid, tmp_path)
    np.testing.assert_allclose(module["predict_proba"](X),
                               net.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_delete_and_unknown_session(server):
    sid = new_session(server)
    assert call(server, "DELETE", f"/api/sessions/{sid}")[0] == 200
    status, answer = call(server, "GET", f"/api/sessions/{sid}/state")
    assert status == 404 and "no session" in answer["error"]
    assert call(server, "DELETE", f"/api/sessions/{sid}")[0] == 404


def test_full_store_evicts_the_longest_idle(server):
    ids = [new_session(server) for _ in range(3)]
    call(server, "GET", f"/api/sessions/{ids[0]}")  # now ids[1] is oldest
    new_session(server)
    assert call(server, "GET", f"/api/sessions/{ids[1]}")[0] == 404
    assert call(server, "GET", f"/api/sessions/{ids[0]}")[0] == 200
    assert call(server, "GET", "/api/health")[1]["sessions"] == 3


def test_full_store_of_training_sessions_refuses(server):
    ids = [new_session(server) for _ in range(3)]
    for sid in ids:
        call(server, "POST", f"/api/sessions/{sid}/train")
    status, answer = call(server, "POST", "/api/sessions", {})
    assert status == 503 and "training" in answer["error"]
    status, answer = call(server, "POST", f"/api/sessions/{ids[0]}/step")
    assert status == 409 and "pause" in answer["error"]


def test_training_time_is_bounded():
    srv = serve("127.0.0.1", 0, SessionStore(max_train_seconds=0.1))
    try:
        sid = new_session(srv)
        call(srv, "POST", f"/api/sessions/{sid}/train")
        deadline = time.monotonic() + 2
        summary = {}
        while time.monotonic() < deadline:
            _, summary = call(srv, "GET", f"/api/sessions/{sid}")
            if summary["status"] == "paused":
                break
            time.sleep(0.02)
        assert "training time" in summary["message"]
        status, answer = call(srv, "POST", f"/api/sessions/{sid}/train")
        assert status == 429 and "reset" in answer["error"]
    finally:
        srv.stop()


SID = "0" * 32
HOSTILE = [
    ("GET", "/../etc/passwd", b"", {}, 404),
    ("GET", "/api/../../etc/passwd", b"", {}, 404),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", b"", {}, 404),
    ("GET", "/api/sessions/not-an-id/state", b"", {}, 404),
    ("GET", f"/api/sessions/{SID}/state", b"", {}, 404),
    ("POST", f"/api/sessions/{SID}/train", b"", {}, 404),
    ("GET", "/api/nothing", b"", {}, 404),
    ("PUT", "/api/sessions", b"", {}, 405),
    ("FOO", "/", b"", {}, 405),
    ("GET", "/api/health?x=1", b"", {}, 400),
    ("POST", "/api/sessions", b"{not json", {}, 400),
    ("POST", "/api/sessions", b'{"lr": NaN}', {}, 400),
    ("POST", "/api/sessions", b'{"lr": 1e999}', {}, 400),
    ("POST", "/api/sessions", b"[1, 2]", {}, 400),
    ("POST", "/api/sessions", b"[" * 100_000, {}, 400),
    ("POST", "/api/sessions", b'{"rm": "-rf"}', {}, 400),
    ("POST", "/api/sessions", b'{"points": "200"}', {}, 400),
    ("POST", "/api/sessions", b'{"points": 10000000000}', {}, 400),
    ("POST", "/api/sessions", b'{"points": true}', {}, 400),
    ("POST", "/api/sessions", b'{"seed": -1}', {}, 400),
    ("POST", "/api/sessions", b'{"lr": 0}', {}, 400),
    ("POST", "/api/sessions", b'{"dataset": "/etc/passwd"}', {}, 400),
    ("POST", "/api/sessions", b'{"batch_size": 0}', {}, 400),
    ("POST", "/api/sessions", b'{"layers": 3}', {}, 400),
    ("POST", "/api/sessions",
     json.dumps({"layers": [{"units": 2, "activation": "relu"}] * 7}).encode(),
     {}, 400),
    ("POST", "/api/sessions",
     b'{"layers": [{"units": 33, "activation": "relu"}]}', {}, 400),
    ("POST", "/api/sessions",
     b'{"layers": [{"units": 3, "activation": "softmax"}]}', {}, 400),
    ("POST", "/api/sessions",
     b'{"layers": [{"units": 3, "activation": "relu", "x": 1}]}', {}, 400),
    ("POST", "/api/sessions", b'{"points": 2001}', {}, 400),
    ("POST", "/api/sessions",
     b'{"dataset": "spirals", "loss": "binary_crossentropy"}', {}, 400),
    ("POST", "/api/sessions", b"{}", {"Content-Type": "text/plain"}, 415),
    ("POST", "/api/sessions", b"", {"Content-Length": "2000000"}, 413),
    ("POST", "/api/sessions", b"", {"Content-Length": "-5"}, 400),
    ("POST", "/api/sessions", b"", {"Transfer-Encoding": "chunked"}, 411),
    ("POST", "/api/sessions", b"", {"Origin": "http://evil.example"}, 403),
    ("GET", "/api/health", b"", {"Host": "evil.example:80"}, 403),
]


@pytest.mark.parametrize("method, path, body, headers, expected", HOSTILE)
def test_hostile_requests_get_a_4xx_and_the_server_stays_up(
    server, method, path, body, headers, expected
):
    if body and "Content-Type" not in headers:
        headers = {**headers, "Content-Type": "application/json"}
    status, raw = raw_call(server, method, path, body, headers)
    assert status == expected, raw
    assert isinstance(json.loads(raw)["error"], str)
    assert b"Traceback" not in raw
    assert call(server, "GET", "/api/health")[0] == 200


def test_hostile_requests_on_a_session(server):
    sid = new_session(server)
    bad = [
        ("POST", f"/api/sessions/{sid}/step", {"steps": 5}, 400),
        ("POST", f"/api/sessions/{sid}/config", {"lr": "fast"}, 400),
        ("POST", f"/api/sessions/{sid}/config", {"unknown": 1}, 400),
        ("GET", f"/api/sessions/{sid}/explain?rows=0", None, 400),
        ("GET", f"/api/sessions/{sid}/explain?rows=1000000", None, 400),
        ("GET", f"/api/sessions/{sid}/events?limit=abc", None, 400),
        ("GET", f"/api/sessions/{sid}/state?rows=1", None, 400),
        ("POST", f"/api/sessions/{sid}/state", None, 405),
    ]
    for method, path, body, expected in bad:
        status, answer = call(server, method, path, body)
        assert status == expected, (path, answer)
        assert answer["error"]
    # The session kept its settings.
    assert call(server, "GET", f"/api/sessions/{sid}/config")[1]["lr"] == 0.05


def test_cli_serves_until_ctrl_c():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", "playground", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/health", timeout=10) as answer:
            assert json.loads(answer.read())["ok"] is True
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
