"""Uploading a CSV (x1, x2, label) to a playground session, and the 4xx
answers to broken or hostile uploads, against a real server."""
import http.client
import json
import time

import numpy as np
import pytest

from scratchnn.data import make_xor, train_test_split
from scratchnn.playground import SessionStore, serve
from scratchnn.playground.config import MAX_POINTS
from scratchnn.playground.upload import MAX_CSV_BYTES

SMALL = {"layers": [{"units": 8, "activation": "tanh"}], "lr": 0.05,
         "batch_size": 20, "test_ratio": 0.3, "seed": 0}


@pytest.fixture
def server():
    store = SessionStore(max_sessions=3, max_train_seconds=3.0)
    srv = serve("127.0.0.1", 0, store)
    yield srv
    srv.stop()


def send(srv, method, path, body=b"", kind="application/json",
         headers=None):
    """(status, parsed JSON) for a request sent as given."""
    host, port = srv.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    sent = {"Content-Type": kind, **(headers or {})}
    connection.request(method, path, body=body, headers=sent)
    answer = connection.getresponse()
    status, raw = answer.status, answer.read()
    connection.close()
    assert answer.getheader("Content-Type") == "application/json", raw[:200]
    return status, json.loads(raw)


def new_session(srv) -> str:
    status, answer = send(srv, "POST", "/api/sessions",
                          json.dumps(SMALL).encode())
    assert status == 201, answer
    return answer["id"]


def xor_csv(n=200, labels=("0", "1"), header="x1,x2,label") -> bytes:
    X, y = make_xor(n, seed=0)
    rows = [f"{float(a)!r},{float(b)!r},{labels[c]}"
            for (a, b), c in zip(X, y)]
    lines = [header] + rows
    return ("\n".join(lines) + "\n").encode()


def upload(srv, sid, body, kind="text/csv"):
    return send(srv, "POST", f"/api/sessions/{sid}/data", body, kind)


def train_epochs(srv, sid, epochs):
    """Step until `epochs` epochs are done; the last summary."""
    while True:
        status, summary = send(srv, "POST", f"/api/sessions/{sid}/step")
        assert status == 200, summary
        if summary["epoch"] >= epochs:
            return summary


def assert_healthy(srv, sid):
    status, health = send(srv, "GET", "/api/health")
    assert status == 200 and health["ok"]
    status, summary = send(srv, "POST", f"/api/sessions/{sid}/step")
    assert status == 200, summary
    assert summary["step"] >= 1


@pytest.mark.parametrize("labels", [("0", "1"), ("blue", "red")])
def test_uploaded_csv_is_split_and_trained(server, labels):
    sid = new_session(server)
    status, config = upload(server, sid, xor_csv(labels=labels))
    assert status == 200, config
    assert config["dataset"] == "upload"
    assert config["points"] == 200

    # The split is the library's, with the session's test ratio and seed.
    X, y = make_xor(200, seed=0)
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3,
                                                  seed=0)
    status, state = send(server, "GET", f"/api/sessions/{sid}/state")
    assert state["config"]["dataset"] == "upload"
    # Whole-number labels are numbers; other labels stay text.
    classes = [0, 1] if labels == ("0", "1") else list(labels)
    assert state["decision"]["classes"] == classes
    train = np.array(state["points"]["train"])
    test = np.array(state["points"]["test"])
    assert len(train) + len(test) == 200
    np.testing.assert_allclose(train[:, :2], X_train, atol=1e-5)
    np.testing.assert_array_equal(test[:, 2], y_test)

    first = train_epochs(server, sid, 1)["test_loss"]
    last = train_epochs(server, sid, 40)["test_loss"]
    assert last < 0.7 * first, (first, last)


def test_reset_keeps_the_upload_and_a_dataset_replaces_it(server):
    sid = new_session(server)
    assert upload(server, sid, xor_csv(60, ("a", "b")))[0] == 200
    train_epochs(server, sid, 1)

    status, summary = send(server, "POST", f"/api/sessions/{sid}/reset")
    assert status == 200 and summary["epoch"] == 0
    # Other settings change while the upload stays.
    status, config = send(server, "POST", f"/api/sessions/{sid}/config",
                          json.dumps({"lr": 0.1}).encode())
    assert status == 200, config
    assert config["dataset"] == "upload" and config["points"] == 60
    status, state = send(server, "GET", f"/api/sessions/{sid}/state")
    assert len(state["points"]["train"]) + len(state["points"]["test"]) == 60
    assert state["decision"]["classes"] == ["a", "b"]

    status, config = send(server, "POST", f"/api/sessions/{sid}/config",
                          json.dumps({"dataset": "moons",
                                      "points": 100}).encode())
    assert status == 200 and config["dataset"] == "moons"
    status, state = send(server, "GET", f"/api/sessions/{sid}/state")
    assert len(state["points"]["train"]) + len(state["points"]["test"]) == 100
    # The upload is gone: "upload" is no longer a dataset to choose.
    status, answer = send(server, "POST", f"/api/sessions/{sid}/config",
                          json.dumps({"dataset": "upload"}).encode())
    assert status == 400 and "dataset must be one of" in answer["error"]


def test_upload_is_not_a_dataset_to_create(server):
    status, answer = send(server, "POST", "/api/sessions",
                          json.dumps({"dataset": "upload"}).encode())
    assert status == 400 and "dataset" in answer["error"]


def test_binary_loss_refuses_three_uploaded_classes(server):
    sid = new_session(server)
    send(server, "POST", f"/api/sessions/{sid}/config",
         json.dumps({"loss": "binary_crossentropy"}).encode())
    X, y = make_xor(30, seed=0)
    rows = [f"{a},{b},{i % 3}" for i, (a, b) in enumerate(X)]
    body = ("x,y,c\n" + "\n".join(rows)).encode()
    status, answer = upload(server, sid, body)
    assert status == 400
    assert "needs 2 classes, but the data has 3" in answer["error"]
    assert_healthy(server, sid)


def _rows(n, row="0.5,1.5,a"):
    return "\n".join([row] * n)


BROKEN = {
    "no header": (b"0.1,0.2,0\n" + xor_csv(30).split(b"\n", 1)[1],
                  400, "line 1 holds only numbers"),
    "three features": (("a,b,c,label\n" + _rows(30, "1,2,3,x")).encode(),
                       400, "need exactly two feature columns"),
    "one column": (("label\n" + _rows(30, "1")).encode(),
                   400, "has one column"),
    "not a number": (xor_csv(30).replace(b"\n", b"\n0.3,oops,1\n", 1),
                     400, "line 2, column 'x2': 'oops' is not a number"),
    "NaN": (xor_csv(30).replace(b"\n", b"\nnan,0.2,1\n", 1),
            400, "line 2, column 'x1': 'nan' is not a finite number"),
    "infinity": (xor_csv(30).replace(b"\n", b"\n0.1,-inf,1\n", 1),
                 400, "'-inf' is not a finite number"),
    "empty cell": (xor_csv(30).replace(b"\n", b"\n0.1,,1\n", 1),
                   400, "line 2, column 'x2': the cell is empty"),
    "ragged row": (xor_csv(30).replace(b"\n", b"\n0.1,0.2\n", 1),
                   400, "line 2 has 2 cells, the header has 3"),
    "one class": (xor_csv(30, ("same", "same")), 400, "one class"),
    "too few rows": (xor_csv(5), 400, "5 data rows; need at least"),
    "too many rows": (("x1,x2,c\n" + _rows(MAX_POINTS + 1, "1,2,a"))
                      .encode(), 400, f"at most {MAX_POINTS}"),
    "too many classes": (("x,y,c\n" + "\n".join(
        f"{i},{i},{i}" for i in range(40))).encode(), 400, "40 classes"),
    "fractional labels": (xor_csv(30, ("0.5", "1")), 400, "not whole"),
    "huge feature": (xor_csv(30).replace(b"\n", b"\n1e300,0.2,1\n", 1),
                     400, "larger than 1e+06"),
    "unclosed quote": (xor_csv(30) + b'"1,2,3\n', 400, "is not valid CSV"),
    "empty body": (b"", 400, "is empty"),
    "blank body": (b"\n \n", 400, "is empty"),
    "binary garbage": (bytes(range(256)) * 4, 400, "NUL bytes"),
    "not UTF-8": (b"x1,x2,label\n\xff\xfe,1,2\n", 400, "not UTF-8"),
    "duplicate names": (("a,a,c\n" + _rows(30, "1,2,x")).encode(),
                        400, "appears twice"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_csv_is_a_400_naming_the_problem(server, case):
    body, code, text = BROKEN[case]
    sid = new_session(server)
    status, answer = upload(server, sid, body)
    assert status == code, answer
    assert text in answer["error"], answer["error"]
    # The session keeps its own data and still trains.
    assert_healthy(server, sid)
    status, config = send(server, "GET", f"/api/sessions/{sid}/config")
    assert config["dataset"] == "xor"


def test_huge_body_is_a_413_before_it_is_read(server):
    sid = new_session(server)
    body = b"x1,x2,label\n" + b"1,2,a\n" * (MAX_CSV_BYTES // 6 + 1)
    assert len(body) > MAX_CSV_BYTES
    status, answer = upload(server, sid, body)
    assert status == 413
    assert f"at most {MAX_CSV_BYTES} bytes" in answer["error"]
    assert_healthy(server, sid)


def test_huge_declared_length_is_a_413(server):
    sid = new_session(server)
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("POST", f"/api/sessions/{sid}/data")
    connection.putheader("Content-Type", "text/csv")
    connection.putheader("Content-Length", str(10**11))
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413
    assert "at most" in json.loads(answer.read())["error"]
    connection.close()
    assert_healthy(server, sid)


@pytest.mark.parametrize("kind", ["application/json", "text/plain", "",
                                  "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_a_415(server, kind):
    sid = new_session(server)
    status, answer = upload(server, sid, xor_csv(30), kind=kind)
    assert status == 415
    assert "must be text/csv" in answer["error"]
    assert_healthy(server, sid)


def test_upload_to_a_missing_session_is_a_404(server):
    status, answer = upload(server, "0" * 32, xor_csv(30))
    assert status == 404 and "no session" in answer["error"]
    status, answer = send(server, "GET", "/api/sessions/0/data")
    assert status in (404, 405)


def test_upload_while_training_pauses_and_starts_afresh(server):
    sid = new_session(server)
    assert send(server, "POST", f"/api/sessions/{sid}/train")[0] == 200
    time.sleep(0.2)
    status, config = upload(server, sid, xor_csv(40, ("u", "v")))
    assert status == 200, config
    status, summary = send(server, "GET", f"/api/sessions/{sid}")
    assert summary["status"] == "paused" and summary["epoch"] == 0


def test_limits_name_the_upload_bounds(server):
    status, limits = send(server, "GET", "/api/limits")
    assert limits["max_csv_bytes"] == MAX_CSV_BYTES
    assert limits["max_classes"] >= 2
