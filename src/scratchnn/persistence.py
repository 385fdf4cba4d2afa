"""Saving and loading networks: one .npz file that loads without running code.

The file holds the weights and the input scaling as plain numeric arrays,
and a JSON header with the format version, the architecture, the loss, the
optimizer settings and the class labels. The loader checks every name,
shape, dtype and size against that header before it reads any array data.
"""
import contextlib
import inspect
import json
import logging
import math
import os
import stat
import tempfile
import zipfile
import zlib

import numpy as np

from .activations import ACTIVATIONS
from .data import LabelEncoder, StandardScaler
from .errors import DataError, ModelFileError, NotFittedError
from .initializers import INITIALIZERS
from .layers import Dense
from .losses import CLASSIFICATION_LOSSES, LOSSES
from .network import Network
from .optimizers import OPTIMIZERS
from .training import History

logger = logging.getLogger(__name__)

FORMAT = "scratchnn-model"
FORMAT_VERSION = 1
READABLE_VERSIONS = (1,)

# Limits that keep a hostile header from making the loader allocate
# absurd amounts of memory; real models stay far below them.
_MAX_WIDTH = 10**8
_MAX_LAYERS = 10_000
_MAX_MEMBERS = 2 * _MAX_LAYERS + 3
_MAX_HEADER_BYTES = 10 * 2**20
# An .npy member is its data plus a short text header (128 bytes as NumPy
# writes ours); allow this much beyond the data, and no more.
_NPY_SLACK = 1024
_NPY_MIN_HEADER = 10
# Deflate cannot expand data more than about 1032 times, so a member that
# claims more than this is lying about its size.
_DEFLATE_RATIO = 1100

_HEADER_KEYS = {
    "format",
    "format_version",
    "library_version",
    "config",
    "n_features",
    "task",
    "classes",
    "standardize",
    "history",
    "arrays",
}
_CONFIG_KEYS = {"layers", "loss", "optimizer", "dtype", "standardize"}
_LAYER_KEYS = {"units", "activation", "use_bias", "init"}
_DTYPES = {"float32": "<f4", "float64": "<f8"}

# How class labels are kept in JSON, and the array kind each comes back as.
_LABEL_KINDS = {
    "int": np.int64,
    "float": np.float64,
    "str": np.str_,
    "bool": np.bool_,
}
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

def save_model(network: Network, path, extra: dict | None = None) -> None:
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

    Raises
    ------
    NotFittedError
        If the network is not trained, or lacks the class labels or input
        scaling its predictions need.
    NotImplementedError
        If an activation has settings other than its defaults (such as a
        LeakyReLU slope), which the file cannot record yet.
    TypeError
        If `extra` is not a dict of JSON-ready values.
    ValueError
        If a weight is NaN or inf.
    ModelFileError
        If the file cannot be written (missing folder, no permission, disk
        full); an existing file at `path` is then left as it was.

    Notes
    -----
    The model is written to a temporary file in the same folder, synced to
    disk, then renamed over `path`, so a crash never leaves a half-written
    model where a good one stood. A new file gets owner-only permissions
    (those of `tempfile.mkstemp`); a replaced file keeps its own.
    """
    path = os.fspath(path)
    members = _pack(network, extra)
    _write_atomically(members, path)
    logger.debug("saved model to %s (%d arrays)", path, len(members) - 1)


def _pack(network: Network, extra) -> dict[str, np.ndarray]:
    """Every member of the file, header first; touches no file."""
    from . import __version__

    if not network.is_built:
        raise NotFittedError(
            "cannot save a network that is not trained yet; call "
            "fit(X, y) first"
        )
    if network.is_classifier and network.encoder is None:
        raise NotFittedError(
            "cannot save this classifier: it has no class labels yet; call "
            "fit(X, y) first"
        )
    if network.standardize and network.scaler is None:
        raise NotFittedError(
            "cannot save this network: standardize=True but the input "
            "scaling is not fitted yet; call fit(X, y) first"
        )
    for i, layer in enumerate(network.layers):
        _check_activation_is_named(layer.activation, i)
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
    for name, value in arrays.items():
        if not np.isfinite(value).all():
            raise ValueError(
                f"cannot save: {name} holds NaN or inf, so the network has "
                f"diverged; retrain it, e.g. with a smaller lr"
            )

    history = network.history
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
    text = json.dumps(header, default=_json_scalar)
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return {"header": raw, **arrays}


def _check_activation_is_named(activation, i: int) -> None:
    """Refuse an activation whose settings its name alone does not give."""
    # NOTE: Dense.config() records only the activation's name, so e.g. a
    # LeakyReLU(slope=0.3) would come back with the default slope.
    name = activation.name
    default = ACTIVATIONS[name]() if name in ACTIVATIONS else None
    if default is None or vars(default) != vars(activation):
        raise NotImplementedError(
            f"layer {i} uses {type(activation).__name__} with settings "
            f"{vars(activation)}, which the model file cannot record yet; "
            f"use the activation by name ({name!r}) to save this network"
        )


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
    return {"dtype": kind, "values": classes.tolist()}


def _write_atomically(members: dict[str, np.ndarray], path: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    if os.path.isdir(path):
        raise ModelFileError(
            f"cannot write model file {path!r}: it is a directory; give a "
            f"file name such as {os.path.join(path, 'model.npz')!r}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ModelFileError(
            f"cannot write model file {path!r}: folder {folder!r} does not "
            f"exist; create it first or choose another folder"
        )

    name = os.path.basename(path)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f".{name}.", suffix=".tmp"
        )
    except OSError as err:
        raise _write_error(path, err) from err
    try:
        # An open file, not a name: savez would append ".npz" to a name.
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **members)
            fh.flush()
            os.fsync(fh.fileno())
        _keep_mode(path, tmp)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise _write_error(path, err) from err
        raise

    # The rename lives in the folder's entry list; sync that too, where
    # the platform allows opening a folder.
    with contextlib.suppress(OSError):
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)


def _keep_mode(path: str, tmp: str) -> None:
    """Give the new file the permissions of the one it replaces."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


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

def load_model(path) -> Network:
    """Read a model file written by `save_model` and rebuild the network.

    Parameters
    ----------
    path : str or os.PathLike

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
        unknown format version, or holds anything scratchnn never writes.
        The message names the file and what is wrong with it.

    Notes
    -----
    The file is read as data only: NumPy's loader runs with
    ``allow_pickle=False``, so an object array is refused rather than
    rebuilt, and nothing in the file is imported or executed. Each member's
    shape, dtype and uncompressed size are checked against the header
    before its data is inflated. The optimizer's running state (Adam's
    moments, momentum) is not saved, so training on from a loaded model
    starts that state afresh.
    """
    path = os.fspath(path)
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
            survey = _survey(npz.zip, file_length, path)
            header = _read_header(npz, survey, path)
            _check_header(header, path)
            expected = _expected_arrays(header, path)
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


def _show(value, limit: int = 60) -> str:
    """repr of a value from the file, cut short: the file may be hostile."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listed(names: list, limit: int = 5) -> str:
    shown = ", ".join(_show(name, 30).strip("'") for name in names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def _foreign_or_damaged(path: str, reason: str) -> ModelFileError:
    return ModelFileError(
        f"{path!r} is not a scratchnn model file (or is damaged): {reason}"
    )


def _foreign(path: str, reason: str) -> ModelFileError:
    return ModelFileError(f"{path!r} is not a scratchnn model file: {reason}")


def _damaged(path: str, detail: str) -> ModelFileError:
    return ModelFileError(f"model file {path!r} is damaged: {detail}")


def _invalid(path: str, detail: str) -> ModelFileError:
    return ModelFileError(
        f"model file {path!r} has an invalid header: {detail}"
    )


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
            reason = f"member {_show(member)}: {reason}"
        raise _foreign_or_damaged(path, reason) from None


def _survey(archive: zipfile.ZipFile, file_length: int, path: str) -> dict:
    """Each member's zip entry and .npy shape and dtype, reading no data."""
    infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise _foreign(
            path,
            f"it has {len(infos)} members, more than any scratchnn model "
            f"({_MAX_MEMBERS})",
        )
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise _damaged(path, "some member names appear twice")
    # The sizes in the zip directory are claims; hold them to the file.
    if sum(info.compress_size for info in infos) > file_length:
        raise _damaged(
            path, "its zip directory claims more data than the file holds"
        )

    survey = {}
    for info in infos:
        name = info.filename
        if info.flag_bits & 0x1:
            raise _foreign(path, f"member {_show(name)} is encrypted")
        if info.compress_type == zipfile.ZIP_STORED:
            limit = info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            limit = _DEFLATE_RATIO * info.compress_size + _NPY_SLACK
        else:
            raise _foreign(
                path,
                f"member {_show(name)} uses zip compression method "
                f"{info.compress_type}; scratchnn writes only deflate",
            )
        if info.file_size > limit:
            raise _damaged(
                path,
                f"member {_show(name)} claims {info.file_size} bytes "
                f"uncompressed from {info.compress_size} compressed, which is "
                f"impossible; its zip directory is damaged",
            )

        with _reading(path, name), archive.open(info) as member:
            shape, dtype = _npy_header(member)
        if dtype.hasobject:
            raise _object_arrays(path)
        survey[name] = (info, shape, dtype)
    return survey


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
        raise _damaged(
            path,
            f"member {_show(info.filename)} would inflate to {info.file_size} "
            f"bytes, but shape {tuple(shape)} of {dtype.str} needs only "
            f"{n_bytes}; refusing to inflate it",
        )
    if info.file_size < n_bytes + _NPY_MIN_HEADER:
        raise _damaged(
            path,
            f"member {_show(info.filename)} holds {info.file_size} bytes, too "
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
        raise _damaged(
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
            f"its header format is {_show(header.get('format'))}, expected "
            f"{FORMAT!r}",
        )
    version = header.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        from . import __version__

        readable = ", ".join(str(v) for v in READABLE_VERSIONS)
        raise ModelFileError(
            f"model file {path!r} has format_version {_show(version)}, but "
            f"scratchnn {__version__} reads only format_version {readable}; "
            f"load it with the scratchnn version that wrote it"
        )
    return header


# ---------------------------------------------------------------------------
# Header validation
# ---------------------------------------------------------------------------

def _is_int(value) -> bool:
    return type(value) is int


def _is_number(value) -> bool:
    return type(value) in (int, float)


def _check_keys(
    mapping,
    where: str,
    required: set,
    path: str,
    optional: frozenset = frozenset(),
) -> None:
    if not isinstance(mapping, dict):
        raise _invalid(
            path, f"{where} must be an object, got {type(mapping).__name__}"
        )
    missing = sorted(required - mapping.keys())
    if missing:
        raise _invalid(path, f"{where} lacks {_listed(missing)}")
    unknown = sorted(mapping.keys() - required - optional)
    if unknown:
        raise _invalid(path, f"{where} has unknown keys {_listed(unknown)}")


def _check_width(value, where: str, path: str) -> None:
    if not _is_int(value) or not 1 <= value <= _MAX_WIDTH:
        raise _invalid(
            path,
            f"{where} must be an integer in [1, {_MAX_WIDTH}], got "
            f"{_show(value)}",
        )


def _check_name(value, registry, what: str, where: str, path: str) -> None:
    if not isinstance(value, str) or value not in registry:
        valid = ", ".join(sorted(registry))
        raise _invalid(
            path,
            f"{where} names an unknown {what} {_show(value)}; this scratchnn "
            f"knows: {valid}",
        )


def _check_header(header: dict, path: str) -> None:
    """Check every header field's type and range; raise on the first fault."""
    _check_keys(header, "the header", _HEADER_KEYS, path, frozenset({"extra"}))
    if not isinstance(header["library_version"], str):
        raise _invalid(path, "library_version must be a string")

    config = header["config"]
    _check_keys(config, "config", _CONFIG_KEYS, path)
    layers = config["layers"]
    if not isinstance(layers, list) or not 1 <= len(layers) <= _MAX_LAYERS:
        raise _invalid(
            path,
            f"config.layers must be a list of 1 to {_MAX_LAYERS} layers",
        )
    for i, layer in enumerate(layers):
        where = f"config.layers[{i}]"
        _check_keys(layer, where, _LAYER_KEYS, path)
        _check_width(layer["units"], f"{where}.units", path)
        _check_name(
            layer["activation"], ACTIVATIONS, "activation", where, path
        )
        _check_name(layer["init"], INITIALIZERS, "initializer", where, path)
        if not isinstance(layer["use_bias"], bool):
            raise _invalid(path, f"{where}.use_bias must be true or false")
    _check_name(config["loss"], LOSSES, "loss", "config.loss", path)
    _check_optimizer(config["optimizer"], path)
    if not isinstance(config["dtype"], str) or config["dtype"] not in _DTYPES:
        raise _invalid(
            path,
            f"config.dtype must be 'float32' or 'float64', got "
            f"{_show(config['dtype'])}",
        )
    for where, value in (
        ("config.standardize", config["standardize"]),
        ("standardize", header["standardize"]),
    ):
        if not isinstance(value, bool):
            raise _invalid(path, f"{where} must be true or false")
    if header["standardize"] != config["standardize"]:
        raise _invalid(path, "standardize disagrees with config.standardize")

    _check_width(header["n_features"], "n_features", path)
    is_classifier = config["loss"] in CLASSIFICATION_LOSSES
    task = "classification" if is_classifier else "regression"
    if header["task"] != task:
        raise _invalid(
            path,
            f"task is {_show(header['task'])}, but loss {config['loss']!r} "
            f"makes it {task!r}",
        )
    if is_classifier:
        _check_classes(header["classes"], config, path)
    elif header["classes"] is not None:
        raise _invalid(path, "a regression model must have classes null")

    _check_history(header["history"], path)
    _check_declared_arrays(header["arrays"], path)
    if not isinstance(header.get("extra", {}), dict):
        raise _invalid(path, "extra must be an object")


def _check_optimizer(config, path: str) -> None:
    if not isinstance(config, dict):
        raise _invalid(path, "config.optimizer must be an object")
    name = config.get("name")
    _check_name(name, OPTIMIZERS, "optimizer", "config.optimizer", path)

    signature = inspect.signature(OPTIMIZERS[name].__init__)
    accepted = set(signature.parameters) - {"self"}
    _check_keys(config, "config.optimizer", {"name"} | accepted, path)
    for key in accepted:
        value = config[key]
        if not (_is_number(value) or isinstance(value, bool)):
            raise _invalid(
                path,
                f"config.optimizer.{key} must be a number, got {_show(value)}",
            )


def _labels(classes: dict) -> np.ndarray:
    """The saved class labels as an array of their own kind."""
    return np.array(classes["values"], dtype=_LABEL_KINDS[classes["dtype"]])


def _check_classes(classes, config: dict, path: str) -> None:
    _check_keys(classes, "classes", {"dtype", "values"}, path)
    kind, values = classes["dtype"], classes["values"]
    if not isinstance(kind, str) or kind not in _LABEL_KINDS:
        raise _invalid(
            path,
            f"classes.dtype must be one of {', '.join(_LABEL_KINDS)}, got "
            f"{_show(kind)}",
        )
    if not isinstance(values, list) or not 2 <= len(values) <= _MAX_WIDTH:
        raise _invalid(path, "classes.values must list at least 2 labels")
    fits = {
        "int": _is_int,
        "float": _is_number,
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
    }[kind]
    if not all(fits(v) for v in values):
        raise _invalid(path, f"classes.values must all be of kind {kind}")
    try:
        labels = _labels(classes)
    except OverflowError:
        detail = "classes.values hold an integer beyond int64"
        raise _invalid(path, detail) from None
    if kind == "float" and np.isnan(labels).any():
        raise _invalid(path, "classes.values hold NaN")
    # The encoder finds codes by binary search, so order matters.
    if not (labels[1:] > labels[:-1]).all():
        raise _invalid(path, "classes.values must be distinct and sorted")

    units = config["layers"][-1]["units"]
    if config["loss"] == "binary_crossentropy":
        if len(labels) != 2 or units != 1:
            raise _invalid(
                path,
                f"binary_crossentropy needs 2 classes and 1 output unit, got "
                f"{len(labels)} classes and {units} units",
            )
    elif len(labels) != units:
        raise _invalid(
            path,
            f"the output layer has {units} units but there are "
            f"{len(labels)} classes",
        )


def _check_history(history, path: str) -> None:
    if history is None:
        return
    if not isinstance(history, dict):
        raise _invalid(path, "history must be an object or null")
    for key, values in history.items():
        fits = _is_int if key == "epochs" else _is_number
        if not isinstance(values, list) or not all(fits(v) for v in values):
            detail = f"history[{_show(key)}] must be a list of numbers"
            raise _invalid(path, detail)


def _check_declared_arrays(arrays, path: str) -> None:
    if not isinstance(arrays, dict):
        raise _invalid(path, "arrays must be an object")
    for name, entry in arrays.items():
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], list)
            or not all(_is_int(n) and n >= 0 for n in entry[0])
            or not isinstance(entry[1], str)
        ):
            raise _invalid(
                path,
                f"arrays[{_show(name)}] must be [shape, dtype], got "
                f"{_show(entry)}",
            )


def _declared(arrays: dict, name: str, path: str) -> tuple:
    if name not in arrays:
        raise _damaged(path, f"the header does not list array {_show(name)}")
    return tuple(arrays[name][0])


def _expected_arrays(header: dict, path: str) -> dict[str, tuple]:
    """Name -> (shape, dtype str) that the architecture requires.

    The shapes the header declares must chain: each weight takes the
    previous layer's width (the input features for layer 0) to its units.
    """
    declared = header["arrays"]
    config = header["config"]
    dtype = _DTYPES[config["dtype"]]
    n_features = header["n_features"]

    expected = {}
    width = n_features
    for i, layer in enumerate(config["layers"]):
        units = layer["units"]
        W = _declared(declared, f"layer{i}.W", path)
        if len(W) != 2:
            raise _damaged(path, f"layer {i} weight {W} is not a matrix")
        if W[0] != width:
            source = (
                f"the {width} input features"
                if i == 0
                else f"the previous layer's width {width}"
            )
            raise _damaged(
                path, f"layer {i} weight {W} does not match {source}"
            )
        if W[1] != units:
            raise _damaged(
                path, f"layer {i} weight {W} does not match its {units} units"
            )
        expected[f"layer{i}.W"] = (W, dtype)

        if layer["use_bias"]:
            b = _declared(declared, f"layer{i}.b", path)
            if b != (units,):
                raise _damaged(
                    path,
                    f"layer {i} bias {b} does not match its {units} units",
                )
            expected[f"layer{i}.b"] = (b, dtype)
        width = units

    # A standardising model must carry its scaling; others may, if one was
    # attached by hand, and then it is restored too.
    scaler = ("scaler.mean", "scaler.scale")
    if header["standardize"] or any(name in declared for name in scaler):
        for name in scaler:
            shape = _declared(declared, name, path)
            if shape != (n_features,):
                raise _damaged(
                    path,
                    f"{name} {shape} does not match the {n_features} input "
                    f"features",
                )
            expected[name] = (shape, "<f8")

    for name in declared:
        if name not in expected:
            raise _damaged(
                path,
                f"the header lists array {_show(name)}, which this model does "
                f"not use",
            )
    for name, (_, kind) in expected.items():
        if declared[name][1] != kind:
            raise _damaged(
                path,
                f"array {name!r} is declared as {_show(declared[name][1])}, "
                f"but a {config['dtype']} model stores {kind!r}",
            )
    return expected


def _check_members(survey: dict, expected: dict, path: str) -> None:
    """The archive holds exactly the header and the expected arrays."""
    present = set(survey) - {"header.npy"}
    wanted = {f"{name}.npy" for name in expected}
    missing = sorted(wanted - present)
    if missing:
        raise _damaged(path, f"array {missing[0][:-4]!r} is missing")
    unexpected = sorted(present - wanted)
    if unexpected:
        raise _damaged(
            path,
            f"it holds an unexpected member {_show(unexpected[0])}; scratchnn "
            f"writes only the header and the arrays it lists",
        )

    for name, (shape, kind) in expected.items():
        info, real_shape, real_dtype = survey[f"{name}.npy"]
        if tuple(real_shape) != shape:
            raise _damaged(
                path,
                f"array {name!r} has shape {tuple(real_shape)}, but the "
                f"header declares {shape}",
            )
        if real_dtype.str != kind:
            raise _damaged(
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
        raise _damaged(path, f"member {_show(broken)} fails its checksum")

    arrays = {}
    for name in expected:
        with _reading(path, f"{name}.npy"):
            value = npz[name]
        if not np.isfinite(value).all():
            raise _damaged(path, f"array {name!r} holds NaN or inf")
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
        raise _invalid(path, str(err)) from None

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
    network.n_features_in_ = header["n_features"]

    if "scaler.mean" in arrays:
        try:
            network.scaler = StandardScaler.from_arrays(
                arrays["scaler.mean"], arrays["scaler.scale"]
            )
        except DataError as err:
            detail = f"the input scaling is invalid: {err}"
            raise _damaged(path, detail) from None
    if header["classes"] is not None:
        network.encoder = LabelEncoder().fit(_labels(header["classes"]))
    if header["history"] is not None:
        network.history = History.from_dict(header["history"])
    network.metadata = dict(header.get("extra", {}))
    return network
