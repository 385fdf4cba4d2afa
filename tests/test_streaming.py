"""fit on a memory-mapped array: the same network, without loading the data.

The reference for every result is the same fit on the same array loaded
into memory, which the rest of the suite checks against independent
computations; here the two must agree bit for bit.
"""
import re
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from scratchnn import Dense, Network
from scratchnn.errors import DataError
from scratchnn.streaming import MappedRows, is_mapped
from scratchnn.training import TrainingState


def _mapped(tmp_path, X, name="x.npy"):
    path = tmp_path / name
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def _classifier(standardize=False, dtype="float32"):
    return Network(
        [Dense(8, "relu"), Dense(3, "softmax")],
        loss="categorical_crossentropy",
        optimizer="adam",
        standardize=standardize,
        dtype=dtype,
    )


def _data(dtype, n=1200, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.random((n, 12)) * 200 - 50).astype(dtype)
    if np.dtype(dtype).kind == "u":
        X = (rng.random((n, 12)) * 255).astype(dtype)
    y = (X[:, 0] > X[:, 1]).astype(int) + (X[:, 2] > X[:, 3])
    return X, y


def _assert_same_network(a: Network, b: Network):
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)
    timeless = lambda h: {k: v for k, v in h.history.items() if k != "seconds"}
    assert timeless(a.history) == timeless(b.history)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("validation_fraction", [0.0, 0.25])
@pytest.mark.parametrize("shuffle", [True, False])
def test_mapped_fit_equals_the_fit_in_memory(
    tmp_path, dtype, standardize, validation_fraction, shuffle
):
    X, y = _data(dtype)
    X_map = _mapped(tmp_path, X)
    assert is_mapped(X_map) and not is_mapped(X)
    nets = []
    for data in (X, X_map):
        net = _classifier(standardize)
        net.fit(data, y, epochs=3, batch_size=50, seed=4, shuffle=shuffle,
                validation_fraction=validation_fraction)
        nets.append(net)
    _assert_same_network(*nets)
    if standardize:
        np.testing.assert_array_equal(nets[0].scaler.mean_, nets[1].scaler.mean_)
        np.testing.assert_array_equal(nets[0].scaler.scale_, nets[1].scaler.scale_)
    np.testing.assert_array_equal(nets[0].predict(X), nets[1].predict(X))


def test_scaler_from_blocks_matches_numpy_statistics(tmp_path):
    # Blocks of 1,337 rows for 784 columns: several blocks, a short last one.
    X = np.random.default_rng(1).normal(3.0, 2.0, (5000, 784))
    X[:, 5] = 7.0  # a constant column keeps its value and scale 1
    net = Network([Dense(2, "identity")], standardize=True)
    net.fit(_mapped(tmp_path, X), np.zeros((5000, 2)), epochs=1, seed=0)
    expected_std = X.std(axis=0)
    expected_std[5] = 1.0
    np.testing.assert_allclose(net.scaler.mean_, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(net.scaler.scale_, expected_std, rtol=1e-12)
    assert net.scaler.mean_[5] == 7.0


def test_regression_float64_network_on_mapped_rows(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(600, 5))
    y = X @ rng.normal(size=(5, 2))
    nets = []
    for data in (X, _mapped(tmp_path, X)):
        net = Network([Dense(6, "tanh"), Dense(2)], loss="mse",
                      optimizer="sgd", dtype="float64", standardize=True)
        net.fit(data, y, epochs=4, batch_size=32, seed=0)
        nets.append(net)
    _assert_same_network(*nets)


def test_a_subset_of_mapped_rows_trains_like_those_rows_in_memory(tmp_path):
    X, y = _data(np.float32)
    rows = np.random.default_rng(3).permutation(len(X))[:700]
    in_memory = _classifier(True)
    in_memory.fit(X[rows], y[rows], epochs=2, batch_size=32, seed=9)
    mapped = _classifier(True)
    mapped.fit(MappedRows(_mapped(tmp_path, X), rows), y[rows], epochs=2,
               batch_size=32, seed=9)
    _assert_same_network(in_memory, mapped)


def test_warm_start_on_mapped_rows_continues_like_in_memory(tmp_path):
    X, y = _data(np.float32)
    X_map = _mapped(tmp_path, X)
    nets = []
    for data in (X, X_map):
        net = _classifier(True)
        net.fit(data, y, epochs=1, seed=0)
        net.fit(data, y, epochs=2, seed=1, warm_start=True)
        nets.append(net)
    _assert_same_network(*nets)


def test_digest_of_mapped_rows_is_the_digest_of_the_array(tmp_path):
    X, _ = _data(np.float32, n=3000)
    targets = np.eye(3, dtype=np.float32)[np.arange(3000) % 3]
    mapped = MappedRows(_mapped(tmp_path, X))
    mapped.prepare(None, np.float32)
    rng = np.random.default_rng(0)
    assert (TrainingState(rng, {}, mapped, targets).data_digest()
            == TrainingState(rng, {}, X, targets).data_digest())
    changed = X.copy()
    changed[2999, 11] += 1
    assert (TrainingState(rng, {}, mapped, targets).data_digest()
            != TrainingState(rng, {}, changed, targets).data_digest())


def test_fit_on_a_mapped_array_never_copies_it(tmp_path):
    # 40 MB on disk; a whole copy (or a float64 conversion) would show up
    # in NumPy's traced allocations, which stay at a few batches here.
    rng = np.random.default_rng(5)
    X = (rng.random((20_000, 500)) * 255).astype(np.float32)
    y = rng.integers(0, 3, len(X))
    X_map = _mapped(tmp_path, X)
    del X
    net = _classifier(standardize=True)
    tracemalloc.start()
    try:
        net.fit(X_map, y, epochs=1, batch_size=128, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Batches, 1 MB blocks for the checks and the scaler: a few MB. (A
    # validation_fraction would read its held-out rows into memory.)
    assert peak < X_map.nbytes / 5, f"peak {peak / 1e6:.1f} MB"


_RSS_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from scratchnn import Dense, Network, streaming

    streaming.RELEASE_BYTES = int(sys.argv[2])
    X = np.load(sys.argv[1], mmap_mode="r")
    y = np.arange(len(X)) % 2

    def high_water_kb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

    net = Network([Dense(2, "softmax")], loss="categorical_crossentropy",
                  optimizer="sgd", standardize=True)
    net.fit(X[:100], y[:100], epochs=1, seed=0)  # imports and warms up
    before = high_water_kb()
    net.fit(X, y, epochs=1, batch_size=128, seed=0)
    print((high_water_kb() - before) // 1024)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="reads VmHWM from /proc")
def test_resident_memory_stays_flat_while_streaming(tmp_path):
    """Pages read from the file are handed back, so the high-water mark of
    resident memory grows by far less than the file; the same run that
    never hands them back (the control) grows by about the whole file."""
    rows, width = 48_000, 500  # 96 MB of float32
    path = tmp_path / "big.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(rows, width))
    for start in range(0, rows, 8000):
        out[start:start + 8000] = np.random.default_rng(start).random(
            (min(8000, rows - start), width), dtype=np.float32)
    out.flush()
    del out
    file_mb = rows * width * 4 // 2**20

    def growth(release_bytes):
        result = subprocess.run(
            [sys.executable, "-c", _RSS_SCRIPT, str(path), str(release_bytes)],
            capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return int(result.stdout)

    streamed = growth(8 * 2**20)
    kept = growth(2**40)
    assert streamed < file_mb / 3, (streamed, file_mb)
    assert kept > 0.8 * file_mb, (kept, file_mb)


def test_nan_in_a_mapped_array_is_named_by_its_row(tmp_path):
    X, y = _data(np.float64, n=3000)
    X[2500, 3] = np.nan
    with pytest.raises(DataError, match=r"nan at row 2500, column 3"):
        _classifier().fit(_mapped(tmp_path, X), y, epochs=1)


def test_value_beyond_float32_in_a_mapped_array_is_refused(tmp_path):
    X, y = _data(np.float64)
    X[7, 2] = 1e39
    net = _classifier()
    with pytest.raises(DataError, match=r"column 2, beyond the float32 range"):
        net.fit(_mapped(tmp_path, X), y, epochs=1)
    # The same value in memory is refused with the same words.
    with pytest.raises(DataError, match=r"column 2.*float32 range"):
        _classifier().fit(X, y, epochs=1)


def test_mapped_array_of_the_wrong_width_is_refused_by_warm_start(tmp_path):
    X, y = _data(np.float32)
    net = _classifier()
    net.fit(X, y, epochs=1, seed=0)
    before = [p.copy() for p in net.parameters()]
    with pytest.raises(DataError, match="expects 12 features, got 11"):
        net.fit(_mapped(tmp_path, X[:, :11]), y, epochs=1, warm_start=True)
    for p, q in zip(before, net.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)


def test_empty_and_bad_rows_are_refused(tmp_path):
    X, y = _data(np.float32)
    X_map = _mapped(tmp_path, X)
    with pytest.raises(DataError, match="0 samples"):
        _classifier().fit(MappedRows(X_map, np.array([], int)), y[:0])
    with pytest.raises(IndexError, match="rows must lie in 0..1199"):
        MappedRows(X_map, np.array([0, 1200]))
    with pytest.raises(TypeError, match="memory-mapped"):
        MappedRows(X)
    strings = _mapped(tmp_path, np.array([["a", "b"]]), "s.npy")
    with pytest.raises(TypeError, match="real numbers"):
        _classifier().fit(strings, [0])


@pytest.mark.parametrize("loss", ["categorical_crossentropy",
                                  "binary_crossentropy", "mse", "sse"])
def test_predict_and_evaluate_on_mapped_rows_match_memory(tmp_path, loss):
    # 40,000 rows of 12 columns: four blocks of 10,922 rows, a short last.
    rng = np.random.default_rng(6)
    X = rng.normal(size=(40_000, 12)).astype(np.float32)
    if loss == "categorical_crossentropy":
        y, last = rng.integers(0, 3, len(X)), Dense(3, "softmax")
    elif loss == "binary_crossentropy":
        y, last = X[:, 0] > 0, Dense(1, "sigmoid")
    else:
        y, last = X[:, :2] @ np.array([[1.0, 2.0], [3.0, 4.0]]), Dense(2)
    net = Network([Dense(5, "tanh"), last], loss=loss, standardize=True)
    net.fit(X[:2000], y[:2000], epochs=1, seed=0)
    X_map = _mapped(tmp_path, X)

    # Blocks of other shapes may take other BLAS paths, so the outputs
    # agree to float32 rounding, not always bit for bit.
    if net.is_classifier:
        np.testing.assert_allclose(net.predict_proba(X_map),
                                   net.predict_proba(X), rtol=1e-5, atol=1e-6)
        agree = np.mean(net.predict(X_map) == net.predict(X))
        assert agree > 0.9995, agree  # only near-ties may flip
    else:
        np.testing.assert_allclose(net.predict(X_map), net.predict(X),
                                   rtol=1e-5, atol=1e-5)
    expected = net.evaluate(X, y)
    found = net.evaluate(X_map, y)
    assert found.keys() == expected.keys()
    for key in expected:
        assert found[key] == pytest.approx(expected[key], rel=1e-5), key
    assert net.predict(MappedRows(X_map, np.array([], int))).shape[0] == 0


def test_nan_in_mapped_rows_to_predict_names_the_purpose(tmp_path):
    X, y = _data(np.float64)
    net = _classifier()
    net.fit(X, y, epochs=1, seed=0)
    X[900, 4] = np.inf
    with pytest.raises(DataError, match="row 900, column 4.*before predicting"):
        net.predict(_mapped(tmp_path, X))


def test_without_proc_or_pread_pages_are_handed_back_by_an_estimate(
    tmp_path, monkeypatch
):
    import scratchnn.streaming as streaming

    releases = []
    original = streaming.MappedRows.release
    monkeypatch.setattr(streaming, "_resident_bytes", lambda: None)
    # Random rows through the mapping too, as where pread is missing.
    monkeypatch.setattr(streaming._FileRows, "open", lambda array: None)
    monkeypatch.setattr(streaming, "RELEASE_BYTES", 2**20)
    monkeypatch.setattr(streaming.MappedRows, "release",
                        lambda self: releases.append(1) or original(self))
    X, y = _data(np.float32, n=3000)
    nets = []
    for data in (X, _mapped(tmp_path, X)):
        net = _classifier()
        net.fit(data, y, epochs=2, batch_size=16, seed=0)
        nets.append(net)
    _assert_same_network(*nets)
    # Each random row counts as a MiB read: about one release per batch.
    assert len(releases) >= 2 * 3000 // 16


@pytest.mark.parametrize("columns", [slice(None), slice(1, 9)])
def test_random_rows_are_read_with_pread_from_the_right_offsets(
    tmp_path, columns
):
    from scratchnn.streaming import _FileRows

    table = np.arange(50 * 10, dtype=np.float64).reshape(50, 10)
    view = _mapped(tmp_path, table)[:, columns]
    rows = MappedRows(view[5:])  # a view that starts inside the file
    assert isinstance(rows._file, _FileRows)
    picked = np.array([44, 0, 17, 17, 3])
    out = np.empty((5, view.shape[1]), np.float64)
    rows.take(picked, out)
    np.testing.assert_array_equal(out, table[5:, columns][picked])
    assert rows._file.use_pread
    # A stepped column slice has no contiguous rows: the mapping is used.
    assert not MappedRows(_mapped(tmp_path, table)[:, ::2])._file.use_pread


def test_a_file_replaced_after_mapping_trains_on_what_the_mapping_shows(
    tmp_path
):
    X, y = _data(np.float32, n=3000)
    path = tmp_path / "d.npy"
    np.save(path, X)
    X_map = np.load(path, mmap_mode="r")
    np.save(tmp_path / "new.npy", -X)
    (tmp_path / "new.npy").replace(path)  # same name, another file
    nets = []
    for data in (X, X_map):
        net = _classifier(True)
        net.fit(data, y, epochs=2, batch_size=64, seed=0)
        nets.append(net)
    _assert_same_network(*nets)


def test_copy_on_write_edits_are_trained_on(tmp_path):
    X, y = _data(np.float64, n=3000)
    X[5:50, 2] = np.nan
    path = tmp_path / "d.npy"
    np.save(path, X)
    edited = np.load(path, mmap_mode="c")
    edited[np.isnan(edited)] = 0.0  # only in this process's pages
    X[np.isnan(X)] = 0.0
    nets = []
    for data in (X, edited):
        net = _classifier(True)
        net.fit(data, y, epochs=2, batch_size=64, seed=0)
        nets.append(net)
    _assert_same_network(*nets)


def test_a_file_cut_short_after_mapping_is_an_error_not_a_crash(tmp_path):
    """Reading a mapping past its file's end kills the process (SIGBUS),
    so the run happens in a child process."""
    X = np.random.default_rng(0).random((20_000, 6))
    path = tmp_path / "big.npy"
    np.save(path, X)
    script = textwrap.dedent(f"""
        import os, numpy as np
        from scratchnn import Dense, Network
        from scratchnn.errors import DataError
        X = np.load({str(path)!r}, mmap_mode="r")
        os.truncate({str(path)!r}, 128 + 8 * 6 * 1000)
        net = Network([Dense(2)], loss="mse")
        for shuffle in (True, False):
            try:
                net.fit(X, np.zeros((len(X), 2)), epochs=1, shuffle=shuffle)
            except DataError as error:
                print("refused:", error)
    """)
    result = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stderr)
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all("was cut short after it was opened" in line for line in lines)


@pytest.mark.parametrize("shape", [(100,), (50, 4, 3)])
def test_a_mapped_array_that_is_not_2d_is_named_by_its_shape(tmp_path, shape):
    X_map = _mapped(tmp_path, np.zeros(shape))
    with pytest.raises(DataError, match=re.escape(f"got shape {shape}")):
        _classifier().fit(X_map, np.zeros(shape[0]))




def test_predicting_zero_mapped_rows_gives_zero_predictions(tmp_path):
    X, y = _data(np.float32)
    net = _classifier()
    net.fit(X, y, epochs=1, seed=0)
    empty = _mapped(tmp_path, X[:0])
    assert net.predict(empty).shape == net.predict(X[:0]).shape == (0,)
    assert net.predict_proba(empty).shape == (0, 3)
