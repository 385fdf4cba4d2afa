"""Saving and loading networks: one .npz file that loads without running code.

The file holds the weights and the input scaling as plain numeric arrays,
and a JSON header with the format version, the architecture, the loss, the
optimizer settings and the class labels. The loader checks every name,
shape, dtype and size against that header before it reads any array data.
"""
import contextlib
import json
import logging
import math
import os
import stat
import zipfile
import zlib

import numpy as np

from .activations import ACTIVATIONS, is_builtin, settings_problem
from .atomic import atomic_write, check_destination
from .data import LabelEncoder, StandardScaler
from .errors import DataError, ModelFileError
from .layers import Dense
from .model_header import (
    DEFAULT_MAX_BYTES,
    MAX_LAYERS,
    check_header,
    class_labels,
    damaged,
    expected_arrays,
    history_problem,
    invalid,
    show,
)
from .network import Network
from .optimizers import OPTIMIZERS
from .training import History
from .validation import check_positive_int

logger = logging.getLogger(__name__)

FORMAT = "scratchnn-model"
FORMAT_VERSION = 1
READABLE_VERSIONS = (1,)

# Limits on the archive, beyond those model_header puts on the header's
# contents: a model has at most a weight and a bias per layer, the header
# and the two scaling arrays; a checkpoint adds Adam's two moments for each
# of those parameters.
_MAX_MEMBERS = 3 * (2 * MAX_LAYERS) + 3
_MAX_HEADER_BYTES = 10 * 2**20
# An .npy member is its data plus a short text header (128 bytes as NumPy
# writes ours); allow this much beyond the data, and no more.
_NPY_SLACK = 1024
_NPY_MIN_HEADER = 10
# Deflate cannot expand data more than about 1032 times, so a member that
# claims more than this is lying about its size.
_DEFLATE_RATIO = 1100

# The JSON kind a class label array is saved as; model_header maps each
# kind back to an array dtype.
_KIND_OF_DTYPE = {
    "i": "int",
    "u": "int",
    "f": "float",
    "U": "str",
    "b": "bool",
}


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------

def save_model(
    network: Network,
    path,
    extra: dict | None = None,
    training: tuple[dict, dict] | None = None,
) -> None:
    """Write a trained network to one model file, replacing it atomically.

    Parameters
    ----------
    network : Network
        A network that has been fitted (or loaded).
    path : str or os.PathLike
        Where to write. The name is used exactly as given: no ".npz" is
        appended.
    extra : dict or None, default=None
        JSON-ready metadata (e.g. the data set name and test metrics),
        returned by `load_model` as ``network.metadata``. None keeps the
        network's own ``metadata`` from an earlier load, if it has any.
    training : (dict, dict) or None, default=None
        For a checkpoint (see `checkpoint.save_checkpoint`): the JSON-ready
        state of the run, stored as the header's "training" section, and
        the optimizer's arrays by name, stored as "optimizer.<name>".

    Raises
    ------
    NotFittedError
        If the network is not trained, or lacks the class labels or input
        scaling its predictions need.
    NotImplementedError
        If a layer uses an activation class of the caller's own, which the
        loader could not rebuild.
    TypeError
        If `extra` is not a dict of JSON-ready values.
    ValueError
        If a weight, an activation setting or the training history holds
        NaN or inf.
    ModelFileError
        If the file cannot be written (missing folder, no permission, disk
        full); an existing file at `path` is then left as it was.

    Notes
    -----
    The model is written to a temporary file in the same folder, synced to
    disk, then renamed over `path`, so a crash never leaves a half-written
    model where a good one stood. A new file gets the permissions `open`
    would give it (0o666 less the umask); a replaced file keeps its own.
    """
    path = os.fspath(path)
    members = _pack(network, extra, training)
    _write_atomically(members, path)
    logger.debug("saved model to %s (%d arrays)", path, len(members) - 1)


def _pack(network: Network, extra, training=None) -> dict[str, np.ndarray]:
    """Every member of the file, header first; touches no file."""
    from . import __version__

    network.check_complete("save")
    for i, layer in enumerate(network.layers):
        _check_activation_rebuilds(layer.activation, i)
    if extra is None:
        extra = network.metadata
    if not isinstance(extra, dict):
        raise TypeError(
            f"extra must be a dict of JSON-ready values or None, got "
            f"{type(extra).__name__}"
        )
    try:
        json.dumps(extra, default=_json_scalar)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"extra must hold only JSON-ready values (str, int, float, "
            f"bool, None, lists and dicts): {err}"
        ) from None

    # Little-endian on every machine, so a file moves between machines.
    dtype = np.dtype(network.dtype).newbyteorder("<")
    arrays = {}
    for i, layer in enumerate(network.layers):
        for key, value in layer.params.items():
            value = np.ascontiguousarray(value, dtype=dtype)
            arrays[f"layer{i}.{key}"] = value
    if network.scaler is not None:
        for key in ("mean", "scale"):
            value = getattr(network.scaler, f"{key}_")
            arrays[f"scaler.{key}"] = np.ascontiguousarray(value, dtype="<f8")
    if training is not None:
        for key, value in training[1].items():
            value = np.ascontiguousarray(value, dtype=dtype)
            arrays[f"optimizer.{key}"] = value
    for name, value in arrays.items():
        if not np.isfinite(value).all():
            raise ValueError(
                f"cannot save: {name} holds NaN or inf, so the network has "
                f"diverged; retrain it, e.g. with a smaller lr"
            )

    history = network.history
    # The loader refuses NaN and inf in a history, so never write one.
    for key, values in ({} if history is None else history.history).items():
        if not np.isfinite(values).all():
            raise ValueError(
                f"cannot save: the training history holds NaN or inf in "
                f"{key!r}; set network.history = None to save without it"
            )
    # Nor one whose series disagree with its epochs.
    problem = None if history is None else history_problem(history.to_dict())
    if problem is not None:
        raise ValueError(
            f"cannot save: the training {problem}; set network.history = "
            f"None to save without it"
        )
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "config": network.config(),
        "n_features": int(network.n_features_in_),
        "task": "classification" if network.is_classifier else "regression",
        "classes": _labels_to_json(network.encoder),
        "standardize": network.standardize,
        "history": None if history is None else history.to_dict(),
        "arrays": {
            name: [list(value.shape), value.dtype.str]
            for name, value in arrays.items()
        },
        "extra": extra,
    }
    if training is not None:
        header["training"] = training[0]
    text = json.dumps(header, default=_json_scalar)
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return {"header": raw, **arrays}


def _check_activation_rebuilds(activation, i: int) -> None:
    """Refuse an activation the loader would not rebuild as it is."""
    # The loader looks the recorded name up among scratchnn's own classes,
    # so a caller's own class (even a subclass of ours) cannot come back.
    if not is_builtin(activation):
        valid = ", ".join(sorted(ACTIVATIONS))
        raise NotImplementedError(
            f"layer {i} uses {type(activation).__name__}, which the model "
            f"file cannot record; saved networks must use scratchnn's own "
            f"activations ({valid})"
        )
    # Settings changed after construction (e.g. slope set to NaN) would
    # make a file that the loader refuses; refuse them now instead.
    problem = settings_problem(activation)
    if problem:
        raise ValueError(f"cannot save: layer {i}'s {problem}")


def _json_scalar(value):
    """Let json write NumPy scalars (e.g. a metric as np.float32)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(
        f"Object of type {type(value).__name__} is not JSON serializable"
    )


def _labels_to_json(encoder: LabelEncoder | None) -> dict | None:
    if encoder is None:
        return None
    classes = encoder.classes_
    kind = _KIND_OF_DTYPE.get(classes.dtype.kind)
    if kind is None:
        raise TypeError(
            f"cannot save class labels of dtype {classes.dtype}; use int, "
            f"float, bool or str labels"
        )
    labels = {"dtype": kind, "values": classes.tolist()}
    if encoder.object_labels_:
        labels["as_object"] = True
    return labels


def _write_atomically(members: dict[str, np.ndarray], path: str) -> None:
    """Write the archive through `atomic_write`, naming the model file."""
    check_destination(path, "model file", "model.npz")
    try:
        # An open file, not a name: savez would append ".npz" to a name.
        with atomic_write(path) as fh:
            np.savez_compressed(fh, **members)
    except OSError as err:
        raise _write_error(path, err) from err


def _os_reason(err: OSError) -> str:
    # Leave out the file name: for a failed write it is the temporary one.
    if err.errno is not None and err.strerror:
        return f"[Errno {err.errno}] {err.strerror}"
    return str(err) or type(err).__name__


def _write_error(path: str, err: OSError) -> ModelFileError:
    return ModelFileError(
        f"cannot write model file {path!r}: {_os_reason(err)}; choose a "
        f"writable folder with free space"
    )


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

def load_model(path, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Network:
    """Read a model file written by `save_model` and rebuild the network.

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int or None, default=2**30 (1 GiB)
        The most bytes the file's members may declare, once inflated, all
        together; checked from the zip directory before anything is read.
        None sets no limit; raise it only for files you trust.

    Returns
    -------
    Network
        Ready to predict: weights, loss, optimizer settings, input scaling,
        class labels, training history, and ``metadata`` (the `extra` dict
        given when saving, or {}).

    Raises
    ------
    ModelFileError
        If the file is missing, empty, not a scratchnn model, damaged, of an
        unknown format version, declares more than `max_bytes` of data, or
        holds anything scratchnn never writes. The message names the file
        and what is wrong with it.

    Notes
    -----
    The file is read as data only: NumPy's loader runs with
    ``allow_pickle=False``, so an object array is refused rather than
    rebuilt, and nothing in the file is imported or executed. Each member's
    shape, dtype and uncompressed size are checked against the header
    before its data is inflated. A model file keeps no optimizer state
    (Adam's moments, momentum): training on from it starts that state
    afresh. A checkpoint (see `checkpoint.py`) keeps it, as the network's
    ``checkpoint`` attribute.
    """
    path = os.fspath(path)
    if max_bytes is not None:
        max_bytes = check_positive_int(max_bytes, "max_bytes")
    _check_path(path)
    try:
        fh = open(path, "rb")
    except OSError as err:
        raise ModelFileError(
            f"cannot read model file {path!r}: {_os_reason(err)}"
        ) from err

    with fh:
        magic = fh.read(4)
        fh.seek(0)
        # NumPy writes the archive from byte 0; anything else is foreign.
        if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise _foreign_or_damaged(path, "it is not a zip archive")
        file_length = os.fstat(fh.fileno()).st_size

        with _reading(path):
            npz = np.load(fh, allow_pickle=False)
        with npz:
            survey = _survey(npz.zip, file_length, max_bytes, path)
            header = _read_header(npz, survey, path)
            check_header(header, path)
            expected = expected_arrays(header, path)
            _check_members(survey, expected, path)
            arrays = _read_arrays(npz, expected, path)

    network = _rebuild(header, arrays, path)
    logger.debug(
        "loaded %s (format %d, written by scratchnn %s)",
        path,
        header["format_version"],
        header["library_version"],
    )
    return network


def _check_path(path: str) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(
            f"model file {path!r} does not exist; check the path"
        ) from None
    except OSError as err:
        raise ModelFileError(
            f"cannot read model file {path!r}: {_os_reason(err)}"
        ) from err
    if stat.S_ISDIR(info.st_mode):
        raise ModelFileError(
            f"model file {path!r} is a directory; give the path of a saved "
            f"model file"
        )
    if not stat.S_ISREG(info.st_mode):
        raise ModelFileError(
            f"model file {path!r} is not a regular file; give the path of a "
            f"saved model file"
        )
    if info.st_size == 0:
        raise ModelFileError(
            f"model file {path!r} is empty, not a scratchnn model file"
        )


def _foreign_or_damaged(path: str, reason: str) -> ModelFileError:
    return ModelFileError(
        f"{path!r} is not a scratchnn model file (or is damaged): {reason}"
    )


def _foreign(path: str, reason: str) -> ModelFileError:
    return ModelFileError(f"{path!r} is not a scratchnn model file: {reason}")



def _object_arrays(path: str) -> ModelFileError:
    return ModelFileError(
        f"model file {path!r} contains object arrays, which scratchnn never "
        f"writes; refusing to load it because loading objects could run code"
    )


# What reading a damaged or foreign archive can raise, from zipfile, zlib
# and NumPy's .npy reader.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    RuntimeError,
    NotImplementedError,
    OverflowError,
    MemoryError,
)


@contextlib.contextmanager
def _reading(path: str, member: str | None = None):
    """Turn low-level read errors into one ModelFileError naming the file."""
    try:
        yield
    except ModelFileError:
        raise
    except _READ_ERRORS as err:
        reason = str(err) or type(err).__name__
        if isinstance(err, ValueError) and "allow_pickle" in reason:
            raise _object_arrays(path) from None
        if member is not None:
            reason = f"member {show(member)}: {reason}"
        raise _foreign_or_damaged(path, reason) from None


def _survey(
    archive: zipfile.ZipFile, file_length: int, max_bytes, path: str
) -> dict:
    """Each member's zip entry and .npy shape and dtype, reading no data.

    The zip directory is checked first, on its own: every member's claimed
    sizes, then their total against `max_bytes`. Only then is any member
    opened, to read its .npy header.
    """
    infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise _foreign(
            path,
            f"it has {len(infos)} members, more than any scratchnn model "
            f"({_MAX_MEMBERS})",
        )
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise damaged(path, "some member names appear twice")
    # The sizes in the zip directory are claims; hold them to the file.
    if sum(info.compress_size for info in infos) > file_length:
        raise damaged(
            path, "its zip directory claims more data than the file holds"
        )

    for info in infos:
        _check_claimed_size(info, path)
    # Later checks hold each array to its member's claimed size, so this
    # total bounds what loading allocates.
    declared = sum(info.file_size for info in infos)
    if max_bytes is not None and declared > max_bytes:
        raise ModelFileError(
            f"model file {path!r} declares {declared} bytes of weights and "
            f"header once inflated, over the limit of {max_bytes} bytes; if "
            f"you trust the file, load it with max_bytes={declared} (or "
            f"max_bytes=None for no limit)"
        )

    survey = {}
    for info in infos:
        name = info.filename
        with _reading(path, name), archive.open(info) as member:
            shape, dtype = _npy_header(member)
        if dtype.hasobject:
            raise _object_arrays(path)
        survey[name] = (info, shape, dtype)
    return survey


def _check_claimed_size(info: zipfile.ZipInfo, path: str) -> None:
    """Refuse an encrypted or foreign member, or one claiming the impossible."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise _foreign(path, f"member {show(name)} is encrypted")
    if info.compress_type == zipfile.ZIP_STORED:
        limit = info.compress_size
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        limit = _DEFLATE_RATIO * info.compress_size + _NPY_SLACK
    else:
        raise _foreign(
            path,
            f"member {show(name)} uses zip compression method "
            f"{info.compress_type}; scratchnn writes only deflate",
        )
    if info.file_size > limit:
        raise damaged(
            path,
            f"member {show(name)} claims {info.file_size} bytes "
            f"uncompressed from {info.compress_size} compressed, which is "
            f"impossible; its zip directory is damaged",
        )


def _npy_header(member) -> tuple[tuple, np.dtype]:
    """Shape and dtype from an .npy header, leaving the data unread."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    return shape, dtype


def _check_size(info: zipfile.ZipInfo, shape, dtype: np.dtype, path) -> None:
    """Refuse a member whose inflated size does not fit its shape."""
    n_bytes = math.prod(shape) * dtype.itemsize
    if info.file_size > n_bytes + _NPY_SLACK:
        raise damaged(
            path,
            f"member {show(info.filename)} would inflate to {info.file_size} "
            f"bytes, but shape {tuple(shape)} of {dtype.str} needs only "
            f"{n_bytes}; refusing to inflate it",
        )
    if info.file_size < n_bytes + _NPY_MIN_HEADER:
        raise damaged(
            path,
            f"member {show(info.filename)} holds {info.file_size} bytes, too "
            f"few for shape {tuple(shape)} of {dtype.str}",
        )


def _read_header(npz, survey: dict, path: str) -> dict:
    """Parse the JSON header and check the format and its version."""
    if "header.npy" not in survey:
        raise _foreign(path, "no header")
    info, shape, dtype = survey["header.npy"]
    if dtype != np.uint8 or len(shape) != 1:
        raise _foreign(
            path, f"its header is {dtype} of shape {shape}, not bytes"
        )
    if shape[0] > _MAX_HEADER_BYTES:
        raise damaged(
            path,
            f"its header is {shape[0]} bytes, more than the "
            f"{_MAX_HEADER_BYTES} any scratchnn model needs",
        )
    _check_size(info, shape, dtype, path)

    with _reading(path, "header.npy"):
        raw = npz["header"].tobytes()
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _foreign(path, f"its header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise _foreign(path, "its header is not a JSON object")

    if header.get("format") != FORMAT:
        raise _foreign(
            path,
            f"its header format is {show(header.get('format'))}, expected "
            f"{FORMAT!r}",
        )
    version = header.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        from . import __version__

        readable = ", ".join(str(v) for v in READABLE_VERSIONS)
        raise ModelFileError(
            f"model file {path!r} has format_version {show(version)}, but "
            f"scratchnn {__version__} reads only format_version {readable}; "
            f"load it with the scratchnn version that wrote it"
        )
    return header


def _check_members(survey: dict, expected: dict, path: str) -> None:
    """The archive holds exactly the header and the expected arrays."""
    present = set(survey) - {"header.npy"}
    wanted = {f"{name}.npy" for name in expected}
    missing = sorted(wanted - present)
    if missing:
        raise damaged(path, f"array {missing[0][:-4]!r} is missing")
    unexpected = sorted(present - wanted)
    if unexpected:
        raise damaged(
            path,
            f"it holds an unexpected member {show(unexpected[0])}; scratchnn "
            f"writes only the header and the arrays it lists",
        )

    for name, (shape, kind) in expected.items():
        info, real_shape, real_dtype = survey[f"{name}.npy"]
        if tuple(real_shape) != shape:
            raise damaged(
                path,
                f"array {name!r} has shape {tuple(real_shape)}, but the "
                f"header declares {shape}",
            )
        if real_dtype.str != kind:
            raise damaged(
                path,
                f"array {name!r} has dtype {real_dtype.str}, but the header "
                f"declares {kind}",
            )
        _check_size(info, shape, real_dtype, path)


def _read_arrays(npz, expected: dict, path: str) -> dict[str, np.ndarray]:
    # Sizes are checked, so inflating is bounded; verify checksums first.
    with _reading(path):
        broken = npz.zip.testzip()
    if broken is not None:
        raise damaged(path, f"member {show(broken)} fails its checksum")

    arrays = {}
    for name in expected:
        with _reading(path, f"{name}.npy"):
            value = npz[name]
        if not np.isfinite(value).all():
            raise damaged(path, f"array {name!r} holds NaN or inf")
        arrays[name] = value
    return arrays


# ---------------------------------------------------------------------------
# Rebuilding the network
# ---------------------------------------------------------------------------

def _rebuild(header: dict, arrays: dict, path: str) -> Network:
    config = header["config"]
    try:
        layers = [
            Dense(
                layer["units"],
                layer["activation"],
                use_bias=layer["use_bias"],
                init=layer["init"],
            )
            for layer in config["layers"]
        ]
        settings = dict(config["optimizer"])
        optimizer = OPTIMIZERS[settings.pop("name")](**settings)
        network = Network(
            layers,
            loss=config["loss"],
            optimizer=optimizer,
            dtype=config["dtype"],
            standardize=config["standardize"],
        )
    except (TypeError, ValueError) as err:
        raise invalid(path, str(err)) from None

    # Native byte order, C order and writable, as Dense.build makes them.
    dtype = network.dtype
    for i, layer in enumerate(network.layers):
        layer.params = {
            "W": np.require(arrays[f"layer{i}.W"], dtype, ["C", "W"])
        }
        if layer.use_bias:
            b = np.require(arrays[f"layer{i}.b"], dtype, ["C", "W"])
            layer.params["b"] = b
        layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    network.flatten_gradients()
    network.n_features_in_ = header["n_features"]

    if "scaler.mean" in arrays:
        try:
            network.scaler = StandardScaler.from_arrays(
                arrays["scaler.mean"], arrays["scaler.scale"]
            )
        except DataError as err:
            detail = f"the input scaling is invalid: {err}"
            raise damaged(path, detail) from None
    if header["classes"] is not None:
        network.encoder = LabelEncoder().fit(class_labels(header["classes"]))
    if header["history"] is not None:
        network.history = History.from_dict(header["history"])
    network.metadata = dict(header.get("extra", {}))
    # A checkpoint also brings the state of its run, for `fit(resume=...)`.
    network.checkpoint = None
    if "training" in header:
        network.checkpoint = {
            "training": header["training"],
            "optimizer": {
                name.split(".", 1)[1]: value
                for name, value in arrays.items()
                if name.startswith("optimizer.")
            },
        }
    return network
