"""One training iteration, number by number, each beside its equation.

The equations are those of docs/tutorial.md: z = x W + b and a = σ(z)
forwards, the loss, δ = dL/da ∘ σ′(z), dW = xᵀ δ and db = Σ δ backwards,
then the optimizer's update. Every number is read from the library's own
training step, so what is shown is what training computes.
"""
import logging
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from .errors import TrainingDivergedError
from .gradcheck import working_copy
from .validation import check_positive_int

logger = logging.getLogger(__name__)

# What σ′ is for each built-in activation, written from z or a = σ(z).
_DERIVATIVES = {
    "identity": "σ′(z) = 1",
    "sigmoid": "σ′(z) = a (1 − a)",
    "tanh": "σ′(z) = 1 − a²",
    "relu": "σ′(z) = 1 if z > 0 else 0",
}

# The loss, and dL/dŷ, for n rows and k outputs.
_LOSSES = {
    "sse": ("L = Σ (ŷ − y)²", "dL/dŷ = 2 (ŷ − y)"),
    "mse": ("L = Σ (ŷ − y)² / (n k)", "dL/dŷ = 2 (ŷ − y) / (n k)"),
    "binary_crossentropy": (
        "L = −Σ [y log ŷ + (1 − y) log(1 − ŷ)] / n", None),
    "categorical_crossentropy": ("L = −Σ y log ŷ / n", None),
}

# Matrices with more entries than this print their corners only; the
# JSON form always holds every number.
PRINT_THRESHOLD = 100


@dataclass
class Quantity:
    """One number or array, the equation that gives it and its shape."""

    key: str
    equation: str
    shapes: str
    value: "np.ndarray | float"

    def to_dict(self) -> dict:
        value = self.value
        if isinstance(value, np.ndarray):
            shape, value = list(value.shape), value.tolist()
        else:
            shape, value = [], float(value)
        return {"equation": self.equation, "shapes": self.shapes,
                "shape": shape, "value": value}


@dataclass
class Stage:
    """A layer's part of one pass (forward, backward or update)."""

    layer: int | None
    title: str
    quantities: list = field(default_factory=list)

    def add(self, key: str, equation: str, value, shapes: str = "") -> None:
        if not shapes and isinstance(value, np.ndarray):
            shapes = _shape(value)
        self.quantities.append(Quantity(key, equation, shapes, value))

    def to_dict(self) -> dict:
        entry = {"layer": self.layer, "title": self.title}
        entry.update({q.key: q.to_dict() for q in self.quantities})
        return entry


@dataclass
class Explanation:
    """Every number of one iteration, grouped as training computes them.

    `data` holds x and y, `forward` one stage per layer (first to last),
    `loss` the loss, `backward` one stage per layer (last to first) and
    `update` one stage per layer with the optimizer's new values, by the
    rule in `update_rule`.
    """

    step: int
    description: str
    config: dict
    data: Stage
    forward: list
    loss: Stage
    backward: list
    update_rule: list
    update: list

    def to_dict(self) -> dict:
        """Every number, as JSON-ready lists, with its equation and shape."""
        return {
            "step": self.step,
            "description": self.description,
            "network": self.config,
            "data": self.data.to_dict(),
            "forward": [stage.to_dict() for stage in self.forward],
            "loss": self.loss.to_dict(),
            "backward": [stage.to_dict() for stage in self.backward],
            "update_rule": self.update_rule,
            "update": [stage.to_dict() for stage in self.update],
        }

    def to_text(self) -> str:
        """The iteration as readable text; big matrices shown by corners."""
        n_rows = self.data.quantities[0].value.shape[0]
        lines = [f"iteration {self.step} of {self.description}",
                 f"all {n_rows} rows in one batch; layers count from 0; "
                 f"x is the input, ŷ the output"]
        update = "\n  ".join(["UPDATE  " + self.update_rule[0]]
                              + self.update_rule[1:])
        sections = [("DATA", [self.data]), ("FORWARD", self.forward),
                    ("LOSS", [self.loss]), ("BACKWARD", self.backward),
                    (update, self.update)]
        with np.printoptions(precision=6, threshold=PRINT_THRESHOLD,
                             edgeitems=3, linewidth=73):
            for heading, stages in sections:
                lines += ["", heading]
                for stage in stages:
                    lines += _stage_lines(stage)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _stage_lines(stage: Stage) -> list[str]:
    lines = [f"  {stage.title}"] if stage.title else []
    for q in stage.quantities:
        if not isinstance(q.value, np.ndarray):
            lines.append(f"    {q.equation} = {q.value:.8g}")
            continue
        equation = f"    {q.equation}"
        room = 77 - _width(equation) - len(q.shapes)
        if room < 2:
            lines += [equation, " " * 6 + q.shapes]
        else:
            lines.append(equation + " " * room + q.shapes)
        # Adding 0.0 turns -0.0 into 0.0, so no "-0." is shown.
        text = np.array2string(q.value + 0.0)
        lines += ["      " + line for line in text.splitlines()]
    return lines


def explain_iteration(network, X, y, step: int = 1, seed: int | None = 0):
    """Explain iteration `step` of full-batch training on X and y.

    Parameters
    ----------
    network : Network
        Left unchanged: the iteration runs on a copy. An unbuilt network
        starts from the weights ``fit(X, y, seed=seed)`` would draw.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Raw features and labels (or targets), as for `fit`.
    step : int, default=1
        The iteration to show; the `step - 1` before it are trained first
        with ``fit(X, y, epochs=step - 1, batch_size=None, warm_start=True)``.
    seed : int or None, default=0
        The seed of the initial weights of an unbuilt network.

    Returns
    -------
    Explanation
        Each layer's z and a, the loss, each layer's dL/da, δ, dW and db,
        and the updated weights (with the optimizer's state), each with
        its equation and shapes. `to_text()` and `to_dict()` render it.

    Notes
    -----
    Every iteration uses all rows at once (full batch), as the tutorial
    does, whatever batch size a saved model was trained with.
    """
    step = check_positive_int(step, "step")
    work, x, targets = working_copy(network, X, y, seed)
    if step > 1:
        logger.info("training %d full-batch iterations before the one "
                    "explained", step - 1)
        work.fit(X, y, epochs=step - 1, batch_size=None, shuffle=False,
                 seed=seed, warm_start=True)
    before = [{k: v.copy() for k, v in layer.params.items()}
              for layer in work.layers]

    loss = work.train_step(x, targets)
    if not np.isfinite(loss):
        raise TrainingDivergedError(
            f"the loss is {loss} at iteration {step}, so there is no "
            f"gradient to show; try an earlier step or a smaller lr"
        )
    forward = _forward(work, before)
    backward = _backward(work, before)
    return Explanation(
        step,
        _describe(work),
        work.config(),
        _data(work, x, targets),
        forward,
        _loss_stage(work, loss),
        backward,
        _update_rule(work.optimizer),
        _update(work),
    )


def _data(work, x: np.ndarray, targets: np.ndarray) -> Stage:
    """x and y as the network takes them: scaled, and encoded classes."""
    notes = []
    if work.scaler is not None:
        notes.append("x standardised by the network's scaling")
    if work.is_classifier:
        classes = work.encoder.classes_
        shown = ", ".join(str(c) for c in classes[:10])
        shown += ", ..." if len(classes) > 10 else ""
        if work.loss.name == "binary_crossentropy":
            notes.append(f"y is 1 for class {classes[1]}, else 0")
        else:
            notes.append(f"y one-hot over the classes {shown}")
    stage = Stage(None, "; ".join(notes))
    stage.add("x", "x", x.copy())
    stage.add("y", "y", targets.copy())
    return stage


def _forward(work, before: list) -> list[Stage]:
    """z and a of each layer, as the step's feedforward left them."""
    stages = []
    last = len(work.layers) - 1
    for i, layer in enumerate(work.layers):
        W = before[i]["W"]
        stage = Stage(i, f"layer {i}: {layer.activation.name}")
        stage.add("W", f"W{i}", W)
        source = _input_name(i)
        z_equation = f"z{i} = {source} W{i}"
        if "b" in before[i]:
            stage.add("b", f"b{i}", before[i]["b"])
            z_equation += f" + b{i}"
        n, units = layer.logits.shape
        stage.add("z", z_equation, layer.logits.copy(),
                  f"({n}, {W.shape[0]}) @ {W.shape} -> ({n}, {units})")
        output = f"ŷ = a{i}" if i == last else f"a{i}"
        stage.add("a", f"{output} = {layer.activation.name}(z{i})",
                  layer.output.copy())
        stages.append(stage)
    return stages


def _loss_stage(work, loss: float) -> Stage:
    equation, _ = _LOSSES.get(work.loss.name, (None, None))
    stage = Stage(None, f"{work.loss.name}, n = "
                        f"{work.layers[-1].output.shape[0]} rows, "
                        f"k = {work.n_outputs} outputs")
    stage.add("L", equation or f"L = {work.loss.name}(ŷ, y)", loss)
    return stage


def _backward(work, before: list) -> list[Stage]:
    """dL/da, δ, dW and db of each layer, last to first.

    δ is worked out again here with the same calls backprop makes (the
    loss's backward, then each activation's), from the arrays the
    step's feedforward left; dW and db are the gradients backprop stored.
    """
    objective = work._objective
    grad = objective.backward()
    stages = []
    last = len(work.layers) - 1
    for i in range(last, -1, -1):
        layer = work.layers[i]
        z, a = layer.logits, layer.output
        if i == last and objective.from_logits:
            # The fused gradient: σ′ cancels against the loss's own
            # denominator (see losses.py), so δ comes straight from it.
            stage = Stage(i, f"layer {i}: {layer.activation.name} fused "
                             f"with {work.loss.name}")
            delta = grad
            stage.add("delta", f"δ{i} = dL/dz{i} = (ŷ − y) / n",
                      delta.copy())
        else:
            stage = Stage(i, f"layer {i}: {layer.activation.name}, "
                             f"{_derivative(layer.activation)}")
            if i == last:
                _, equation = _LOSSES.get(work.loss.name, (None, None))
                stage.add("dL_da", equation or "dL/dŷ", grad.copy())
            else:
                W = before[i + 1]["W"]
                stage.add("dL_da", f"dL/da{i} = δ{i + 1} W{i + 1}ᵀ",
                          grad.copy(),
                          f"{_shape(delta)} @ {_shape(W.shape[1], W.shape[0])}"
                          f" -> {_shape(grad)}")
            delta = layer.activation.backward(grad, z, a)
            stage.add("delta", _delta_equation(i, layer.activation.name),
                      delta.copy())

        stage.add("dW", f"dW{i} = {_input_name(i)}ᵀ δ{i}",
                  layer.grads["W"].copy(),
                  f"{_shape(z.shape[0], before[i]['W'].shape[0])}ᵀ @ "
                  f"{_shape(delta)} -> {_shape(layer.grads['W'])}")
        if "b" in layer.grads:
            stage.add("db", f"db{i} = Σ over rows of δ{i}",
                      layer.grads["b"].copy())
        stages.append(stage)
        grad = delta @ before[i]["W"].T
    return stages


def _update(work) -> list[Stage]:
    """The new weights, and the optimizer's state that gave them."""
    optimizer = work.optimizer
    state = optimizer.state()
    stages, position = [], 0
    for i, layer in enumerate(work.layers):
        stage = Stage(i, f"layer {i}")
        for name, param in layer.params.items():
            label = f"{name}{i}"
            for key, equation in _state_equations(optimizer, label):
                stage.add(f"{key}_{name}", equation,
                          state[f"{key}{position}"].copy())
            stage.add(name, _update_equation(optimizer, label), param.copy())
            position += 1
        stages.append(stage)
    return stages


def _state_equations(optimizer, label: str) -> list[tuple]:
    """(state key, equation) for each array the optimizer keeps."""
    g = f"d{label}"
    if optimizer.name == "adam":
        return [("m", f"m ← β1 m + (1 − β1) {g}"),
                ("v", f"v ← β2 v + (1 − β2) {g}²")]
    if optimizer.name == "sgd" and optimizer.momentum:
        return [("velocity", f"v ← μ v + {g}")]
    return []


def _update_equation(optimizer, label: str) -> str:
    g = f"d{label}"
    if optimizer.name == "adam":
        return f"{label} ← {label} − lr m̂ / (√v̂ + eps)"
    if optimizer.name == "sgd" and optimizer.momentum:
        if optimizer.nesterov:
            return f"{label} ← {label} − lr ({g} + μ v)"
        return f"{label} ← {label} − lr v"
    if optimizer.name == "sgd":
        return f"{label} ← {label} − lr {g}"
    return f"{label} after {type(optimizer).__name__}.step"


def _width(text: str) -> int:
    """Columns `text` takes: a combining accent (the hat of m̂) takes none."""
    return sum(not unicodedata.combining(c) for c in text)


def _update_rule(optimizer) -> list[str]:
    """The optimizer's settings, and what Adam's m̂ and v̂ mean."""
    config = optimizer.config()
    names = {"beta1": "β1", "beta2": "β2", "momentum": "μ"}
    parts = [
        f"{names.get(key, key)} {value:g}"
        for key, value in config.items()
        if isinstance(value, float) and key != "name"
        and not (key == "momentum" and value == 0)
    ]
    if config.get("nesterov"):
        parts.append("nesterov")
    rule = [f"{config['name']} " + ", ".join(parts) + f", t {optimizer.t}"]
    if optimizer.name == "adam":
        rule.append("m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t)")
    return rule


def _derivative(activation) -> str:
    name = activation.name
    if name == "softmax":
        return "σ′ is the Jacobian diag(a) − a aᵀ"
    if name == "leaky_relu":
        return f"σ′(z) = 1 if z > 0 else {activation.slope:g}"
    return _DERIVATIVES.get(
        name, f"σ′ from {type(activation).__name__}.backward"
    )


def _delta_equation(i: int, name: str) -> str:
    if name == "softmax":
        # The Jacobian applied row by row, without forming it.
        return f"δ{i} = a{i} ∘ (dL/da{i} − Σ_row a{i} ∘ dL/da{i})"
    return f"δ{i} = dL/da{i} ∘ σ′(z{i})"


def _describe(work) -> str:
    widths = [work.n_features_in_] + [layer.units for layer in work.layers]
    activations = ", ".join(layer.activation.name for layer in work.layers)
    return (
        f"{'-'.join(str(w) for w in widths)} ({activations}), loss "
        f"{work.loss.name}, {work.dtype.name}"
    )


def _input_name(i: int) -> str:
    return "x" if i == 0 else f"a{i - 1}"


def _shape(*dims) -> str:
    """'(4, 3)' for an array or for its dimensions."""
    if len(dims) == 1 and isinstance(dims[0], np.ndarray):
        dims = dims[0].shape
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1
                                                      else "") + ")"
