"""Errors are Python exceptions carrying lintrain's one-line messages:

- bad input (a NaN in X, one class in y) and bad parameters: ``ValueError``,
  naming the row and column, or the parameter;
- a corrupt or missing model file: ``ValueError`` / ``OSError`` whose
  message is the command line's error line for the same file (without its
  ``lintrain: error:`` prefix);
- an adapter that does not exist: ``RuntimeError``, the command line's
  message;
- a run that diverges: ``ValueError``.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lintrain
from lintrain import LinearClassifier

CLI_PREFIX = "lintrain: error: "


def cli_error_line(done):
    """The command line's one error line, without its prefix."""
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if line.startswith(CLI_PREFIX)]
    assert len(lines) == 1, done.stderr
    return lines[0][len(CLI_PREFIX):]


# ------------------------------------------------------------------ input


@pytest.mark.parametrize("value, text", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
@pytest.mark.parametrize("early_stopping", [False, True], ids=["all-rows", "early-stopping"])
def test_non_finite_feature_names_row_and_column(iris, value, text, early_stopping):
    """The message is the library's ("non-finite value NaN in … at row R,
    column C"), with the row and column of X as given."""
    X, y, _ = iris
    X = X.copy()
    X[37, 2] = value
    clf = LinearClassifier(device="cpu", random_state=0, max_iter=2, early_stopping=early_stopping)
    with pytest.raises(ValueError) as raised:
        clf.fit(X, y)
    message = str(raised.value)
    assert re.fullmatch(
        rf"non-finite value {re.escape(text)} in .+ at row 37, column 2", message
    ), message


def test_one_class_is_refused(iris):
    X, _, _ = iris
    with pytest.raises(ValueError, match="class"):
        LinearClassifier(device="cpu").fit(X, np.zeros(len(X), dtype=int))


def test_y_of_another_length_is_refused(iris):
    X, y, _ = iris
    with pytest.raises(ValueError):
        LinearClassifier(device="cpu").fit(X, y[:-1])


def test_predict_on_other_features_is_refused(iris):
    X, y, _ = iris
    clf = LinearClassifier(device="cpu", max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


def test_diverged_run_is_a_value_error(iris):
    X, y, _ = iris
    clf = LinearClassifier(loss="mse", learning_rate=1e30, device="cpu", max_iter=5, tol=None)
    with pytest.raises(ValueError, match="diverged"):
        clf.fit(X, y)
    assert not hasattr(clf, "coef_")


# ------------------------------------------------------------- parameters

BAD_PARAMETERS = [
    ("loss", "nope"),
    ("loss", "hinge"),
    ("penalty", "l3"),
    ("alpha", -1.0),
    ("alpha", float("nan")),
    ("C", 0.0),
    ("C", -2.0),
    ("l1_ratio", 1.5),
    ("solver", "newton-cg"),
    ("optimizer", "lion"),
    ("learning_rate", -1.0),
    ("learning_rate", 0.0),
    ("schedule", "wavy"),
    ("warmup_steps", -1),
    ("batch_size", 0),
    ("batch_size", "half"),
    ("max_iter", 0),
    ("tol", -1e-3),
    ("n_iter_no_change", 0),
    ("class_weight", "unbalanced"),
    ("device", "tpu"),
    ("random_state", -1),
]


@pytest.mark.parametrize(
    "name, value", BAD_PARAMETERS, ids=[f"{n}={v!r}" for n, v in BAD_PARAMETERS]
)
def test_bad_parameter_is_a_value_error_naming_it(iris, name, value):
    X, y, _ = iris
    params = dict(device="cpu", max_iter=2)
    params[name] = value
    clf = LinearClassifier(**params)
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        clf.fit(X, y)


def test_bad_validation_fraction_names_it(iris):
    X, y, _ = iris
    clf = LinearClassifier(device="cpu", early_stopping=True, validation_fraction=1.5)
    with pytest.raises(ValueError, match=r"\bvalidation_fraction\b"):
        clf.fit(X, y)


def test_class_weight_of_an_unknown_label_is_refused(iris):
    X, y, _ = iris
    clf = LinearClassifier(device="cpu", class_weight={0: 1.0, 9: 2.0})
    with pytest.raises(ValueError, match="class_weight"):
        clf.fit(X, y)


def test_early_stopping_with_lbfgs_is_refused(iris):
    X, y, _ = iris
    clf = LinearClassifier(device="cpu", solver="lbfgs", early_stopping=True)
    with pytest.raises(ValueError, match="early_stopping"):
        clf.fit(X, y)


def test_svm_with_lbfgs_is_refused(iris):
    """The hinge is not differentiable at its kink (the command line refuses
    it too)."""
    X, y, _ = iris
    clf = LinearClassifier(loss="svm", device="cpu", solver="lbfgs")
    with pytest.raises(ValueError, match="svm|hinge"):
        clf.fit(X, y)


# ------------------------------------------------------------- model file


@pytest.fixture
def good_model(iris, tmp_path):
    X, y, _ = iris
    path = tmp_path / "good.safetensors"
    LinearClassifier(device="cpu", max_iter=2, tol=None, random_state=0).fit(X, y).save(path)
    return path


def corruptions(good):
    data = good.read_bytes()
    header = int.from_bytes(data[:8], "little")
    return {
        "text": b"this is not a model\n",
        "short": b"\x01\x02",
        "truncated": data[: len(data) // 2],
        "huge-header": (2**40).to_bytes(8, "little") + data[8:],
        "bad-json": data[:8] + b"{" * header + data[8 + header:],
    }


@pytest.mark.parametrize("kind", ["text", "short", "truncated", "huge-header", "bad-json"])
def test_corrupt_model_file_message_is_the_command_lines(cli, good_model, tmp_path, kind, iris_npy):
    path = tmp_path / f"{kind}.safetensors"
    path.write_bytes(corruptions(good_model)[kind])
    with pytest.raises(ValueError) as raised:
        lintrain.load(path)
    x_path, y_path = iris_npy[:2]
    done = cli("eval", "--model", path, "--data", x_path, "--labels", y_path, check=False)
    assert str(raised.value) == cli_error_line(done)


def test_missing_model_file_is_an_os_error_with_the_command_lines_message(cli, tmp_path, iris_npy):
    path = tmp_path / "missing.safetensors"
    with pytest.raises(FileNotFoundError) as raised:
        lintrain.load(path)
    x_path, y_path = iris_npy[:2]
    done = cli("eval", "--model", path, "--data", x_path, "--labels", y_path, check=False)
    assert str(raised.value) == cli_error_line(done)


# ---------------------------------------------------------------- adapter

ADAPTER_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from lintrain import LinearClassifier

    X = np.random.default_rng(0).standard_normal((20, 3), dtype=np.float32)
    y = np.arange(20) % 2
    try:
        LinearClassifier(device=sys.argv[1], max_iter=1).fit(X, y)
    except Exception as error:
        print(json.dumps(dict(type=type(error).__name__, message=str(error))))
    else:
        print(json.dumps(dict(type=None, message=None)))
    """
)


@pytest.mark.parametrize("device", ["software", "gpu"])
def test_unknown_adapter_is_a_runtime_error_with_the_command_lines_message(cli, device):
    env = dict(os.environ, WGPU_ADAPTER_NAME="nope-no-such-adapter")
    done = subprocess.run(
        [sys.executable, "-c", ADAPTER_CHILD, device],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["type"] == "RuntimeError", result
    expected = cli_error_line(
        cli("train", "--backend", device, "--epochs", 1, "-q", check=False,
            env={"WGPU_ADAPTER_NAME": "nope-no-such-adapter"})
    )
    assert result["message"] == expected


@pytest.mark.parametrize("loss", ["svm", "squared_hinge", "logistic", "mse"])
def test_class_weights_of_a_loss_other_than_softmax_are_refused_clearly(iris, loss):
    """The engine weights classes in the softmax loss only: any other loss
    with class_weight is a ValueError saying so (the engine's message),
    not a silently unweighted fit."""
    X, y, _ = iris
    clf = LinearClassifier(loss=loss, device="cpu", class_weight={0: 2.0})
    with pytest.raises(ValueError, match="class weights apply to the softmax loss only"):
        clf.fit(X, y)
