"""The matrix products of a training step, and the rate NumPy runs them at.

A dense layer's step makes three products: the forward x W, the weight
gradient xᵀ dz and the input gradient dz Wᵀ (not needed for the first
layer). Each is 2 · m · k · n floating-point operations. An epoch's work is
taken as the issue states it, 6 × weights × samples; the exact count, which
skips the first layer's input gradient, is kept beside it.
"""
import itertools
import time

import numpy as np


def step_products(widths: tuple, batch_size: int) -> list[dict]:
    """The products of one training step, as (m, k, n) shapes and operands.

    `transpose_left` marks xᵀ dz, whose left operand is a transposed view
    of a row-major array, as in a layer's backward pass.
    """
    products = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        products.append(
            {"name": f"x W {i}", "shape": (batch_size, n_in, n_out)}
        )
        products.append(
            {"name": f"xT dz {i}", "shape": (n_in, batch_size, n_out),
             "transpose_left": True}
        )
        if i > 0:
            products.append(
                {"name": f"dz WT {i}", "shape": (batch_size, n_out, n_in),
                 "transpose_right": True}
            )
    return products


def _operands(product: dict, rng: np.random.Generator):
    m, k, n = product["shape"]
    if product.get("transpose_left"):
        a = rng.random((k, m), dtype=np.float32).T
    else:
        a = rng.random((m, k), dtype=np.float32)
    if product.get("transpose_right"):
        b = rng.random((n, k), dtype=np.float32).T
    else:
        b = rng.random((k, n), dtype=np.float32)
    return a, b, np.empty((m, n), dtype=np.float32)


def product_rate(product: dict, seconds: float, tries: int = 5) -> float:
    """Best float32 rate in FLOP/s of one product over `tries` timings.

    Each timing repeats the product into a preallocated output for about
    `seconds`, so neither allocation nor Python's loop counts for much.
    """
    a, b, out = _operands(product, np.random.default_rng(0))
    m, k, n = product["shape"]
    flops = 2.0 * m * k * n

    np.matmul(a, b, out=out)
    # Repeats per timing, sized from one call so a timing lasts `seconds`.
    started = time.perf_counter()
    np.matmul(a, b, out=out)
    once = max(time.perf_counter() - started, 1e-7)
    repeats = max(1, int(seconds / once))

    best = 0.0
    for _ in range(tries):
        started = time.perf_counter()
        for _ in range(repeats):
            np.matmul(a, b, out=out)
        elapsed = time.perf_counter() - started
        best = max(best, flops * repeats / elapsed)
    return best


def measure(widths: tuple, batch_sizes: list, seconds: float) -> dict:
    """Rates of every product of a step at each batch size.

    Returns the peak rate over all of them and, per batch size, the time
    one sample's products take at their own measured rates: a floor for
    any code that makes one BLAS call per product.
    """
    per_batch = {}
    peak = 0.0
    for batch_size in batch_sizes:
        rows = []
        floor = 0.0
        for product in step_products(widths, batch_size):
            rate = product_rate(product, seconds)
            m, k, n = product["shape"]
            floor += 2.0 * m * k * n / rate
            rows.append({"name": product["name"], "shape": [m, k, n],
                         "flops_per_s": rate})
            peak = max(peak, rate)
        per_batch[str(batch_size)] = {
            "products": rows,
            "seconds_per_sample": floor / batch_size,
        }
    return {"peak_flops_per_s": peak, "per_batch": per_batch}


def epoch_flops_per_sample(widths: tuple) -> dict:
    """FLOP per training sample: the issue's 6 × weights, and exactly."""
    weights = sum(a * b for a, b in itertools.pairwise(widths))
    first = widths[0] * widths[1]
    return {"nominal": 6 * weights, "exact": 6 * weights - 2 * first}
