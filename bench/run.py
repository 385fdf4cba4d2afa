"""Benchmark scratchnn against PyTorch (CPU) and scikit-learn; issue 4.

Usage (from the repository root, in the environment `make bench` builds):

    python bench/run.py [--quick] [--threads 1|2] [--rounds N] [--out PATH]

Every configuration runs in a fresh process (bench/worker.py), and the
systems take turns round by round, their order rotating, so that a
ratio pairs two measurements taken close together on this shared,
noisy machine. Prints one table of ratios (scratchnn ÷ each peer), the
figures behind it, and writes all raw figures as JSON.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import matmul
import report
import synthetic
import systems

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORKER = BENCH / "worker.py"
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
BATCH_SIZES = (32, 128, 512)

# What a full run and a --quick run measure. A training pass covers a
# fraction of the 60,000-row epoch that grows with the batch size, so the
# slow small-batch runs do not take most of the time; samples/s is always
# rows trained ÷ seconds of the second of two passes (see worker.py).
SETTINGS = {
    "full": {
        "rounds": 5,
        "epoch_fraction": {32: 0.2, 128: 0.4, 512: 0.8},
        "predict_reps": 20,
        "latency_reps": 2000,
        "tutorial_reps": 5,
        "matmul_seconds": 0.1,
        "growth_scales": (1, 4, 16),
    },
    "quick": {
        "rounds": 1,
        "epoch_fraction": {32: 0.05, 128: 0.1, 512: 0.2},
        "predict_reps": 5,
        "latency_reps": 300,
        "tutorial_reps": 1,
        "matmul_seconds": 0.03,
        "growth_scales": (1, 2),
    },
}
PREDICT_ROWS = 10_000
TUTORIAL_ITERATIONS = 1500
WORKER_TIMEOUT = 600  # seconds
# Growth: scratchnn alone, one epoch streamed from a memory-mapped .npy.
GROWTH_BATCH_SIZE = 128
GROWTH_OPTIMIZER = "sgd"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="one round on small fractions of an epoch: a smoke run of "
             "about a minute, not a result",
    )
    parser.add_argument(
        "--threads", type=int, choices=(1, 2), default=2,
        help="BLAS threads (threadpoolctl) and torch threads in each "
             "worker (default: 2)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None,
        help="rounds to run (default: 5, or 1 with --quick)",
    )
    parser.add_argument(
        "--out", type=Path, default=BENCH / "results" / "latest.json",
        help="where the raw figures go, as JSON (default: "
             "bench/results/latest.json)",
    )
    parser.add_argument(
        "--report", type=Path, default=None, metavar="JSON",
        help="print the tables of a run saved earlier, measuring nothing",
    )
    parser.add_argument(
        "--keep-openblas-env", action="store_true",
        help="pass OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE on to the "
             "workers instead of unsetting them",
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    return args


def make_tasks(settings: dict, threads: int, data_dir: Path) -> list:
    """Every configuration of one round, each with the systems it compares."""
    common = {"threads": threads, "data": str(data_dir)}
    tasks = []
    for optimizer in ("sgd", "adam"):
        peers = ["scratchnn", "torch", "sklearn"]
        if optimizer == "adam":
            peers.insert(2, "torch_fused")
        for batch_size in BATCH_SIZES:
            fraction = settings["epoch_fraction"][batch_size]
            whole_batches = int(fraction * synthetic.N_ROWS) // batch_size
            tasks.append({
                "kind": "train", "optimizer": optimizer,
                "batch_size": batch_size, "rows": whole_batches * batch_size,
                "systems": peers, **common,
            })
    inference = ["scratchnn", "torch", "sklearn"]
    tasks.append({
        "kind": "predict", "rows": PREDICT_ROWS,
        "reps": settings["predict_reps"], "systems": inference, **common,
    })
    tasks.append({
        "kind": "latency", "reps": settings["latency_reps"],
        "systems": inference, **common,
    })
    tasks.append({
        "kind": "tutorial", "iterations": TUTORIAL_ITERATIONS,
        "reps": settings["tutorial_reps"], "systems": ["scratchnn", "torch"],
        **common,
    })
    return tasks


def run_worker(spec: dict, env: dict) -> dict:
    """One fresh process; its figures, or {"error": ...} if it failed."""
    command = [sys.executable, str(WORKER), json.dumps(spec)]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, check=False,
            timeout=WORKER_TIMEOUT, cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT} s"}
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        return {"error": f"exit {done.returncode}: " + " | ".join(tail)}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = wall
    return figures


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _describe(figures: dict, kind: str) -> str:
    if "error" in figures:
        return "FAILED: " + figures["error"]
    if kind == "train":
        return f"{figures['samples_per_s']:>10,.0f} samples/s"
    if kind == "predict":
        return f"{figures['rows_per_s']:>10,.0f} rows/s"
    if kind == "latency":
        return f"{figures['seconds'] * 1e6:>10.1f} µs"
    if kind == "tutorial":
        return f"{figures['seconds'] * 1e3:>10.1f} ms"
    return f"peak {figures['peak_flops_per_s'] / 1e9:.0f} GFLOP/s"


def run_round(index: int, n_rounds: int, tasks: list, settings: dict,
              widths: tuple, threads: int, env: dict) -> dict:
    """All configurations once; systems rotate their order each round."""
    results = {}
    matmul_spec = {
        "kind": "matmul", "system": "numpy", "threads": threads,
        "widths": list(widths), "batch_sizes": list(BATCH_SIZES),
        "seconds": settings["matmul_seconds"],
    }
    figures = run_worker(matmul_spec, env)
    results["matmul"] = {"numpy": figures}
    _progress(f"[round {index + 1}/{n_rounds}] matmul  "
              f"{_describe(figures, 'matmul')}")

    for position, task in enumerate(tasks):
        key = report.task_key(task)
        shift = (index + position) % len(task["systems"])
        order = task["systems"][shift:] + task["systems"][:shift]
        results[key] = {}
        for system in order:
            spec = {k: v for k, v in task.items() if k != "systems"}
            figures = run_worker({**spec, "system": system}, env)
            results[key][system] = figures
            _progress(f"[round {index + 1}/{n_rounds}] {key:<15} "
                      f"{system:<12}{_describe(figures, task['kind'])}")
    return results


def worker_env(keep_openblas: bool) -> tuple[dict, list]:
    """The workers' environment, and lines saying what was changed."""
    env = dict(os.environ)
    notes = []
    for name in OPENBLAS_VARIABLES:
        value = os.environ.get(name)
        if value is None:
            notes.append(f"{name}: not set")
        elif keep_openblas:
            notes.append(f"{name}={value}: kept (--keep-openblas-env)")
        else:
            del env[name]
            notes.append(
                f"{name}={value}: unset for this benchmark's workers only"
            )
    return env, notes


def describe_machine() -> dict:
    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=REPO,
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "scratchnn_commit": commit,
        "versions": {
            name: version(name)
            for name in ("scratchnn", "numpy", "torch", "scikit-learn",
                         "threadpoolctl")
        },
    }


def blas_lines(rounds: list) -> list:
    """What threadpoolctl saw in the first scratchnn and torch workers."""
    lines = []
    first = rounds[0]
    for key in first:
        for system, figures in first[key].items():
            if system != "scratchnn" or "error" in figures:
                continue
            for pool in figures["threadpools"]:
                lines.append(
                    f"BLAS in the scratchnn workers: {pool['internal_api']} "
                    f"{pool.get('version')}, kernel "
                    f"{pool.get('architecture')}, "
                    f"{pool.get('threading_layer')}, "
                    f"{pool['num_threads']} thread(s)"
                )
            break
        if lines:
            break
    for results in first.values():
        details = results.get("torch", {}).get("torch")
        if details:
            lines.append(
                f"torch {details['version']}: {details['threads']} "
                f"thread(s), MKL {details['mkl']}, oneDNN {details['mkldnn']}"
            )
            break
    return lines


def equivalence_lines(check: dict) -> list:
    if "error" in check:
        return [f"equivalence with PyTorch: not run ({check['error']})"]
    verdict = "pass" if check["passed"] else "FAIL"
    worst = max(check["cases"], key=check["cases"].get)
    line = (
        f"equivalence with PyTorch (float64, {check['steps']} steps, "
        f"{len(check['cases'])} cases, rtol {check['rtol']:g}): {verdict}; "
        f"largest relative loss difference {check['largest']:.1e} "
        f"({worst})"
    )
    return [line]


def measure(args) -> dict:
    """Run every round and the equivalence check; return the raw record."""
    mode = "quick" if args.quick else "full"
    settings = dict(SETTINGS[mode])
    if args.rounds is not None:
        settings["rounds"] = args.rounds
    env, env_notes = worker_env(args.keep_openblas_env)
    machine = describe_machine()
    started = time.perf_counter()
    _progress(_title(mode, settings["rounds"], args.threads, machine))
    for line in env_notes:
        _progress(line)

    with tempfile.TemporaryDirectory(prefix="scratchnn-bench-") as tmp:
        data_dir = Path(tmp)
        data = run_worker({"kind": "data", "data": tmp}, env)
        if "error" in data:
            raise SystemExit(f"could not make the data: {data['error']}")
        widths = systems.widths(data["features"])
        tasks = make_tasks(settings, args.threads, data_dir)
        rounds, loads = [], []
        for i in range(settings["rounds"]):
            loads.append(os.getloadavg()[0])
            rounds.append(
                run_round(i, settings["rounds"], tasks, settings, widths,
                          args.threads, env)
            )
        loads.append(os.getloadavg()[0])
        growth = measure_growth(settings["growth_scales"], args.threads,
                                data_dir, env)
    _progress("checking equivalence with PyTorch ...")
    check = run_worker({"kind": "equivalence", "threads": args.threads}, env)

    fractions = settings.pop("epoch_fraction")
    flops = matmul.epoch_flops_per_sample(widths)
    return {
        "mode": mode,
        "settings": {
            **settings,
            "threads": args.threads,
            "epoch_fraction": {str(b): f for b, f in fractions.items()},
        },
        "machine": machine,
        "environment": env_notes,
        "data": data,
        "widths": list(widths),
        "flops_per_sample": flops,
        "tasks": tasks,
        "equivalence": check,
        "growth": growth,
        "summary": report.summarise(rounds, tasks, flops),
        "rounds": rounds,
        "load_average": loads,
        "failures": _failures(rounds),
        "seconds": time.perf_counter() - started,
    }


def measure_growth(scales, threads: int, data_dir: Path, env: dict) -> list:
    """Time and peak memory of one streamed epoch at each data scale.

    Each scale's file is written, measured in a fresh worker, and deleted
    before the next, so the disk holds one at a time.
    """
    results = []
    for scale in scales:
        made = run_worker(
            {"kind": "growth_data", "data": str(data_dir), "scale": scale},
            env,
        )
        if "error" in made:
            results.append({"scale": scale, **made})
            continue
        figures = run_worker({
            "kind": "growth", "system": "scratchnn", "threads": threads,
            "data": str(data_dir), "scale": scale,
            "batch_size": GROWTH_BATCH_SIZE, "optimizer": GROWTH_OPTIMIZER,
        }, env)
        results.append(figures)
        for name in (f"X{scale}.npy", f"y{scale}.npy"):
            (data_dir / name).unlink(missing_ok=True)
        shown = (f"{figures['seconds']:.1f} s, peak "
                 f"{figures['peak_rss'] / 1e6:.0f} MB"
                 if "error" not in figures else "FAILED: " + figures["error"])
        _progress(f"[growth] {scale:>2}× data ({made['bytes'] / 1e9:.2f} GB "
                  f"on disk)  {shown}")
    return results


def _title(mode: str, n_rounds: int, threads: int, machine: dict) -> str:
    return (
        f"scratchnn benchmark ({mode}): {n_rounds} round(s), {threads} "
        f"thread(s) per worker, {machine['cores']} core(s), {machine['cpu']}"
    )


def _failures(rounds: list) -> list:
    return [
        f"round {i + 1} {key} {system}: {figures['error']}"
        for i, results in enumerate(rounds)
        for key, by_system in results.items()
        for system, figures in by_system.items()
        if "error" in figures
    ]


def render(record: dict) -> str:
    """The printed report of a record that `measure` made."""
    settings, data = record["settings"], record["data"]
    n_rounds = settings["rounds"]
    coverage = ", ".join(
        f"{fraction:g} epoch at batch {batch}"
        for batch, fraction in settings["epoch_fraction"].items()
    )
    title = _title(
        record["mode"], n_rounds, settings["threads"], record["machine"]
    )
    machine = record["machine"]
    measured = (
        f"scratchnn {machine['versions']['scratchnn']} at "
        f"{machine['scratchnn_commit']}"
    )
    lines = [title, measured, *record["environment"]]
    loads = record["load_average"]
    lines.append(
        f"load average (1 min, this run's own worker included) between "
        f"rounds: {min(loads):.1f} to {max(loads):.1f}"
    )
    lines += blas_lines(record["rounds"])
    lines += equivalence_lines(record["equivalence"])
    described = (
        f"data: {data['rows']:,} × {data['features']} float32 synthetic "
        f"rows, {data['classes']} classes, seed {data['seed']} "
        f"({data['bytes'] / 1e6:.0f} MB); timed training passes cover "
        f"{coverage}"
    )
    # Summarised again, so --report shows a saved run as this code reads it.
    tasks = record["tasks"]
    summary = report.summarise(
        record["rounds"], tasks, record["flops_per_sample"]
    )
    lines += [
        described,
        "",
        report.ratio_table(summary, tasks, n_rounds),
        "",
        report.figures_table(summary, tasks, data["bytes"]),
    ]
    if record.get("growth"):
        lines += ["", report.growth_table(record["growth"])]
    if record["failures"]:
        lines += ["", "failed measurements:", *record["failures"]]
    lines.append(f"\ntook {record['seconds'] / 60:.1f} min")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        print(render(json.loads(args.report.read_text())))
        return 0

    record = measure(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(render(record))
    print(f"raw figures: {args.out}")
    return 1 if record["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
