"""Atomic file writes: a file is replaced whole or not at all.

Data goes to a temporary file in the target's folder, is synced to disk,
then renamed over the target (rename within one file system is atomic).
"""
import contextlib
import errno
import os
import stat
import tempfile
import threading

# Where os.umask can only be read by setting it, two of our own threads
# doing that at once would each read the other's stand-in (see `_umask`).
_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", newline: str | None = None):
    """Open a temporary file that replaces `path` when the block ends.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace. Its folder must exist.
    mode : {"wb", "w"}, default="wb"
        Binary, or UTF-8 text (what the CSV reader expects back).
    newline : str or None, default=None
        Passed to `open` in text mode (e.g. "" for the csv module).

    Yields
    ------
    file object
        Open for writing; leave it open, the block's end closes it.

    Raises
    ------
    ValueError
        If `mode` is not "wb" or "w".
    OSError
        If the temporary file cannot be made, written or renamed; `path`
        is then as it was before.

    Notes
    -----
    On any exception inside the block (Ctrl-C included) the temporary file
    is removed and the exception goes on; `path` is untouched. On success
    the data is flushed and fsynced before the rename, and the folder is
    fsynced after it where the platform allows, so a crash leaves either
    the old file or the new one. A replaced file keeps its permissions; a
    new file gets 0o666 less the umask, as `open` would give it, rather
    than the owner-only mode of `tempfile.mkstemp`.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    _refuse_special_file(path)

    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        encoding = "utf-8" if mode == "w" else None
        with os.fdopen(fd, mode, newline=newline, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.chmod(tmp, _mode_for(path))
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

    _sync_folder(folder)


def check_destination(path: str, what: str, example: str) -> None:
    """ModelFileError, before any work, for a path that names a folder or
    lies in a folder that does not exist. `what` ("ONNX file") and the
    `example` file name make the message."""
    from .errors import ModelFileError

    if os.path.isdir(path):
        raise ModelFileError(
            f"cannot write {what} {path!r}: it is a directory; give a "
            f"file name such as {os.path.join(path, example)!r}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ModelFileError(
            f"cannot write {what} {path!r}: folder {folder!r} does not "
            f"exist; create it first or choose another folder"
        )


def _refuse_special_file(path: str) -> None:
    """Refuse to replace a device, pipe or socket with a regular file.

    The rename would swap, say, a device node for a file; only root can
    usually do it, which is why it must be refused here. A symbolic link
    is replaced as any file is (its target stays as it was).
    """
    with contextlib.suppress(FileNotFoundError):
        mode = os.lstat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)
                or stat.S_ISDIR(mode)):  # a folder fails at the rename
            raise OSError(
                errno.EINVAL,
                "is a device, pipe or socket, not a regular file; give the "
                "path of a file to write",
                path,
            )


def _mode_for(path: str) -> int:
    """The permissions the written file should end up with."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without leaving it changed."""
    # Linux reports it directly, which no other thread can disturb.
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    # Elsewhere the only way is to set it and put it back at once; the
    # stand-in is strict, so a file another thread makes meanwhile is
    # private rather than open to all.
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _sync_folder(folder: str) -> None:
    """fsync a folder so a rename in it survives a crash, where possible."""
    # Windows cannot open a folder; there the rename goes unsynced.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
