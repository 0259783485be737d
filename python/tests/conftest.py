"""Shared fixtures of the lintrain package's tests.

- ``lintrain_bin``: the command line the tests compare with: ``$LINTRAIN_BIN``,
  else ``<repo>/target/debug/lintrain``; a test that needs it fails (never
  skips) when neither exists.
- ``cli``: runs that command line and returns its completed process; a
  non-zero exit fails the test with the command's stderr, unless
  ``check=False``.
- ``iris_csv``: the path of the bundled Iris CSV.
- ``iris``: the bundled Iris data (``src/data/iris.csv``) as float32
  features, integer class ids (0, 1, 2 in sorted order of the names) and the
  string labels.
- ``iris_npy``: those features and ids written to ``x.npy``/``y.npy`` in the
  test's ``tmp_path``, so that the command line reads the same bits the
  estimator trains on.
"""

import csv
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
IRIS_CSV = REPO / "src" / "data" / "iris.csv"


def find_lintrain_bin():
    """The command line's path, or a clear failure naming where it looked."""
    candidates = []
    if os.environ.get("LINTRAIN_BIN"):
        candidates.append(Path(os.environ["LINTRAIN_BIN"]))
    candidates.append(REPO / "target" / "debug" / "lintrain")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail(
        "the lintrain command line was not found (looked at "
        + ", ".join(str(p) for p in candidates)
        + "): build it with `cargo build --bin lintrain` in "
        + str(REPO)
        + " or set LINTRAIN_BIN to its path",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def lintrain_bin():
    return find_lintrain_bin()


@pytest.fixture(scope="session")
def cli(lintrain_bin):
    """``cli(*args, check=True, env=None)``: runs ``lintrain *args``."""

    def run(*args, check=True, env=None, timeout=300):
        command = [str(lintrain_bin), *map(str, args)]
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        done = subprocess.run(
            command, capture_output=True, text=True, env=full_env, timeout=timeout
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"`{' '.join(command)}` exited {done.returncode}:\n{done.stderr}",
                pytrace=False,
            )
        return done

    return run


def read_iris():
    """(X float32 (150, 4), class ids int64 (150,), string labels (150,))."""
    with open(IRIS_CSV, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    assert header[-1] == "species"
    X = np.array([[float(v) for v in r[:-1]] for r in body], dtype=np.float32)
    names = np.array([r[-1] for r in body])
    classes, ids = np.unique(names, return_inverse=True)
    assert len(classes) == 3
    return X, ids.astype(np.int64), names


@pytest.fixture(scope="session")
def iris_csv():
    """The bundled Iris CSV (header, four features, string labels last)."""
    return IRIS_CSV


@pytest.fixture(scope="session")
def iris():
    X, ids, names = read_iris()
    return X, ids, names


@pytest.fixture
def iris_npy(tmp_path, iris):
    """(x.npy path, y.npy path, X, y) of Iris with integer labels."""
    X, y, _ = iris
    x_path, y_path = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x_path, X)
    np.save(y_path, y)
    return x_path, y_path, X, y
