"""One measurement in a fresh process; run.py starts one per configuration.

Usage: python bench/worker.py '{"kind": "train", "system": "torch", ...}'

It imports only its own system's library, limits the BLAS (and OpenMP)
threads with threadpoolctl, matches torch's threads to them, loads the
data, measures, and prints one JSON object as its last line of stdout,
with the process's peak resident memory (getrusage's ru_maxrss).
"""
import importlib
import importlib.util
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

import matmul
import synthetic
import systems

REPO = Path(__file__).resolve().parents[1]


def peak_rss_bytes() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def high_water_mark_bytes() -> int | None:
    """VmHWM from /proc: the peak of this program's own memory map.

    NOTE: on Linux, exec folds the peak of the memory map it replaces into
    ru_maxrss, and Python's subprocess may start a worker from its parent's
    map, so ru_maxrss never reads less than the parent's peak so far. run.py
    keeps its own memory small for that reason; VmHWM, reset by exec,
    checks it.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def set_threads(system: str, threads: int):
    """Limit BLAS and OpenMP pools; give torch the BLAS's thread count.

    Returns the threadpoolctl limiter (kept alive by the caller) and what
    threadpool_info reports once the limit is in place.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    limiter = threadpool_limits(limits=threads)
    keep = (
        "user_api", "internal_api", "prefix", "version", "architecture",
        "threading_layer", "num_threads",
    )
    info = [
        {key: pool[key] for key in keep if key in pool}
        for pool in threadpool_info()
    ]
    blas = [pool["num_threads"] for pool in info if pool["user_api"] == "blas"]
    if system.startswith("torch"):
        import torch

        torch.set_num_threads(blas[0] if blas else threads)
    return limiter, info


def torch_details() -> dict | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
    }


def time_training(spec: dict, X, y) -> dict:
    """Two passes over the same rows; the second one is the measurement.

    The first pass in a fresh process pays for memory it touches for the
    first time (about 2 s per GB on the machine this was written on), so it
    is timed and kept apart as `first_pass_seconds`.
    """
    trainer = systems.TRAINERS[spec["system"]]
    one_pass = trainer(X, y, spec["optimizer"], spec["batch_size"])
    rows = spec["rows"]

    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        one_pass(rows)
        seconds.append(time.perf_counter() - started)
    return {
        "rows": rows,
        "seconds": seconds[1],
        "samples_per_s": rows / seconds[1],
        "first_pass_seconds": seconds[0],
    }


def time_prediction(spec: dict, X, y) -> dict:
    """Rows per second on 10,000 rows at once: median of `reps` calls."""
    predict = systems.PREDICTORS[spec["system"]](X, y)
    x = np.ascontiguousarray(X[: spec["rows"]])
    predict(x)

    times = []
    for _ in range(spec["reps"]):
        started = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - started)
    seconds = float(np.median(times))
    return {
        "rows": x.shape[0],
        "seconds": seconds,
        "rows_per_s": x.shape[0] / seconds,
        "seconds_min": min(times),
    }


def time_latency(spec: dict, X, y) -> dict:
    """Seconds to predict one row: median over `reps` separate calls."""
    predict = systems.PREDICTORS[spec["system"]](X, y)
    rows = [np.ascontiguousarray(X[i : i + 1]) for i in range(100)]
    for row in rows:
        predict(row)

    times = []
    for i in range(spec["reps"]):
        row = rows[i % len(rows)]
        started = time.perf_counter()
        predict(row)
        times.append(time.perf_counter() - started)
    return {
        "seconds": float(np.median(times)),
        "seconds_p90": float(np.percentile(times, 90)),
        "calls": len(times),
    }


def time_tutorial(spec: dict) -> dict:
    """The 3-4-1 network from new weights: median of `reps` whole runs."""
    run = systems.TUTORIALS[spec["system"]]
    run(10)

    times, final = [], None
    for _ in range(spec["reps"]):
        started = time.perf_counter()
        final = run(spec["iterations"])
        times.append(time.perf_counter() - started)
    return {
        "iterations": spec["iterations"],
        "seconds": float(np.median(times)),
        "final_loss": float(final),
    }


def time_growth(spec: dict) -> dict:
    """One epoch of scratchnn's fit on a memory-mapped X, streamed from disk.

    The file is `scale` copies of the data's rows; time should grow with
    it and peak memory should not.
    """
    X, y = synthetic.load_scaled(Path(spec["data"]), spec["scale"])
    trainer = systems.TRAINERS["scratchnn"]
    one_pass = trainer(X, y, spec["optimizer"], spec["batch_size"])
    started = time.perf_counter()
    one_pass(len(X))
    seconds = time.perf_counter() - started
    return {
        "scale": spec["scale"],
        "rows": len(X),
        "data_bytes": X.nbytes + y.nbytes,
        "seconds": seconds,
        "samples_per_s": len(X) / seconds,
    }


def check_equivalence() -> dict:
    """Run the torch-equivalence test's cases; largest gap per case."""
    path = REPO / "tests" / "test_torch_equivalence.py"
    module_spec = importlib.util.spec_from_file_location("equivalence", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    gaps = module.largest_differences()
    return {
        "rtol": module.RTOL,
        "steps": module.STEPS,
        "cases": gaps,
        "largest": max(gaps.values()),
        "passed": max(gaps.values()) <= module.RTOL,
    }


def main(spec: dict) -> dict:
    kind, system = spec["kind"], spec.get("system", "numpy")
    if kind == "data":
        # Made here, not in run.py, whose peak memory would otherwise
        # show in every worker's ru_maxrss (see high_water_mark_bytes).
        return synthetic.save(Path(spec["data"]))
    if kind == "growth_data":
        return synthetic.save_scaled(Path(spec["data"]), spec["scale"])
    if kind == "equivalence":
        importlib.import_module("torch")
    elif system in systems.IMPORTS:
        importlib.import_module(systems.IMPORTS[system])
    limiter, pools = set_threads(system, spec["threads"])
    figures = {"rss_after_imports": peak_rss_bytes()}

    if kind in ("train", "predict", "latency"):
        X, y = synthetic.load(Path(spec["data"]))
        figures["rss_after_data"] = peak_rss_bytes()
        measure = {
            "train": time_training,
            "predict": time_prediction,
            "latency": time_latency,
        }[kind]
        figures.update(measure(spec, X, y))
    elif kind == "tutorial":
        figures.update(time_tutorial(spec))
    elif kind == "growth":
        figures.update(time_growth(spec))
    elif kind == "matmul":
        widths = tuple(spec["widths"])
        figures.update(
            matmul.measure(widths, spec["batch_sizes"], spec["seconds"])
        )
    elif kind == "equivalence":
        figures.update(check_equivalence())
    else:
        raise ValueError(f"unknown kind {kind!r}")

    figures["peak_rss"] = peak_rss_bytes()
    figures["peak_rss_vmhwm"] = high_water_mark_bytes()
    figures["threadpools"] = pools
    figures["torch"] = torch_details()
    del limiter
    return figures


if __name__ == "__main__":
    result = main(json.loads(sys.argv[1]))
    print(json.dumps(result))
