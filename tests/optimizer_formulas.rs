//! Every optimizer's fused update, run for five steps on both backends,
//! against values computed here in plain f64 from `torch.optim`'s formulas.
//!
//! The expectations never call into lintrain: each case is written once as a
//! test-local [`Ref`] (f64 hyperparameters), turned into an [`Optimizer`] only
//! to drive the backend, and the reference update below re-derives every
//! step from PyTorch's documented algorithms. The gradient differs per step,
//! the learning rate changes per step (a schedule), and the last two entries
//! of the 7-long parameter vector are bias: no regularizer gradient and no
//! AdamW decay there.

mod common;

use common::assert_close_f64;
use lintrain::{Backend, CpuBackend, Optimizer, Regularizer, UpdateStep};

const LEN: usize = 7;
const WEIGHT_LEN: usize = 5;
const STEPS: usize = 5;
/// A schedule that goes down and back up, so a backend that ignored the
/// step's learning rate (or cached the first one) would drift.
const LRS: [f32; STEPS] = [0.1, 0.05, 0.08, 0.02, 0.06];
/// Per-step gradient magnitudes: large first, then small, so that AMSGrad's
/// running maximum of v differs from v itself within five steps.
const GRAD_SCALES: [f32; STEPS] = [3.0, 1.0, 0.02, 0.5, 0.01];

const RTOL: f64 = 1e-4;
const ATOL: f64 = 1e-6;

/// An optimizer as the reference computes it, with f64 hyperparameters.
#[derive(Clone, Copy, Debug)]
enum Ref {
    Sgd,
    Momentum {
        momentum: f64,
        dampening: f64,
    },
    Nesterov {
        momentum: f64,
    },
    Adagrad {
        lr_decay: f64,
        eps: f64,
    },
    RmsProp {
        alpha: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
    },
    /// `weight_decay: Some(_)` is AdamW.
    Adam {
        beta1: f64,
        beta2: f64,
        eps: f64,
        amsgrad: bool,
        weight_decay: Option<f64>,
    },
}

/// A regularizer as the reference computes it.
#[derive(Clone, Copy, Debug)]
enum RefReg {
    None,
    L2(f64),
    L1(f64),
    /// (strength λ, l1_ratio r)
    Elastic(f64, f64),
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl RefReg {
    /// ∂R/∂w for one weight entry.
    fn grad(self, w: f64) -> f64 {
        match self {
            RefReg::None => 0.0,
            RefReg::L2(l) => 2.0 * l * w,
            RefReg::L1(l) => l * sign(w),
            RefReg::Elastic(l, r) => l * (r * sign(w) + 2.0 * (1.0 - r) * w),
        }
    }

    fn to_lintrain(self) -> Regularizer {
        match self {
            RefReg::None => Regularizer::None,
            RefReg::L2(l) => Regularizer::L2 { strength: l as f32 },
            RefReg::L1(l) => Regularizer::L1 { strength: l as f32 },
            RefReg::Elastic(l, r) => Regularizer::ElasticNet {
                strength: l as f32,
                l1_ratio: r as f32,
            },
        }
    }
}

impl Ref {
    fn to_lintrain(self) -> Optimizer {
        match self {
            Ref::Sgd => Optimizer::Sgd,
            Ref::Momentum {
                momentum,
                dampening,
            } => Optimizer::Momentum {
                momentum: momentum as f32,
                dampening: dampening as f32,
            },
            Ref::Nesterov { momentum } => Optimizer::Nesterov {
                momentum: momentum as f32,
            },
            Ref::Adagrad { lr_decay, eps } => Optimizer::Adagrad {
                lr_decay: lr_decay as f32,
                eps: eps as f32,
            },
            Ref::RmsProp {
                alpha,
                eps,
                momentum,
                centered,
            } => Optimizer::RmsProp {
                alpha: alpha as f32,
                eps: eps as f32,
                momentum: momentum as f32,
                centered,
            },
            Ref::Adam {
                beta1,
                beta2,
                eps,
                amsgrad,
                weight_decay: None,
            } => Optimizer::Adam {
                beta1: beta1 as f32,
                beta2: beta2 as f32,
                eps: eps as f32,
                amsgrad,
            },
            Ref::Adam {
                beta1,
                beta2,
                eps,
                amsgrad,
                weight_decay: Some(wd),
            } => Optimizer::AdamW {
                beta1: beta1 as f32,
                beta2: beta2 as f32,
                eps: eps as f32,
                weight_decay: wd as f32,
                amsgrad,
            },
        }
    }
}

/// The parameters after each of the steps, from torch.optim's formulas in
/// f64 (t starts at 1; `lr` is that step's scheduled rate).
fn reference(
    opt: Ref,
    reg: RefReg,
    lrs: &[f32],
    weight_len: usize,
    params0: &[f32],
    grads: &[Vec<f32>],
) -> Vec<Vec<f64>> {
    let n = params0.len();
    let mut p: Vec<f64> = params0.iter().map(|&x| x as f64).collect();
    // Optimizer state, all starting at zero.
    let mut buf = vec![0.0f64; n]; // momentum buffers (SGD, RMSprop)
    let mut sum = vec![0.0f64; n]; // AdaGrad accumulator
    let mut m = vec![0.0f64; n]; // Adam first moment
    let mut v = vec![0.0f64; n]; // RMSprop square_avg / Adam second moment
    let mut g_avg = vec![0.0f64; n]; // centered RMSprop
    let mut v_max = vec![0.0f64; n]; // AMSGrad
    let mut out = Vec::with_capacity(lrs.len());
    for (step, (&lr, grad)) in lrs.iter().zip(grads).enumerate() {
        let t = (step + 1) as i32;
        let lr = lr as f64;
        for i in 0..n {
            let is_weight = i < weight_len;
            let mut g = grad[i] as f64;
            if is_weight {
                g += reg.grad(p[i]);
            }
            match opt {
                Ref::Sgd => p[i] -= lr * g,
                Ref::Momentum {
                    momentum,
                    dampening,
                } => {
                    buf[i] = if t == 1 {
                        g
                    } else {
                        momentum * buf[i] + (1.0 - dampening) * g
                    };
                    p[i] -= lr * buf[i];
                }
                Ref::Nesterov { momentum } => {
                    buf[i] = if t == 1 { g } else { momentum * buf[i] + g };
                    p[i] -= lr * (g + momentum * buf[i]);
                }
                Ref::Adagrad { lr_decay, eps } => {
                    let clr = lr / (1.0 + (t - 1) as f64 * lr_decay);
                    sum[i] += g * g;
                    p[i] -= clr * g / (sum[i].sqrt() + eps);
                }
                Ref::RmsProp {
                    alpha,
                    eps,
                    momentum,
                    centered,
                } => {
                    v[i] = alpha * v[i] + (1.0 - alpha) * g * g;
                    let avg = if centered {
                        g_avg[i] = alpha * g_avg[i] + (1.0 - alpha) * g;
                        (v[i] - g_avg[i] * g_avg[i]).sqrt() + eps
                    } else {
                        v[i].sqrt() + eps
                    };
                    if momentum > 0.0 {
                        buf[i] = momentum * buf[i] + g / avg;
                        p[i] -= lr * buf[i];
                    } else {
                        p[i] -= lr * g / avg;
                    }
                }
                Ref::Adam {
                    beta1,
                    beta2,
                    eps,
                    amsgrad,
                    weight_decay,
                } => {
                    if let Some(wd) = weight_decay
                        && is_weight
                    {
                        p[i] *= 1.0 - lr * wd;
                    }
                    m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                    v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                    let v_used = if amsgrad {
                        v_max[i] = v_max[i].max(v[i]);
                        v_max[i]
                    } else {
                        v[i]
                    };
                    let step_size = lr / (1.0 - beta1.powi(t));
                    let denom = v_used.sqrt() / (1.0 - beta2.powi(t)).sqrt() + eps;
                    p[i] -= step_size * m[i] / denom;
                }
            }
        }
        out.push(p.clone());
    }
    out
}

/// Uploads `params0` and a zero state of 3·len, and for t = 1..=steps writes
/// that step's gradient and runs one fused update with that step's learning
/// rate, reading the parameters back after each step.
fn run_steps<B: Backend>(
    backend: &B,
    optimizer: Optimizer,
    regularizer: Regularizer,
    lrs: &[f32],
    weight_len: usize,
    params0: &[f32],
    grads: &[Vec<f32>],
) -> Vec<Vec<f32>> {
    let len = params0.len();
    let mut params = backend.upload(params0).expect("upload params");
    let mut state = backend.zeros(3 * len).expect("zero state");
    let mut grad_buf = backend.zeros(len).expect("zero grads");
    let mut out = Vec::with_capacity(lrs.len());
    for (step, (&learning_rate, grad)) in lrs.iter().zip(grads).enumerate() {
        backend.write(&mut grad_buf, grad).expect("write grads");
        let update = UpdateStep {
            optimizer,
            regularizer,
            learning_rate,
            step: (step + 1) as u64,
            weight_len,
        };
        backend
            .update(&mut params, &grad_buf, &mut state, &update)
            .expect("update");
        out.push(backend.read(&params).expect("read params"));
    }
    out
}

/// The same steps recorded back to back with no read or write in between
/// (one gradient buffer per step, uploaded up front), as a training epoch
/// does on the GPU: only the final parameters are read.
fn run_steps_unread<B: Backend>(
    backend: &B,
    optimizer: Optimizer,
    regularizer: Regularizer,
    lrs: &[f32],
    weight_len: usize,
    params0: &[f32],
    grads: &[Vec<f32>],
) -> Vec<f32> {
    let len = params0.len();
    let grad_bufs: Vec<B::Buffer> = grads
        .iter()
        .map(|g| backend.upload(g).expect("upload grads"))
        .collect();
    let mut params = backend.upload(params0).expect("upload params");
    let mut state = backend.zeros(3 * len).expect("zero state");
    for (step, (&learning_rate, grad_buf)) in lrs.iter().zip(&grad_bufs).enumerate() {
        let update = UpdateStep {
            optimizer,
            regularizer,
            learning_rate,
            step: (step + 1) as u64,
            weight_len,
        };
        backend
            .update(&mut params, grad_buf, &mut state, &update)
            .expect("update");
    }
    backend.read(&params).expect("read params")
}

/// Seeded starting parameters and per-step gradients. One weight starts at
/// exactly 0 (sign(0) = 0 for L1); the bias entries are large so that a
/// regularizer or decay wrongly applied to them shows.
fn inputs(seed: u64) -> (Vec<f32>, Vec<Vec<f32>>) {
    let mut rng = common::rng(seed);
    let mut params0 = common::random_vec(&mut rng, LEN, 1.0);
    params0[2] = 0.0;
    params0[WEIGHT_LEN] = 2.0;
    params0[WEIGHT_LEN + 1] = -1.5;
    let grads = GRAD_SCALES
        .iter()
        .map(|&scale| common::random_vec(&mut rng, LEN, scale))
        .collect();
    (params0, grads)
}

fn check_one<B: Backend>(backend: &B, label: &str, name: &str, opt: Ref, reg: RefReg, seed: u64) {
    let (params0, grads) = inputs(seed);
    let expected = reference(opt, reg, &LRS, WEIGHT_LEN, &params0, &grads);
    let (optimizer, regularizer) = (opt.to_lintrain(), reg.to_lintrain());
    let actual = run_steps(
        backend,
        optimizer,
        regularizer,
        &LRS,
        WEIGHT_LEN,
        &params0,
        &grads,
    );
    assert_eq!(actual.len(), STEPS);
    for (t, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert_close_f64(
            &format!(
                "{label}: {name} ({opt:?}, {reg:?}), params after step {}",
                t + 1
            ),
            a,
            e,
            RTOL,
            ATOL,
        );
    }
    let unread = run_steps_unread(
        backend,
        optimizer,
        regularizer,
        &LRS,
        WEIGHT_LEN,
        &params0,
        &grads,
    );
    assert_close_f64(
        &format!(
            "{label}: {name} ({opt:?}, {reg:?}), params after {STEPS} steps recorded without reads"
        ),
        &unread,
        &expected[STEPS - 1],
        RTOL,
        ATOL,
    );
}

/// Runs every case on the CPU backend, and on the GPU backend when there is one.
fn check_cases(cases: &[(&str, Ref, RefReg)]) {
    let cpu = CpuBackend::new();
    for (i, &(name, opt, reg)) in cases.iter().enumerate() {
        check_one(&cpu, "cpu", name, opt, reg, 100 + i as u64);
    }
    if let Some(gpu) = common::gpu() {
        for (i, &(name, opt, reg)) in cases.iter().enumerate() {
            check_one(&gpu, "gpu", name, opt, reg, 100 + i as u64);
        }
    }
}

const ADAM: Ref = Ref::Adam {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    amsgrad: false,
    weight_decay: None,
};
const ADAM_AMSGRAD: Ref = Ref::Adam {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    amsgrad: true,
    weight_decay: None,
};
const ADAMW: Ref = Ref::Adam {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    amsgrad: false,
    weight_decay: Some(1e-2),
};
const ADAMW_AMSGRAD: Ref = Ref::Adam {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    amsgrad: true,
    weight_decay: Some(1e-2),
};

/// β₂ = 0.9 so that v falls within five steps once the gradients shrink
/// and AMSGrad's running maximum visibly changes the result (with 0.999, v
/// barely moves in five steps).
const ADAM_AMSGRAD_FAST: Ref = Ref::Adam {
    beta1: 0.9,
    beta2: 0.9,
    eps: 1e-8,
    amsgrad: true,
    weight_decay: None,
};
const ADAMW_AMSGRAD_FAST: Ref = Ref::Adam {
    beta1: 0.9,
    beta2: 0.9,
    eps: 1e-8,
    amsgrad: true,
    weight_decay: Some(1e-2),
};

fn rmsprop(momentum: f64, centered: bool) -> Ref {
    Ref::RmsProp {
        alpha: 0.99,
        eps: 1e-8,
        momentum,
        centered,
    }
}

#[test]
fn sgd_momentum_and_nesterov_match_torch() {
    let momentum = |momentum, dampening| Ref::Momentum {
        momentum,
        dampening,
    };
    check_cases(&[
        ("sgd", Ref::Sgd, RefReg::None),
        ("sgd + l2", Ref::Sgd, RefReg::L2(0.05)),
        ("momentum", momentum(0.9, 0.0), RefReg::None),
        ("momentum dampened", momentum(0.9, 0.3), RefReg::None),
        (
            "momentum dampened + l1",
            momentum(0.9, 0.3),
            RefReg::L1(0.02),
        ),
        ("nesterov", Ref::Nesterov { momentum: 0.9 }, RefReg::None),
        (
            "nesterov + elastic",
            Ref::Nesterov { momentum: 0.9 },
            RefReg::Elastic(0.05, 0.3),
        ),
    ]);
}

#[test]
fn adagrad_matches_torch() {
    let adagrad = |lr_decay| Ref::Adagrad {
        lr_decay,
        eps: 1e-10,
    };
    check_cases(&[
        ("adagrad", adagrad(0.0), RefReg::None),
        ("adagrad lr_decay", adagrad(0.1), RefReg::None),
        ("adagrad lr_decay + l2", adagrad(0.1), RefReg::L2(0.05)),
    ]);
}

#[test]
fn rmsprop_matches_torch() {
    check_cases(&[
        ("rmsprop", rmsprop(0.0, false), RefReg::None),
        ("rmsprop centered", rmsprop(0.0, true), RefReg::None),
        ("rmsprop momentum", rmsprop(0.5, false), RefReg::None),
        (
            "rmsprop centered momentum",
            rmsprop(0.5, true),
            RefReg::None,
        ),
        (
            "rmsprop centered momentum + elastic",
            rmsprop(0.5, true),
            RefReg::Elastic(0.05, 0.6),
        ),
    ]);
}

#[test]
fn adam_matches_torch() {
    check_cases(&[
        ("adam", ADAM, RefReg::None),
        ("adam amsgrad", ADAM_AMSGRAD, RefReg::None),
        ("adam amsgrad beta2=0.9", ADAM_AMSGRAD_FAST, RefReg::None),
        ("adam + l2", ADAM, RefReg::L2(0.05)),
    ]);
}

#[test]
fn adamw_matches_torch() {
    check_cases(&[
        ("adamw", ADAMW, RefReg::None),
        ("adamw amsgrad", ADAMW_AMSGRAD, RefReg::None),
        ("adamw amsgrad beta2=0.9", ADAMW_AMSGRAD_FAST, RefReg::None),
        ("adamw + l1", ADAMW, RefReg::L1(0.02)),
    ]);
}

/// The inputs are chosen so that the features under test are visible at the
/// comparison tolerance: otherwise an implementation that ignored them
/// would pass.
#[test]
fn reference_cases_are_discriminating() {
    let (params0, grads) = inputs(7);
    let run = |opt, reg, lrs: &[f32]| reference(opt, reg, lrs, WEIGHT_LEN, &params0, &grads);
    let differs = |a: &[Vec<f64>], b: &[Vec<f64>]| {
        a[STEPS - 1]
            .iter()
            .zip(&b[STEPS - 1])
            .any(|(x, y)| (x - y).abs() > 10.0 * (ATOL + RTOL * y.abs()))
    };
    // AMSGrad's max(v̂, v) is exercised (with β₂ = 0.9).
    let adam_fast = Ref::Adam {
        beta1: 0.9,
        beta2: 0.9,
        eps: 1e-8,
        amsgrad: false,
        weight_decay: None,
    };
    assert!(differs(
        &run(adam_fast, RefReg::None, &LRS),
        &run(ADAM_AMSGRAD_FAST, RefReg::None, &LRS)
    ));
    // The schedule matters: a constant first rate gives other values.
    assert!(differs(
        &run(ADAM, RefReg::None, &LRS),
        &run(ADAM, RefReg::None, &[LRS[0]; STEPS])
    ));
    // AdamW's decay and the regularizers move the bias if wrongly applied:
    // the bias entries (large) would change by more than the tolerance.
    let decay_on_bias = 2.0 * LRS.iter().map(|&lr| lr as f64 * 1e-2).sum::<f64>();
    assert!(decay_on_bias > 10.0 * (ATOL + RTOL * 2.0));
    // Dampening and centering change the result.
    assert!(differs(
        &run(
            Ref::Momentum {
                momentum: 0.9,
                dampening: 0.0
            },
            RefReg::None,
            &LRS
        ),
        &run(
            Ref::Momentum {
                momentum: 0.9,
                dampening: 0.3
            },
            RefReg::None,
            &LRS
        ),
    ));
    assert!(differs(
        &run(rmsprop(0.0, false), RefReg::None, &LRS),
        &run(rmsprop(0.0, true), RefReg::None, &LRS)
    ));
    // AdaGrad's lr_decay changes the result.
    assert!(differs(
        &run(
            Ref::Adagrad {
                lr_decay: 0.0,
                eps: 1e-10
            },
            RefReg::None,
            &LRS
        ),
        &run(
            Ref::Adagrad {
                lr_decay: 0.1,
                eps: 1e-10
            },
            RefReg::None,
            &LRS
        ),
    ));
}

#[test]
fn default_constructors_have_torch_defaults() {
    assert_eq!(
        Optimizer::adam(),
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
        }
    );
    assert_eq!(
        Optimizer::adamw(),
        Optimizer::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    );
    assert_eq!(
        Optimizer::rmsprop(),
        Optimizer::RmsProp {
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
        }
    );
    assert_eq!(
        Optimizer::adagrad(),
        Optimizer::Adagrad {
            lr_decay: 0.0,
            eps: 1e-10,
        }
    );
    assert_eq!(
        Optimizer::momentum(),
        Optimizer::Momentum {
            momentum: 0.9,
            dampening: 0.0,
        }
    );
    assert_eq!(Optimizer::nesterov(), Optimizer::Nesterov { momentum: 0.9 });

    assert_eq!(Optimizer::adam().default_learning_rate(), 1e-3);
    assert_eq!(Optimizer::adamw().default_learning_rate(), 1e-3);
    assert_eq!(Optimizer::adagrad().default_learning_rate(), 1e-2);
    assert_eq!(Optimizer::rmsprop().default_learning_rate(), 1e-2);
    assert_eq!(Optimizer::Sgd.default_learning_rate(), 1e-3);
    assert_eq!(Optimizer::momentum().default_learning_rate(), 1e-3);
}
