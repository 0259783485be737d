"""``fit`` releases the interpreter lock while the engine trains, so other
Python threads keep running: a pure-Python counter on another thread
advances during a fit at a good share of the rate it reaches when the
interpreter is otherwise idle — whether the fit runs on the main thread
and the counter on a background one, or the other way round. Were the
lock held, the counter would stand still for the whole fit.
"""

import threading
import time

import numpy as np
import pytest

from lintrain import LinearClassifier

# Of the idle counting rate, the share that must be reached during a fit.
# With the lock held it is ~0; with it released, the counter competes only
# for a CPU core with the engine's threads.
MIN_SHARE = 0.1
MIN_FIT_SECONDS = 0.1


@pytest.fixture(scope="module")
def workload():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50_000, 256), dtype=np.float32)
    y = rng.integers(0, 10, 50_000)
    return X, y


def estimator():
    return LinearClassifier(
        max_iter=20, tol=None, batch_size=256, random_state=0, device="cpu"
    )


class Counter:
    """Counts in a pure-Python loop until stopped."""

    def __init__(self):
        self.count = 0
        self.running = True

    def run(self):
        n = 0
        while self.running:
            n += 1
        self.count = n


def idle_rate(seconds=0.5):
    """Counts per second of a background counter while the main thread
    sleeps (which releases the lock)."""
    counter = Counter()
    thread = threading.Thread(target=counter.run)
    start = time.perf_counter()
    thread.start()
    time.sleep(seconds)
    counter.running = False
    thread.join()
    return counter.count / (time.perf_counter() - start)


def test_background_thread_runs_while_main_thread_fits(workload):
    X, y = workload
    rate = idle_rate()
    counter = Counter()
    thread = threading.Thread(target=counter.run)
    thread.start()
    start = time.perf_counter()
    clf = estimator().fit(X, y)
    seconds = time.perf_counter() - start
    counter.running = False
    thread.join()
    assert clf.n_iter_ == 20
    assert seconds >= MIN_FIT_SECONDS, (
        f"the fit took {seconds:.2f} s: too short to tell; make the workload larger"
    )
    share = counter.count / (rate * seconds)
    assert share >= MIN_SHARE, (
        f"the background thread counted {counter.count} in a {seconds:.2f} s fit, "
        f"{share:.1%} of its idle rate of {rate:.3g}/s: the fit holds the lock"
    )


def test_main_thread_runs_while_background_thread_fits(workload):
    X, y = workload
    rate = idle_rate()
    result = {}
    counter = Counter()

    def fit():
        try:
            result["clf"] = estimator().fit(X, y)
        except BaseException as error:  # reported on the main thread
            result["error"] = error
        finally:
            result["done"] = time.perf_counter()
            counter.running = False

    thread = threading.Thread(target=fit)
    start = time.perf_counter()
    thread.start()
    counter.run()
    count = counter.count
    thread.join()
    if "error" in result:
        raise result["error"]
    seconds = result["done"] - start
    assert result["clf"].n_iter_ == 20
    assert seconds >= MIN_FIT_SECONDS, (
        f"the fit took {seconds:.2f} s: too short to tell; make the workload larger"
    )
    share = count / (rate * seconds)
    assert share >= MIN_SHARE, (
        f"the main thread counted {count} during a {seconds:.2f} s fit, "
        f"{share:.1%} of the idle rate of {rate:.3g}/s: the fit holds the lock"
    )
