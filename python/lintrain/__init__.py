"""lintrain: linear classifiers (scores = X·W + b) trained by a Rust engine
on the GPU (wgpu: Vulkan, Metal, DX12) or the CPU, as a scikit-learn
estimator.

>>> from lintrain import LinearClassifier
>>> clf = LinearClassifier(loss="softmax", solver="lbfgs", C=1.0).fit(X, y)  # doctest: +SKIP
>>> clf.predict_proba(X[:3])  # doctest: +SKIP

``LinearClassifier.save(path)`` and ``lintrain.load(path)`` read and write
the model file of the ``lintrain`` command line (safetensors).
"""

import atexit as _atexit
import os as _os
import shutil as _shutil
import tempfile as _tempfile


def _give_driver_a_runtime_dir():
    # Mesa's Vulkan drivers print "error: XDG_RUNTIME_DIR is invalid or not
    # set in the environment." on a headless machine, which reads as
    # lintrain failing; compute needs no display. As the command line
    # does, point the variable at a private directory (mode 0700) when it
    # is unset or not a directory, before any device is opened.
    current = _os.environ.get("XDG_RUNTIME_DIR")
    if not current or not _os.path.isdir(current):
        runtime = _tempfile.mkdtemp(prefix="lintrain-runtime-")
        _os.environ["XDG_RUNTIME_DIR"] = runtime
        _atexit.register(_shutil.rmtree, runtime, True)


_give_driver_a_runtime_dir()

from ._classifier import LinearClassifier, load  # noqa: E402
from ._lintrain import __version__

__all__ = ["LinearClassifier", "load", "__version__"]
