//! Seeded synthetic data at the CS231n CIFAR-10 shape, built like the peer
//! programs' (`peers/peer_data.py`): features N(0, 1)·0.1, labels the argmax
//! of a random linear teacher's scores plus noise at half their spread.

use ndarray::{Array1, Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// Rows per independently seeded block, so generation runs on every core
/// and gives the same data whatever the thread count.
const BLOCK_ROWS: usize = 512;

/// `rows × features` features and labels in `0..classes`.
pub fn synthetic(
    rows: usize,
    features: usize,
    classes: usize,
    seed: u64,
) -> (Array2<f32>, Array1<u32>) {
    let mut teacher_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7EAC_4E55);
    let teacher: Vec<f32> = (0..features * classes)
        .map(|_| teacher_rng.sample::<f32, _>(StandardNormal))
        .collect();
    let mut x = Array2::<f32>::zeros((rows, features));
    let mut labels = vec![0u32; rows];
    x.axis_chunks_iter_mut(Axis(0), BLOCK_ROWS)
        .into_par_iter()
        .zip(labels.par_chunks_mut(BLOCK_ROWS))
        .enumerate()
        .for_each(|(block, (mut xs, ys))| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1 + block as u64));
            let mut scores = vec![0.0f32; classes];
            for (mut row, y) in xs.outer_iter_mut().zip(ys.iter_mut()) {
                scores.iter_mut().for_each(|s| *s = 0.0);
                for (d, v) in row.iter_mut().enumerate() {
                    *v = 0.1 * rng.sample::<f32, _>(StandardNormal);
                    let t = &teacher[d * classes..(d + 1) * classes];
                    for (s, &w) in scores.iter_mut().zip(t) {
                        *s += *v * w;
                    }
                }
                // Teacher scores have spread ≈ 0.1·√D; noise at half of it.
                let noise = 0.05 * (features as f32).sqrt();
                for s in scores.iter_mut() {
                    *s += noise * rng.sample::<f32, _>(StandardNormal);
                }
                *y = crate::cpu::reference::argmax(ndarray::ArrayView1::from(&scores[..])) as u32;
            }
        });
    (x, Array1::from(labels))
}
