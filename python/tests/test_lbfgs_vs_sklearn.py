"""``solver="lbfgs"`` fits scikit-learn's ``LogisticRegression``: with the
same ``C``, both minimize the same objective (``C·Σℓ + ½‖w‖²``, the
intercept unpenalized), so with tight tolerances on both sides the
probabilities and coefficients agree to float32 precision.

Cases: standardized Iris (multinomial softmax), a standardized binary
problem with ``loss="logistic"`` (one weight vector, as scikit-learn), the
same binary problem with the two-column softmax (whose L2 part the binding
doubles so that it is the same model), and a seeded multiclass problem
like ``/work/shared/peers/sklearn_lbfgs.py``'s probe.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from lintrain import LinearClassifier

PROBA_ATOL = 1e-3
COEF_RTOL = 1e-3
COEF_ATOL = 1e-3


def standardized(X):
    X = np.asarray(X, dtype=np.float64)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


def sklearn_fit(X, y, C):
    """scikit-learn's solution, converged far beyond float32 precision."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(
            X.astype(np.float64), y
        )


def ours_fit(X, y, C, loss="softmax"):
    return LinearClassifier(
        loss=loss, solver="lbfgs", C=C, tol=1e-6, max_iter=1000, random_state=0, device="cpu"
    ).fit(X, y)


def centered(intercept):
    """Softmax intercepts are defined up to a common shift."""
    intercept = np.asarray(intercept, dtype=np.float64)
    return intercept - intercept.mean()


def probe_problem(n=3000, d=32, c=6, seed=256):
    """A seeded problem like the peer script's: class means plus noise,
    standardized."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((c, d))
    y = rng.integers(0, c, n)
    X = means[y] * 0.3 + rng.standard_normal((n, d))
    return standardized(X), y


def assert_same_probabilities(ours, theirs, X):
    p_ours = ours.predict_proba(X)
    p_theirs = theirs.predict_proba(X.astype(np.float64))
    assert p_ours.shape == p_theirs.shape
    diff = np.abs(p_ours - p_theirs).max()
    assert diff <= PROBA_ATOL, f"max |Δp| = {diff:.3g}"


@pytest.mark.parametrize("C", [1.0, 0.05])
def test_iris_multinomial(iris, C):
    """Standardized Iris, softmax over 3 classes."""
    X, y, _ = iris
    X = standardized(X)
    ours, theirs = ours_fit(X, y, C), sklearn_fit(X, y, C)
    assert_same_probabilities(ours, theirs, X)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=COEF_RTOL, atol=COEF_ATOL)
    np.testing.assert_allclose(
        centered(ours.intercept_), centered(theirs.intercept_), rtol=COEF_RTOL, atol=COEF_ATOL
    )
    assert (ours.predict(X) == theirs.predict(X.astype(np.float64))).mean() >= 0.99


def test_binary_logistic():
    """Breast cancer (569 × 30, standardized), ``loss="logistic"``: one
    output, scikit-learn's ``coef_`` (1, 30) and ``intercept_`` (1,)."""
    data = load_breast_cancer()
    X, y = standardized(data.data), data.target
    ours, theirs = ours_fit(X, y, 1.0, loss="logistic"), sklearn_fit(X, y, 1.0)
    assert ours.coef_.shape == theirs.coef_.shape == (1, 30)
    assert ours.intercept_.shape == (1,)
    assert_same_probabilities(ours, theirs, X)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=COEF_RTOL, atol=COEF_ATOL)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=COEF_RTOL, atol=COEF_ATOL)
    np.testing.assert_allclose(
        ours.decision_function(X), theirs.decision_function(X.astype(np.float64)), atol=1e-2
    )


def test_binary_softmax_is_the_same_model():
    """The two-column softmax on two classes fits scikit-learn's model too:
    ``W₁ − W₀`` is its weight vector."""
    data = load_breast_cancer()
    X, y = standardized(data.data), data.target
    ours, theirs = ours_fit(X, y, 1.0), sklearn_fit(X, y, 1.0)
    assert ours.coef_.shape == (2, 30)
    assert_same_probabilities(ours, theirs, X)
    np.testing.assert_allclose(
        ours.coef_[1] - ours.coef_[0], theirs.coef_[0], rtol=COEF_RTOL, atol=COEF_ATOL
    )


def test_probe_problem_multinomial():
    """A seeded 6-class problem of 3000 × 32."""
    X, y = probe_problem()
    ours, theirs = ours_fit(X, y, 1.0), sklearn_fit(X, y, 1.0)
    assert_same_probabilities(ours, theirs, X)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=COEF_RTOL, atol=COEF_ATOL)
