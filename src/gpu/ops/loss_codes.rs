//! The values of the `LOSS` override both step kernel families take (the
//! fused lavapipe step and the tiled step): one set on the host, checked by
//! `gpu::contract_tests` against each WGSL module that declares them.

use crate::loss::Loss;

pub(crate) const SOFTMAX: u32 = 0;
pub(crate) const HINGE: u32 = 1;
pub(crate) const SQUARED_HINGE: u32 = 2;
pub(crate) const MSE: u32 = 3;
pub(crate) const LOGISTIC: u32 = 4;

/// The `LOSS` code of `loss`, its margin and its label smoothing.
pub(crate) fn loss_code(loss: &Loss) -> (u32, f32, f32) {
    match *loss {
        Loss::SoftmaxCrossEntropy { label_smoothing } => (SOFTMAX, 0.0, label_smoothing),
        Loss::Hinge { margin } => (HINGE, margin, 0.0),
        Loss::SquaredHinge { margin } => (SQUARED_HINGE, margin, 0.0),
        Loss::MeanSquaredError => (MSE, 0.0, 0.0),
        Loss::Logistic => (LOGISTIC, 0.0, 0.0),
    }
}
