"""lintrain: linear classifiers (scores = X·W + b) trained by a Rust engine
on the GPU (wgpu: Vulkan, Metal, DX12) or the CPU, as a scikit-learn
estimator.

>>> from lintrain import LinearClassifier
>>> clf = LinearClassifier(loss="softmax", solver="lbfgs", C=1.0).fit(X, y)  # doctest: +SKIP
>>> clf.predict_proba(X[:3])  # doctest: +SKIP

``LinearClassifier.save(path)`` and ``lintrain.load(path)`` read and write
the model file of the ``lintrain`` command line (safetensors).
"""

from ._classifier import LinearClassifier, load
from ._lintrain import __version__

__all__ = ["LinearClassifier", "load", "__version__"]
