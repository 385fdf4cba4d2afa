"""The playground under load on loopback: 20 sessions train at once while
a few clients make the page's requests (issue 7)."""
import json
import math
import os
import random
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from scratchnn import Dense, Network
from scratchnn import data
from scratchnn.data import train_test_split
from scratchnn.playground import SessionStore, serve
from scratchnn.playground.config import make_gaussians

N_SESSIONS = 20
N_CLIENTS = 4
LOAD_SECONDS = 6.0
# Generous bounds a healthy server meets by a wide margin; they catch a
# stalled server or a leak, they are not a speed benchmark.
MAX_P95_SECONDS = 2.0
MAX_RSS_GROWTH = 300 * 2**20
DATASETS = ["xor", "circles", "moons", "spirals", "gaussians"]
MAKERS = {"xor": data.make_xor, "circles": data.make_circles,
          "moons": data.make_moons, "spirals": data.make_spirals,
          "gaussians": make_gaussians}


def _config(i: int) -> dict:
    """Session i's settings: small networks, varied data and seeds."""
    activation = ["tanh", "relu", "sigmoid", "leaky_relu"][i % 4]
    layers = [{"units": 3 + i % 5, "activation": activation}]
    if i % 3 == 0:
        layers.append({"units": 4, "activation": "tanh"})
    return {"dataset": DATASETS[i % 5], "points": 60 + 10 * (i % 4),
            "test_ratio": 0.25, "seed": 1000 + 7 * i, "layers": layers,
            "optimizer": ["adam", "sgd"][i % 2],
            "lr": [0.02, 0.1][i % 2], "batch_size": [8, 16, None][i % 3]}


def _call(url, method, path, timeout=10.0):
    """(status, body bytes, seconds) through urllib."""
    request = urllib.request.Request(url + path, method=method)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    return status, raw, time.perf_counter() - started


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _playground_threads():
    return [t for t in threading.enumerate()
            if t.name.startswith("playground-") and t.is_alive()]


def _client(url, ids, own, deadline, seed, results):
    """The page's requests, at random, until the deadline.

    Only this client pauses, steps and resumes the sessions in `own`,
    so none of its requests is refused for another client's doing.
    """
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        sid = rng.choice(ids)
        kind = rng.random()
        if kind < 0.4:
            calls = [("GET", f"/sessions/{sid}/state")]
        elif kind < 0.6:
            calls = [("GET", f"/sessions/{sid}/events?limit=1")]
        elif kind < 0.75:
            calls = [("GET", f"/sessions/{sid}")]
        elif kind < 0.9:
            calls = [("GET", "/health")]
        else:
            # Pause one's own session, step it a little, train again.
            sid = rng.choice(own)
            steps = [("POST", f"/sessions/{sid}/step")] * rng.randint(1, 3)
            calls = ([("POST", f"/sessions/{sid}/pause")] + steps
                     + [("POST", f"/sessions/{sid}/train")])
        for method, path in calls:
            status, raw, seconds = _call(url, method, path)
            results.append((method, path, status, seconds, raw[:200]))


def _library_split(config: dict):
    """The training rows the session's config and seed give."""
    X, y = MAKERS[config["dataset"]](config["points"], seed=config["seed"])
    X_train, _, y_train, _ = train_test_split(
        X, y, test_size=config["test_ratio"], seed=config["seed"]
    )
    return X_train, y_train


def _library_fit(config: dict, X_train, y_train, epochs: int):
    """What Network.fit gives for the session's config and seed."""
    hidden = [Dense(layer["units"], layer["activation"])
              for layer in config["layers"]]
    if config["dataset"] == "spirals":
        output, loss = Dense(3, "softmax"), "categorical_crossentropy"
    else:
        output, loss = Dense(1, "sigmoid"), "binary_crossentropy"
    net = Network(hidden + [output], loss=loss,
                  optimizer=config["optimizer"], lr=config["lr"])
    history = net.fit(X_train, y_train, epochs=epochs,
                      batch_size=config["batch_size"], seed=config["seed"])
    return net, history


def test_twenty_sessions_train_while_the_page_stays_answered(
    tmp_path, record_property
):
    srv = serve("127.0.0.1", 0, SessionStore(max_sessions=N_SESSIONS))
    url = srv.url + "api"
    clients = []
    try:
        ids, configs = [], {}
        for i in range(N_SESSIONS):
            request = urllib.request.Request(
                url + "/sessions", data=json.dumps(_config(i)).encode(),
                method="POST", headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                created = json.loads(answer.read())
            ids.append(created["id"])
            configs[created["id"]] = created["config"]
        for sid in ids:
            status, raw, _ = _call(url, "POST", f"/sessions/{sid}/train")
            assert status == 200, raw

        # The load: clients hit the API while all sessions train.
        rss_before = _rss_bytes()
        rss_peak = rss_before
        results = []
        deadline = time.monotonic() + LOAD_SECONDS
        for k in range(N_CLIENTS):
            own = ids[k::N_CLIENTS]
            client = threading.Thread(
                target=_client, args=(url, ids, own, deadline, k, results),
                name=f"load-client-{k}", daemon=True,
            )
            client.start()
            clients.append(client)
        while any(c.is_alive() for c in clients):
            if rss_before is not None:
                rss_peak = max(rss_peak, _rss_bytes())
            time.sleep(0.1)
            assert time.monotonic() < deadline + 30, "a client hung"

        failed = [r for r in results if not 200 <= r[2] < 300]
        assert not failed, failed[:5]
        latencies = np.array([r[3] for r in results])
        p95 = float(np.percentile(latencies, 95))
        record_property("requests", len(results))
        record_property("p95_latency_s", round(p95, 4))
        print(f"\n{len(results)} requests  p95 {p95 * 1000:.1f} ms  "
              f"max {latencies.max() * 1000:.1f} ms")
        assert len(results) >= 50
        assert p95 < MAX_P95_SECONDS
        if rss_before is not None:
            growth = rss_peak - rss_before
            record_property("rss_growth_mb", round(growth / 2**20, 1))
            print(f"resident memory growth {growth / 2**20:.1f} MB")
            assert growth < MAX_RSS_GROWTH

        # Each session, paused and stepped to an epoch's end, holds the
        # weights fit gives for its config and seed, bit for bit.
        for sid in ids:
            status, raw, _ = _call(url, "POST", f"/sessions/{sid}/pause")
            assert status == 200 and json.loads(raw)["status"] == "paused"
        trained = []
        for sid in ids:
            config = configs[sid]
            _, raw, _ = _call(url, "GET", f"/sessions/{sid}")
            summary = json.loads(raw)
            assert summary["epoch"] > 0, summary
            X_train, y_train = _library_split(config)
            batch = min(config["batch_size"] or len(y_train), len(y_train))
            assert summary["batch_size"] == batch
            steps_per_epoch = math.ceil(len(y_train) / batch)
            left = -summary["step"] % steps_per_epoch
            for _ in range(left):
                status, raw, _ = _call(url, "POST", f"/sessions/{sid}/step")
                assert status == 200, raw
            _, raw, _ = _call(url, "GET", f"/sessions/{sid}")
            summary = json.loads(raw)
            epochs = summary["epoch"]
            trained.append(epochs)
            assert summary["step"] == epochs * steps_per_epoch

            net, history = _library_fit(config, X_train, y_train, epochs)
            status, raw, _ = _call(url, "GET", f"/sessions/{sid}/model.npz")
            path = tmp_path / f"{sid}.npz"
            path.write_bytes(raw)
            served = Network.load(path)
            for ours, theirs in zip(served.parameters(), net.parameters()):
                np.testing.assert_array_equal(ours, theirs)
            assert summary["loss"] == pytest.approx(history["loss"][-1],
                                                    abs=1e-12)
        print(f"epochs per session: min {min(trained)}  max {max(trained)}")
    finally:
        srv.stop()
        for client in clients:
            client.join(timeout=15)

    # Every client and training thread ended with the server.
    assert not any(c.is_alive() for c in clients)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and _playground_threads():
        time.sleep(0.01)
    assert not _playground_threads()
