"""Real faults: processes killed with SIGKILL or stopped with SIGINT.

Each test runs scratchnn in a child process, hurts it for real, then checks
that nothing was lost: the previous file is whole, a resumed run ends bit
for bit where the uninterrupted one does, a Ctrl-C saves the last epoch.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from scratchnn import Network
from scratchnn.checkpoint import load_checkpoint
from scratchnn.errors import ModelFileError

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="needs POSIX signals"
)

# Slow enough (batch 4: 360 steps an epoch) that a kill lands mid-run.
TRAIN = ["train", "--data", "digits", "--epochs", "25", "--batch-size", "4",
         "--no-plot", "-q", "--seed", "0"]


def scratchnn(*args, cwd, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "scratchnn", *args],
                            cwd=cwd, **kwargs)


def wait_for(condition, timeout=120.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def checkpoint_epoch(path) -> int:
    try:
        return load_checkpoint(path).checkpoint["training"]["epoch"]
    except ModelFileError:
        return 0  # not written yet


def same_weights(a, b) -> bool:
    return all(
        np.array_equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


def test_sigkill_during_training_then_resume_is_bit_identical(tmp_path):
    reference = scratchnn(*TRAIN, "--out", "ref.npz", cwd=tmp_path)
    victim = scratchnn(*TRAIN, "--checkpoint", "run.ckpt",
                       "--out", "victim.npz", cwd=tmp_path)
    wait_for(lambda: checkpoint_epoch(tmp_path / "run.ckpt") >= 3,
             what="the third checkpoint")
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=60) == -signal.SIGKILL
    killed_at = checkpoint_epoch(tmp_path / "run.ckpt")
    assert 3 <= killed_at < 25
    assert not (tmp_path / "victim.npz").exists()

    resumed = scratchnn("train", "--resume", "run.ckpt", "--out",
                        "resumed.npz", "-q", "--no-plot", cwd=tmp_path)
    assert resumed.wait(timeout=300) == 0
    assert reference.wait(timeout=300) == 0

    left_alone = Network.load(tmp_path / "ref.npz")
    finished = Network.load(tmp_path / "resumed.npz")
    assert same_weights(finished, left_alone)
    assert finished.history["loss"] == left_alone.history["loss"]
    assert len(finished.history) == 25


SAVE_AND_STALL = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import scratchnn.atomic as atomic
    from scratchnn import Dense, Network

    path, ready, stall_in = sys.argv[1], sys.argv[2], sys.argv[3]
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.arange(20) % 2
    net = Network([Dense(4, "tanh"), Dense(2, "softmax")],
                  loss="categorical_crossentropy", standardize=True)
    net.fit(X, y, epochs=3, seed=1)

    real = getattr(atomic.os, stall_in)

    def stall(*args):
        open(ready, "w").close()
        time.sleep(120)
        return real(*args)

    setattr(atomic.os, stall_in, stall)
    net.save(path)
""")


@pytest.mark.parametrize("stall_in", ["fsync", "replace"])
def test_sigkill_during_a_save_keeps_the_previous_model(tmp_path, stall_in):
    from scratchnn import Dense

    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.arange(20) % 2
    before = Network([Dense(3, "relu"), Dense(2, "softmax")],
                     loss="categorical_crossentropy")
    before.fit(X, y, epochs=2, seed=0)
    path = tmp_path / "model.npz"
    before.save(path)
    original_bytes = path.read_bytes()

    script = tmp_path / "save.py"
    script.write_text(SAVE_AND_STALL)
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [sys.executable, str(script), str(path), str(ready), stall_in]
    )
    wait_for(ready.exists, what="the save to start")
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL

    # The old model is whole and still loads; the new one never got the
    # final name, and whatever was left has a temporary name of its own.
    assert path.read_bytes() == original_bytes
    np.testing.assert_array_equal(Network.load(path).predict(X),
                                  before.predict(X))
    leftovers = sorted(p.name for p in tmp_path.iterdir()
                       if p.name not in {"model.npz", "save.py", "ready"})
    assert all(n.startswith(".model.npz.") and n.endswith(".tmp")
               for n in leftovers)


def test_sigint_during_training_saves_the_last_finished_epoch(tmp_path):
    child = scratchnn("train", "--data", "digits", "--epochs", "300",
                      "--batch-size", "4", "--no-plot", "--out", "m.npz",
                      cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in child.stderr:
        lines.append(line)
        if line.startswith("epoch   3/300"):
            break
    child.send_signal(signal.SIGINT)
    rest = child.stderr.read()
    assert child.wait(timeout=60) == 130
    assert "Traceback" not in rest

    saved = Network.load(tmp_path / "m.npz")
    finished = len(saved.history)
    assert 3 <= finished < 300
    assert f"interrupted: saved the model after epoch {finished}" in rest
