"""Ctrl-C stops a fit cleanly: a fit that would run for a long time (well
over 10 s) raises ``KeyboardInterrupt`` within about a second of the
interrupt, for the minibatch solver and for L-BFGS, and leaves the
estimator as it was — unfitted after a first fit, with its previous model
after a refit.

In-process, ``_thread.interrupt_main`` from a timer thread is Ctrl-C as
Python sees it. A subprocess then gets a real ``SIGINT`` from outside, as
a terminal sends it.
"""

import _thread
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from lintrain import LinearClassifier

INTERRUPT_AFTER = 0.5
# From the interrupt to the exception: the binding polls every 50 ms and
# stops the engine within one step (one L-BFGS evaluation).
MAX_REACTION = 2.0

# Each takes 10-20 s or more when not interrupted (on this data, on a
# 2-core machine): about 12 ms an epoch, 7 ms an L-BFGS iteration, which on
# these ill-conditioned features runs to its limit.
LONG_FITS = {
    "sgd": dict(max_iter=1500, tol=None, batch_size=64),
    "lbfgs": dict(solver="lbfgs", penalty=None, tol=0.0, max_iter=3000),
}


@pytest.fixture(scope="module")
def data():
    """20,000 × 64, 10 classes, features scaled from 1e-3 to 1e3: L-BFGS
    needs thousands of iterations."""
    rng = np.random.default_rng(0)
    means = rng.standard_normal((10, 64))
    y = rng.integers(0, 10, 20_000)
    X = (means[y] * 0.5 + rng.standard_normal((20_000, 64))) * np.logspace(-3, 3, 64)
    return X.astype(np.float32), y


def fit_interrupted(clf, X, y):
    """Fits with Ctrl-C after ``INTERRUPT_AFTER`` s; the seconds from the
    interrupt to ``KeyboardInterrupt``."""
    sent = {}

    def interrupt():
        sent["at"] = time.perf_counter()
        _thread.interrupt_main()

    timer = threading.Timer(INTERRUPT_AFTER, interrupt)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
        raised = time.perf_counter()
    finally:
        timer.cancel()
        timer.join()
    assert "at" in sent, "the fit ended before the interrupt was sent"
    return raised - sent["at"]


@pytest.mark.parametrize("solver", list(LONG_FITS))
def test_interrupt_stops_a_first_fit(data, solver):
    X, y = data
    clf = LinearClassifier(random_state=0, device="cpu", **LONG_FITS[solver])
    reaction = fit_interrupted(clf, X, y)
    assert reaction < MAX_REACTION, f"KeyboardInterrupt came {reaction:.2f} s after Ctrl-C"
    assert not hasattr(clf, "coef_")
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


@pytest.mark.parametrize("solver", list(LONG_FITS))
def test_interrupt_of_a_refit_keeps_the_previous_model(data, solver):
    X, y = data
    clf = LinearClassifier(random_state=0, device="cpu", max_iter=2, tol=None)
    clf.set_params(solver=LONG_FITS[solver].get("solver", "sgd"))
    clf.fit(X[:500], y[:500])
    previous = {k: np.copy(v) for k, v in vars(clf).items() if k.endswith("_")}
    clf.set_params(**LONG_FITS[solver])
    reaction = fit_interrupted(clf, X, y)
    assert reaction < MAX_REACTION, f"KeyboardInterrupt came {reaction:.2f} s after Ctrl-C"
    after = {k: v for k, v in vars(clf).items() if k.endswith("_")}
    assert sorted(after) == sorted(previous)
    for name, value in previous.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


def test_interrupted_refit_on_other_features_keeps_the_fitted_model(data):
    """A refit on data with other features that is interrupted leaves the
    fitted model usable on the features it was fitted on."""
    X, y = data
    clf = LinearClassifier(random_state=0, device="cpu", max_iter=2, tol=None)
    clf.fit(X[:500, :8], y[:500])
    expected = clf.predict(X[:10, :8])
    clf.set_params(**LONG_FITS["sgd"])
    fit_interrupted(clf, X, y)
    assert clf.n_features_in_ == 8
    np.testing.assert_array_equal(clf.predict(X[:10, :8]), expected)


def test_the_estimator_still_fits_after_an_interrupt(data):
    """Nothing is left behind (no running worker, no stale state): the same
    estimator then fits as a fresh one does."""
    X, y = data
    clf = LinearClassifier(random_state=0, device="cpu", **LONG_FITS["sgd"])
    fit_interrupted(clf, X, y)
    clf.set_params(max_iter=2)
    fresh = LinearClassifier(random_state=0, device="cpu", **LONG_FITS["sgd"])
    fresh.set_params(max_iter=2)
    np.testing.assert_array_equal(clf.fit(X, y).coef_, fresh.fit(X, y).coef_)


CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from lintrain import LinearClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 64), dtype=np.float32)
    y = rng.integers(0, 10, 20_000)
    clf = LinearClassifier(max_iter=1500, tol=None, batch_size=64, random_state=0, device="cpu")
    print("fitting", flush=True)
    try:
        clf.fit(X, y)
    except KeyboardInterrupt:
        print("interrupted", hasattr(clf, "coef_"), flush=True)
        raise
    print("finished", flush=True)
    """
)


def test_sigint_from_outside_stops_a_fit_in_another_process():
    """A real SIGINT (as a terminal's Ctrl-C sends) to a process fitting on
    its main thread: it raises KeyboardInterrupt promptly, and, uncaught,
    the interpreter dies of SIGINT as Python does."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "fitting"
        time.sleep(1.0)
        assert child.poll() is None, "the fit ended before the signal"
        sent = time.perf_counter()
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=30)
        reaction = time.perf_counter() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert out.strip() == "interrupted False", err
    assert "KeyboardInterrupt" in err
    assert child.returncode == -signal.SIGINT
    assert reaction < MAX_REACTION, f"the process ended {reaction:.2f} s after SIGINT"
