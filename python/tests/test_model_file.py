"""The model file is the command line's, both ways:

- a model the estimator saves is read by ``lintrain predict`` and
  ``lintrain eval``, which predict and score as the estimator does;
- a model ``lintrain train`` saved (string labels, standardized features)
  loads with ``lintrain.load`` and predicts as ``lintrain predict`` does;
- save → load gives back the same coefficients, classes (integers stay
  integers), feature names and predictions; and saving is atomic: a save
  that fails leaves an existing file as it was.
"""

import io
import json
import os

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.metrics import log_loss

import lintrain
from lintrain import LinearClassifier


def cli_predictions(cli, model, data, *extra):
    """``lintrain predict``'s output lines."""
    out = cli("predict", "--model", model, "--data", data, "-q", *extra).stdout
    return out.strip("\n").split("\n")


def cli_probabilities(cli, model, data):
    lines = cli_predictions(cli, model, data, "--proba")
    header = lines[0].split(",")
    proba = np.loadtxt(io.StringIO("\n".join(lines[1:])), delimiter=",", dtype=np.float32, ndmin=2)
    return header, proba


@pytest.fixture
def fitted(iris_npy):
    x_path, y_path, X, y = iris_npy
    clf = LinearClassifier(
        solver="lbfgs", C=1.0, random_state=0, device="cpu"
    ).fit(X, y)
    return clf, X, y


def test_command_line_predicts_with_a_saved_model(cli, fitted, iris_npy, tmp_path):
    clf, X, y = fitted
    x_path, y_path = iris_npy[:2]
    model = tmp_path / "py.safetensors"
    clf.save(model)
    names = cli_predictions(cli, model, x_path)
    assert names == [str(c) for c in clf.predict(X)]
    header, proba = cli_probabilities(cli, model, x_path)
    assert header == ["0", "1", "2"]
    assert_array_equal(proba, clf.predict_proba(X))


def test_command_line_scores_a_saved_model(cli, fitted, iris_npy, tmp_path):
    clf, X, y = fitted
    x_path, y_path = iris_npy[:2]
    model = tmp_path / "py.safetensors"
    clf.save(model)
    report = json.loads(
        cli("eval", "--model", model, "--data", x_path, "--labels", y_path, "--json").stdout
    )
    assert report["n"] == len(y)
    assert report["classes"] == 3
    assert report["accuracy"] == pytest.approx(clf.score(X, y), abs=1e-12)
    assert report["loss"] == pytest.approx(log_loss(y, clf.predict_proba(X)), rel=1e-4)


@pytest.fixture
def cli_iris_model(cli, tmp_path, iris_csv):
    """``lintrain train`` on the bundled CSV: string labels, standardized."""
    model = tmp_path / "cli.safetensors"
    cli(
        "train", "--data", iris_csv, "--backend", "cpu", "--seed", 1,
        "--epochs", 30, "--save", model, "-q",
    )
    return model


# The model has feature names; X here is an array, as `lintrain predict`
# reads the CSV's columns by position after checking its header.
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_load_a_command_line_model(cli, cli_iris_model, iris, iris_csv):
    X, _, names = iris
    clf = lintrain.load(cli_iris_model)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4
    assert list(clf.feature_names_in_) == [
        "sepal_length", "sepal_width", "petal_length", "petal_width"
    ]
    assert clf.loss == "softmax"
    # It standardizes X with the stored standardizer, as `predict` does.
    predicted = cli_predictions(cli, cli_iris_model, iris_csv)
    assert list(clf.predict(X)) == predicted
    header, proba = cli_probabilities(cli, cli_iris_model, iris_csv)
    assert header == list(clf.classes_)
    assert_array_equal(clf.predict_proba(X), proba)
    assert clf.score(X, names) > 0.8


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_command_line_model_round_trips_with_its_standardizer(
    cli, cli_iris_model, iris, iris_csv, tmp_path
):
    """load → save → ``lintrain predict``: the standardizer is kept."""
    X, _, _ = iris
    again = tmp_path / "again.safetensors"
    lintrain.load(cli_iris_model).save(again)
    assert cli_predictions(cli, again, iris_csv) == cli_predictions(cli, cli_iris_model, iris_csv)
    assert_array_equal(lintrain.load(again).predict_proba(X), lintrain.load(cli_iris_model).predict_proba(X))


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1, 2]),
        np.array([-1, 3, 10]),
        np.array(["setosa", "versicolor", "virginica"]),
    ],
    ids=["ids", "negative-integers", "strings"],
)
def test_save_load_round_trip(iris, tmp_path, labels):
    X, ids, _ = iris
    y = labels[ids]
    clf = LinearClassifier(max_iter=5, tol=None, random_state=0, device="cpu").fit(X, y)
    path = tmp_path / "m.safetensors"
    clf.save(path)
    back = lintrain.load(path)
    assert_array_equal(back.coef_, clf.coef_)
    assert_array_equal(back.intercept_, clf.intercept_)
    assert_array_equal(back.classes_, clf.classes_)
    assert back.classes_.dtype.kind == clf.classes_.dtype.kind
    assert_array_equal(back.predict(X), clf.predict(X))
    assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(back.decision_function(X), clf.decision_function(X))
    assert not hasattr(back, "feature_names_in_")


def test_round_trip_of_a_binary_logistic_model_and_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        rng.standard_normal((200, 3)).astype(np.float32), columns=["a", "b", "c"]
    )
    y = np.where(X["a"] + X["b"] > 0, 5, 7)
    clf = LinearClassifier(loss="logistic", max_iter=5, tol=None, random_state=0, device="cpu")
    clf.fit(X, y)
    path = tmp_path / "m.safetensors"
    clf.save(path)
    back = lintrain.load(path)
    assert back.loss == "logistic"
    assert back.coef_.shape == (1, 3)
    assert_array_equal(back.coef_, clf.coef_)
    assert_array_equal(back.classes_, [5, 7])
    assert list(back.feature_names_in_) == ["a", "b", "c"]
    assert_array_equal(back.predict(X), clf.predict(X))
    assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_saving_is_reproducible(fitted, tmp_path):
    """The same model gives a byte-identical file."""
    clf, _, _ = fitted
    clf.save(tmp_path / "a.safetensors")
    clf.save(tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_save_into_a_missing_directory_is_an_os_error(fitted, tmp_path):
    clf, _, _ = fitted
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError):
        clf.save(out / "no" / "such" / "dir" / "m.safetensors")
    assert os.listdir(out) == []


def test_a_failed_save_leaves_the_existing_file(fitted, tmp_path):
    """A model that cannot be saved (a non-finite weight) is refused, and
    the file it would have replaced is byte for byte as it was, with no
    temporary file left beside it."""
    clf, _, _ = fitted
    out = tmp_path / "out"
    out.mkdir()
    path = out / "m.safetensors"
    clf.save(path)
    before = path.read_bytes()
    clf.coef_ = clf.coef_.copy()
    clf.coef_[0, 0] = np.nan
    with pytest.raises(ValueError):
        clf.save(path)
    assert path.read_bytes() == before
    assert os.listdir(out) == ["m.safetensors"]
