"""--help shows every default, the falsy-looking ones (0, 1.0) included."""
import pytest

from scratchnn.cli import build_parser


def _option_help(command: str, option: str) -> str:
    """The help of one option, from its line in the options list."""
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    text = sub.format_help()
    start = text.index("\n  " + option)
    end = text.find("\n  -", start + 1)
    return " ".join(text[start:end if end > 0 else None].split())


@pytest.mark.parametrize("command, option, default", [
    ("train", "--seed SEED", "0"),
    ("tutorial", "--seed SEED", "0"),
    ("train", "--out OUT", "model.npz"),
])
def test_defaults_are_shown(command, option, default):
    assert f"(default: {default})" in _option_help(command, option)


def test_resume_writes_the_runs_own_model_file_from_any_folder(
    tmp_path, monkeypatch
):
    """Without --out, a resumed run writes where the run it continues did,
    not to model.npz in whatever folder it is resumed from."""
    import numpy as np

    from scratchnn import Network
    from scratchnn.cli import main

    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    start.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(start)
    assert main(["train", "--data", "xor", "-q", "--layers", "8",
                 "--epochs", "3", "--checkpoint", "run.ckpt",
                 "--out", "part.npz", "--plot", "part.png"]) == 0
    first = Network.load(start / "part.npz")
    monkeypatch.chdir(elsewhere)
    assert main(["train", "--resume", str(start / "run.ckpt"),
                 "--epochs", "5", "-q"]) == 0
    assert list(elsewhere.iterdir()) == []
    resumed = Network.load(start / "part.npz")
    assert len(first.history) == 3 and len(resumed.history) == 5
    assert (start / "part.png").stat().st_size > 0
    assert not np.array_equal(first.parameters()[0], resumed.parameters()[0])
