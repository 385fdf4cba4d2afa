"""Training on a memory-mapped array larger than memory.

`np.load(path, mmap_mode="r")` gives an array whose rows stay on disk until
they are read. `Network.fit` keeps such an array where it is: every check
and statistic is taken block by block, and each mini-batch is gathered,
standardised and cast on its own, so only the rows in use are ever copied.

Reading a mapped page makes it part of the process's resident memory until
the mapping goes, so a pass over a 3 GB file would still leave 3 GB
resident. `MappedRows` therefore hands the pages back (madvise DONTNEED)
whenever resident memory has grown by `RELEASE_BYTES` since it last did;
they stay in the kernel's page cache, so reading them again costs a minor
page fault, not a disk read. Resident memory is read from /proc, because
what one read maps cannot be known in advance: Linux maps the whole block
of page cache ("folio", up to a few MiB) around the page a row lies in.
For the same reason a batch of rows drawn at random is not read through
the mapping at all but with one pread per row from the file, which copies
the row's bytes and maps nothing: memory stays flat however large the file.

Per row the arithmetic is the in-memory path's own ((x - mean) / scale in
float64, then the cast), so a network trained from a mapped array equals,
bit for bit, the one trained from the same array loaded into memory.
"""
import mmap
import os
import weakref

import numpy as np

from .errors import DataError
from .validation import check_features

# Bytes read from the mapping between two hand-backs of its pages.
RELEASE_BYTES = 64 * 2**20

# Without /proc, what one row read at random is taken to map: a folio.
_FOLIO_BYTES = 2**20

# Rows per block in the passes over all the data: about 1 MB of float64,
# so the temporaries of a pass stay small beside any data set.
_BLOCK_BYTES = 2**20


def mapping_of(X) -> "mmap.mmap | None":
    """The mmap behind X (an np.memmap or any view of one), else None."""
    base = X
    while isinstance(base, np.ndarray):
        base = base.base
    return base if isinstance(base, mmap.mmap) else None


def is_mapped(X) -> bool:
    """True for data `fit` streams: a MappedRows or an mmap-backed array."""
    return isinstance(X, MappedRows) or mapping_of(X) is not None


def copy_column(array, column: int) -> np.ndarray:
    """One column of a mapped 2-D array, in memory, read block by block."""
    rows = MappedRows(array)
    out = np.empty(len(array), array.dtype)
    step = block_rows(array.shape[1])
    for start in range(0, len(array), step):
        block = rows._raw(slice(start, start + step))
        out[start:start + block.shape[0]] = block[:, column]
        rows._release_if_due()
    rows.release()
    return out


class _FileRows:
    """The file behind a memory-mapped array, opened once by its name.

    Rows drawn at random are read from it with one pread each: a page
    fault on the mapping would map the whole page-cache folio around each
    row (measured: 0.7 MiB per row), where pread copies just the row's
    bytes. Before each read through the mapping, its size is checked: a
    file cut short after it was mapped would kill the process with SIGBUS.
    Only the file the mapping shows is used: one replaced under the same
    name since, or the private pages of a copy-on-write map (mode "c"),
    would give other values than the mapping, so then the mapping is read.
    """

    def __init__(self, fd: int, start: int, stride: int, row_bytes: int,
                 mapped_end: int, name: str, use_pread: bool):
        self.fd, self.start = fd, start
        self.stride, self.row_bytes = stride, row_bytes
        self.mapped_end, self.name = mapped_end, name
        self.use_pread = use_pread
        weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, array) -> "_FileRows | None":
        """The file of `array`, or None where it cannot be had: not an
        np.memmap of a named file, the file gone, or another file now under
        that name (then the mapping is read without checks)."""
        root = array
        while isinstance(root.base, np.ndarray):
            root = root.base
        filename = getattr(root, "filename", None)
        if not isinstance(root, np.memmap) or filename is None:
            return None
        try:
            fd = os.open(filename, os.O_RDONLY)
        except OSError:
            return None
        if not _is_mapped_file(fd, root):
            os.close(fd)
            return None
        # The file offset of array[0, 0]: the memmap's own offset plus how
        # far into the memmap this view starts.
        start = root.offset + (
            array.__array_interface__["data"][0]
            - root.__array_interface__["data"][0]
        )
        use_pread = (
            hasattr(os, "preadv")
            and root.mode != "c"
            and array.strides[1] == array.dtype.itemsize
        )
        row_bytes = array.shape[1] * array.dtype.itemsize
        return cls(fd, start, array.strides[0], row_bytes,
                   root.offset + root.nbytes, filename, use_pread)

    def check_size(self) -> None:
        """Refuse to read a mapping whose file was cut short since."""
        size = os.fstat(self.fd).st_size
        if size < self.mapped_end:
            raise DataError(
                f"{self.name} is {size} bytes but its array needs "
                f"{self.mapped_end}: the file was cut short after it was "
                f"opened; load it again"
            )

    def read(self, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Rows `rows` into `out` (C-contiguous, the file's dtype)."""
        view = memoryview(out).cast("B")
        size = self.row_bytes
        for i, row in enumerate(rows.tolist()):
            got = os.preadv(self.fd, [view[i * size:(i + 1) * size]],
                            self.start + row * self.stride)
            if got != size:
                raise DataError(
                    f"row {row} lies past the end of {self.name}: the file "
                    f"was cut short after it was opened; load it again"
                )
        return out


def _shared_file_mapping(array) -> bool:
    """True for an np.memmap whose pages are the file's (not mode "c")."""
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    return isinstance(root, np.memmap) and root.mode in ("r", "r+", "w+")


def _is_mapped_file(fd: int, root: np.memmap) -> bool:
    """True if `fd` is the very file `root` maps (same device and inode).

    /proc/self/maps names the inode behind each mapping; where it cannot
    be read (not Linux), the file is trusted as it is.
    """
    address = root.__array_interface__["data"][0]
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                low, high = (int(x, 16) for x in fields[0].split("-"))
                if low <= address < high:
                    return int(fields[4]) == os.fstat(fd).st_ino
    except (OSError, ValueError, IndexError):
        return True
    return True


# The open /proc/<pid>/statm of this process, by pid (a fork reopens it).
_statm: dict = {}


def _resident_bytes() -> "int | None":
    """This process's resident memory now, or None where /proc is missing.

    One pread of a file kept open: about a microsecond, cheap enough to ask
    after every batch.
    """
    pid = os.getpid()
    try:
        if pid not in _statm:
            _statm.clear()
            _statm[pid] = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        pages = int(os.pread(_statm[pid], 128, 0).split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * mmap.PAGESIZE


def block_rows(n_features: int) -> int:
    """Rows per block so a float64 block is about _BLOCK_BYTES."""
    return max(1, _BLOCK_BYTES // (8 * max(1, n_features)))


class MappedRows:
    """Rows of a memory-mapped 2-D array, read a block or a batch at a time.

    Parameters
    ----------
    array : ndarray backed by an mmap, shape (n_rows, n_features)
        Left as it is; real numbers of any dtype (uint8 images included).
    rows : 1-D int array or None, default=None
        The rows of `array` that make up this data set, in order; None
        takes them all. `scratchnn.streaming.MappedRows(X, train_rows)`
        trains on a subset without copying it.

    Notes
    -----
    `fit` calls `prepare(scaler, dtype)` before training; from then on
    `take` returns rows standardised by `scaler` and cast to `dtype`.
    """

    def __init__(self, array, rows=None, name: str = "X"):
        if isinstance(array, MappedRows):
            raise TypeError("array is already a MappedRows")
        if mapping_of(array) is None:
            raise TypeError(
                f"{name} must be a memory-mapped array, e.g. "
                f"np.load(path, mmap_mode='r'); got {type(array).__name__}"
            )
        if array.ndim != 2:
            raise DataError(
                f"{name} must be 2-D (n_samples, n_features), got shape "
                f"{array.shape}; give one row per sample and one column per "
                f"feature"
            )
        # The checks of check_features that need no pass over the values
        # (dtype, width), on the first row only.
        check_features(np.asarray(array[:1]), name, allow_empty=True)
        self.array = array
        self.name = name
        if rows is not None:
            rows = np.asarray(rows)
            if rows.ndim != 1 or rows.dtype.kind not in "iu":
                raise TypeError(f"rows must be a 1-D integer array, got "
                                f"{rows.dtype} of shape {rows.shape}")
            if rows.size and (rows.min() < 0 or rows.max() >= len(array)):
                raise IndexError(
                    f"rows must lie in 0..{len(array) - 1} for {name} "
                    f"with {len(array)} rows"
                )
            rows = rows.astype(np.intp, copy=False)
        self.rows = rows
        self._mapping = mapping_of(array)
        self._unreleased = 0
        self._resident_after_release = _resident_bytes()
        self._row_bytes = array.strides[0]
        self._file = _FileRows.open(array)
        # Handing pages back is safe only for a shared mapping of a file:
        # on a copy-on-write map (np.load(..., mmap_mode="c")), or one of
        # unknown kind, it would throw away edits made in memory.
        self._may_release = _shared_file_mapping(array)
        self.scaler = None
        self.dtype = np.dtype(np.float64)
        self.column_min = self.column_max = None

    @property
    def shape(self) -> tuple:
        n = len(self.array) if self.rows is None else len(self.rows)
        return (n, self.array.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    # -- reading -------------------------------------------------------
    def _raw(self, index, out=None) -> np.ndarray:
        """Rows `index` (positions in this set: a slice or an int array)
        in the file's dtype, counting the bytes read. `out`, if given,
        has the file's dtype and receives rows read at random."""
        if self.rows is not None:
            index = self.rows[index]
        if self._file is not None:
            self._file.check_size()
        if isinstance(index, slice):
            block = self.array[index]
        elif self._file is not None and self._file.use_pread:
            if out is None:
                out = np.empty((len(index), self.shape[1]), self.array.dtype)
            return self._file.read(index, out)
        else:
            block = np.take(self.array, index, axis=0, mode="clip")
        self._unreleased += block.shape[0] * self._resident_per_row(index)
        return block

    def _resident_per_row(self, index) -> int:
        """Bytes of mapping one row's read is taken to bring in, where
        /proc cannot tell: its own bytes in order, a folio at random."""
        if isinstance(index, slice):
            return self._row_bytes + mmap.PAGESIZE
        return max(self._row_bytes, _FOLIO_BYTES) + mmap.PAGESIZE

    def _release_if_due(self) -> None:
        resident = _resident_bytes()
        if resident is None:
            grown = self._unreleased
        else:
            grown = resident - self._resident_after_release
        if grown >= RELEASE_BYTES:
            self.release()
        elif resident is not None and resident < self._resident_after_release:
            self._resident_after_release = resident

    def release(self) -> None:
        """Hand the pages read so far back to the OS (they stay cached)."""
        self._unreleased = 0
        if not self._may_release:
            return
        if hasattr(self._mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            self._mapping.madvise(mmap.MADV_DONTNEED)
        self._resident_after_release = _resident_bytes()

    def blocks(self):
        """(start, rows as float64) for consecutive blocks of this set."""
        step = block_rows(self.shape[1])
        for start in range(0, len(self), step):
            raw = self._raw(slice(start, start + step))
            yield start, np.asarray(raw, dtype=np.float64)
            self._release_if_due()
        self.release()

    # -- checks before training ----------------------------------------
    def check_values(self, purpose: str = "training") -> None:
        """Refuse NaN and inf, naming the first; keep each column's range.

        The column minima and maxima also tell, before any batch is read,
        whether standardised values fit the network's dtype.
        """
        low = np.full(self.shape[1], np.inf)
        high = np.full(self.shape[1], -np.inf)
        with np.errstate(invalid="ignore"):
            for start, block in self.blocks():
                if not np.isfinite(np.sum(block)):
                    bad = ~np.isfinite(block)
                    if bad.any():
                        row, column = np.argwhere(bad)[0]
                        # Rows are named as they lie in the array (a file's
                        # row), not by their place in a subset of them.
                        position = start + row
                        if self.rows is not None:
                            position = int(self.rows[position])
                        raise DataError(
                            f"{self.name} contains {block[row, column]} at "
                            f"row {position}, column {column} (counting "
                            f"from 0); remove or fill in missing and "
                            f"infinite values before {purpose}"
                        )
                np.minimum(low, block.min(axis=0), out=low)
                np.maximum(high, block.max(axis=0), out=high)
        self.column_min, self.column_max = low, high

    def prepare(self, scaler, dtype) -> None:
        """Standardise with `scaler` (or not: None) and cast to `dtype`.

        Refuses, as the in-memory path does, a standardised value beyond
        the dtype's range; the column extremes decide it without a pass.
        """
        if self.column_min is None:
            self.check_values()
        self.scaler, self.dtype = scaler, np.dtype(dtype)
        if len(self) == 0:
            return  # no values, no extremes (the minima are still +inf)
        extremes = np.stack([self.column_min, self.column_max])
        if scaler is not None:
            extremes = (extremes - scaler.mean_) / scaler.scale_
        limit = np.finfo(self.dtype).max
        too_big = np.abs(extremes) > limit
        if too_big.any():
            column = int(np.argwhere(too_big)[0][1])
            after = " after standardising" if scaler is not None else ""
            raise DataError(
                f"{self.name}{after} reaches {extremes[:, column].max():g} "
                f"in column {column}, beyond the {self.dtype.name} range of "
                f"this network (±{limit:.4g}); scale the data down or use "
                f"dtype='float64'"
            )

    # -- reading for training -------------------------------------------
    def take(self, index, out: np.ndarray) -> np.ndarray:
        """Rows `index` (a slice or positions), prepared, written into out."""
        if self.scaler is None and out.dtype == self.array.dtype:
            raw = self._raw(index, out=out)  # read straight into out
            if raw is out:
                self._release_if_due()
                return out
        else:
            raw = self._raw(index)
        if self.scaler is None:
            np.copyto(out, raw, casting="unsafe")
        else:
            # The in-memory path's arithmetic: float64, then the cast.
            np.copyto(out, (raw - self.scaler.mean_) / self.scaler.scale_,
                      casting="unsafe")
        self._release_if_due()
        return out

    def prepared_blocks(self):
        """Blocks of prepared rows, as `take` gives them (for digests)."""
        step = block_rows(self.shape[1])
        for start in range(0, len(self), step):
            n = min(step, len(self) - start)
            out = np.empty((n, self.shape[1]), self.dtype)
            yield self.take(slice(start, start + n), out)
        self.release()

    def gather(self, rows) -> np.ndarray:
        """Rows at positions `rows`, unprepared, as a new in-memory array
        (float64 for integer data, as `check_features` makes it)."""
        block = self._raw(np.asarray(rows))
        self.release()
        if block.dtype not in (np.float32, np.float64):
            block = block.astype(np.float64)
        return block

    def subset(self, rows) -> "MappedRows":
        """These rows' positions `rows` as a MappedRows of their own."""
        rows = np.asarray(rows)
        mapped = rows if self.rows is None else self.rows[rows]
        return MappedRows(self.array, mapped, self.name)

    def __array__(self, dtype=None, copy=None):
        """Every row, unprepared, in memory: for small data only (NumPy
        functions given a MappedRows land here)."""
        block = self.gather(np.arange(len(self)))
        return block if dtype is None else block.astype(dtype)

    def __repr__(self) -> str:
        return f"MappedRows(shape={self.shape}, dtype={self.array.dtype})"
