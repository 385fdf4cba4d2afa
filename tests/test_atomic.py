"""Tests for atomic_write: whole files or none, with the usual permissions."""
import os
import stat

import pytest

from scratchnn import atomic
from scratchnn.atomic import atomic_write


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_binary_and_text_content_is_written(tmp_path):
    binary = tmp_path / "data.bin"
    with atomic_write(binary) as fh:
        fh.write(b"\x00\x01scratch")
    assert binary.read_bytes() == b"\x00\x01scratch"

    text = tmp_path / "rows.csv"
    with atomic_write(text, "w", newline="") as fh:
        fh.write("a,b\r\n1,2\n")
    # newline="" writes line endings exactly as given.
    assert text.read_bytes() == b"a,b\r\n1,2\n"
    assert sorted(os.listdir(tmp_path)) == ["data.bin", "rows.csv"]


def test_a_second_write_replaces_the_first(tmp_path):
    path = tmp_path / "f.txt"
    with atomic_write(path, "w") as fh:
        fh.write("a much longer first version")
    with atomic_write(path, "w") as fh:
        fh.write("second")
    assert path.read_text() == "second"


@pytest.mark.parametrize(
    "error",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["disk full", "ctrl-c"],
)
def test_failure_inside_the_block_changes_nothing(tmp_path, error):
    path = tmp_path / "model.npz"
    path.write_bytes(b"the good old model")
    seen = []

    with pytest.raises(type(error)):
        with atomic_write(path) as fh:
            fh.write(b"half of a new")
            seen.extend(os.listdir(tmp_path))
            raise error

    # The partial data went to a hidden temporary file beside the target.
    temporary = [name for name in seen if name != "model.npz"]
    assert len(temporary) == 1
    assert temporary[0].startswith(".model.npz.")
    assert temporary[0].endswith(".tmp")
    assert path.read_bytes() == b"the good old model"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_failed_rename_removes_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        with atomic_write(path, "w") as fh:
            fh.write("x")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o755])
def test_replaced_file_keeps_its_permissions(tmp_path, mode):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    os.chmod(path, mode)

    with atomic_write(path) as fh:
        fh.write(b"new")
    assert path.read_bytes() == b"new"
    assert mode_of(path) == mode


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_new_file_mode_follows_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with atomic_write(tmp_path / "new.bin") as fh:
            fh.write(b"x")
        # What a plain open() makes under the same umask, for comparison.
        (tmp_path / "plain.bin").write_bytes(b"x")
    finally:
        os.umask(old)

    assert mode_of(tmp_path / "new.bin") == 0o666 & ~umask
    assert mode_of(tmp_path / "new.bin") == mode_of(tmp_path / "plain.bin")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_umask_is_read_without_changing_it(monkeypatch):
    old = os.umask(0o027)
    try:
        assert atomic._umask() == 0o027
        # The fallback for systems without /proc gives the same answer.
        real_open = open

        def no_proc(name, *args, **kwargs):
            if str(name).startswith("/proc/"):
                raise FileNotFoundError(2, "No such file", name)
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr("builtins.open", no_proc)
        assert atomic._umask() == 0o027
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(old)


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'wb' or 'w', got 'a'"):
        with atomic_write(tmp_path / "f", "a"):
            pass
    assert os.listdir(tmp_path) == []


def test_a_fifo_is_refused_not_replaced(tmp_path):
    """A special file (here a named pipe; as root also a device node)
    would be swapped for a regular file by the rename: refused instead."""
    import stat as stat_module

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        with atomic_write(fifo) as fh:
            fh.write(b"data")
    assert stat_module.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]
