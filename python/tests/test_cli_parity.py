"""The estimator and ``lintrain train`` fit the same model from the same
settings: on Iris, written to .npy so both read identical float32 bits,
with ``--no-standardize`` (the estimator trains on the features as given)
and the CPU backend, the coefficients and intercepts are bit-identical, and
the number of epochs (L-BFGS iterations) and the loss curve are the
command line's ``--json`` history.
"""

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import lintrain
from lintrain import LinearClassifier

SEED = 7

# Every case states the regularization on both sides: the command line's
# default strength is lintrain's λ (--reg-strength 1e-4), the estimator's
# scikit-learn's alpha (λ = alpha/2 for l2).

SGD = dict(
    params=dict(
        optimizer="sgd",
        learning_rate=0.1,
        batch_size=16,
        max_iter=20,
        tol=None,
        alpha=1e-3,
        penalty="l2",
    ),
    flags=[
        "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "16",
        "--epochs", "20", "--alpha", "1e-3", "--reg", "l2",
    ],
)

LBFGS = dict(
    params=dict(solver="lbfgs", C=1.0, tol=1e-4, max_iter=100),
    # The estimator's L-BFGS starts from zeros, as scikit-learn's does.
    flags=[
        "--solver", "lbfgs", "--C", "1", "--tol", "1e-4", "--max-iter", "100",
        "--init", "zeros",
    ],
)

ADAM_EARLY_STOPPING = dict(
    params=dict(
        optimizer="adam",
        learning_rate=0.01,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=5,
        tol=1e-3,
        max_iter=200,
        alpha=1e-4,
    ),
    flags=[
        "--optimizer", "adam", "--lr", "0.01", "--val-fraction", "0.2",
        "--early-stopping", "5", "--tol", "1e-3", "--n-iter-no-change", "5",
        "--epochs", "200", "--alpha", "1e-4",
    ],
)

ELASTIC_NET_SGD = dict(
    params=dict(
        optimizer="sgd",
        learning_rate=0.1,
        batch_size=16,
        max_iter=20,
        tol=None,
        penalty="elasticnet",
        l1_ratio=0.3,
        alpha=1e-2,
    ),
    flags=[
        "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "16",
        "--epochs", "20", "--reg", "elastic", "--l1-ratio", "0.3",
        "--alpha", "1e-2",
    ],
)

ELASTIC_NET_LBFGS = dict(
    params=dict(
        solver="lbfgs", penalty="elasticnet", l1_ratio=0.3, C=0.5, tol=1e-4, max_iter=100
    ),
    flags=[
        "--solver", "lbfgs", "--reg", "elastic", "--l1-ratio", "0.3",
        "--C", "0.5", "--tol", "1e-4", "--max-iter", "100", "--init", "zeros",
    ],
)

BALANCED = dict(
    params=dict(
        optimizer="momentum",
        learning_rate=0.05,
        batch_size=8,
        max_iter=10,
        tol=None,
        alpha=1e-4,
        class_weight="balanced",
    ),
    flags=[
        "--optimizer", "momentum", "--lr", "0.05", "--batch-size", "8",
        "--epochs", "10", "--alpha", "1e-4", "--class-weight", "balanced",
    ],
)

NESTEROV_STEP_SCHEDULE = dict(
    params=dict(
        optimizer="nesterov",
        momentum=0.8,
        learning_rate=0.05,
        schedule="step",
        step_size=7,
        gamma=0.7,
        warmup_steps=5,
        batch_size=16,
        max_iter=15,
        tol=None,
        alpha=1e-3,
    ),
    flags=[
        "--optimizer", "nesterov", "--momentum", "0.8", "--lr", "0.05",
        "--schedule", "step", "--step-size", "7", "--gamma", "0.7",
        "--warmup-steps", "5", "--batch-size", "16", "--epochs", "15",
        "--alpha", "1e-3",
    ],
)

ADAMW_COSINE = dict(
    params=dict(
        optimizer="adamw",
        learning_rate=0.02,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-6,
        weight_decay=0.05,
        schedule="cosine",
        min_lr=0.001,
        batch_size=32,
        max_iter=12,
        tol=None,
        alpha=1e-4,
    ),
    flags=[
        "--optimizer", "adamw", "--lr", "0.02", "--beta1", "0.8", "--beta2", "0.99",
        "--eps", "1e-6", "--weight-decay", "0.05", "--schedule", "cosine",
        "--min-lr", "0.001", "--batch-size", "32", "--epochs", "12", "--alpha", "1e-4",
    ],
)

CASES = {
    "sgd": SGD,
    "lbfgs": LBFGS,
    "adam-early-stopping": ADAM_EARLY_STOPPING,
    "elasticnet-sgd": ELASTIC_NET_SGD,
    "elasticnet-lbfgs": ELASTIC_NET_LBFGS,
    "class-weight-balanced": BALANCED,
    "nesterov-step-schedule": NESTEROV_STEP_SCHEDULE,
    "adamw-cosine": ADAMW_COSINE,
}


def train_both(cli, iris_npy, tmp_path, case, loss="softmax"):
    """(the estimator, the command line's model loaded, its --json report)."""
    x_path, y_path, X, y = iris_npy
    model_path = tmp_path / "cli.safetensors"
    done = cli(
        "train", "--data", x_path, "--labels", y_path, "--no-standardize",
        "--backend", "cpu", "--seed", SEED, "--loss", loss.replace("_", "-"),
        *case["flags"], "--save", model_path, "--json",
    )
    report = json.loads(done.stdout)
    clf = LinearClassifier(
        loss=loss, device="cpu", random_state=SEED, **case["params"]
    ).fit(X, y)
    return clf, lintrain.load(model_path), report


@pytest.mark.parametrize("name", list(CASES))
def test_same_coefficients_as_the_command_line(cli, iris_npy, tmp_path, name):
    """Bit-identical ``coef_`` and ``intercept_``, the same classes, and
    the same predictions as the command line's model on the CPU."""
    clf, from_cli, _ = train_both(cli, iris_npy, tmp_path, CASES[name])
    assert clf.device_ == "cpu"
    assert_array_equal(from_cli.classes_, clf.classes_)
    assert clf.coef_.dtype == np.float32
    assert clf.coef_.shape == (3, 4)
    assert_array_equal(clf.coef_, from_cli.coef_)
    assert_array_equal(clf.intercept_, from_cli.intercept_)
    X = iris_npy[2]
    assert_array_equal(clf.predict(X), from_cli.predict(X))


@pytest.mark.parametrize("name", list(CASES))
def test_same_history_as_the_command_line(cli, iris_npy, tmp_path, name):
    """``n_iter_`` is the number of epochs (L-BFGS iterations) the command
    line ran, ``loss_curve_`` its training objective per epoch, and
    ``validation_loss_curve_`` its validation loss."""
    clf, _, report = train_both(cli, iris_npy, tmp_path, CASES[name])
    history = report["history"]
    if CASES[name]["params"].get("solver") == "lbfgs":
        assert clf.n_iter_ == report["final"]["iterations"]
    else:
        assert clf.n_iter_ == len(history)
    assert clf.loss_curve_ == [h["train_loss"] for h in history]
    expected_validation = [h["val_loss"] for h in history if h["val_loss"] is not None]
    assert clf.validation_loss_curve_ == expected_validation


def test_early_stopping_stopped_early(cli, iris_npy, tmp_path):
    """The early-stopping case really stops before ``max_iter`` (so its
    parity covers the stopping rule, not just 200 epochs)."""
    clf, _, report = train_both(cli, iris_npy, tmp_path, ADAM_EARLY_STOPPING)
    assert report["final"]["stopped_by_tolerance"] is True
    assert clf.n_iter_ < 200
    assert len(clf.validation_loss_curve_) == clf.n_iter_


SMALL_STEPS = dict(
    params=dict(SGD["params"], learning_rate=0.01),
    flags=[f if f != "0.1" else "0.01" for f in SGD["flags"]],
)


@pytest.mark.parametrize("loss", ["svm", "squared_hinge", "logistic", "mse"])
def test_other_losses_match_the_command_line(cli, iris_npy, tmp_path, loss):
    """The other losses (``squared_hinge`` is the command line's
    ``squared-hinge``) also fit bit-identical coefficients (with a step
    small enough for the squared losses on the raw features)."""
    assert SMALL_STEPS["flags"][SMALL_STEPS["flags"].index("--lr") + 1] == "0.01"
    clf, from_cli, _ = train_both(cli, iris_npy, tmp_path, SMALL_STEPS, loss=loss)
    assert from_cli.loss == loss
    assert_array_equal(clf.coef_, from_cli.coef_)
    assert_array_equal(clf.intercept_, from_cli.intercept_)
