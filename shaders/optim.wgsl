// Fused optimizer update: one pass adds the regularizer's gradient (W only),
// updates the optimizer state and the parameter, for every parameter.
// Formulas are torch.optim's; per-step scalars (bias corrections, AdaGrad's
// decayed rate, AdamW's decay factor) come from the host in the uniform.

struct UpdateParams {
    len: u32,
    weight_len: u32,
    first_step: u32,
    flags: u32,
    lr: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    decay_factor: f32,
    momentum: f32,
    dampening: f32,
    alpha: f32,
    eps: f32,
    beta1: f32,
    beta2: f32,
    l1: f32,
    l2: f32,
}

const CENTERED: u32 = 1u;
const AMSGRAD: u32 = 2u;
const DECOUPLED_DECAY: u32 = 4u;

const SGD: u32 = 0u;
const MOMENTUM: u32 = 1u;
const NESTEROV: u32 = 2u;
const ADAGRAD: u32 = 3u;
const RMSPROP: u32 = 4u;
const ADAM: u32 = 5u;

override KIND: u32 = 0u;
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: UpdateParams;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
// Three slots of len values each.
@group(0) @binding(3) var<storage, read_write> state: array<f32>;

fn sign_of(x: f32) -> f32 {
    return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0);
}

@compute @workgroup_size(WG, 1, 1)
fn update(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p.len {
        return;
    }
    let is_weight = i < p.weight_len;
    var w = params[i];
    var g = grads[i];
    if is_weight {
        g += p.l1 * sign_of(w) + 2.0 * p.l2 * w;
    }
    let s1 = i + p.len;
    let s2 = i + 2u * p.len;
    let first = p.first_step != 0u;
    switch KIND {
        case SGD: {
            w -= p.lr * g;
        }
        case MOMENTUM: {
            var buf = g;
            if !first {
                buf = p.momentum * state[i] + (1.0 - p.dampening) * g;
            }
            state[i] = buf;
            w -= p.lr * buf;
        }
        case NESTEROV: {
            var buf = g;
            if !first {
                buf = p.momentum * state[i] + g;
            }
            state[i] = buf;
            w -= p.lr * (g + p.momentum * buf);
        }
        case ADAGRAD: {
            let sum = state[i] + g * g;
            state[i] = sum;
            w -= p.step_size * g / (sqrt(sum) + p.eps);
        }
        case RMSPROP: {
            let v = p.alpha * state[i] + (1.0 - p.alpha) * g * g;
            state[i] = v;
            var avg = sqrt(v) + p.eps;
            if (p.flags & CENTERED) != 0u {
                let g_avg = state[s1] + (1.0 - p.alpha) * (g - state[s1]);
                state[s1] = g_avg;
                avg = sqrt(v - g_avg * g_avg) + p.eps;
            }
            if p.momentum > 0.0 {
                let buf = p.momentum * state[s2] + g / avg;
                state[s2] = buf;
                w -= p.lr * buf;
            } else {
                w -= p.lr * g / avg;
            }
        }
        case ADAM: {
            if is_weight && (p.flags & DECOUPLED_DECAY) != 0u {
                w *= p.decay_factor;
            }
            let m = state[i] + (1.0 - p.beta1) * (g - state[i]);
            state[i] = m;
            let v = p.beta2 * state[s1] + (1.0 - p.beta2) * g * g;
            state[s1] = v;
            var v_used = v;
            if (p.flags & AMSGRAD) != 0u {
                v_used = max(state[s2], v);
                state[s2] = v_used;
            }
            let denom = sqrt(v_used) / p.bias_correction2_sqrt + p.eps;
            w -= p.step_size * m / denom;
        }
        default: {}
    }
    params[i] = w;
}
