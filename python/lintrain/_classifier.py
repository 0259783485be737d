"""``LinearClassifier``: scikit-learn's estimator interface over the
lintrain engine (``lintrain._lintrain``, Rust).

The estimator keeps only numpy arrays and plain values, so it pickles,
clones and compares like any scikit-learn estimator; the engine is called
per ``fit``, ``partial_fit`` and prediction.
"""

import numbers
import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _lintrain

# The losses whose scores the model was fitted to give probabilities for.
_PROBABILISTIC_LOSSES = ("softmax", "logistic")

# The estimator's loss names and the model file's (the command line's).
_FILE_LOSS_NAMES = {"squared_hinge": "squared-hinge"}
_PARAMETER_LOSS_NAMES = {"squared-hinge": "squared_hinge"}

# The largest seed drawn from a RandomState (scikit-learn's convention).
_MAX_DRAWN_SEED = np.iinfo(np.int32).max


class LinearClassifier(ClassifierMixin, BaseEstimator):
    """A linear classifier ``scores = X·W + b`` trained by lintrain.

    Parameters follow scikit-learn's names and defaults where they exist:
    ``SGDClassifier``'s for the minibatch solver (``alpha``, ``l1_ratio``,
    ``max_iter``, ``tol``, ``n_iter_no_change``, ``early_stopping``,
    ``validation_fraction``, ``shuffle``) and ``LogisticRegression``'s for
    L-BFGS (``C``, ``max_iter=100``).

    Parameters
    ----------
    loss : {"softmax", "svm", "squared_hinge", "logistic", "mse"}, default="softmax"
        The data loss, a mean over the rows: softmax cross-entropy
        (multinomial logistic regression), the Weston–Watkins multiclass
        hinge with margin 1, its square, binary logistic (one output for
        two classes, one-vs-rest otherwise) or the squared error to the
        one-hot labels.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        scikit-learn's penalty ``R(w)``: ``½‖w‖²``, ``‖w‖₁`` or
        ``r·‖w‖₁ + (1 − r)/2·‖w‖²``; the intercept is never penalized.
    alpha : float, default=1e-4
        ``SGDClassifier``'s strength: the objective is the mean loss plus
        ``alpha·R(w)``.
    C : float or None, default=None
        ``LogisticRegression``'s inverse strength: when set it replaces
        ``alpha``, and the objective is ``C·Σ loss + R(w)`` (``alpha =
        1/(C·n)`` for n training rows).
    l1_ratio : float, default=0.15
        The elastic-net mixing ``r`` in [0, 1].
    solver : {"sgd", "lbfgs"}, default="sgd"
        Minibatch training with ``optimizer`` from small random weights, or
        full-batch L-BFGS (OWL-QN with an L1 part) from zeros, as
        scikit-learn's solvers start, until converged (a
        ``ConvergenceWarning`` when ``max_iter`` ends it first).
    optimizer : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"}, default="adam"
        The minibatch update, with PyTorch's formulas and defaults. Adam
        (``MLPClassifier``'s default) is the default because its steps do
        not scale with the features or the class weights, which the
        estimator takes as given.
    learning_rate : float, default=0.001
        The base learning rate (``MLPClassifier``'s ``learning_rate_init``).
    momentum : float or None, default=None
        μ of "momentum" and "nesterov" (None: 0.9) and "rmsprop" (None: 0).
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's and AdamW's decay rates (``MLPClassifier``'s names).
    epsilon : float or None, default=None
        The optimizer's ε (None: 1e-10 for AdaGrad, 1e-8 otherwise).
    weight_decay : float, default=0.01
        AdamW's decoupled weight decay.
    schedule : {"constant", "step", "exponential", "cosine", "linear", "invsqrt"}, default="constant"
        How the learning rate changes per step: ``lr₀·γ^⌊s/step_size⌋``,
        ``lr₀·γ^s``, cosine or linear to ``min_lr`` over the run, or
        ``lr₀/√(1 + s)`` (the README states each).
    warmup_steps : int, default=0
        Steps of linear warmup from 0.
    step_size, gamma, min_lr : int, float, float, default=100, 0.5, 0.0
        The schedules' parameters, as the command line's ``--step-size``,
        ``--gamma`` and ``--min-lr``.
    batch_size : int or "full", default=32
        Rows per step; "full" is full-batch gradient descent.
    max_iter : int or None, default=None
        Epochs at most (sgd, default 1000) or iterations at most (lbfgs,
        default 100).
    tol : float or None, default=1e-4
        sgd: stop when the training loss (the validation loss with
        ``early_stopping``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; None runs every epoch
        (``SGDClassifier``'s default is 1e-3). lbfgs: stop when
        ``‖gradient‖∞ ≤ tol·max(1, |objective|)`` (``LogisticRegression``'s
        1e-4; None is 1e-4 too). One default for both solvers, the
        tighter one.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified), stop on
        the validation loss, and keep the best epoch's weights.
    validation_fraction : float, default=0.1
        The share held out with ``early_stopping``.
    shuffle : bool, default=True
        Shuffle the rows every epoch (seeded); False visits them in order.
    class_weight : dict, "balanced" or None, default=None
        Softmax class weights: ``{label: weight}`` (1 for a label not
        named) or ``n / (n_classes · count)``.
    warm_start : bool, default=False
        ``fit`` starts from the previous weights instead of afresh.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, the shuffles and the split.
    device : {"auto", "cpu", "gpu", "software"}, default="auto"
        Where to train: "auto" picks a hardware GPU when there is one, else
        the CPU; "software" is the software Vulkan adapter (lavapipe).
    verbose : int, default=0
        Print one line per epoch (iteration) when > 0.

    Attributes
    ----------
    coef_ : ndarray of shape (n_outputs, n_features), float32
        One row per output column: one per class, or one for a two-class
        logistic model (the score of ``classes_[1]``).
    intercept_ : ndarray of shape (n_outputs,), float32
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted, of whatever type ``y`` had.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (a DataFrame).
    n_iter_ : int
        Epochs run (sgd) or L-BFGS iterations.
    loss_curve_ : list of float
        The objective (mean loss plus penalty) after each epoch
        (iteration).
    validation_loss_curve_ : list of float
        The validation loss after each epoch, with ``early_stopping``.
    device_ : str
        The adapter that trained ("cpu" for the CPU backend).
    t_ : int
        Optimizer steps taken, across ``partial_fit`` calls.
    """

    def __init__(
        self,
        loss="softmax",
        *,
        penalty="l2",
        alpha=1e-4,
        C=None,
        l1_ratio=0.15,
        solver="sgd",
        optimizer="adam",
        learning_rate=0.001,
        momentum=None,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=None,
        weight_decay=0.01,
        schedule="constant",
        warmup_steps=0,
        step_size=100,
        gamma=0.5,
        min_lr=0.0,
        batch_size=32,
        max_iter=None,
        tol=1e-4,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        class_weight=None,
        warm_start=False,
        random_state=None,
        device="auto",
        verbose=0,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.C = C
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self.step_size = step_size
        self.gamma = gamma
        self.min_lr = min_lr
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def __sklearn_is_fitted__(self):
        # A model exists once a fit has succeeded or a file was loaded.
        return hasattr(self, "coef_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags

    # ---------------------------------------------------------------- fit

    def fit(self, X, y):
        """Trains on ``X`` (n_samples × n_features) and the labels ``y``.

        A float32 C-contiguous ``X`` is trained on in place; any other is
        converted to one first. The interpreter lock is released while the
        engine trains, and Ctrl-C stops it within one step
        (``KeyboardInterrupt``). A fit that fails or is interrupted leaves
        the estimator as it was: the fitted attributes are set together,
        once the engine has returned. As with scikit-learn's estimators,
        one estimator is not fitted from two threads at once.
        """
        X, y, checked = _checked_for_fit(self, X, y, reset=True)
        check_classification_targets(y)
        classes, y_ids = np.unique(y, return_inverse=True)
        _check_two_classes(classes)
        start, standardizer = None, None
        if self.warm_start and self._continues(classes, X.shape[1]):
            # scikit-learn's warm start: the weights, a fresh optimizer.
            start = self._start(with_optimizer=False)
            standardizer = self._standardizer
        params = self._engine_params(classes)
        result = _lintrain.fit(
            _standardized(X, standardizer),
            y_ids.astype(np.uint32, copy=False),
            [str(c) for c in classes],
            params,
            start,
            None,
            self._progress(),
        )
        self._take(result, classes, checked, standardizer)
        return self

    def _minibatch(self):
        return self.solver == "sgd"

    @available_if(_minibatch)
    def partial_fit(self, X, y, classes=None):
        """One epoch on ``X``, ``y``, continuing from the previous call
        (or ``fit``): the weights, the optimizer's state and its step count
        carry on, and each call's shuffle differs.

        ``classes`` (every label there will be) is required on the first
        call, as in scikit-learn; a batch may hold any of them, even one.
        ``early_stopping`` and ``tol`` do not apply. Only with
        ``solver="sgd"`` (L-BFGS fits the whole training set at once): with
        "lbfgs" the estimator has no ``partial_fit``.
        """
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if self.class_weight == "balanced":
            raise ValueError(
                'class_weight="balanced" is not supported for partial_fit: '
                "the class counts of the whole data are unknown; pass a dict of weights"
            )
        X, y, checked = _checked_for_fit(self, X, y, reset=first)
        check_classification_targets(y)
        if first:
            classes = np.asarray(classes)
            check_classification_targets(classes)
            all_classes = np.unique(classes)
            _check_two_classes(all_classes)
        else:
            all_classes = self.classes_
            if classes is not None and not np.array_equal(np.unique(classes), all_classes):
                raise ValueError(
                    f"`classes={np.unique(classes)!r}` is not the same as on the first "
                    f"call to partial_fit, which was {all_classes!r}"
                )
            if self._fitted_loss() != self.loss:
                raise ValueError(
                    f"loss={self.loss!r} differs from the loss the model was fitted "
                    f"with, {self._fitted_loss()!r}: partial_fit continues that model; "
                    "fit a new one"
                )
        unknown = np.setdiff1d(np.unique(y), all_classes)
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown!r} that are not in classes {all_classes!r}"
            )
        y_ids = np.searchsorted(all_classes, y).astype(np.uint32)
        start, standardizer = None, None
        if not first:
            start = self._start(with_optimizer=True)
            standardizer = self._standardizer
        params = self._engine_params(all_classes)
        params.update(early_stopping=False, tol=None)
        result = _lintrain.fit(
            _standardized(X, standardizer),
            y_ids,
            [str(c) for c in all_classes],
            params,
            start,
            1,
            self._progress(),
        )
        curve = [] if first else list(self.loss_curve_)
        n_iter = 0 if first else self.n_iter_
        self._take(result, all_classes, checked, standardizer)
        self.loss_curve_ = curve + self.loss_curve_
        self.n_iter_ = n_iter + self.n_iter_
        return self

    def _engine_params(self, classes):
        """The parameters as the engine reads them (it checks each value)."""
        class_weight = self.class_weight
        if not (class_weight is None or isinstance(class_weight, (str, dict))):
            raise ValueError(
                f'class_weight must be None, "balanced" or a dict, got {class_weight!r}'
            )
        if isinstance(class_weight, dict):
            unknown = [k for k in class_weight if k not in set(classes.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names labels that are not in the data: {unknown!r}"
                )
            class_weight = [float(class_weight.get(c, 1.0)) for c in classes.tolist()]
        return dict(
            loss=self.loss,
            penalty=self.penalty,
            alpha=self.alpha,
            C=self.C,
            l1_ratio=self.l1_ratio,
            solver=self.solver,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            weight_decay=self.weight_decay,
            schedule=self.schedule,
            warmup_steps=self.warmup_steps,
            step_size=self.step_size,
            gamma=self.gamma,
            min_lr=self.min_lr,
            batch_size=self.batch_size,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            shuffle=self.shuffle,
            class_weight=class_weight,
            seed=self._seed(),
            device=self.device,
        )

    def _seed(self):
        if isinstance(self.random_state, numbers.Integral) and not isinstance(
            self.random_state, bool
        ):
            if not 0 <= self.random_state < 2**64:
                raise ValueError(
                    f"random_state must be in [0, 2**64), got {self.random_state}"
                )
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(_MAX_DRAWN_SEED))

    def _progress(self):
        if not self.verbose:
            return None

        def report(epoch):
            unit = "Iteration" if self.solver == "lbfgs" else "Epoch"
            line = f"-- {unit} {epoch['epoch']}: loss {epoch['train_loss']:.6g}"
            if epoch["val_loss"] is not None:
                line += f", validation loss {epoch['val_loss']:.6g}"
            if self.solver == "lbfgs" and epoch["gradient_max"] is not None:
                line += f", max |gradient| {epoch['gradient_max']:.3g}"
            else:
                line += f", {epoch['samples_per_second']:.4g} samples/s"
            print(line, flush=True)

        return report

    def _continues(self, classes, n_features):
        """Whether the previous fit's model can start this one: the same
        classes, features and loss (so the same outputs)."""
        return (
            hasattr(self, "coef_")
            and np.array_equal(getattr(self, "classes_", None), classes)
            and self.coef_.shape[1] == n_features
            and self._fitted_loss() == self.loss
        )

    def _fitted_loss(self):
        """The loss the fitted model was trained with, as the parameter
        names it."""
        name = self._loss_text.split("(")[0]
        return _PARAMETER_LOSS_NAMES.get(name, name)

    def _take(self, result, classes, checked, standardizer):
        """Sets every fitted attribute from the engine's result at once
        (one dict update), so that no reader sees half of a fit."""
        converged = result["converged"]
        fitted = dict(
            classes_=classes,
            coef_=np.ascontiguousarray(result["weights"].T),
            intercept_=result["bias"],
            n_iter_=int(result["n_iter"]),
            loss_curve_=list(result["loss_curve"]),
            validation_loss_curve_=list(result["validation_loss_curve"]),
            device_=result["backend"],
            t_=int(result["steps_taken"]),
            _epochs_done=int(result["epochs_done"]),
            _optimizer_state=result["optimizer_state"],
            _regularizer=tuple(result["regularizer"]),
            _loss_text=_FILE_LOSS_NAMES.get(self.loss, self.loss),
            _standardizer=standardizer,
        )
        if checked is not None:
            fitted.update(checked)
            if "feature_names_in_" not in checked:
                vars(self).pop("feature_names_in_", None)
        vars(self).update(fitted)
        if converged is False:
            # The command line's warning, with the parameters' names.
            warnings.warn(
                f"L-BFGS did not converge in {fitted['n_iter_']} iterations "
                f"({result['stop_reason']}; ‖g‖∞ = {result['gradient_max']:.3e}, "
                f"objective {result['objective']:.6e}); raise max_iter or tol",
                ConvergenceWarning,
            )

    def _start(self, with_optimizer):
        """Where the engine continues from: the fitted weights, and with
        `with_optimizer` the optimizer's state and position (partial_fit);
        without, a fresh optimizer (warm_start)."""
        return dict(
            weights=self._weights(),
            bias=self._bias(),
            optimizer_state=self._optimizer_state if with_optimizer else None,
            steps_taken=self.t_ if with_optimizer else 0,
            epochs_done=self._epochs_done if with_optimizer else 0,
        )

    def _weights(self):
        """W as the engine stores it: n_features × n_outputs."""
        return np.asarray(self.coef_, dtype=np.float32).T

    def _bias(self):
        return np.ascontiguousarray(self.intercept_, dtype=np.float32)

    def _parts(self):
        mean, std = self._standardizer or (None, None)
        return dict(
            weights=self._weights(),
            bias=self._bias(),
            loss=self._loss_text,
            classes=len(self.classes_),
            mean=mean,
            std=std,
        )

    # ------------------------------------------------------------ predict

    def _checked(self, X):
        check_is_fitted(self)
        return _aligned(
            validate_data(
                self, X, reset=False, dtype=np.float32, order="C", accept_sparse=False
            )
        )

    def decision_function(self, X):
        """Scores: (n_samples,) for two classes (> 0 predicts
        ``classes_[1]``), else (n_samples, n_classes)."""
        scores = _lintrain.scores(self._checked(X), self._parts(), "class_scores")
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        ids = _lintrain.scores(self._checked(X), self._parts(), "predict")
        return self.classes_[ids.astype(np.intp)]

    def _has_probabilities(self):
        # Once fitted, what the model was trained with decides, not a loss
        # set since.
        loss = self._fitted_loss() if hasattr(self, "_loss_text") else self.loss
        return loss in _PROBABILISTIC_LOSSES

    @available_if(_has_probabilities)
    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes): the softmax of the
        scores, or ``[1 − σ(s), σ(s)]`` for a one-output logistic model.
        Only for the softmax and logistic losses."""
        return _lintrain.scores(self._checked(X), self._parts(), "proba")

    @available_if(_has_probabilities)
    def predict_log_proba(self, X):
        """The log of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    # --------------------------------------------------------- model file

    def save(self, path):
        """Writes the model to ``path`` atomically, as the file ``lintrain
        train --save`` writes: the command line's ``eval`` and ``predict``
        read it, and ``lintrain.load`` reads it back."""
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{j}" for j in range(self.n_features_in_)]
        _lintrain.save(
            os.fsdecode(path),
            self._parts(),
            [str(c) for c in self.classes_.tolist()],
            [str(n) for n in names],
            getattr(self, "_regularizer", None),
            _label_type(self.classes_),
        )


def load(path):
    """A fitted ``LinearClassifier`` from a model file written by
    ``LinearClassifier.save`` or ``lintrain train --save``.

    The labels come back of the type they were fitted with (recorded in
    the file); in a file the command line wrote, class names that are all
    integers become integer labels, others stay text. A model the
    command line trained on standardized data keeps its standardizer, and
    predictions standardize ``X`` first as ``lintrain predict`` does.
    """
    path = os.fsdecode(path)
    saved = _lintrain.load(path)
    if saved["classes"] == 0:
        raise ValueError(
            f"{path}: the model was trained on real-valued targets "
            "(a regression), not classes; LinearClassifier cannot load it"
        )
    loss = _PARAMETER_LOSS_NAMES.get(saved["loss_name"], saved["loss_name"])
    clf = LinearClassifier(loss=loss)
    clf.coef_ = np.ascontiguousarray(saved["weights"].T)
    clf.intercept_ = saved["bias"]
    clf.classes_ = _labels(saved["class_names"], saved["class_label_type"])
    clf.n_features_in_ = clf.coef_.shape[1]
    features = saved["feature_names"]
    if features != [f"x{j}" for j in range(clf.n_features_in_)]:
        clf.feature_names_in_ = np.asarray(features, dtype=object)
    clf._loss_text = saved["loss"]
    clf._regularizer = saved["regularizer"]
    if saved["mean"] is not None:
        clf._standardizer = (saved["mean"], saved["std"])
    else:
        clf._standardizer = None
    # A loaded model continues (partial_fit, warm_start) from its weights
    # with a fresh optimizer: the file holds no optimizer state.
    clf.n_iter_ = 0
    clf.loss_curve_ = []
    clf.validation_loss_curve_ = []
    clf.t_ = 0
    clf._epochs_done = 0
    clf._optimizer_state = None
    return clf


def _label_type(classes):
    """The model file's `class_label_type` of labels like `classes`."""
    kind = np.asarray(classes).dtype.kind
    return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(kind, "str")


def _labels(names, label_type):
    """Class names as the labels they were written from (`label_type`, as
    this package records it); a file without one (the command line's)
    gives integers when every name is one, else the names."""
    if label_type == "bool":
        return np.asarray([n == "True" for n in names])
    if label_type == "int":
        return np.asarray([int(n) for n in names])
    if label_type == "float":
        return np.asarray([float(n) for n in names])
    if label_type == "str":
        return np.asarray(names)
    try:
        as_integers = [int(n) for n in names]
    except ValueError:
        return np.asarray(names)
    if [str(v) for v in as_integers] == list(names):
        return np.asarray(as_integers)
    return np.asarray(names)


def _checked_for_fit(estimator, X, y, reset):
    """X and y checked as ``validate_data`` checks them. With ``reset``, the
    attributes it would set (``n_features_in_``, ``feature_names_in_``)
    are returned rather than set: the fit sets them with the model, so
    that a failed or interrupted fit changes nothing. Without, X is
    checked against them (None is returned for them)."""
    target = object.__new__(type(estimator)) if reset else estimator
    X, y = validate_data(
        target,
        X,
        y,
        reset=reset,
        dtype=np.float32,
        order="C",
        accept_sparse=False,
        ensure_all_finite=False,
    )
    return _aligned(X), y, (dict(vars(target)) if reset else None)


def _aligned(X):
    """X itself when its data is aligned for float32 (numpy's own arrays
    always are), else an aligned copy: a view at an odd byte offset, or a
    memmap at one, cannot be read in place."""
    return X if X.flags.aligned else np.require(X, requirements=["C", "A"])


def _standardized(X, standardizer):
    """X as a model with a standardizer (one the command line trained)
    sees it; X itself without one."""
    if standardizer is None:
        return X
    mean, std = standardizer
    return _lintrain.standardize(X, mean, std)


def _check_two_classes(classes):
    if len(classes) < 2:
        raise ValueError(
            "LinearClassifier needs samples of at least 2 classes in the data, "
            f"but the data contains only one class: {classes[0]!r}"
        )
