//! The fused optimizer update for one parameter, in the same f32 operation
//! order as `shaders/optim.wgsl`.

use crate::optimizer::{Optimizer, StepScalars, UpdateStep};

/// Updates a run of parameters that starts at parameter `offset`, with
/// their gradients and state slots. Each optimizer gets its own loop (the
/// step is rebuilt with the variant spelled out) so that the compiler sees
/// one formula per loop and vectorizes it; every element still follows
/// [`update_element`] exactly.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_range(
    offset: usize,
    params: &mut [f32],
    grads: &[f32],
    [s0, s1, s2]: [&mut [f32]; 3],
    step: &UpdateStep,
    scalars: &StepScalars,
    coefficients: (f32, f32),
) {
    let mut each = |step: &UpdateStep| {
        each_element(
            offset,
            params,
            grads,
            [s0, s1, s2],
            step,
            scalars,
            coefficients,
        )
    };
    let with = |optimizer| UpdateStep { optimizer, ..*step };
    match step.optimizer {
        Optimizer::Sgd => each(&with(Optimizer::Sgd)),
        Optimizer::Momentum {
            momentum,
            dampening,
        } => each(&with(Optimizer::Momentum {
            momentum,
            dampening,
        })),
        Optimizer::Nesterov { momentum } => each(&with(Optimizer::Nesterov { momentum })),
        Optimizer::Adagrad { lr_decay, eps } => each(&with(Optimizer::Adagrad { lr_decay, eps })),
        Optimizer::RmsProp {
            alpha,
            eps,
            momentum,
            centered,
        } => each(&with(Optimizer::RmsProp {
            alpha,
            eps,
            momentum,
            centered,
        })),
        Optimizer::Adam { amsgrad, .. } | Optimizer::AdamW { amsgrad, .. } => {
            let decoupled = matches!(step.optimizer, Optimizer::AdamW { .. });
            let weights = step.weight_len.saturating_sub(offset).min(params.len());
            let (pw, pb) = params.split_at_mut(weights);
            let (gw, gb) = grads.split_at(weights);
            let (s0w, s0b) = s0.split_at_mut(weights);
            let (s1w, s1b) = s1.split_at_mut(weights);
            let (s2w, s2b) = s2.split_at_mut(weights);
            let adam = AdamConstants::new(step, scalars, coefficients);
            let weights = (pw, gw, [s0w, s1w, s2w]);
            let biases = (pb, gb, [s0b, s1b, s2b]);
            match (amsgrad, decoupled) {
                (false, false) => adam_loops::<false, false>(weights, biases, &adam),
                (false, true) => adam_loops::<false, true>(weights, biases, &adam),
                (true, false) => adam_loops::<true, false>(weights, biases, &adam),
                (true, true) => adam_loops::<true, true>(weights, biases, &adam),
            }
        }
    }
}

/// Adam's and AdamW's scalars for [`adam_elements`].
struct AdamConstants {
    beta1: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    decay_factor: f32,
    l1: f32,
    l2: f32,
}

impl AdamConstants {
    fn new(step: &UpdateStep, scalars: &StepScalars, (l1, l2): (f32, f32)) -> Self {
        let (beta1, beta2, eps) = match step.optimizer {
            Optimizer::Adam {
                beta1, beta2, eps, ..
            }
            | Optimizer::AdamW {
                beta1, beta2, eps, ..
            } => (beta1, beta2, eps),
            _ => unreachable!("only built for Adam and AdamW"),
        };
        Self {
            beta1,
            beta2,
            eps,
            step_size: scalars.step_size,
            bias_correction2_sqrt: scalars.bias_correction2_sqrt,
            decay_factor: scalars.decay_factor,
            l1,
            l2,
        }
    }
}

type Run<'a> = (&'a mut [f32], &'a [f32], [&'a mut [f32]; 3]);

fn adam_loops<const AMSGRAD: bool, const DECOUPLED: bool>(
    weights: Run<'_>,
    biases: Run<'_>,
    k: &AdamConstants,
) {
    adam_elements::<true, AMSGRAD, DECOUPLED>(weights, k);
    adam_elements::<false, AMSGRAD, DECOUPLED>(biases, k);
}

/// The Adam arm of [`update_element`] term for term, with what it branches
/// on made constants so that the loop vectorizes.
#[inline(always)]
fn adam_elements<const WEIGHT: bool, const AMSGRAD: bool, const DECOUPLED: bool>(
    (p, g, [m, v, v_max]): Run<'_>,
    k: &AdamConstants,
) {
    let n = p.len();
    let (g, m, v, v_max) = (&g[..n], &mut m[..n], &mut v[..n], &mut v_max[..n]);
    for i in 0..n {
        let mut gi = g[i];
        let mut pi = p[i];
        if WEIGHT {
            gi += k.l1 * sign(pi) + 2.0 * k.l2 * pi;
            if DECOUPLED {
                pi *= k.decay_factor;
            }
        }
        let mut mi = m[i];
        mi += (1.0 - k.beta1) * (gi - mi);
        m[i] = mi;
        let vi = k.beta2 * v[i] + (1.0 - k.beta2) * gi * gi;
        v[i] = vi;
        let second = if AMSGRAD {
            let kept = v_max[i].max(vi);
            v_max[i] = kept;
            kept
        } else {
            vi
        };
        let denom = second.sqrt() / k.bias_correction2_sqrt + k.eps;
        p[i] = pi - k.step_size * mi / denom;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn each_element(
    offset: usize,
    params: &mut [f32],
    grads: &[f32],
    [s0, s1, s2]: [&mut [f32]; 3],
    step: &UpdateStep,
    scalars: &StepScalars,
    coefficients: (f32, f32),
) {
    // Weights (regularized, decayed) and biases in separate loops, so that
    // neither carries a per-element branch on which it is.
    let weights = step.weight_len.saturating_sub(offset).min(params.len());
    let (pw, pb) = params.split_at_mut(weights);
    let (gw, gb) = grads.split_at(weights);
    let (s0w, s0b) = s0.split_at_mut(weights);
    let (s1w, s1b) = s1.split_at_mut(weights);
    let (s2w, s2b) = s2.split_at_mut(weights);
    let states = s0w.iter_mut().zip(s1w.iter_mut()).zip(s2w.iter_mut());
    for ((p, &g), ((a, b), c)) in pw.iter_mut().zip(gw).zip(states) {
        update_element(true, p, g, [a, b, c], step, scalars, coefficients);
    }
    let states = s0b.iter_mut().zip(s1b.iter_mut()).zip(s2b.iter_mut());
    for ((p, &g), ((a, b), c)) in pb.iter_mut().zip(gb).zip(states) {
        update_element(false, p, g, [a, b, c], step, scalars, coefficients);
    }
}

/// Updates parameter `p` with gradient `g` and its three state slots;
/// weights (not biases) get the regularizer's gradient and AdamW's decay.
#[inline(always)]
pub(crate) fn update_element(
    is_weight: bool,
    p: &mut f32,
    g: f32,
    state: [&mut f32; 3],
    step: &UpdateStep,
    scalars: &StepScalars,
    (l1, l2): (f32, f32),
) {
    let mut g = g;
    if is_weight {
        g += l1 * sign(*p) + 2.0 * l2 * *p;
    }
    let lr = step.learning_rate;
    let first = step.step <= 1;
    let [s0, s1, s2] = state;
    match step.optimizer {
        Optimizer::Sgd => *p -= lr * g,
        Optimizer::Momentum {
            momentum,
            dampening,
        } => {
            *s0 = if first {
                g
            } else {
                momentum * *s0 + (1.0 - dampening) * g
            };
            *p -= lr * *s0;
        }
        Optimizer::Nesterov { momentum } => {
            *s0 = if first { g } else { momentum * *s0 + g };
            *p -= lr * (g + momentum * *s0);
        }
        Optimizer::Adagrad { eps, .. } => {
            *s0 += g * g;
            *p -= scalars.step_size * g / (s0.sqrt() + eps);
        }
        Optimizer::RmsProp {
            alpha,
            eps,
            momentum,
            centered,
        } => {
            *s0 = alpha * *s0 + (1.0 - alpha) * g * g;
            let avg = if centered {
                *s1 += (1.0 - alpha) * (g - *s1);
                (*s0 - *s1 * *s1).sqrt() + eps
            } else {
                s0.sqrt() + eps
            };
            if momentum > 0.0 {
                *s2 = momentum * *s2 + g / avg;
                *p -= lr * *s2;
            } else {
                *p -= lr * g / avg;
            }
        }
        Optimizer::Adam {
            beta1,
            beta2,
            eps,
            amsgrad,
        }
        | Optimizer::AdamW {
            beta1,
            beta2,
            eps,
            amsgrad,
            ..
        } => {
            if is_weight && matches!(step.optimizer, Optimizer::AdamW { .. }) {
                *p *= scalars.decay_factor;
            }
            *s0 += (1.0 - beta1) * (g - *s0);
            *s1 = beta2 * *s1 + (1.0 - beta2) * g * g;
            let v = if amsgrad {
                *s2 = s2.max(*s1);
                *s2
            } else {
                *s1
            };
            let denom = v.sqrt() / scalars.bias_correction2_sqrt + eps;
            *p -= scalars.step_size * *s0 / denom;
        }
    }
}

#[inline]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}
