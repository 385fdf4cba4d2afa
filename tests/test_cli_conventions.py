"""The conventions every command keeps, checked command by command.

Results on stdout, progress and notes on stderr; `--json` prints one
object; `-q` leaves stderr empty and `-v` adds the library's log; exit
status 0, 1 (error), 2 (usage) or 130 (interrupted); a reader that closes
the pipe early ends the command quietly. The pipe and signal tests run
the real program in a child process, with Python's usual buffering.
"""
import json
import os
import signal
import subprocess
import sys

import pytest

from scratchnn import Network
from scratchnn.cli import main

COMMANDS = ["train", "evaluate", "predict", "tutorial", "plot", "info",
            "export"]
# Commands whose results are data on stdout; plot and export write files
# and say where on stderr.
PRINTING = ["train", "evaluate", "predict", "tutorial", "info"]


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def child_env(buffered: bool = True) -> dict:
    """The environment of a child process, buffered as in a user's shell.

    Test runners often set PYTHONUNBUFFERED, which hides what a closed
    pipe does to output still waiting in a buffer at exit.
    """
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 2-feature xor model, a CSV to predict, and a folder for outputs."""
    folder = tmp_path_factory.mktemp("conventions")
    model = folder / "m.npz"
    assert main(["train", "--data", "xor", "--epochs", "2", "-q",
                 "--layers", "4", "--no-plot", "--out", str(model)]) == 0
    rows = [f"{(i % 7) / 3 - 1:.3f},{(i % 5) / 2 - 1:.3f}" for i in range(20)]
    csv = folder / "x.csv"
    csv.write_text("x0,x1\n" + "\n".join(rows) + "\n")
    return {"model": str(model), "csv": str(csv), "folder": folder}


def argv_for(command: str, files) -> list[str]:
    """A small, quick run of each command."""
    model, folder = files["model"], files["folder"]
    return {
        "train": ["train", "--data", "xor", "--epochs", "2", "--no-plot",
                  "--out", str(folder / "t.npz")],
        "evaluate": ["evaluate", model],
        "predict": ["predict", model, files["csv"]],
        "tutorial": ["tutorial", "--epochs", "3"],
        "plot": ["plot", model, "--out", str(folder / "p.png")],
        "info": ["info", model],
        "export": ["export", model, str(folder / "m.onnx")],
    }[command]


def needs(command: str) -> None:
    """Skip a command whose optional package is missing."""
    if command == "plot":
        pytest.importorskip("matplotlib")
    if command == "export":
        pytest.importorskip("onnx")
        pytest.importorskip("scratchnn.onnx_export")


# ----------------------------------------------------------------------
# Where the words go
# ----------------------------------------------------------------------
@pytest.mark.parametrize("command", COMMANDS)
def test_results_on_stdout_notes_on_stderr(command, files, capsys):
    needs(command)
    status, out, err = run_cli(capsys, *argv_for(command, files))
    assert status == 0, err
    expected = {
        "train": ("test accuracy ", "epoch 2/2"),
        "evaluate": ("accuracy ", "scoring the 40 test rows"),
        "predict": ("0", None),
        "tutorial": ("iteration     1", "the tutorial's network"),
        "plot": (None, "wrote "),
        "info": ("total parameters: 22", None),
        "export": (None, "wrote "),
    }[command]
    words_out, words_err = expected
    if words_out is None:
        assert out == ""
    else:
        assert words_out in out
    if words_err is None:
        assert err == ""
    else:
        assert words_err in err
        assert words_err not in out
    assert "scratchnn:" not in out


@pytest.mark.parametrize("command", COMMANDS)
def test_json_prints_one_object_and_nothing_else(command, files, capsys):
    needs(command)
    status, out, err = run_cli(capsys, *argv_for(command, files), "--json")
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert isinstance(report, dict)
    numbers = {
        "train": "test_accuracy",
        "evaluate": "accuracy",
        "tutorial": "loss",
        "plot": "panels",
        "info": "total_params",
        "export": "bytes",
    }
    if command == "predict":
        assert len(report["predictions"]) == 20
    else:
        assert numbers[command] in report


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_prints_results_only(command, where, files, capsys):
    needs(command)
    argv = argv_for(command, files)
    argv = ["-q", *argv] if where == "before" else [*argv, "-q"]
    status, out, err = run_cli(capsys, *argv)
    assert status == 0
    assert err == ""
    assert bool(out) == (command in PRINTING)


def test_predict_out_with_json_reports_the_file(files, capsys):
    out_csv = files["folder"] / "p.csv"
    status, out, err = run_cli(capsys, "predict", files["model"],
                               files["csv"], "--out", str(out_csv), "--json")
    assert status == 0, err
    assert json.loads(out) == {"out": str(out_csv), "rows": 20}
    assert len(out_csv.read_text().splitlines()) == 21


@pytest.mark.parametrize("command", ["evaluate", "info", "plot", "train"])
def test_verbose_adds_the_library_log_on_stderr(command, files):
    needs(command)
    argv = argv_for(command, files)
    plain = subprocess.run(
        [sys.executable, "-m", "scratchnn", *argv], capture_output=True,
        text=True, env=child_env(), timeout=120,
    )
    loud = subprocess.run(
        [sys.executable, "-m", "scratchnn", "-v", *argv],
        capture_output=True, text=True, env=child_env(), timeout=120,
    )
    assert plain.returncode == loud.returncode == 0, loud.stderr
    # Loading or saving a model is logged at DEBUG level.
    assert "DEBUG scratchnn.persistence:" in loud.stderr
    assert "DEBUG" not in plain.stderr
    assert "DEBUG" not in loud.stdout


# ----------------------------------------------------------------------
# Exit status
# ----------------------------------------------------------------------
# The tutorial reads no file that could be missing.
@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c != "tutorial"]
)
def test_errors_exit_1_with_one_line(command, files, tmp_path, capsys):
    argv = argv_for(command, files)
    if command == "train":
        argv[argv.index("xor")] = str(tmp_path / "missing.csv")
    else:
        argv[1] = str(tmp_path / "missing.npz")
    status, out, err = run_cli(capsys, *argv)
    assert status == 1
    assert out == ""
    assert err.startswith("scratchnn: error: ")
    assert "does not exist" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_flags_exit_2(command, files, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv_for(command, files), "--no-such-flag"])
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --no-such-flag" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["evaluate"], ["predict", "m.npz"],
                                  ["plot"], ["info"], ["export", "m.npz"]])
def test_missing_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "the following arguments are required" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_each_option(command, files, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--json", "-q", "-v"):
        assert flag in text
    for flag in argv_for(command, files):
        if flag.startswith("--"):
            assert flag in text


@pytest.mark.parametrize("command", ["evaluate", "predict", "plot", "info",
                                     "export"])
def test_ctrl_c_exits_130(command, files, monkeypatch, capsys):
    needs(command)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Network, "load", interrupted)
    status, out, err = run_cli(capsys, *argv_for(command, files))
    assert status == 130
    assert out == ""
    assert err == "scratchnn: interrupted\n"


@pytest.mark.parametrize("argv, stream, wait_for", [
    (["tutorial", "--epochs", "100000000"], "stdout", "iteration "),
    (["train", "--data", "moons", "--epochs", "20000", "--layers", "4",
      "--no-plot", "--out", "m.npz"], "stderr", "epoch "),
])
def test_a_real_sigint_exits_130(argv, stream, wait_for, tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", *argv], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=child_env(),
    )
    try:
        # Wait until the training loop is running, then press Ctrl-C.
        lines = getattr(child, stream)
        assert any(wait_for in line for line in lines)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130
    assert "interrupted" in err
    assert "Traceback" not in err
    if argv[0] == "train":
        # The last finished epoch was saved.
        assert Network.load(tmp_path / "m.npz").history is not None


# ----------------------------------------------------------------------
# Closed pipes
# ----------------------------------------------------------------------
@pytest.mark.parametrize("buffered", [True, False])
def test_predict_into_head_ends_quietly(buffered, files, tmp_path):
    # 40,000 predictions are 80 kB, more than a pipe holds, so the
    # program is still writing when head has gone.
    rows = [f"{(i % 7) / 3 - 1:.2f},{(i % 5) / 2 - 1:.2f}"
            for i in range(40_000)]
    big = tmp_path / "big.csv"
    big.write_text("x0,x1\n" + "\n".join(rows) + "\n")
    script = (f'"{sys.executable}" -m scratchnn predict "{files["model"]}" '
              f'"{big}" | head -1; echo "status=${{PIPESTATUS[0]}}" >&2')
    result = subprocess.run(["bash", "-c", script], capture_output=True,
                            text=True, env=child_env(buffered), timeout=120)
    assert result.stdout in ("0\n", "1\n")
    assert result.stderr == "status=0\n"


@pytest.mark.parametrize("command", PRINTING)
def test_a_reader_gone_before_any_output_ends_quietly(command, files):
    needs(command)
    argv = argv_for(command, files)
    if command == "train":
        argv += ["-q"]
    child = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", *argv], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=child_env(),
    )
    # Closed before the child has written a byte: each write now fails.
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=120) == 0, err
    assert "Traceback" not in err
    assert "Exception ignored" not in err
    assert "BrokenPipe" not in err
