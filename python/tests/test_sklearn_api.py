"""The estimator behaves as a scikit-learn classifier in use: in pipelines
and grid searches, with string labels and DataFrames, ``partial_fit``,
``warm_start``, class weights, early stopping, the prediction methods and
their shapes, pickling, and ``verbose`` output.
"""

import math
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from lintrain import LinearClassifier


def make(**params):
    """The estimator on the CPU, seeded, with Adam's (the default optimizer)
    learning rate raised so that a few epochs fit these small problems."""
    params.setdefault("device", "cpu")
    params.setdefault("random_state", 0)
    params.setdefault("learning_rate", 0.05)
    return LinearClassifier(**params)


@pytest.fixture(scope="module")
def std_iris(iris):
    X, y, names = iris
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), y, names


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    y = np.where(X @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) + 0.3 > 0, "yes", "no")
    return X, y


# ------------------------------------------------------ meta-estimators


def test_pipeline_with_a_scaler(iris):
    X, y, _ = iris
    pipe = Pipeline([("scale", StandardScaler()), ("clf", make(optimizer="adam"))])
    pipe.fit(X.astype(np.float64), y)
    assert pipe.score(X, y) > 0.9
    assert pipe.named_steps["clf"].n_features_in_ == 4


def test_grid_search_over_alpha(iris):
    X, y, _ = iris
    search = GridSearchCV(
        make_pipeline(StandardScaler(), make(optimizer="adam", learning_rate=0.05, max_iter=30)),
        {"linearclassifier__alpha": [1e-5, 1e-3, 1.0]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_["linearclassifier__alpha"] in (1e-5, 1e-3)
    assert search.best_score_ > 0.8
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] < max(scores[:2]), "alpha=1 should underfit"


def test_grid_search_over_C_with_lbfgs(std_iris):
    X, y, _ = std_iris
    search = GridSearchCV(make(solver="lbfgs"), {"C": [1e-4, 1.0, 100.0]}, cv=3).fit(X, y)
    assert search.best_params_["C"] in (1.0, 100.0)
    assert search.cv_results_["mean_test_score"][0] < search.best_score_


# ----------------------------------------------------------------- labels


def test_string_labels(std_iris):
    X, _, names = std_iris
    clf = make(max_iter=20, tol=None).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    predicted = clf.predict(X)
    assert set(predicted) <= set(clf.classes_)
    assert clf.score(X, names) > 0.8


def test_classes_are_sorted_and_keep_their_type(std_iris):
    X, ids, _ = std_iris
    labels = np.array([30, -4, 7])[ids]
    clf = make(max_iter=3, tol=None).fit(X, labels)
    assert_array_equal(clf.classes_, [-4, 7, 30])
    assert clf.classes_.dtype.kind == "i"
    assert clf.predict(X).dtype.kind == "i"


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_dataframe_feature_names(std_iris):
    pd = pytest.importorskip("pandas")
    X, y, _ = std_iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    clf = make(max_iter=3, tol=None).fit(frame, y)
    assert list(clf.feature_names_in_) == ["sl", "sw", "pl", "pw"]
    assert_array_equal(clf.predict(frame), clf.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[["sw", "sl", "pl", "pw"]])


def test_no_feature_names_from_an_array(std_iris):
    X, y, _ = std_iris
    assert not hasattr(make(max_iter=2, tol=None).fit(X, y), "feature_names_in_")


# ------------------------------------------------------------ partial_fit


def test_partial_fit_continues(std_iris):
    """Each call is one epoch: ``t_`` grows by the call's steps, ``n_iter_``
    and ``loss_curve_`` by one, and the loss decreases over the calls."""
    X, y, _ = std_iris
    clf = make(batch_size=32)
    steps_per_epoch = math.ceil(len(X) / 32)
    clf.partial_fit(X, y, classes=np.unique(y))
    assert clf.t_ == steps_per_epoch
    assert clf.n_iter_ == 1
    first_coef = clf.coef_.copy()
    for call in range(2, 11):
        clf.partial_fit(X, y)
        assert clf.t_ == call * steps_per_epoch
        assert clf.n_iter_ == call
        assert len(clf.loss_curve_) == call
    assert not np.array_equal(clf.coef_, first_coef)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "momentum"])
def test_two_partial_fits_equal_a_two_epoch_fit(std_iris, optimizer, shuffle):
    """Two ``partial_fit`` calls on the data are ``fit`` with ``max_iter=2``,
    bit for bit: the weights, the optimizer's state and its step count carry
    over, and (with an int ``random_state``) each epoch's order is seeded by
    its number, so the second call shuffles as a second epoch does."""
    X, y, _ = std_iris
    params = dict(optimizer=optimizer, learning_rate=0.05, shuffle=shuffle)
    incremental = make(**params)
    incremental.partial_fit(X, y, classes=np.unique(y))
    incremental.partial_fit(X, y)
    whole = make(max_iter=2, tol=None, **params).fit(X, y)
    assert incremental.t_ == whole.t_
    assert_array_equal(incremental.coef_, whole.coef_)
    assert_array_equal(incremental.intercept_, whole.intercept_)
    assert incremental.loss_curve_ == whole.loss_curve_


def test_partial_fit_with_classes_missing_from_the_first_batch(std_iris):
    X, y, _ = std_iris
    clf = make()
    first = y < 2
    clf.partial_fit(X[first], y[first], classes=[0, 1, 2])
    assert clf.coef_.shape == (3, 4)
    assert_array_equal(clf.classes_, [0, 1, 2])
    clf.partial_fit(X, y)


def test_partial_fit_errors(std_iris):
    X, y, _ = std_iris
    with pytest.raises(ValueError, match="classes"):
        make().partial_fit(X, y)
    clf = make().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError):
        clf.partial_fit(X, y + 1)
    # L-BFGS fits the whole training set at once: no partial_fit.
    lbfgs = make(solver="lbfgs")
    assert not hasattr(lbfgs, "partial_fit")
    with pytest.raises(AttributeError):
        lbfgs.partial_fit(X, y, classes=[0, 1, 2])


# ------------------------------------------------------------- warm_start


def test_warm_start_continues_from_the_weights(std_iris):
    """Plain SGD in row order keeps no state but the weights: 2 epochs, then
    3 more from them, are the 5-epoch fit."""
    X, y, _ = std_iris
    params = dict(optimizer="sgd", learning_rate=0.05, shuffle=False, tol=None)
    clf = make(max_iter=2, warm_start=True, **params).fit(X, y)
    clf.set_params(max_iter=3).fit(X, y)
    whole = make(max_iter=5, **params).fit(X, y)
    assert_allclose(clf.coef_, whole.coef_, rtol=1e-6, atol=1e-7)
    assert_allclose(clf.intercept_, whole.intercept_, rtol=1e-6, atol=1e-7)


def test_without_warm_start_a_refit_starts_afresh(std_iris):
    X, y, _ = std_iris
    clf = make(max_iter=3, tol=None).fit(X, y)
    first = clf.coef_.copy()
    clf.fit(X, y)
    assert_array_equal(clf.coef_, first)


def test_warm_start_lbfgs_starts_at_the_optimum(std_iris):
    X, y, _ = std_iris
    clf = make(solver="lbfgs", C=1.0, warm_start=True).fit(X, y)
    cold_iterations = clf.n_iter_
    clf.fit(X, y)
    assert clf.n_iter_ <= max(2, cold_iterations // 4), (cold_iterations, clf.n_iter_)


def test_warm_start_with_other_classes_starts_afresh(std_iris):
    X, y, _ = std_iris
    clf = make(max_iter=2, tol=None, warm_start=True).fit(X, y)
    keep = y < 2
    clf.fit(X[keep], y[keep])
    assert clf.coef_.shape == (2, 4)
    assert_array_equal(clf.classes_, [0, 1])


# ----------------------------------------------------------- class_weight


def test_class_weight_dict(std_iris):
    X, y, _ = std_iris
    params = dict(max_iter=10, tol=None)
    plain = make(**params).fit(X, y)
    ones = make(class_weight={0: 1.0, 1: 1.0}, **params).fit(X, y)  # 2 is 1 unnamed
    assert_array_equal(ones.coef_, plain.coef_)
    heavy = make(class_weight={2: 20.0}, **params).fit(X, y)
    assert not np.array_equal(heavy.coef_, plain.coef_)
    # Weighting class 2 heavily predicts it more often.
    assert (heavy.predict(X) == 2).sum() > (plain.predict(X) == 2).sum()


def test_balanced_on_balanced_data_changes_nothing(std_iris):
    """Iris has 50 rows per class: "balanced" gives every class weight 1."""
    X, y, _ = std_iris
    params = dict(max_iter=10, tol=None)
    assert_array_equal(
        make(class_weight="balanced", **params).fit(X, y).coef_, make(**params).fit(X, y).coef_
    )


def test_class_weight_dict_with_string_labels(std_iris):
    X, _, names = std_iris
    clf = make(class_weight={"virginica": 3.0}, max_iter=5, tol=None).fit(X, names)
    assert clf.score(X, names) > 0.5


# ---------------------------------------------------------- early stopping


def test_early_stopping_records_validation_losses(std_iris):
    X, y, _ = std_iris
    clf = make(
        early_stopping=True, validation_fraction=0.2, n_iter_no_change=3, max_iter=500,
        optimizer="adam", learning_rate=0.05,
    ).fit(X, y)
    assert 0 < clf.n_iter_ < 500
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    assert len(clf.loss_curve_) == clf.n_iter_
    assert all(np.isfinite(clf.validation_loss_curve_))


def test_no_validation_losses_without_early_stopping(std_iris):
    X, y, _ = std_iris
    clf = make(max_iter=4, tol=None).fit(X, y)
    assert clf.validation_loss_curve_ == []
    assert len(clf.loss_curve_) == clf.n_iter_ == 4
    assert clf.t_ == 4 * math.ceil(len(X) / 32)


def test_tol_stops_before_max_iter(std_iris):
    X, y, _ = std_iris
    clf = make(tol=1e-2, max_iter=1000, learning_rate=0.1).fit(X, y)
    assert clf.n_iter_ < 1000


# ------------------------------------------------------------- prediction


@pytest.mark.parametrize("loss", ["softmax", "logistic"])
def test_probabilities(std_iris, loss):
    X, y, _ = std_iris
    clf = make(loss=loss, max_iter=20, tol=None).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-6)
    assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


def test_multiclass_decision_function(std_iris):
    X, y, _ = std_iris
    clf = make(max_iter=10, tol=None).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (len(X), 3)
    assert_allclose(scores, X @ clf.coef_.T + clf.intercept_, rtol=1e-5, atol=1e-5)
    assert_array_equal(clf.classes_[scores.argmax(axis=1)], clf.predict(X))


@pytest.mark.parametrize("loss", ["softmax", "logistic", "svm"])
def test_binary_decision_function(binary, loss):
    """Two classes: one score per row, > 0 predicting ``classes_[1]``."""
    X, y = binary
    clf = make(loss=loss, max_iter=20, tol=None).fit(X, y)
    assert list(clf.classes_) == ["no", "yes"]
    scores = clf.decision_function(X)
    assert scores.shape == (len(X),)
    assert_array_equal(np.where(scores > 0, "yes", "no"), clf.predict(X))
    assert clf.score(X, y) > 0.9
    if loss == "logistic":
        assert clf.coef_.shape == (1, 5)
        proba = clf.predict_proba(X)
        assert proba.shape == (len(X), 2)
        assert_allclose(proba[:, 1], 1 / (1 + np.exp(-scores)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", ["svm", "squared_hinge", "mse"])
def test_no_probabilities_without_a_probabilistic_loss(std_iris, loss):
    X, y, _ = std_iris
    clf = make(loss=loss, max_iter=3, tol=None).fit(X, y)
    assert not hasattr(clf, "predict_proba")
    assert not hasattr(clf, "predict_log_proba")
    with pytest.raises(AttributeError):
        clf.predict_proba(X)
    assert clf.predict(X).shape == (len(X),)


def test_float64_and_fortran_input_predict_the_same(std_iris):
    X, y, _ = std_iris
    clf = make(max_iter=5, tol=None).fit(X, y)
    assert_array_equal(clf.predict(np.asfortranarray(X.astype(np.float64))), clf.predict(X))
    again = make(max_iter=5, tol=None).fit(np.asfortranarray(X.astype(np.float64)), y)
    assert_array_equal(again.coef_, clf.coef_)


# ------------------------------------------------------- pickle and clone


def test_pickle_round_trip(std_iris):
    X, y, names = std_iris
    clf = make(max_iter=5, tol=None).fit(X, names)
    back = pickle.loads(pickle.dumps(clf))
    assert_array_equal(back.coef_, clf.coef_)
    assert_array_equal(back.predict(X), clf.predict(X))
    assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.get_params() == clf.get_params()
    # An unpickled estimator also goes on training.
    back.partial_fit(X, names)


def test_clone_is_unfitted_with_the_same_parameters():
    clf = make(alpha=0.5, solver="lbfgs", class_weight={1: 2.0})
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()


# --------------------------------------------------------------- verbose


@pytest.mark.parametrize("solver, unit", [("sgd", "Epoch"), ("lbfgs", "Iteration")])
def test_verbose_prints_a_line_per_epoch(std_iris, capsys, solver, unit):
    X, y, _ = std_iris
    params = dict(max_iter=7, tol=None) if solver == "sgd" else dict(solver="lbfgs", max_iter=7)
    clf = make(verbose=1, **params).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(clf.loss_curve_) > 0
    for number, line in enumerate(lines, start=1):
        assert line.startswith(f"-- {unit} {number}: loss "), line


def test_silent_by_default(std_iris, capsys):
    X, y, _ = std_iris
    make(max_iter=3, tol=None).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
