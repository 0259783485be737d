"""scikit-learn model selection over 8 regularization strengths, timed: the peer for
`lintrain sweep` (issue 15), on exactly the rows lintrain trains on.

What it does
------------
1. Makes two datasets (or loads them with --data DIR) and writes each as
   DIR/<name>/x.npy (float32, C order, N x D) and DIR/<name>/y.npy (int64), plus the
   hold-out split it used (train_idx.npy, val_idx.npy) and meta.json:
     cifar  CS231n/CIFAR-10 shape from ../shared/peers/peer_data.make_data(): its 49000
            training + 1000 validation rows concatenated, 50000 x 3073 (3072 features
            N(0,1)*0.1 plus a bias column of ones), 10 classes, seed 231.
     probe  a CLIP-style linear-probe shape, 50000 x 768, 100 classes, seed 768:
            z ~ N(0, I_768) (float32); teacher W ~ N(0, 1) (768 x 100), no bias;
            scores = z @ W + PROBE_NOISE * std(z @ W) * N(0, 1), PROBE_NOISE = 0.2;
            y = argmax(scores); x = z / ||z||_2 (rows L2-normalized; the label does not
            change, as argmax(z W) is invariant to a positive row scale). The noiseless
            teacher agrees with y on ~75 % of rows; classes hold ~250-750 rows each.
2. Times scikit-learn's model selection over 8 log-spaced strengths on one hold-out
   split: StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=0), the same
   "seeded, stratified 20 % hold-out" idea as lintrain's --val-fraction 0.2 (same sizes
   per class up to rounding; NOT the same rows: lintrain draws its split with ChaCha8,
   see caveats). GridSearchCV gets it as cv=[(train_idx, val_idx)] (a PredefinedSplit
   would be equivalent), refit=False, scoring="accuracy", so the timing is the 8 fits
   and their scoring on the hold-out, nothing else. Every estimator is
   Pipeline([("scale", StandardScaler()), ("clf", ...)]): lintrain standardizes by
   default with the moments of the training rows, and the pipeline fits the scaler on
   the training part of the split only, as lintrain does.
     sgd    GridSearchCV(SGDClassifier(loss="log_loss", penalty="l2",
            learning_rate="constant", eta0=LR/BATCH, max_iter=EPOCHS, tol=None,
            shuffle=True, random_state=0), {"alpha": ALPHAS}); EPOCHS = 3 by default
            (one fit is 10-30 s here: 40000 rows x 3 epochs of per-sample updates, one-vs-rest)
     lbfgs  GridSearchCV(LogisticRegression(solver="lbfgs", max_iter, tol), {"C": CS})
     lrcv   LogisticRegressionCV(Cs=CS, cv=[(train_idx, val_idx)], solver="lbfgs",
            l1_ratios=(0,), refit=False): one regularization path, each fit warm-started
            from the previous one; CS is passed in ascending order (LogisticRegressionCV does
            not sort it), so the path runs from the strongest regularization to the weakest,
            as glmnet and lintrain sweep --solver lbfgs do. With tol=1e-4 (scikit-learn's
            default) a warm start may already satisfy the tolerance: 0 iterations for that C.
            A pipeline would fit its scaler on all rows before the CV split, so here the
            scaler is fit on the training rows by hand, and that is inside the timing.
   The same strengths in both grids: ALPHAS = logspace(-6, -1, 8) (SGDClassifier's
   alpha; lintrain --alpha has the same meaning, lambda = alpha/2 on sum W^2) and
   CS = 1 / (ALPHAS * n_train) (LogisticRegression's C; the same lambda for the same
   n_train; lintrain's --C converts with its own n_train).
   Beside each 8-setting search it times ONE fit of the same pipeline on the same
   training rows plus its scoring on the hold-out, at the best setting of the search,
   so "8 settings / 1 setting" can be quoted beside lintrain's. For SGD every setting
   costs the same; for L-BFGS the cost depends on C (weak regularization takes more
   iterations), so the JSON also has each setting's fit time (per_setting[].fit_s, from
   cv_results_; with n_jobs=2 these are wall times inside the busy workers) and the
   table prints their mean beside the single fit.
3. Parallelism, per record: `cores` is how many of the machine's cores the measurement
   may use.
     cores=1: GridSearchCV(n_jobs=1), SGDClassifier(n_jobs=1), BLAS (OpenBLAS/OpenMP)
              limited to 1 thread with threadpoolctl.
     cores=2: GridSearchCV(n_jobs=2) runs 2 loky worker processes; joblib caps each
              worker's BLAS/OpenMP at cpu_count // n_jobs = 1 thread; the estimator
              inside has n_jobs=1. The single fit uses SGDClassifier(n_jobs=2) (its
              one-vs-rest classes on 2 threads) or, for lbfgs, 2 BLAS threads.
              LogisticRegressionCV parallelizes over folds only, so with one split its
              cores=2 run is n_jobs=1 with 2 BLAS threads.
     The loky workers are started (and sklearn imported in them) before the timed
     n_jobs=2 searches; copying X to the workers (joblib memmaps it) is timed.
4. Prints the environment, one JSON line per measurement (appended to --json), and the
   lintrain commands that train on the same .npy files.

Usage (venv: /tmp/peers-build/venv, numpy 2.4.6, scikit-learn 1.9.1):
  python sklearn_sweep.py --quick                         # smoke test, ~1 minute
  python sklearn_sweep.py --json results.jsonl            # full run, 11-17 minutes on 2 cores
  python sklearn_sweep.py --data /tmp/peers-build/sweep-data --json r.jsonl   # reuse the files
Nothing else should run meanwhile: every measurement is a single run, no repeats.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# peer_data.py: the team's shared peers (../shared/peers beside the repository).
for candidate in ("/work/shared/peers", os.path.join(HERE, "..", "..", "..", "shared", "peers")):
    sys.path.insert(0, candidate)
import peer_data  # noqa: E402

import joblib  # noqa: E402
import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, SGDClassifier  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

PROBE_SEED = 768
PROBE_N, PROBE_D, PROBE_C, PROBE_NOISE = 50000, 768, 100, 0.2
VAL_FRACTION = 0.2
SPLIT_SEED = 0
ALPHAS = np.logspace(-6, -1, 8)
BATCH = {"cifar": 200, "probe": 256}  # lintrain batch sizes (issue 15 / lintrain bench)
LR = 0.1                              # lintrain --lr (its default); sklearn eta0 = LR / BATCH
CORES = os.cpu_count() or 2


# ----------------------------------------------------------------------------- data
def make_cifar(quick):
    if quick:
        xtr, ytr, xva, yva = peer_data.make_data(n_train=4000, n_val=1000)
    else:
        xtr, ytr, xva, yva = peer_data.make_data()
    x = np.ascontiguousarray(np.concatenate([xtr, xva]), dtype=np.float32)
    y = np.concatenate([ytr, yva]).astype(np.int64)
    meta = dict(source="peer_data.make_data() train+val rows concatenated", seed=peer_data.SEED,
                noise=peer_data.NOISE, features="N(0,1)*0.1 plus a bias column of ones")
    return x, y, meta


def make_probe(quick):
    n = 5000 if quick else PROBE_N
    rng = np.random.default_rng(PROBE_SEED)
    z = rng.standard_normal((n, PROBE_D), dtype=np.float32)
    w = rng.standard_normal((PROBE_D, PROBE_C), dtype=np.float32)
    s = z @ w
    s += np.float32(PROBE_NOISE * s.std()) * rng.standard_normal(s.shape, dtype=np.float32)
    y = s.argmax(axis=1).astype(np.int64)
    x = np.ascontiguousarray(z / np.linalg.norm(z, axis=1, keepdims=True), dtype=np.float32)
    meta = dict(source="z ~ N(0,I); y = argmax(z @ W + noise*std*N(0,1)), W ~ N(0,1) (D x C), no bias; "
                       "x = z / ||z|| (rows L2-normalized)",
                seed=PROBE_SEED, noise=PROBE_NOISE)
    return x, y, meta


MAKERS = {"cifar": make_cifar, "probe": make_probe}


def split(y):
    sss = StratifiedShuffleSplit(n_splits=1, test_size=VAL_FRACTION, random_state=SPLIT_SEED)
    tr, va = next(sss.split(np.zeros(len(y)), y))
    return np.sort(tr), np.sort(va)


def get_data(name, args):
    """Returns (dir, x, y, train_idx, val_idx, meta); writes the files unless --data."""
    if args.data:
        d = os.path.join(args.data, name)
        x = np.load(os.path.join(d, "x.npy"), mmap_mode=None)
        y = np.load(os.path.join(d, "y.npy"))
        with open(os.path.join(d, "meta.json")) as f:
            meta = json.load(f)
        tr, va = split(y)
        return d, x, y, tr, va, meta
    d = os.path.join(args.out, name)
    os.makedirs(d, exist_ok=True)
    x, y, meta = MAKERS[name](args.quick)
    tr, va = split(y)
    meta.update(name=name, n=int(x.shape[0]), d=int(x.shape[1]), c=int(y.max() + 1),
                quick=bool(args.quick), dtype="float32", labels="int64",
                class_counts_min_max=[int(np.bincount(y).min()), int(np.bincount(y).max())],
                split=f"StratifiedShuffleSplit(n_splits=1, test_size={VAL_FRACTION}, "
                      f"random_state={SPLIT_SEED}); indices in train_idx.npy / val_idx.npy")
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    np.save(os.path.join(d, "train_idx.npy"), tr.astype(np.int64))
    np.save(os.path.join(d, "val_idx.npy"), va.astype(np.int64))
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return d, x, y, tr, va, meta


# ----------------------------------------------------------------------------- env
def environment():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    pools = [{k: p.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "architecture")}
             for p in threadpoolctl.threadpool_info()]
    env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                          "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return dict(cpu=cpu, cores=CORES, python=platform.python_version(), numpy=np.__version__,
                sklearn=sklearn.__version__, joblib=joblib.__version__,
                threadpoolctl=threadpoolctl.__version__, threadpools=pools, thread_env=env,
                loadavg=load)


def _warm_worker():
    import sklearn.linear_model  # noqa: F401
    import threadpoolctl as t
    return [p.get("num_threads") for p in t.threadpool_info()]


# ----------------------------------------------------------------------------- estimators
def sgd_pipe(eta0, epochs, n_jobs=1, alpha=1e-4):
    return Pipeline([("scale", StandardScaler()),
                     ("clf", SGDClassifier(loss="log_loss", penalty="l2", alpha=alpha,
                                           learning_rate="constant", eta0=eta0, max_iter=epochs,
                                           tol=None, shuffle=True, random_state=0, n_jobs=n_jobs))])


def lbfgs_pipe(max_iter, tol, c=1.0):
    return Pipeline([("scale", StandardScaler()),
                     ("clf", LogisticRegression(solver="lbfgs", C=c, max_iter=max_iter, tol=tol))])


RECORDS = []
SHORT = ("tool", "estimator", "dataset", "settings", "search", "n_jobs", "cores", "seconds", "best_params",
         "best_val_acc")


def emit(rec, args):
    """Prints the key fields as one JSON line; appends the full record (grid, per-setting scores and fit
    times, environment) to --json."""
    rec = dict(rec, loadavg_1m=os.getloadavg()[0], when=time.strftime("%Y-%m-%dT%H:%M:%S"))
    RECORDS.append(rec)
    print(json.dumps({k: rec[k] for k in SHORT if k in rec}), flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(rec) + "\n")


def print_table():
    print("\n| dataset | estimator | cores | 1 setting (s) | 8 settings (s) | 8 / 1 | mean fit in the grid (s) "
          "| search | best | val acc |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    singles = {(r["dataset"], r["estimator"].split("(")[0], r["cores"]): r for r in RECORDS if r["settings"] == 1}
    for r in RECORDS:
        if r["settings"] == 1:
            continue
        kind = r["estimator"].split("(")[0]
        one = singles.get((r["dataset"], "LogisticRegression" if kind == "LogisticRegressionCV" else kind,
                           r["cores"]))
        t1 = f"{one['seconds']:.2f}" if one else "-"
        ratio = f"{r['seconds'] / one['seconds']:.1f}x" if one else "-"
        (k, v), = r["best_params"].items()
        fits = [p["fit_s"] for p in r.get("per_setting", []) if "fit_s" in p]
        mean_fit = f"{sum(fits) / len(fits):.2f}" if fits else "-"
        print(f"| {r['dataset']} | {kind} | {r['cores']} | {t1} | {r['seconds']:.2f} | {ratio} | {mean_fit} | {r['search']} "
              f"| {k}={v:.3g} | {r['best_val_acc']:.4f} |")


def grid_record(gs, key):
    res = gs.cv_results_
    i = int(np.argmax(res["mean_test_score"]))
    return dict(best_params={key: float(res[f"param_clf__{key}"][i])},
                best_val_acc=float(res["mean_test_score"][i]),
                per_setting=[dict({key: float(v)}, val_acc=float(a), fit_s=float(ft), score_s=float(st))
                             for v, a, ft, st in zip(res[f"param_clf__{key}"], res["mean_test_score"],
                                                     res["mean_fit_time"], res["mean_score_time"])])


def time_grid(pipe, key, values, x, y, cv, n_jobs):
    gs = GridSearchCV(pipe, {f"clf__{key}": list(values)}, cv=cv, scoring="accuracy", refit=False,
                      n_jobs=n_jobs, error_score="raise")
    if n_jobs > 1:  # (re)start the loky workers untimed: they exit after 300 s idle
        Parallel(n_jobs=n_jobs)(delayed(_warm_worker)() for _ in range(2 * n_jobs))
    with threadpoolctl.threadpool_limits(limits=1):  # n_jobs=1: one core; n_jobs=2: workers cap themselves
        t = time.perf_counter()
        gs.fit(x, y)
        dt = time.perf_counter() - t
    return dt, grid_record(gs, key)


def time_single(pipe, x, y, tr, va, blas_threads):
    with threadpoolctl.threadpool_limits(limits=blas_threads):
        t = time.perf_counter()
        pipe.fit(x[tr], y[tr])
        acc = float(pipe.score(x[va], y[va]))
        dt = time.perf_counter() - t
    return dt, acc


def clf_iters(pipe):
    n = getattr(pipe.named_steps["clf"], "n_iter_", None)
    return None if n is None else np.asarray(n).ravel().tolist()


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="where to write the datasets "
                    "[default: /tmp/peers-build/sweep-data, -quick with --quick]")
    ap.add_argument("--data", default=None, help="load DIR/cifar and DIR/probe instead of making them")
    ap.add_argument("--json", default=None, help="append one JSON line per measurement to this file")
    ap.add_argument("--quick", action="store_true", help="smoke test: 5000 rows, 1 epoch, 20 L-BFGS iterations")
    ap.add_argument("--datasets", nargs="+", default=["cifar", "probe"], choices=["cifar", "probe"])
    ap.add_argument("--estimators", nargs="*", default=["sgd", "lbfgs", "lrcv"], choices=["sgd", "lbfgs", "lrcv"])
    ap.add_argument("--cores", nargs="+", type=int, default=[1, 2], help="n_jobs / BLAS threads settings")
    ap.add_argument("--epochs", type=int, default=None, help="SGD epochs (max_iter) [default: 3, quick 1]")
    ap.add_argument("--lbfgs-max-iter", type=int, default=None, help="[default: 100, quick 20]")
    ap.add_argument("--lbfgs-tol", type=float, default=1e-4)
    ap.add_argument("--lintrain", default=None, help="lintrain binary for the load check "
                    "[default: /work/target-release/release/lintrain or /work/main/target/debug/lintrain]")
    ap.add_argument("--no-lintrain-check", action="store_true")
    args = ap.parse_args()
    if args.out is None:
        args.out = "/tmp/peers-build/sweep-data" + ("-quick" if args.quick else "")
    epochs = args.epochs or (1 if args.quick else 3)
    max_iter = args.lbfgs_max_iter or (20 if args.quick else 100)
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)

    env = environment()
    print("# environment:", json.dumps(env), flush=True)
    print("# threads: cores=1 -> GridSearchCV/SGDClassifier n_jobs=1 and threadpool_limits(1); "
          "cores=2 -> GridSearchCV n_jobs=2 (loky workers, joblib caps each at "
          f"{CORES}//2 BLAS/OpenMP threads) or a single fit with SGDClassifier(n_jobs=2) / 2 BLAS threads",
          flush=True)
    print("# standardization: yes, Pipeline([StandardScaler(), clf]) fit on each training part "
          "(lintrain's default: moments of the training rows)", flush=True)
    if load_high(env):
        print(f"# WARNING: load average {env['loadavg']} > 2 before the run: timings are noisy", flush=True)

    if 2 in args.cores:
        t = time.perf_counter()
        warm = Parallel(n_jobs=2)(delayed(_warm_worker)() for _ in range(4))
        print(f"# loky workers started and warmed in {time.perf_counter() - t:.2f} s; "
              f"their BLAS/OpenMP thread counts: {warm}", flush=True)

    base = dict(tool="scikit-learn", sklearn=sklearn.__version__, numpy=np.__version__,
                cpu=env["cpu"], quick=bool(args.quick), standardize=True,
                split=f"StratifiedShuffleSplit(1, test_size={VAL_FRACTION}, random_state={SPLIT_SEED})")
    commands = []
    for name in args.datasets:
        t = time.perf_counter()
        ddir, x, y, tr, va, meta = get_data(name, args)
        n, d = x.shape
        c = int(y.max() + 1)
        print(f"# dataset {name}: {n} x {d}, {c} classes, train {len(tr)} / val {len(va)}, "
              f"{'loaded from' if args.data else 'written to'} {ddir} in {time.perf_counter() - t:.1f} s",
              flush=True)
        cv = [(tr, va)]
        alphas = ALPHAS
        cs = 1.0 / (alphas * len(tr))
        eta0 = LR / BATCH[name]
        ds = dict(base, dataset=name, n=int(n), d=int(d), c=c, n_train=int(len(tr)), n_val=int(len(va)),
                  data_dir=ddir)

        if "sgd" in args.estimators:
            est = dict(ds, estimator="SGDClassifier(log_loss, l2, constant eta0, OvR, per-sample)",
                       epochs=epochs, eta0=eta0, grid={"alpha": alphas.tolist()})
            best = None
            for cores in args.cores:
                dt, info = time_grid(sgd_pipe(eta0, epochs), "alpha", alphas, x, y, cv, n_jobs=cores)
                best = info["best_params"]["alpha"]
                emit(dict(est, search="GridSearchCV", settings=len(alphas), n_jobs=cores, cores=cores,
                          seconds=dt, **info), args)
            for cores in args.cores:
                p = sgd_pipe(eta0, epochs, n_jobs=cores, alpha=best)
                dt, acc = time_single(p, x, y, tr, va, blas_threads=cores)
                emit(dict(est, search="single fit", settings=1, n_jobs=cores, cores=cores, seconds=dt,
                          best_params={"alpha": best}, best_val_acc=acc, n_iter=clf_iters(p)), args)

        best_c = None
        if "lbfgs" in args.estimators:
            est = dict(ds, estimator="LogisticRegression(lbfgs, multinomial)", max_iter=max_iter,
                       tol=args.lbfgs_tol, grid={"C": cs.tolist()})
            for cores in args.cores:
                dt, info = time_grid(lbfgs_pipe(max_iter, args.lbfgs_tol), "C", cs, x, y, cv, n_jobs=cores)
                best_c = info["best_params"]["C"]
                emit(dict(est, search="GridSearchCV", settings=len(cs), n_jobs=cores, cores=cores,
                          seconds=dt, **info), args)
            for cores in args.cores:
                p = lbfgs_pipe(max_iter, args.lbfgs_tol, c=best_c)
                dt, acc = time_single(p, x, y, tr, va, blas_threads=cores)
                emit(dict(est, search="single fit", settings=1, n_jobs=1, cores=cores, blas_threads=cores,
                          seconds=dt, best_params={"C": best_c}, best_val_acc=acc, n_iter=clf_iters(p)),
                     args)

        if "lrcv" in args.estimators:
            est = dict(ds, estimator="LogisticRegressionCV(lbfgs, multinomial, warm-started C path)",
                       max_iter=max_iter, tol=args.lbfgs_tol, grid={"Cs": np.sort(cs).tolist()})
            path = np.sort(cs)  # ascending C: from the strongest regularization to the weakest, as glmnet
            for cores in args.cores:
                m = LogisticRegressionCV(Cs=list(path), cv=[(tr, va)], solver="lbfgs", l1_ratios=(0.0,),
                                         scoring="accuracy", max_iter=max_iter, tol=args.lbfgs_tol,
                                         refit=False, n_jobs=1, use_legacy_attributes=False)
                with threadpoolctl.threadpool_limits(limits=cores):
                    t = time.perf_counter()
                    sc = StandardScaler().fit(x[tr])
                    xs = sc.transform(x)
                    m.fit(xs, y)
                    dt = time.perf_counter() - t
                scores = np.asarray(m.scores_).reshape(-1)
                iters = np.asarray(m.n_iter_).reshape(-1).tolist()
                i = int(np.argmax(scores))
                emit(dict(est, search="LogisticRegressionCV", settings=len(cs), n_jobs=1, cores=cores,
                          blas_threads=cores, seconds=dt, best_params={"C": float(m.C_)},
                          best_val_acc=float(scores[i]),
                          per_setting=[{"C": float(cv_), "val_acc": float(a), "n_iter": int(it)}
                                       for cv_, a, it in zip(m.Cs_, scores, iters)]), args)
                del xs

        commands.append((name, ddir, len(tr), alphas, cs, epochs, max_iter, best_c))
        del x

    print_table()
    print_lintrain(commands, args)


def load_high(env):
    return env["loadavg"] is not None and env["loadavg"][0] > 2


def fmt(v):
    return f"{v:.6g}"


def print_lintrain(commands, args):
    print("\n# lintrain commands on the same files (the 8-setting `sweep` is the command issue 15 specifies; "
          "it is not in the current build):")
    for name, ddir, ntr, alphas, cs, epochs, max_iter, best_c in commands:
        data = f"--data {ddir}/x.npy --labels {ddir}/y.npy --val-fraction {VAL_FRACTION} --seed 0"
        sgd = (f"--loss softmax --reg l2 --solver sgd --optimizer sgd --lr {LR} --schedule constant "
               f"--batch-size {BATCH[name]} --epochs {epochs} --backend cpu --json")
        lb = f"--loss softmax --reg l2 --solver lbfgs --max-iter {max_iter} --tol {args.lbfgs_tol} --backend cpu --json"
        alist = ",".join(fmt(a) for a in alphas)
        clist = ",".join(fmt(c) for c in np.sort(cs))  # strongest first, as the path runs
        print(f"## {name}: SGD, 1 setting / 8 settings (alpha = scikit-learn's SGDClassifier alpha, lambda = alpha/2)")
        print(f"lintrain train {data} --alpha {fmt(alphas[len(alphas) // 2])} {sgd}")
        print(f"lintrain sweep {data} --alpha {alist} {sgd}")
        print(f"#   same grid: --alpha 'logspace(-6,-1,8)'")
        print(f"## {name}: L-BFGS, 1 setting / the C path (C = LogisticRegression's C; lintrain converts with its n_train)")
        print(f"lintrain train {data} --C {fmt(best_c if best_c else cs[len(cs) // 2])} {lb}")
        print(f"lintrain sweep {data} --C {clist} {lb}")
    if args.no_lintrain_check:
        return
    binary = args.lintrain or next((b for b in ("/work/target-release/release/lintrain",
                                                "/work/main/target/debug/lintrain") if os.path.exists(b)), None)
    if not binary:
        print("# lintrain load check skipped: no binary")
        return
    for name, ddir, *_ in commands:
        if not args.quick:
            continue  # the load check runs on the quick files only (a full epoch at full size is a benchmark)
        cmd = [binary, "-q", "train", "--data", f"{ddir}/x.npy", "--labels", f"{ddir}/y.npy",
               "--val-fraction", str(VAL_FRACTION), "--alpha", "1e-4", "--loss", "softmax", "--optimizer", "sgd",
               "--lr", str(LR), "--batch-size", str(BATCH[name]), "--epochs", "1", "--backend", "cpu", "--json"]
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t
        summary = r.stdout.strip()[:400] if r.returncode == 0 else r.stderr.strip()[:400]
        print(f"# lintrain load check ({name}, {binary}, 1 epoch): rc={r.returncode} in {dt:.1f} s: {summary}")


if __name__ == "__main__":
    main()
