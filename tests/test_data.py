"""Tests for scratchnn.data: datasets, CSV reading, splitting, scaling."""

import math
import warnings
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnn import data
from scratchnn.data import (
    DATASET_NAMES,
    LabelEncoder,
    StandardScaler,
    load_dataset,
    load_digits,
    load_mnist_5k,
    load_tutorial,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    read_csv,
    read_features,
    read_header,
    train_test_split,
)
from scratchnn.errors import DataError, NotFittedError
from scratchnn.validation import check_class_labels

from conftest import CASES_DIR, load_case

CASES = CASES_DIR

GENERATORS = [make_xor, make_circles, make_moons, make_spirals]


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# Bundled datasets
# ---------------------------------------------------------------------------

def test_load_digits_matches_the_uci_test_set():
    X, y = load_digits()

    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 16.0
    assert np.array_equal(X, np.round(X))

    # Class totals of optdigits.tes as listed by the UCI repository.
    expected = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert np.bincount(y).tolist() == expected


def test_load_mnist_5k_has_500_images_per_digit():
    X, y = load_mnist_5k()

    assert X.shape == (5000, 784) and X.dtype == np.float64
    assert y.shape == (5000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 255.0
    assert np.array_equal(X, np.round(X))
    assert np.bincount(y).tolist() == [500] * 10

    # Real images: mostly background, with some ink in every one.
    assert 0.7 < np.mean(X == 0) < 0.9
    assert (X.max(axis=1) > 100).all()


@pytest.mark.parametrize("loader", [load_digits, load_mnist_5k])
def test_bundled_loaders_refuse_pickle(loader, monkeypatch):
    seen = []
    real_load = np.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    loader()
    assert seen == [False]


@pytest.mark.parametrize("filename", ["digits.npz", "mnist_5k.npz"])
def test_bundled_files_hold_only_plain_integer_arrays(filename):
    path = Path(data.__file__).parent / "datasets" / filename
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["X.npy", "y.npy"]
        for member in archive.namelist():
            with archive.open(member) as fh:
                assert np.lib.format.read_magic(fh) == (1, 0)
                _, _, dtype = np.lib.format.read_array_header_1_0(fh)
            assert dtype == np.dtype(np.uint8)


def test_each_load_returns_fresh_arrays():
    X, y = load_digits()
    X[:] = -1.0
    y[:] = -1

    X_again, y_again = load_digits()
    assert X_again.min() == 0.0 and y_again.min() == 0


def test_load_tutorial_is_the_four_sample_xor_table():
    X, y = load_tutorial()

    expected_X = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert np.array_equal(X, expected_X)
    assert y.shape == (4, 1)
    assert np.array_equal(y, [[0], [1], [1], [0]])


# ---------------------------------------------------------------------------
# load_dataset
# ---------------------------------------------------------------------------

def test_dataset_names_are_the_documented_ones():
    assert DATASET_NAMES == (
        "digits", "mnist-5k", "tutorial", "xor", "circles", "moons",
        "spirals",
    )


@pytest.mark.parametrize(
    "name, direct",
    [
        ("digits", load_digits),
        ("tutorial", load_tutorial),
        ("xor", lambda: make_xor(seed=3)),
        ("circles", lambda: make_circles(seed=3)),
        ("moons", lambda: make_moons(seed=3)),
        ("spirals", lambda: make_spirals(seed=3)),
    ],
)
def test_load_dataset_dispatches_by_name(name, direct):
    X, y = load_dataset(name, seed=3)
    X_ref, y_ref = direct()

    assert np.array_equal(X, X_ref)
    assert np.array_equal(y, y_ref)


def test_load_dataset_mnist_name_uses_a_hyphen():
    X, y = load_dataset("mnist-5k")
    assert X.shape == (5000, 784)
    assert np.bincount(y).tolist() == [500] * 10


def test_load_dataset_seed_reaches_the_generators():
    X0, _ = load_dataset("moons", seed=0)
    X1, _ = load_dataset("moons", seed=1)
    assert not np.allclose(X0, X1)


def test_load_dataset_unknown_name_lists_valid_names():
    with pytest.raises(DataError, match="unknown dataset 'iris'") as info:
        load_dataset("iris")
    for name in DATASET_NAMES:
        assert name in str(info.value)


# ---------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("n_samples", [7, 200])
def test_generator_shapes_and_balance(make, n_samples):
    X, y = make(n_samples=n_samples)

    assert X.shape == (n_samples, 2) and X.dtype == np.float64
    assert y.shape == (n_samples,) and y.dtype == np.int64
    assert np.isfinite(X).all()

    counts = np.bincount(y)
    n_classes = 3 if make is make_spirals else 2
    assert len(counts) == n_classes
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("make", GENERATORS)
def test_generator_is_deterministic_per_seed(make):
    X_a, y_a = make(seed=5)
    X_b, y_b = make(seed=5)
    X_c, y_c = make(seed=6)

    assert np.array_equal(X_a, X_b) and np.array_equal(y_a, y_b)
    assert not np.allclose(X_a, X_c)


@pytest.mark.parametrize("make", GENERATORS)
def test_generator_leaves_global_rng_alone(make):
    np.random.seed(1)
    before = np.random.get_state()
    make(seed=0)
    after = np.random.get_state()

    assert before[0] == after[0]
    assert np.array_equal(before[1], after[1])
    assert before[2:] == after[2:]


@pytest.mark.parametrize("make", GENERATORS)
def test_generator_rows_are_not_grouped_by_class(make):
    _, y = make(n_samples=200)
    # Sorted labels would change class only n_classes - 1 times.
    assert np.count_nonzero(np.diff(y)) > 20


def test_xor_label_is_the_xor_of_the_signs():
    X, y = make_xor(n_samples=40, noise=0.0)

    assert set(map(tuple, np.abs(X))) == {(1.0, 1.0)}
    assert np.array_equal(y, (X[:, 0] > 0) ^ (X[:, 1] > 0))


def test_circles_without_noise_lie_on_the_two_radii():
    X, y = make_circles(n_samples=50, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])

    assert np.allclose(radius[y == 0], 1.0)
    assert np.allclose(radius[y == 1], 0.3)


def test_moons_without_noise_lie_on_their_arcs():
    X, y = make_moons(n_samples=60, noise=0.0)
    upper, lower = X[y == 0], X[y == 1]

    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert (upper[:, 1] >= -1e-12).all()
    lower_radius = np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5)
    assert np.allclose(lower_radius, 1.0)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_spirals_have_one_arm_per_class():
    X, y = make_spirals(n_samples=100, n_classes=4, noise=0.0)

    assert np.array_equal(np.unique(y), [0, 1, 2, 3])
    assert (np.hypot(X[:, 0], X[:, 1]) <= 1.0 + 1e-12).all()

    # Without noise, each arm's outermost point sits at angle
    # 2*pi*k/4 + 1.5*pi on the unit circle.
    for k in range(4):
        arm = X[y == k]
        tip = arm[np.argmax(np.hypot(arm[:, 0], arm[:, 1]))]
        angle = 2 * np.pi * k / 4 + 1.5 * np.pi
        assert np.allclose(tip, [np.cos(angle), np.sin(angle)])


def test_spiral_noise_moves_the_angle_not_the_radius():
    X, y = make_spirals(n_samples=30, n_classes=3, noise=0.5)

    for k in range(3):
        arm = X[y == k]
        radius = np.sort(np.hypot(arm[:, 0], arm[:, 1]))
        assert np.allclose(radius, np.linspace(0.0, 1.0, 10))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_xor(n_samples=1), "n_samples must be >= 2, got 1"),
        (lambda: make_moons(n_samples=2.5), "n_samples must be an integer"),
        (lambda: make_moons(noise=-0.1), "noise must be a finite number"),
        (lambda: make_circles(factor=1.0), r"factor must be in \(0, 1\)"),
        (lambda: make_spirals(n_classes=1), "n_classes must be >= 2"),
        (lambda: make_spirals(n_samples=2), "n_samples must be >= 3"),
    ],
)
def test_generator_rejects_bad_parameters(call, message):
    with pytest.raises(DataError, match=message):
        call()


def test_seeds_must_be_non_negative_ints_or_none():
    with pytest.raises(ValueError, match="non-negative ints or None; got -1"):
        make_xor(seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        train_test_split(np.arange(4), np.arange(4), seed="1", stratify=False)
    assert make_moons(seed=None)[0].shape == (200, 2)


# ---------------------------------------------------------------------------
# read_csv: field cases
# ---------------------------------------------------------------------------

def test_c21_bad_cells_are_all_reported_with_line_and_column():
    path = CASES / "C21.csv"
    with pytest.raises(DataError) as info:
        read_csv(path)
    message = str(info.value)

    assert str(path) in message
    assert "line 4, column 'sepal_wid': 'n/a' is not a number" in message
    assert "line 6, column 'sepal_wid': the cell is empty" in message
    assert "fix or remove missing and non-numeric feature values" in message
    assert "\n" not in message


def test_c21_ok_parses_with_string_labels():
    result = read_csv(CASES / "C21_ok.csv")

    assert result.feature_names == ["sepal_len", "sepal_wid", "petal_len"]
    assert result.target_name == "species"
    assert result.X.dtype == np.float64 and result.X.shape == (6, 3)
    assert np.array_equal(result.X[0], [5.1, 3.5, 1.4])
    assert np.array_equal(result.X[:, 1], [3.5, 3.0, 2.9, 3.2, 2.7, 3.0])
    assert result.y.dtype.kind == "U"
    assert result.y.tolist() == ["setosa"] * 2 + ["versicolor"] * 2 + [
        "virginica"
    ] * 2


def test_c19_header_only_file_has_no_data_rows():
    path = CASES / "C19.csv"
    with pytest.raises(DataError, match="has a header but no data rows"):
        read_csv(path)


def test_c11_string_labels_match_the_case_module():
    case = load_case("C11")
    result = read_csv(CASES / "C11.csv")

    assert result.target_name == "animal"
    assert result.y.dtype.kind == "U"
    assert np.array_equal(result.y, case.Y)
    assert np.allclose(result.X, case.X)
    assert np.array_equal(np.unique(result.y), case.EXPECTED_CLASSES)


# ---------------------------------------------------------------------------
# read_csv: files written here
# ---------------------------------------------------------------------------

def test_read_csv_numeric_target_and_named_target_column(tmp_path):
    path = _write(tmp_path, "a,price,b\n1,10.5,2\n3,-4,5e-1\n")

    result = read_csv(path, target="price")
    assert result.feature_names == ["a", "b"]
    assert result.target_name == "price"
    assert np.array_equal(result.X, [[1.0, 2.0], [3.0, 0.5]])
    assert result.y.dtype == np.float64
    assert np.array_equal(result.y, [10.5, -4.0])


def test_read_csv_accepts_str_path_bom_and_spaces(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx, y ,label\n 1 ,2,cat\n".encode("utf-8"))

    result = read_csv(str(path))
    assert result.feature_names == ["x", "y"]
    assert np.array_equal(result.X, [[1.0, 2.0]])
    assert result.y.tolist() == ["cat"]


def test_read_csv_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="nope.csv does not exist"):
        read_csv(path)


def test_read_csv_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_csv(tmp_path)


def test_read_csv_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("x,label\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin1.csv is not UTF-8 text"):
        read_csv(path)


def test_read_csv_empty_file(tmp_path):
    path = _write(tmp_path, "")
    with pytest.raises(DataError, match="data.csv is empty"):
        read_csv(path)


def test_read_csv_unknown_target_lists_columns(tmp_path):
    path = _write(tmp_path, "x1,x2,label\n1,2,a\n")
    with pytest.raises(DataError) as info:
        read_csv(path, target="species")
    message = str(info.value)

    assert "has no column 'species'" in message
    assert "'x1', 'x2', 'label'" in message


def test_read_csv_ragged_row_names_line_and_counts(tmp_path):
    path = _write(tmp_path, "a,b,c,d\n1,2,3,x\n4,5,6,y\n\n7,8,z\n")
    expected = "data.csv line 5 has 3 cells, the header has 4"
    with pytest.raises(DataError, match=expected):
        read_csv(path)


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-Infinity"])
def test_read_csv_non_finite_literals_are_bad_cells(tmp_path, bad):
    path = _write(tmp_path, f"f1,f2,label\n1,2,a\n3,{bad},b\n")
    expected = f"line 3, column 'f2': '{bad}' is not a finite number"
    with pytest.raises(DataError, match=expected):
        read_csv(path)


def test_read_csv_reports_five_bad_cells_then_a_count(tmp_path):
    rows = "".join(f"x{i},{i},a\n" for i in range(8))
    path = _write(tmp_path, "f1,f2,label\n" + rows)
    with pytest.raises(DataError) as info:
        read_csv(path)
    message = str(info.value)

    # Bad cells sit on file lines 2..9; the first five are spelled out.
    for line in range(2, 7):
        assert f"line {line}, column 'f1'" in message
    assert "line 7," not in message
    assert "and 3 more bad cells" in message


def test_read_csv_line_numbers_count_blank_lines(tmp_path):
    path = _write(tmp_path, "f1,label\n\n1,a\n?,b\n")
    with pytest.raises(DataError, match="line 4, column 'f1': '\\?'"):
        read_csv(path)


def test_read_csv_empty_target_cell(tmp_path):
    path = _write(tmp_path, "f1,label\n1,a\n2,\n")
    with pytest.raises(DataError, match="line 3, column 'label': the target"):
        read_csv(path)


def test_read_csv_rejects_underscore_numbers(tmp_path):
    # float() would read "1_000" as 1000.0.
    path = _write(tmp_path, "f1,label\n1_000,a\n")
    with pytest.raises(DataError, match="'1_000' is not a number"):
        read_csv(path)


def test_read_csv_unclosed_quote_is_an_error(tmp_path):
    path = _write(tmp_path, 'f1,label\n1,a\n2,"b\n')
    with pytest.raises(DataError, match="line 3 is not valid CSV"):
        read_csv(path)


@pytest.mark.parametrize(
    "read",
    [read_csv, read_header, lambda path: read_features(path, ["a"])],
    ids=["read_csv", "read_header", "read_features"],
)
@pytest.mark.parametrize(
    "text, message",
    [
        ("a,a,label\n1,2,x\n", r"header: column name 'a' appears twice"),
        ("a,,label\n1,2,x\n", r"header: column 2 has no name"),
    ],
    ids=["duplicate", "empty"],
)
def test_every_reader_checks_the_column_names(tmp_path, read, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=message):
        read(path)


def test_one_column_is_enough_for_features_but_not_for_training(tmp_path):
    path = _write(tmp_path, "a\n1\n2\n")
    assert read_header(path) == ["a"]
    assert read_features(path, ["a"]).tolist() == [[1.0], [2.0]]
    with pytest.raises(DataError, match="need at least one feature column"):
        read_csv(path)


def test_read_csv_single_column_hints_at_the_separator(tmp_path):
    path = _write(tmp_path, "a;b;label\n1;2;x\n")
    with pytest.raises(DataError, match="separators must be commas"):
        read_csv(path)


# ---------------------------------------------------------------------------
# StandardScaler
# ---------------------------------------------------------------------------

def test_c18_constant_column_standardises_to_zero_without_warnings():
    case = load_case("C18")
    X = case.X.copy()

    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        scaler = StandardScaler()
        Z = scaler.fit_transform(X)
        Z_new = scaler.transform(case.X_NEW)

    np.testing.assert_allclose(
        Z, case.EXPECTED_STANDARDISED, rtol=0, atol=1e-12
    )
    assert (Z[:, 1] == 0.0).all()
    assert scaler.scale_[1] == 1.0 and scaler.mean_[1] == 7.0
    assert np.isfinite(Z_new).all()
    assert Z_new[0, 1] == 1.0
    assert np.array_equal(X, case.X)


def test_scaler_statistics_are_population_mean_and_std():
    X = np.array([[1.0, 10.0], [3.0, 10.0], [8.0, 40.0]])
    scaler = StandardScaler().fit(X)

    assert np.allclose(scaler.mean_, [4.0, 20.0])
    # ddof=0: sqrt(((1-4)^2 + (3-4)^2 + (8-4)^2) / 3) = sqrt(26/3)
    assert np.allclose(scaler.scale_, [np.sqrt(26 / 3), np.sqrt(200)])
    Z = scaler.transform(X)
    assert np.allclose(Z.mean(axis=0), 0.0)
    assert np.allclose(Z.std(axis=0), 1.0)


def _exact_mean_and_std(column) -> tuple[float, float]:
    """Population mean and std in exact rational arithmetic, then rounded.

    The variance of 1e250-sized values is far beyond float64, so it is
    divided by 4**k (k from the largest value) before its square root
    is taken, and the root multiplied back by 2**k; both steps are exact.
    """
    values = [Fraction(float(v)) for v in column]
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    _, k = math.frexp(max(abs(float(v)) for v in column))
    std = math.ldexp(math.sqrt(float(variance / Fraction(4) ** k)), k)
    return float(mean), std


def test_scaler_statistics_agree_with_numpy_and_exact_values():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, size=(200, 3)) * [1.0, 1e-3, 1e4]
    scaler = StandardScaler().fit(X)
    np.testing.assert_allclose(scaler.mean_, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(scaler.scale_, X.std(axis=0), rtol=1e-14)
    for j in range(3):
        mean, std = _exact_mean_and_std(X[:, j])
        assert scaler.mean_[j] == pytest.approx(mean, rel=1e-13)
        assert scaler.scale_[j] == pytest.approx(std, rel=1e-13)


def test_scaler_handles_huge_and_tiny_features_without_warnings():
    # Squares of 1e200 overflow and squares of 1e-200 underflow to 0, which
    # made scale_ inf (every input then standardised to 0) or 0 (the column
    # then taken as constant and left unscaled).
    rng = np.random.default_rng(1)
    X = rng.normal(1.0, 2.0, size=(60, 3)) * [1e200, 3e250, 1e-200]

    with warnings.catch_warnings(), np.errstate(
        over="raise", invalid="raise", divide="raise"
    ):
        warnings.simplefilter("error")
        scaler = StandardScaler()
        Z = scaler.fit_transform(X)

    for j in range(3):
        mean, std = _exact_mean_and_std(X[:, j])
        assert scaler.mean_[j] == pytest.approx(mean, rel=1e-13)
        assert scaler.scale_[j] == pytest.approx(std, rel=1e-13)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-13)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-13)


def test_scaler_transform_beyond_float64_names_the_cell():
    scaler = StandardScaler().fit([[0.0, 0.0], [2.0, 1e-300]])
    with pytest.raises(DataError, match=r"overflows float64 at row 1, column 1"):
        scaler.transform([[1.0, 0.5], [1.0, 1e10]])


def test_scaler_column_constant_up_to_rounding_maps_to_exact_zero():
    # The mean of three 0.1s is not exactly 0.1 in floating point.
    X = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 3.0]])
    Z = StandardScaler().fit_transform(X)
    assert (Z[:, 0] == 0.0).all()


def test_scaler_round_trips_through_saved_arrays():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(20, 4))
    scaler = StandardScaler().fit(X)

    saved = scaler.to_dict()
    rebuilt = StandardScaler.from_arrays(saved["mean"], saved["scale"])
    assert np.array_equal(rebuilt.transform(X), scaler.transform(X))
    assert np.allclose(rebuilt.inverse_transform(scaler.transform(X)), X)

    # to_dict hands out copies, so editing them leaves the scaler as it was.
    saved["mean"][:] = 0.0
    assert not np.allclose(scaler.mean_, 0.0)


def test_scaler_accepts_lists_and_leaves_arrays_untouched():
    X = np.array([[1.0, 2.0], [3.0, 5.0]])
    copy = X.copy()
    Z = StandardScaler().fit_transform(X)

    assert np.array_equal(X, copy)
    assert Z is not X
    assert np.array_equal(StandardScaler().fit_transform(X.tolist()), Z)


@pytest.mark.parametrize(
    "X, message",
    [
        (np.empty((0, 3)), "X has 0 samples"),
        (np.empty((4, 0)), "X has 0 features"),
        ([1.0, 2.0], "X must be 2-D"),
        ([[1.0, np.nan]], "X holds NaN or inf"),
    ],
)
def test_scaler_fit_rejects_bad_input(X, message):
    with pytest.raises(DataError, match=message):
        StandardScaler().fit(X)


def test_scaler_errors_before_fit_and_on_wrong_width():
    with pytest.raises(NotFittedError, match="call fit"):
        StandardScaler().transform([[1.0]])

    scaler = StandardScaler().fit([[1.0, 2.0], [2.0, 3.0]])
    with pytest.raises(DataError, match="X has 3 features, but the scaler"):
        scaler.transform([[1.0, 2.0, 3.0]])


def test_scaler_from_arrays_rejects_zero_scale():
    with pytest.raises(DataError, match="every scale must be > 0"):
        StandardScaler.from_arrays([0.0, 1.0], [1.0, 0.0])


# ---------------------------------------------------------------------------
# train_test_split
# ---------------------------------------------------------------------------

def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100).reshape(-1, 1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)

    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]

    # Disjoint, covering, and each row keeps its own label.
    rows = np.concatenate([X_train[:, 0], X_test[:, 0]])
    assert np.array_equal(np.sort(rows), np.arange(100))
    assert np.array_equal(y[X_train[:, 0]], y_train)
    assert np.array_equal(y[X_test[:, 0]], y_test)

    # The input is sorted by class; the parts must not be.
    assert np.count_nonzero(np.diff(y_train)) > 2


def test_split_is_deterministic_per_seed():
    X, y = make_moons(n_samples=50)
    first = train_test_split(X, y, seed=4)
    again = train_test_split(X, y, seed=4)
    other = train_test_split(X, y, seed=5)

    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[1], other[1])


def test_split_with_string_labels_and_lists():
    y = ["cat"] * 8 + ["dog"] * 8 + ["eel"] * 4
    X = [[float(i)] for i in range(20)]
    _, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25)

    assert y_test.dtype.kind == "U"
    assert sorted(y_test.tolist()) == ["cat"] * 2 + ["dog"] * 2 + ["eel"]
    assert len(y_train) == 15 and X_test.shape == (5, 1)


def test_split_without_stratify_allows_regression_targets():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 2))
    y = rng.normal(size=(10, 3))
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=False
    )

    assert X_test.shape == (3, 2) and y_test.shape == (3, 3)
    assert X_train.shape == (7, 2) and y_train.shape == (7, 3)
    # Rows stay paired: find each test row of X back in the input.
    for x_row, y_row in zip(X_test, y_test, strict=True):
        i = np.flatnonzero((X == x_row).all(axis=1))[0]
        assert np.array_equal(y[i], y_row)


def test_split_accepts_a_label_column():
    _, _, y_train, y_test = train_test_split(
        np.zeros((8, 1)), np.array([[0], [1]] * 4), test_size=0.5
    )
    assert y_test.shape == (4, 1)
    assert np.bincount(y_test[:, 0]).tolist() == [2, 2]
    assert np.bincount(y_train[:, 0]).tolist() == [2, 2]


def test_split_does_not_modify_inputs():
    X = np.arange(20.0).reshape(10, 2)
    y = np.array([0, 1] * 5)
    X_copy, y_copy = X.copy(), y.copy()
    X_train, *_ = train_test_split(X, y)
    X_train[:] = -1

    assert np.array_equal(X, X_copy) and np.array_equal(y, y_copy)


@pytest.mark.parametrize(
    "y, test_size, message",
    [
        ([0, 0, 0, 1], 0.5, "class 1 has 1; pass stratify=False"),
        ([0, 0, 1, 1, 2, 2], 0.2, "cannot hold all 3 classes"),
        ([0.5, 1.5, 2.5, 3.5], 0.5, "at least 2 rows of every class"),
        ([0, 0, 1, 1], 4, "must leave rows on both sides"),
        ([0, 0, 1, 1], 1.0, r"test_size must be in \(0, 1\)"),
    ],
)
def test_impossible_stratified_split_raises(y, test_size, message):
    X = np.zeros((len(y), 1))
    with pytest.raises(DataError, match=message):
        train_test_split(X, y, test_size=test_size)


def test_split_rejects_mismatched_lengths():
    with pytest.raises(DataError, match="same number of rows"):
        train_test_split(np.zeros((5, 2)), np.zeros(4))


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(1, 12), min_size=1, max_size=5),
    test_size=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_split_either_fails_cleanly_or_covers_every_class(
    counts, test_size, seed
):
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y)).reshape(-1, 1)
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, seed=seed
        )
    except DataError:
        n_test = int(np.ceil(test_size * len(y)))
        impossible = (
            min(counts) < 2
            or n_test < len(counts)
            or len(y) - n_test < len(counts)
        )
        assert impossible
        return

    assert len(X_test) == int(np.ceil(test_size * len(y)))
    rows = np.sort(np.concatenate([X_train[:, 0], X_test[:, 0]]))
    assert np.array_equal(rows, np.arange(len(y)))
    assert set(y_train) == set(y_test) == set(range(len(counts)))


# ---------------------------------------------------------------------------
# LabelEncoder
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "labels, kind",
    [
        (np.array([3, 1, 3, 7]), "i"),
        (np.array([0.5, -1.0, 0.5, 2.0]), "f"),
        (np.array(["dog", "cat", "dog", "eel"]), "U"),
        (np.array(["dog", "cat", "dog", "eel"], dtype=object), "U"),
        ([3, 1, 3, 7], "i"),
    ],
)
def test_label_encoder_round_trip(labels, kind):
    original = np.array(labels, copy=True)
    encoder = LabelEncoder()
    codes = encoder.fit_transform(labels)

    assert encoder.classes_.dtype.kind == kind
    assert codes.dtype == np.int64
    # Third label is a repeat of the first; the sorted order fixes codes.
    assert codes.tolist() == [1, 0, 1, 2]
    assert np.array_equal(encoder.inverse_transform(codes), original)
    assert np.array_equal(np.asarray(labels), original)


def test_label_encoder_on_c11_object_labels():
    case = load_case("C11")
    encoder = LabelEncoder().fit(case.Y_OBJECT)

    assert encoder.classes_.dtype.kind == "U"
    assert np.array_equal(encoder.classes_, case.EXPECTED_CLASSES)
    decoded = encoder.inverse_transform(encoder.transform(case.Y))
    assert np.array_equal(decoded, case.Y)


def test_label_encoder_unseen_label_names_it_and_known_classes():
    encoder = LabelEncoder().fit(["cat", "dog", "eel"])
    with pytest.raises(DataError) as info:
        encoder.transform(["dog", "fox"])
    message = str(info.value)

    assert "not seen during fit: 'fox'" in message
    assert "'cat', 'dog', 'eel'" in message


def test_label_encoder_numbers_and_strings_never_match():
    encoder = LabelEncoder().fit([0, 1])
    with pytest.raises(DataError, match="not seen during fit: '1'"):
        encoder.transform(["1"])


def test_label_encoder_rejects_one_hot_and_mixed_labels():
    with pytest.raises(DataError, match="argmax"):
        LabelEncoder().fit(np.eye(3))
    with pytest.raises(DataError, match="mixes label types"):
        LabelEncoder().fit(np.array(["a", 1], dtype=object))


def test_object_labels_become_one_plain_kind():
    # Object ints used to come back as the strings '1', '3'.
    ints = LabelEncoder().fit(np.array([3, 1, 3], dtype=object))
    assert ints.classes_.dtype == np.int64
    assert ints.classes_.tolist() == [1, 3]
    assert ints.inverse_transform([1, 0]).dtype == np.int64

    floats = LabelEncoder().fit(np.array([0.5, 2, 0.5], dtype=object))
    assert floats.classes_.dtype == np.float64
    assert floats.classes_.tolist() == [0.5, 2.0]

    # Strings are compared as <U, and given back as objects, as given.
    strings = LabelEncoder().fit(np.array(["b", "a"], dtype=object))
    assert strings.classes_.dtype.kind == "U"
    decoded = strings.inverse_transform([1, 0])
    assert decoded.dtype == object
    assert decoded.tolist() == ["b", "a"]
    assert LabelEncoder().fit(["b", "a"]).inverse_transform([0]).dtype.kind == "U"


@pytest.mark.parametrize(
    "labels, message",
    [
        (
            np.array([1, "1"], dtype=object),
            r"mixes label types: row 0 holds 1 \(a number\) but row 1 "
            r"holds '1' \(a str\)",
        ),
        # NumPy alone would read this list as the strings ['1', '1'].
        ([1, "1"], r"mixes label types: .* row 1 holds '1'"),
        (
            np.array(["a", "b", None], dtype=object),
            r"holds None at row 2, which is not a class label",
        ),
        (np.array([1.0, np.nan], dtype=object), r"y contains nan at row 1"),
        (
            np.array([1, True], dtype=object),
            r"row 0 holds 1 \(a number\) but row 1 holds True \(a bool\)",
        ),
        (np.array(["a", b"b"], dtype=object), r"holds b'b' at row 1"),
    ],
    ids=["int_and_str", "list", "None", "NaN", "bool_and_int", "bytes"],
)
def test_bad_object_labels_name_the_value_and_row(labels, message):
    with pytest.raises(DataError, match=message):
        LabelEncoder().fit(labels)
    with pytest.raises(DataError, match=message):
        check_class_labels(labels)


def test_label_encoder_inverse_rejects_codes_out_of_range():
    encoder = LabelEncoder().fit(["a", "b"])
    with pytest.raises(DataError, match=r"codes must be in \[0, 2\), got 2"):
        encoder.inverse_transform([0, 2])


def test_label_encoder_needs_fit_first():
    with pytest.raises(NotFittedError, match="call fit"):
        LabelEncoder().transform([1])
