"""A float32 C-contiguous ``X`` is trained on in place, not copied.

Each case runs in a fresh interpreter, which builds ``X`` (300,000 × 256,
about 300 MB as float32), notes its peak resident memory
(``ru_maxrss``), fits one epoch on the CPU and notes the peak again. In
place, the fit raises the peak by much less than ``X``; a copy would raise
it by at least ``X``'s float32 size.

The float64 control proves the measurement can see a copy: such an ``X``
must be converted to float32 once, and its fit raises the peak by about
the float32 size.
"""

import json
import subprocess
import sys

import pytest

ROWS, FEATURES = 300_000, 256
FLOAT32_BYTES = ROWS * FEATURES * 4

SCRIPT = """
import json, resource, sys
import numpy as np
from lintrain import LinearClassifier

dtype, early_stopping = sys.argv[1], sys.argv[2] == "1"
rows, features = int(sys.argv[3]), int(sys.argv[4])

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

def estimator():
    return LinearClassifier(
        max_iter=1, tol=None, batch_size=512, random_state=0, device="cpu",
        early_stopping=early_stopping, validation_fraction=0.2,
    )

rng = np.random.default_rng(0)
# One small fit first, so that what a first fit sets up once (the engine's
# threads, lazily loaded code) is in the baseline.
estimator().fit(rng.standard_normal((1000, features), dtype=np.float32),
                rng.integers(0, 10, 1000))
# Drawn in the target dtype directly: no temporary larger than X.
X = rng.standard_normal((rows, features), dtype=np.dtype(dtype))
y = rng.integers(0, 10, rows)
assert X.flags.c_contiguous
before = peak()
clf = estimator().fit(X, y)
after = peak()
assert clf.n_iter_ == 1
print(json.dumps(dict(before=before, after=after, nbytes=X.nbytes)))
"""


def peak_increase(dtype, early_stopping=False):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, dtype, "1" if early_stopping else "0",
         str(ROWS), str(FEATURES)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["after"] - result["before"], result


@pytest.mark.parametrize("early_stopping", [False, True], ids=["plain", "early_stopping"])
def test_float32_input_is_not_copied(early_stopping):
    """Also with ``early_stopping`` (a validation split of the rows)."""
    increase, result = peak_increase("float32", early_stopping)
    assert result["nbytes"] == FLOAT32_BYTES
    assert increase < 0.25 * FLOAT32_BYTES, (
        f"the fit raised the peak by {increase / 2**20:.0f} MiB for an X of "
        f"{FLOAT32_BYTES / 2**20:.0f} MiB: X was copied ({result})"
    )


def test_float64_input_is_converted_once():
    """The control: the measurement sees a copy when there is one, and
    there is only one."""
    increase, result = peak_increase("float64")
    assert increase >= 0.8 * FLOAT32_BYTES, (
        f"a float64 X raised the peak by only {increase / 2**20:.0f} MiB, "
        f"less than its float32 copy of {FLOAT32_BYTES / 2**20:.0f} MiB ({result})"
    )
    assert increase < 1.25 * FLOAT32_BYTES, (
        f"a float64 X raised the peak by {increase / 2**20:.0f} MiB: more than "
        f"one float32 copy of {FLOAT32_BYTES / 2**20:.0f} MiB ({result})"
    )
