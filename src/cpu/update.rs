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
        let states = s0.iter_mut().zip(s1.iter_mut()).zip(s2.iter_mut());
        for (i, ((p, &g), ((a, b), c))) in params.iter_mut().zip(grads).zip(states).enumerate() {
            update_element(offset + i, p, g, [a, b, c], step, scalars, coefficients);
        }
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
        Optimizer::Adam {
            beta1,
            beta2,
            eps,
            amsgrad,
        } => each(&with(Optimizer::Adam {
            beta1,
            beta2,
            eps,
            amsgrad,
        })),
        Optimizer::AdamW {
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
        } => each(&with(Optimizer::AdamW {
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
        })),
    }
}

/// Updates parameter `p` with gradient `g` and its three state slots.
#[inline(always)]
pub(crate) fn update_element(
    index: usize,
    p: &mut f32,
    g: f32,
    state: [&mut f32; 3],
    step: &UpdateStep,
    scalars: &StepScalars,
    (l1, l2): (f32, f32),
) {
    let is_weight = index < step.weight_len;
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
