"""From raw rounds to paired ratios, medians and the printed tables.

A ratio is formed within one round, between measurements taken minutes
apart at most, and only then summarised across rounds: its median with
the smallest and largest value. Every ratio reads "scratchnn ÷ peer" in
the sense that above 1 is better for scratchnn: throughputs are divided
as they are, times and memory the other way round.
"""
import statistics

MB = 1e6

PEERS = ("torch", "torch_fused", "sklearn")
SYSTEMS = ("scratchnn",) + PEERS
TITLES = {
    "scratchnn": "scratchnn",
    "torch": "torch",
    "torch_fused": "torch fused Adam",
    "sklearn": "scikit-learn",
}

# Issue 4's targets for scratchnn ÷ peer, by (kind, optimizer, peer).
TARGETS = {
    ("train", "sgd", "torch"): 1.5,
    ("train", "sgd", "sklearn"): 2.0,
    ("train", "adam", "torch"): 2.0,
    ("train", "adam", "torch_fused"): 1.3,
    ("train", "adam", "sklearn"): 2.0,
    ("predict", None, "torch"): 1.3,
    ("latency", None, "torch"): 3.0,
    ("tutorial", None, "torch"): 15.0,
}
EFFICIENCY_TARGET = 0.85  # of the limit, at batch 512
MEMORY_ALLOWANCE = 80 * MB  # above the dataset's bytes

# For each kind: the figure compared, and whether more of it is better.
METRICS = {
    "train": ("samples_per_s", True),
    "predict": ("rows_per_s", True),
    "latency": ("seconds", False),
    "tutorial": ("seconds", False),
}


def task_key(task: dict) -> str:
    """A task's name in the results: "train sgd 32", "predict", ..."""
    if task["kind"] == "train":
        return f"train {task['optimizer']} {task['batch_size']}"
    return task["kind"]


def _paired(rounds: list, key: str, peer: str, field: str, higher: bool):
    """Per-round ratios scratchnn ÷ peer, oriented so above 1 is better."""
    ratios = []
    for results in rounds:
        figures = results.get(key, {})
        ours, theirs = figures.get("scratchnn"), figures.get(peer)
        if not ours or not theirs or "error" in ours or "error" in theirs:
            continue
        a, b = ours[field], theirs[field]
        ratios.append(a / b if higher else b / a)
    return ratios


def _spread(values: list) -> dict | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def median_figure(rounds: list, key: str, system: str, field: str):
    values = [
        results[key][system][field]
        for results in rounds
        if system in results.get(key, {})
        and "error" not in results[key][system]
    ]
    return statistics.median(values) if values else None


def summarise(rounds: list, tasks: list, flops: dict) -> dict:
    """Ratios, medians and efficiencies of all rounds, JSON-ready."""
    peaks = [
        r["matmul"]["numpy"]["peak_flops_per_s"]
        for r in rounds
        if "error" not in r.get("matmul", {}).get("numpy", {"error": 1})
    ]
    # A peak: noise only ever slows a product, so the best round counts.
    peak = max(peaks) if peaks else None
    limit = peak / flops["nominal"] if peak else None
    summary = {
        "matmul_peak_flops_per_s": _spread(peaks),
        "limit_samples_per_s": limit,
        "limit_samples_per_s_exact": peak / flops["exact"] if peak else None,
        "rows": {},
    }

    for task in tasks:
        key, kind = task_key(task), task["kind"]
        field, higher = METRICS[kind]
        row = {"ratios": {}, "medians": {}}
        for peer in task["systems"]:
            if peer != "scratchnn":
                ratios = _paired(rounds, key, peer, field, higher)
                row["ratios"][peer] = _spread(ratios)
            row["medians"][peer] = median_figure(rounds, key, peer, field)
        if kind == "train":
            row["memory_ratios"] = {
                peer: _spread(
                    _paired(rounds, key, peer, "peak_rss", higher=False)
                )
                for peer in task["systems"]
                if peer != "scratchnn"
            }
            row["peak_rss"] = {
                system: median_figure(rounds, key, system, "peak_rss")
                for system in task["systems"]
            }
            row["efficiency"] = {
                system: (value / limit if value and limit else None)
                for system, value in row["medians"].items()
            }
        summary["rows"][key] = row
    return summary


# ----------------------------------------------------------------------
# Printing
# ----------------------------------------------------------------------
def _number(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _si(x: float) -> str:
    """1234567 -> '1.23M', 15234 -> '15.2k'."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{_number(x / scale)}{suffix}"
    return _number(x)


def _mark(value: float, target: float | None, higher=True) -> str:
    if target is None or value is None:
        return ""
    met = value >= target if higher else value <= target
    return " ✓" if met else " ✗"


def _label(task: dict) -> str:
    if task["kind"] == "train":
        optimizer = {"sgd": "SGD", "adam": "Adam"}[task["optimizer"]]
        return f"train {optimizer:<4} batch {task['batch_size']}"
    if task["kind"] == "predict":
        return f"predict {task['rows']:,} rows"
    if task["kind"] == "latency":
        return "predict 1 row"
    return f"tutorial 3-4-1 ×{task['iterations']}"


def ratio_table(summary: dict, tasks: list, n_rounds: int) -> str:
    """The one table of ratios, scratchnn ÷ each peer."""
    width = 24
    lines = [
        (
            f"scratchnn ÷ peer: median (min–max) of {n_rounds} paired "
            f"round(s); above 1 means scratchnn is faster"
        ),
        (
            "(or, for memory, smaller). ✓ / ✗: meets / misses issue 4's "
            "target for that cell."
        ),
        "",
        f"{'':<26}" + "".join(f"{TITLES[p]:<{width}}" for p in PEERS),
    ]
    for task in tasks:
        row = summary["rows"][task_key(task)]
        cells = []
        for peer in PEERS:
            spread = row["ratios"].get(peer)
            if peer not in task["systems"]:
                cells.append("·")
                continue
            if spread is None:
                cells.append("n/a")
                continue
            target = TARGETS.get((task["kind"], task.get("optimizer"), peer))
            cells.append(_cell(spread) + _mark(spread["median"], target))
        lines.append(
            f"{_label(task):<26}" + "".join(f"{c:<{width}}" for c in cells)
        )

    # Memory: one row per optimizer, the largest training batch.
    for task in tasks:
        if task["kind"] != "train" or task["batch_size"] != max(
            t.get("batch_size", 0) for t in tasks
        ):
            continue
        row = summary["rows"][task_key(task)]
        cells = []
        for peer in PEERS:
            spread = row["memory_ratios"].get(peer)
            cells.append(_cell(spread) if spread else "·")
        label = f"memory {_label(task)[6:]}"
        lines.append(
            f"{label:<26}" + "".join(f"{c:<{width}}" for c in cells)
        )
    return "\n".join(lines)


def _cell(spread: dict) -> str:
    return (
        f"{_number(spread['median'])} "
        f"({_number(spread['min'])}–{_number(spread['max'])})"
    )


def figures_table(summary: dict, tasks: list, data_bytes: int) -> str:
    """The medians behind the ratios, with efficiency and peak memory."""
    width = 18
    limit = summary["limit_samples_per_s"]
    peak = summary["matmul_peak_flops_per_s"]
    lines = ["figures (medians over rounds)"]
    if peak:
        lines.append(
            f"matrix-product peak (NumPy, float32): best "
            f"{peak['max'] / 1e9:.0f} GFLOP/s (rounds: "
            f"{peak['min'] / 1e9:.0f}–{peak['max'] / 1e9:.0f}); limit "
            f"{_si(limit)} samples/s at 6 × weights FLOP per sample "
            f"(exact count: {_si(summary['limit_samples_per_s_exact'])})"
        )
    lines.append(
        f"training cells: samples/s (efficiency = ÷ limit), then peak MB "
        f"(× the {data_bytes / MB:.0f} MB of data)"
    )
    lines.append(
        f"{'':<38}" + "".join(f"{TITLES[s]:<{width}}" for s in SYSTEMS)
    )
    largest_batch = max(t.get("batch_size", 0) for t in tasks)

    for task in tasks:
        row = summary["rows"][task_key(task)]
        kind = task["kind"]
        if kind == "train":
            speed, memory = [], []
            for system in SYSTEMS:
                value = row["medians"].get(system)
                rss = row["peak_rss"].get(system)
                if value is None:
                    speed.append("·")
                    memory.append("·")
                    continue
                efficiency = row["efficiency"][system]
                mark = ""
                ours = system == "scratchnn"
                if ours and task["batch_size"] == largest_batch:
                    mark = _mark(efficiency, EFFICIENCY_TARGET)
                eff = f" ({efficiency:.2f}{mark})" if efficiency else ""
                speed.append(_si(value) + eff)
                fits = _mark(rss, data_bytes + MEMORY_ALLOWANCE, higher=False)
                memory.append(
                    f"{rss / MB:.0f} ({rss / data_bytes:.1f}×)"
                    + (fits if ours else "")
                )
            lines.append(_figure_line(_label(task), "samples/s", speed, width))
            lines.append(_figure_line("", "peak MB", memory, width))
            continue

        unit, scale = {
            "predict": ("rows/s", None),
            "latency": ("µs", 1e6),
            "tutorial": ("ms", 1e3),
        }[kind]
        cells = []
        for system in SYSTEMS:
            value = row["medians"].get(system)
            if value is None:
                cells.append("·")
            elif scale is None:
                cells.append(_si(value))
            else:
                cells.append(_number(value * scale))
        lines.append(_figure_line(_label(task), unit, cells, width))
    return "\n".join(lines)


def _figure_line(label: str, unit: str, cells: list, width: int) -> str:
    return (
        f"{label:<26}{unit:<12}" + "".join(f"{c:<{width}}" for c in cells)
    )


def growth_table(growth: list) -> str:
    """Streamed epochs at growing data sizes: time and peak memory."""
    lines = [
        "growth: scratchnn, one epoch streamed from a memory-mapped .npy "
        "(batch 128, SGD)",
        f"{'data':<8}{'rows':>11}{'on disk':>11}{'seconds':>10}"
        f"{'samples/s':>12}{'peak MB':>10}{'s per 1×':>10}",
    ]
    base = None
    for figures in growth:
        scale = figures.get("scale")
        if "error" in figures:
            lines.append(f"{scale}×  FAILED: {figures['error']}")
            continue
        per_unit = figures["seconds"] / scale
        base = base or per_unit
        lines.append(
            f"{str(scale) + '×':<8}{figures['rows']:>11,}"
            f"{figures['data_bytes'] / MB:>9.0f}MB"
            f"{figures['seconds']:>10.1f}{_si(figures['samples_per_s']):>12}"
            f"{figures['peak_rss'] / MB:>10.0f}{per_unit:>10.2f}"
        )
    return "\n".join(lines)
