"""Tests for scratchnn.optimizers: each update rule, rewritten here."""
import numpy as np
import pytest

from conftest import load_case
from scratchnn import Adam, Dense, Network, SGD
from scratchnn.optimizers import get_optimizer

STEPS = 6


def _params_and_grads(rng):
    """Two parameters of different shapes, and a new gradient per step."""
    params = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    grads = [[rng.normal(size=p.shape) for p in params] for _ in range(STEPS)]
    return params, grads


def _run(optimizer, params, grads):
    """Apply the optimizer for every step; return a copy after each."""
    params = [p.copy() for p in params]
    after = []
    for step_grads in grads:
        optimizer.step(params, step_grads)
        after.append([p.copy() for p in params])
    return after


def _assert_trajectories_equal(actual, expected):
    assert len(actual) == len(expected)
    for got_step, want_step in zip(actual, expected, strict=True):
        for got, want in zip(got_step, want_step, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def test_plain_sgd(rng):
    params, grads = _params_and_grads(rng)
    lr = 0.1

    # θ ← θ - lr g
    expected, theta = [], [p.copy() for p in params]
    for g in grads:
        theta = [p - lr * gi for p, gi in zip(theta, g, strict=True)]
        expected.append(theta)

    _assert_trajectories_equal(_run(SGD(lr=lr), params, grads), expected)


@pytest.mark.parametrize(
    "nesterov", [False, True], ids=["heavy_ball", "nesterov"]
)
def test_sgd_with_momentum(nesterov, rng):
    params, grads = _params_and_grads(rng)
    lr, mu = 0.05, 0.9

    # PyTorch's form: v ← μ v + g, then θ ← θ - lr v
    # (Nesterov: θ ← θ - lr (g + μ v)).
    expected = []
    theta = [p.copy() for p in params]
    velocity = [np.zeros_like(p) for p in params]
    for g in grads:
        velocity = [mu * v + gi for v, gi in zip(velocity, g, strict=True)]
        if nesterov:
            steps = [gi + mu * v for gi, v in zip(g, velocity, strict=True)]
        else:
            steps = velocity
        theta = [p - lr * s for p, s in zip(theta, steps, strict=True)]
        expected.append(theta)

    optimizer = SGD(lr=lr, momentum=mu, nesterov=nesterov)
    _assert_trajectories_equal(_run(optimizer, params, grads), expected)


def test_nesterov_differs_from_heavy_ball(rng):
    params, grads = _params_and_grads(rng)
    heavy = _run(SGD(lr=0.05, momentum=0.9), params, grads)
    ahead = _run(SGD(lr=0.05, momentum=0.9, nesterov=True), params, grads)
    assert not np.allclose(heavy[-1][0], ahead[-1][0])


def test_adam(rng):
    params, grads = _params_and_grads(rng)
    lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-7

    expected = []
    theta = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t, g in enumerate(grads, start=1):
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [b2 * vi + (1 - b2) * gi**2 for vi, gi in zip(v, g, strict=True)]
        theta = [
            p - lr * (mi / (1 - b1**t)) / (np.sqrt(vi / (1 - b2**t)) + eps)
            for p, mi, vi in zip(theta, m, v, strict=True)
        ]
        expected.append(theta)

    optimizer = Adam(lr=lr, beta1=b1, beta2=b2, eps=eps)
    _assert_trajectories_equal(_run(optimizer, params, grads), expected)
    assert optimizer.t == STEPS


def test_reset_forgets_state(rng):
    params, grads = _params_and_grads(rng)
    for optimizer in (SGD(lr=0.1, momentum=0.5), Adam(lr=0.1)):
        first = _run(optimizer, params, grads)
        optimizer.reset()
        assert optimizer.t == 0
        again = _run(optimizer, params, grads)
        _assert_trajectories_equal(again, first)


def test_updates_in_place(rng):
    params, grads = _params_and_grads(rng)
    for optimizer in (SGD(lr=0.1), SGD(lr=0.1, momentum=0.9), Adam()):
        arrays = [p.copy() for p in params]
        ids = [id(a) for a in arrays]
        optimizer.step(arrays, grads[0])
        assert [id(a) for a in arrays] == ids
        assert not np.array_equal(arrays[0], params[0])


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
@pytest.mark.parametrize("make", [SGD, Adam], ids=["sgd", "adam"])
def test_bad_learning_rate_is_refused(make, lr):
    with pytest.raises(ValueError, match=r"lr must be .*> 0, got"):
        make(lr=lr)


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan")])
def test_bad_learning_rate_through_the_network(lr):
    with pytest.raises(ValueError, match="lr must be"):
        Network([Dense(1)], optimizer="sgd", lr=lr)


def test_other_hyperparameter_errors():
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1"):
        SGD(momentum=1.0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        SGD(nesterov=True)
    with pytest.raises(ValueError, match=r"beta1 must be in \[0, 1\)"):
        Adam(beta1=1.0)
    with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\)"):
        Adam(beta2=-0.1)
    with pytest.raises(ValueError, match="eps must be > 0"):
        Adam(eps=0.0)


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (SGD, {"lr": "0.1"}, r"lr must be a number, got '0.1'"),
        (SGD, {"lr": True}, r"lr must be a number, got True"),
        (Adam, {"lr": None}, r"lr must be a number, got None"),
        (SGD, {"momentum": "0.5"}, r"momentum must be a number, got '0.5'"),
        (SGD, {"momentum": True}, r"momentum must be a number, got True"),
        (SGD, {"momentum": 0.5, "nesterov": "no"}, r"nesterov must be True"),
        (Adam, {"beta1": True}, r"beta1 must be a number, got True"),
        (Adam, {"beta2": "0.9"}, r"beta2 must be a number, got '0.9'"),
        (Adam, {"eps": False}, r"eps must be a number, got False"),
    ],
)
def test_hyperparameters_must_be_numbers_not_bools_or_text(
    make, kwargs, message
):
    with pytest.raises(TypeError, match=message):
        make(**kwargs)


def test_infinite_eps_and_lr_through_the_network_are_refused():
    with pytest.raises(ValueError, match="eps must be finite, got inf"):
        Adam(eps=float("inf"))
    with pytest.raises(TypeError, match="lr must be a number, got '0.1'"):
        Network([Dense(1)], optimizer="adam", lr="0.1")


def test_get_optimizer():
    assert isinstance(get_optimizer("adam"), Adam)
    assert get_optimizer("sgd", lr=0.5).lr == 0.5
    given = SGD(lr=0.2)
    assert get_optimizer(given) is given
    with pytest.raises(ValueError, match="'rmsprop'.*adam, sgd"):
        get_optimizer("rmsprop")


# ----------------------------------------------------------------------
# Field case
# ----------------------------------------------------------------------
def test_c05_adam_bias_correction_three_steps():
    case = load_case("C05")
    w = case.W0.copy()
    hyper = dict(lr=case.LR, beta1=case.BETA1, beta2=case.BETA2, eps=case.EPS)
    optimizer = Adam(**hyper)

    # A version without bias correction, written out to show it differs.
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    uncorrected = case.W0.copy()
    for step in range(3):
        optimizer.step([w], [case.GRAD.copy()])

        m = case.BETA1 * m + (1 - case.BETA1) * case.GRAD
        v = case.BETA2 * v + (1 - case.BETA2) * case.GRAD**2
        uncorrected = uncorrected - case.LR * m / (np.sqrt(v) + case.EPS)

        expected = case.EXPECTED_AFTER_STEP[step]
        np.testing.assert_allclose(w, expected, rtol=0, atol=1e-12)
        assert np.max(np.abs(w - uncorrected)) > 1e-3

    # Step 1 moves each entry by about lr, against the gradient's sign
    # (exactly lr |g| / (|g| + eps)); the smallest gradient 1e-4 is
    # the furthest off, by 1e-4 relative.
    first = Adam(**hyper)
    w1 = case.W0.copy()
    first.step([w1], [case.GRAD.copy()])
    np.testing.assert_allclose(
        w1 - case.W0, -case.LR * np.sign(case.GRAD), rtol=1e-3
    )


def test_adam_sets_subnormal_moments_to_zero_every_256_steps():
    # A gradient of 0 keeps a moment decaying; once it is subnormal it
    # never reaches 0 by itself, and subnormal arithmetic is slow.
    tiny = np.finfo(np.float32).tiny
    p = [np.ones((4, 3), dtype=np.float32)]
    g = [np.zeros((4, 3), dtype=np.float32)]
    opt = Adam()
    for _ in range(255):
        opt.step(p, g)
    opt.m[0][0, 0] = tiny / 4  # subnormal
    opt.v[0][1, 1] = tiny / 8
    opt.m[0][2, 2] = 3.0       # a normal value is left alone
    opt.step(p, g)             # step 256
    assert opt.m[0][0, 0] == 0.0 and opt.v[0][1, 1] == 0.0
    assert opt.m[0][2, 2] == np.float32(3.0) * np.float32(0.9)


def test_network_refuses_lr_beside_an_optimizer_object():
    from scratchnn import Adam, Dense, Network

    with pytest.raises(ValueError, match="give the learning rate once"):
        Network([Dense(1)], optimizer=Adam(), lr=0.03)
    assert Network([Dense(1)], optimizer="adam", lr=0.03).optimizer.lr == 0.03


@pytest.mark.parametrize("optimizer", ["adam", "sgd-momentum", "sgd"])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_network_trains_on_exactly_like_the_original(optimizer, how):
    import copy
    import pickle

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = rng.integers(0, 3, 120)
    opt = {"adam": Adam(0.01), "sgd-momentum": SGD(0.05, momentum=0.9),
           "sgd": SGD(0.05)}[optimizer]
    net = Network([Dense(7, "relu"), Dense(3, "softmax")],
                  loss="categorical_crossentropy", optimizer=opt)
    net.fit(X, y, epochs=2, seed=0)
    twin = (copy.deepcopy(net) if how == "deepcopy"
            else pickle.loads(pickle.dumps(net)))
    for n in (net, twin):
        n.fit(X, y, epochs=2, seed=1, warm_start=True)
    for p, q in zip(net.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)
    # The copy keeps the fast path: one flat buffer for its gradients.
    grads = twin.gradients()
    assert all(g.base is grads[0].base is not None for g in grads)
