"""The Python package against the command line and scikit-learn, on the
same rows, in one process run (BENCHMARKS.md, "Python").

1. Minibatch throughput: `LinearClassifier(optimizer="adam")` through
   Python against `lintrain train` on the same .npy, same settings
   (samples/s per epoch, as each reports it), alternating.
2. L-BFGS: `LinearClassifier(solver="lbfgs")` against scikit-learn's
   `LogisticRegression` on the L-BFGS peer's problem, alternating.
3. Peak memory of `fit` on float32 input (no copy) and on float64 (one
   conversion), each in a fresh subprocess.

    python benches/python/measure.py --cli target/release/lintrain --out results.json

Needs the package (`pip install ./python`), numpy and scikit-learn.
"""

import argparse
import contextlib
import io
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def probe(rows, features, classes, seed=0):
    """Seeded Gaussian classes: x = 0.15·μ_y + N(0, 1), float32."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, features), dtype=np.float32)
    y = rng.integers(0, classes, rows)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    X += 0.15 * centers[y]
    return X, y


def python_minibatch(X, y, epochs):
    from lintrain import LinearClassifier

    clf = LinearClassifier(
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=256,
        max_iter=epochs,
        tol=None,
        device="cpu",
        random_state=0,
        verbose=1,
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        clf.fit(X, y)
    rates = [float(m) for m in re.findall(r", ([0-9.e+]+) samples/s", printed.getvalue())]
    return rates


def cli_minibatch(cli, x_path, y_path, rows, epochs):
    done = subprocess.run(
        [
            cli, "train", "--data", x_path, "--labels", y_path, "--no-standardize",
            "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "256",
            "--epochs", str(epochs), "--backend", "cpu", "--seed", "0", "--json",
        ],
        capture_output=True, text=True, check=True,
    )
    report = json.loads(done.stdout)
    # Each epoch's seconds, as the engine times it for both.
    return [rows / e["seconds"] for e in report["history"]]


def objective(X, y, W, b, C):
    """scikit-learn's objective divided by C·n, in f64: the mean softmax
    cross-entropy plus ‖W‖²/(2·C·n)."""
    S = X.astype(np.float64) @ np.asarray(W, np.float64).T + b
    S -= S.max(axis=1, keepdims=True)
    log_p = S - np.log(np.exp(S).sum(axis=1, keepdims=True))
    n = len(y)
    return float(-log_p[np.arange(n), y].mean() + (np.asarray(W, np.float64) ** 2).sum() / (2 * C * n))


def lbfgs_pair(X, y, C, tol):
    from sklearn.linear_model import LogisticRegression

    from lintrain import LinearClassifier

    started = time.perf_counter()
    ours = LinearClassifier(solver="lbfgs", C=C, tol=tol, max_iter=1000, device="cpu").fit(X, y)
    lintrain_seconds = time.perf_counter() - started
    started = time.perf_counter()
    theirs = LogisticRegression(C=C, tol=tol, max_iter=1000).fit(X, y)
    sklearn_seconds = time.perf_counter() - started
    gap = float(np.abs(ours.predict_proba(X) - theirs.predict_proba(X)).max())
    return dict(
        lintrain_objective=objective(X, y, ours.coef_, ours.intercept_, C),
        sklearn_objective=objective(X, y, theirs.coef_, theirs.intercept_, C),
        lintrain_seconds=lintrain_seconds,
        lintrain_iterations=ours.n_iter_,
        sklearn_seconds=sklearn_seconds,
        sklearn_iterations=int(theirs.n_iter_[0]),
        max_probability_difference=gap,
    )


# The child's own high-water mark, VmHWM: unlike ru_maxrss it is not
# inherited from the parent across exec.
PEAK = """
import numpy as np
from lintrain import LinearClassifier
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
rng = np.random.default_rng(0)
X = rng.standard_normal(({rows}, {features}), dtype=np.{dtype})
y = rng.integers(0, 10, {rows})
before = peak()
LinearClassifier(max_iter=1, tol=None, device="cpu", random_state=0).fit(X, y)
print(X.nbytes, before, peak())
"""


def peak_memory(rows, features, dtype):
    done = subprocess.run(
        [sys.executable, "-c", PEAK.format(rows=rows, features=features, dtype=dtype)],
        capture_output=True, text=True, check=True,
    )
    nbytes, before, after = map(int, done.stdout.split())
    return dict(dtype=dtype, x_bytes=nbytes, peak_before=before, peak_growth=after - before)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True, help="the lintrain binary (release)")
    parser.add_argument("--out", required=True, help="JSON file for the records")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    records = dict(python=sys.version.split()[0], numpy=np.__version__)

    X, y = probe(200_000, 768, 10)
    with tempfile.TemporaryDirectory() as tmp:
        x_path, y_path = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(x_path, X)
        np.save(y_path, y)
        python_rates, cli_rates = [], []
        for _ in range(args.repeats):
            python_rates += python_minibatch(X, y, epochs=2)
            cli_rates += cli_minibatch(args.cli, x_path, y_path, len(y), epochs=2)
    records["minibatch"] = dict(
        shape="200000 x 768, 10 classes, adam, batch 256, CPU backend",
        python_samples_per_second=python_rates,
        cli_samples_per_second=cli_rates,
        python_median=statistics.median(python_rates),
        cli_median=statistics.median(cli_rates),
    )
    del X, y

    X, y = probe(20_000, 256, 20, seed=1)
    pairs = [lbfgs_pair(X, y, C=1.0, tol=1e-6) for _ in range(args.repeats)]
    records["lbfgs"] = dict(
        shape="20000 x 256, 20 classes, C=1, tol=1e-6, from zeros",
        runs=pairs,
        lintrain_median_seconds=statistics.median(p["lintrain_seconds"] for p in pairs),
        sklearn_median_seconds=statistics.median(p["sklearn_seconds"] for p in pairs),
    )
    records["peak_memory"] = [
        peak_memory(300_000, 256, "float32"),
        peak_memory(300_000, 256, "float64"),
    ]
    Path(args.out).write_text(json.dumps(records, indent=1) + "\n")
    print(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
