//! The `sweep` case: one training step of K models that differ only in
//! their L2 strength, all over the same minibatch
//! ([`Backend::linear_step_members`], then [`Backend::update_members`]),
//! against the step of one model ([`Backend::linear_step`], as training
//! takes it). Its ratio to K = 1 is what a sweep of K
//! settings costs per step over one fit. Then the same K models trained
//! end to end ([`fit_members_on`], what `lintrain sweep` runs): epochs of
//! every member, their stats and weights read back, validation included.

use super::probe_data;
use super::timing::{Budget, Timing, measure};
use crate::backend::{Backend, LinearStep, ResidentTargets};
use crate::optimizer::STATE_SLOTS;
use crate::train::fit_members_on;
use crate::{
    BatchSize, Examples, Loss, Optimizer, Regularizer, Result, TrainConfig, TrainData, UpdateStep,
};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One shape of the case: the rows of its table, its features and classes,
/// its batch and its optimizer (the CS231n step: SGD, batch 200; the probe
/// step: Adam, batch 256).
#[derive(Clone, Copy, Debug)]
pub struct SweepShape {
    pub rows: usize,
    pub features: usize,
    pub classes: usize,
    pub batch: usize,
    pub optimizer: Optimizer,
}

impl SweepShape {
    pub fn label(&self, members: usize) -> String {
        format!(
            "{}x{}x{} K {members}",
            self.batch, self.features, self.classes
        )
    }
}

/// Member counts the case measures.
pub const MEMBERS: [usize; 3] = [1, 8, 32];

/// The member's L2 strength: a log-spaced grid from 1e-6 (as a sweep over
/// λ would have it).
fn strength(member: usize) -> f32 {
    1e-6 * 10f32.powf(member as f32 * 0.25)
}

/// The shape's seeded table: L2-normalized rows and their labels.
pub fn table(shape: &SweepShape) -> (Array2<f32>, Array1<u32>) {
    probe_data::l2_normalized(shape.rows, shape.features, shape.classes, 3073)
}

/// Seconds per step of `members` models on `backend`.
pub fn time<B: Backend>(
    backend: &B,
    (x, labels): &(Array2<f32>, Array1<u32>),
    shape: &SweepShape,
    members: usize,
    budget: &Budget,
) -> Result<Timing> {
    let (d, c, batch) = (shape.features, shape.classes, shape.batch);
    let steps = shape.rows / batch;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let indices: Vec<u32> = (0..steps * batch)
        .map(|_| rng.random_range(0..shape.rows as u32))
        .collect();
    let x = backend.upload_rows(x.view())?;
    let labels = backend.upload_indices(labels.as_slice().expect("contiguous labels"))?;
    let indices = backend.upload_indices(&indices)?;
    let len = d * c + c;
    let mut params = (0..members)
        .map(|_| backend.zeros(len))
        .collect::<Result<Vec<_>>>()?;
    let mut grads = (0..members)
        .map(|_| backend.zeros(len))
        .collect::<Result<Vec<_>>>()?;
    let mut state = (0..members)
        .map(|_| backend.zeros(STATE_SLOTS * len))
        .collect::<Result<Vec<_>>>()?;
    let mut stats = backend.zeros(2 * members * steps)?;
    let probe = backend.zeros(1)?;
    let loss = Loss::softmax();
    let mut taken = 0u64;
    let mut updates: Vec<UpdateStep> = (0..members)
        .map(|k| UpdateStep {
            optimizer: shape.optimizer,
            regularizer: Regularizer::L2 {
                strength: strength(k),
            },
            learning_rate: 1e-3,
            step: 0,
            weight_len: d * c,
        })
        .collect();
    measure(budget, |repeats| {
        for _ in 0..repeats {
            let slot = taken as usize % steps;
            taken += 1;
            let step = LinearStep {
                loss: &loss,
                x: &x,
                targets: ResidentTargets::Classes {
                    labels: &labels,
                    class_weights: None,
                },
                indices: &indices,
                first: slot * batch,
                rows: batch,
                outputs: c,
            };
            // One model takes the single-model step, as training does.
            match (&params[..], &mut grads[..]) {
                ([params], [grads]) => {
                    backend.linear_step(step, params, Some(grads), &mut stats, slot)?
                }
                _ => backend.linear_step_members(
                    step,
                    &params,
                    Some(&mut grads),
                    &mut stats,
                    slot,
                )?,
            }
            // The members' table, built once: each step moves its count.
            updates.iter_mut().for_each(|u| u.step = taken);
            backend.update_members(&mut params, &grads, &mut state, &updates)?;
        }
        backend.read(&probe).map(|_| ())
    })
}

/// Seconds per epoch (the median of epochs 2 and on: the first compiles
/// the GPU's pipelines) of `members` models trained together for `epochs`
/// epochs on the shape's table, a fifth of it held out for validation.
pub fn time_training<B: Backend>(
    backend: &B,
    (x, labels): &(Array2<f32>, Array1<u32>),
    shape: &SweepShape,
    members: usize,
    epochs: usize,
) -> Result<Timing> {
    let configs: Vec<TrainConfig> = (0..members)
        .map(|k| TrainConfig {
            loss: Loss::softmax(),
            optimizer: shape.optimizer,
            regularizer: Regularizer::L2 {
                strength: strength(k),
            },
            learning_rate: 1e-3,
            epochs: epochs.max(2),
            batch_size: BatchSize::Rows(shape.batch),
            validation_fraction: 0.2,
            ..TrainConfig::default()
        })
        .collect();
    let mut seconds = Vec::new();
    fit_members_on(
        backend,
        TrainData::new(Examples::classes(x.view(), labels.view())),
        &configs,
        true,
        &mut |member, record| {
            if member == 0 && record.epoch > 1 {
                seconds.push(record.seconds);
            }
        },
    )?;
    Ok(Timing::from_seconds(seconds))
}
