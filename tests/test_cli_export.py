"""`scratchnn export`: a saved model written as ONNX, chosen by suffix.

The exported file is run with onnxruntime and must give the model's own
predictions, so the command is shown to hand the right network to the
writer, not just to leave a file behind.
"""
import json
import sys

import numpy as np
import pytest

pytest.importorskip("scratchnn.onnx_export")

import scratchnn  # noqa: E402
from scratchnn import Network  # noqa: E402
from scratchnn.cli import main  # noqa: E402
from scratchnn.data import load_dataset  # noqa: E402


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A 2-class xor classifier and a regression model on the tutorial."""
    folder = tmp_path_factory.mktemp("export")
    classifier, regressor = folder / "c.npz", folder / "r.npz"
    assert main(["train", "--data", "xor", "--epochs", "3", "-q",
                 "--layers", "6", "--no-plot", "--out", str(classifier)]) == 0
    assert main(["train", "--data", "tutorial", "--loss", "mse", "-q",
                 "--epochs", "3", "--no-plot", "--out", str(regressor)]) == 0
    return {"classifier": classifier, "regressor": regressor}


@pytest.mark.parametrize("kind, data, output", [
    ("classifier", "xor", "probabilities"),
    ("regressor", "tutorial", "values"),
])
def test_export_by_suffix_runs_like_the_model(kind, data, output, models,
                                              tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    model, out = models[kind], tmp_path / "m.onnx"
    status, stdout, err = run_cli(capsys, "export", str(model), str(out))
    assert status == 0, err
    assert stdout == ""
    size = out.stat().st_size
    assert f"wrote {out} (onnx, {size} bytes)" in err

    net = Network.load(model)
    X, _ = load_dataset(data)
    session = ort.InferenceSession(str(out))
    (got,) = session.run([output], {"input": X.astype(np.float32)})
    expected = net.predict_proba(X) if net.is_classifier else net.predict(X)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_format_flag_overrides_the_suffix(models, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "model.bin"
    status, stdout, err = run_cli(capsys, "export", str(models["classifier"]),
                                  str(out), "--format", "onnx", "--json")
    assert status == 0, err
    report = json.loads(stdout)
    assert report == {"model": str(models["classifier"]), "out": str(out),
                      "format": "onnx", "bytes": out.stat().st_size}
    graph = onnx.load(str(out)).graph
    assert [o.name for o in graph.output] == ["probabilities", "class_index"]


@pytest.mark.parametrize("name", ["m.txt", "m", "m.npz"])
def test_a_suffix_without_a_format_is_a_usage_error(name, models, tmp_path,
                                                    capsys):
    out = tmp_path / name
    status, stdout, err = run_cli(capsys, "export", str(models["classifier"]),
                                  str(out))
    assert status == 2
    assert stdout == ""
    assert "cannot tell the format from OUT" in err
    assert "give --format (onnx, python)" in err
    assert not out.exists()


def test_export_never_overwrites_its_model(models, capsys):
    model = models["classifier"]
    before = model.read_bytes()
    status, _, err = run_cli(capsys, "export", str(model), str(model),
                             "--format", "onnx")
    assert status == 1
    assert "would overwrite the model file" in err
    assert model.read_bytes() == before


def test_export_without_onnx_says_what_to_install(models, tmp_path,
                                                  monkeypatch, capsys):
    # As where onnx is not installed: importing it fails.
    for name in list(sys.modules):
        if name == "onnx" or name.startswith("onnx."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.delitem(sys.modules, "scratchnn.onnx_export", raising=False)
    monkeypatch.delattr(scratchnn, "onnx_export", raising=False)

    out = tmp_path / "m.onnx"
    status, stdout, err = run_cli(capsys, "export", str(models["classifier"]),
                                  str(out))
    assert status == 1
    assert stdout == ""
    assert err == (
        "scratchnn: error: exporting to ONNX needs the onnx package, which "
        "is not installed; pip install 'scratchnn[onnx]'\n"
    )
    assert not out.exists()
