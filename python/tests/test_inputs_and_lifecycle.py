"""Inputs and sequences of calls that a review of the package found
mishandled: each test failed before its fix.

- an unaligned float32 array (a view at an odd byte offset, a memmap at
  one) trains and predicts from an aligned copy instead of panicking;
- `save` refuses to replace what is not a regular file (a FIFO);
- labels come back from a model file with the type they were fitted with;
- a loaded model continues with `partial_fit` and `warm_start`;
- `warm_start` after the loss changed starts afresh; `partial_fit` refuses;
- `predict_proba` follows the loss the model was fitted with;
- L-BFGS stopped by `max_iter` warns (ConvergenceWarning) and starts from
  zeros, so its result does not depend on the seed;
- parameters of the wrong kind (a list of class weights, `True` as a
  count) are refused;
- a failed fit on another estimator state leaves the fitted one whole.
"""

import os
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import lintrain
from lintrain import LinearClassifier


def blobs(rows=120, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(rows) % classes
    centers = rng.normal(scale=3.0, size=(classes, features))
    X = (centers[y] + rng.normal(size=(rows, features))).astype(np.float32)
    return X, y


def unaligned(X):
    """X's values in a float32 array that starts one byte into a buffer."""
    buffer = bytearray(X.nbytes + 1)
    view = np.frombuffer(buffer, np.float32, offset=1, count=X.size).reshape(X.shape)
    view[...] = X
    assert not view.flags.aligned
    return view


def test_an_unaligned_array_trains_and_predicts_like_an_aligned_one():
    X, y = blobs()
    kwargs = dict(device="cpu", random_state=0, max_iter=5, tol=None)
    aligned = LinearClassifier(**kwargs).fit(X, y)
    shifted = LinearClassifier(**kwargs).fit(unaligned(X), y)
    np.testing.assert_array_equal(shifted.coef_, aligned.coef_)
    np.testing.assert_array_equal(
        aligned.decision_function(unaligned(X)), aligned.decision_function(X)
    )
    np.testing.assert_array_equal(aligned.predict(unaligned(X)), aligned.predict(X))
    batch = LinearClassifier(**kwargs)
    batch.partial_fit(unaligned(X), y, classes=np.unique(y))
    batch.partial_fit(unaligned(X), y)


def test_an_unaligned_memmap_trains(tmp_path):
    X, y = blobs()
    path = tmp_path / "x.bin"
    with open(path, "wb") as f:
        f.write(b"\0")
        f.write(X.tobytes())
    mapped = np.memmap(path, np.float32, "r", offset=1, shape=X.shape)
    clf = LinearClassifier(device="cpu", random_state=0, max_iter=5, tol=None)
    reference = LinearClassifier(device="cpu", random_state=0, max_iter=5, tol=None)
    np.testing.assert_array_equal(clf.fit(mapped, y).coef_, reference.fit(X, y).coef_)


def test_save_refuses_to_replace_a_fifo(tmp_path):
    X, y = blobs()
    clf = LinearClassifier(device="cpu", max_iter=2).fit(X, y)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        clf.save(fifo)
    assert not fifo.is_file() and fifo.exists(), "the FIFO was replaced"
    missing = tmp_path / "missing" / "m.safetensors"
    with pytest.raises(OSError) as error:
        clf.save(missing)
    assert " at path " not in str(error.value), "names the temporary file"


@pytest.mark.parametrize(
    "labels",
    [
        np.array([False, True]),
        np.array(["1", "2"]),
        np.array([-1.0, 2.0]),
        np.array([-3, 7]),
        np.array(["cat", "dog"], dtype=object),
    ],
    ids=["bool", "digit-strings", "float", "int", "object-str"],
)
def test_labels_come_back_from_a_model_file_with_their_type(tmp_path, labels):
    X, ids = blobs(classes=2)
    y = labels[ids]
    clf = LinearClassifier(device="cpu", random_state=0, max_iter=5).fit(X, y)
    clf.save(tmp_path / "m.safetensors")
    loaded = lintrain.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype.kind == np.asarray(clf.classes_.tolist()).dtype.kind
    assert loaded.score(X, y) == clf.score(X, y)


def test_a_loaded_model_continues_with_partial_fit_and_warm_start(tmp_path):
    X, y = blobs()
    clf = LinearClassifier(device="cpu", random_state=0, max_iter=3, tol=None).fit(X, y)
    clf.save(tmp_path / "m.safetensors")
    loaded = lintrain.load(tmp_path / "m.safetensors")
    loaded.partial_fit(X, y)
    assert loaded.t_ > 0 and loaded.n_iter_ == 1
    warm = lintrain.load(tmp_path / "m.safetensors").set_params(
        warm_start=True, max_iter=1, tol=None, random_state=0
    )
    warm.fit(X, y)
    # Started from the saved weights, one epoch moved them, not far.
    assert not np.array_equal(warm.coef_, clf.coef_)
    fresh = LinearClassifier(device="cpu", random_state=0, max_iter=1, tol=None).fit(X, y)
    assert np.abs(warm.coef_ - clf.coef_).max() < np.abs(fresh.coef_ - clf.coef_).max()


def test_warm_start_after_the_loss_changed_starts_afresh_and_partial_fit_refuses():
    X, y = blobs(classes=2)
    clf = LinearClassifier(device="cpu", random_state=0, max_iter=3).fit(X, y)
    assert clf.coef_.shape == (2, 4)
    clf.set_params(loss="logistic", warm_start=True).fit(X, y)
    assert clf.coef_.shape == (1, 4), "a two-class logistic model has one output"
    clf.set_params(loss="softmax")
    with pytest.raises(ValueError, match="differs from the loss the model was fitted"):
        clf.partial_fit(X, y)


def test_predict_proba_follows_the_fitted_loss_not_a_later_parameter():
    X, y = blobs()
    svm = LinearClassifier(loss="svm", device="cpu", max_iter=3).fit(X, y)
    svm.set_params(loss="softmax")
    assert not hasattr(svm, "predict_proba"), "probabilities of hinge scores"
    softmax = LinearClassifier(device="cpu", max_iter=3).fit(X, y)
    softmax.set_params(loss="svm")
    assert softmax.predict_proba(X).shape == (len(X), 3)


def test_lbfgs_stopped_by_max_iter_warns_and_does_not_depend_on_the_seed():
    X, y = blobs()
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        LinearClassifier(solver="lbfgs", max_iter=2, device="cpu").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        a = LinearClassifier(solver="lbfgs", C=1.0, device="cpu", random_state=1).fit(X, y)
        b = LinearClassifier(solver="lbfgs", C=1.0, device="cpu", random_state=2).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize(
    "params",
    [
        dict(class_weight=[1.0, 2.0, 3.0]),
        dict(batch_size=True),
        dict(max_iter=True),
        dict(n_iter_no_change=False),
    ],
    ids=["class_weight-list", "batch_size-True", "max_iter-True", "n_iter_no_change-False"],
)
def test_parameters_of_the_wrong_kind_are_refused(params):
    X, y = blobs()
    (name,) = params
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        LinearClassifier(device="cpu", **params).fit(X, y)


def test_partial_fit_refuses_nan_among_the_classes():
    X, y = blobs()
    with pytest.raises(ValueError):
        LinearClassifier(device="cpu").partial_fit(X, y, classes=[0, 1, 2, np.nan])


def test_a_failed_fit_changes_no_attribute():
    X, y = blobs()
    clf = LinearClassifier(device="cpu", random_state=0, max_iter=3).fit(X, y)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(clf).items()}
    bad = X[:, :2].copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite value NaN"):
        clf.fit(bad, y)
    assert vars(clf).keys() == before.keys()
    assert clf.n_features_in_ == 4
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(vars(clf)[key], value, err_msg=key)
        else:
            assert vars(clf)[key] == value, key


def test_importing_gives_the_driver_a_runtime_directory():
    # Set at import when missing, so that Mesa's drivers do not print
    # "XDG_RUNTIME_DIR is invalid or not set" on every fit.
    assert os.path.isdir(os.environ["XDG_RUNTIME_DIR"])
