//! Repeated measurement: warm up, time each sample, keep median, min and max.

use crate::Result;
use std::time::{Duration, Instant};

/// Seconds per unit of work over the samples taken.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub samples: usize,
}

impl Timing {
    /// From per-sample seconds (not empty).
    pub fn from_seconds(mut seconds: Vec<f64>) -> Self {
        seconds.sort_by(f64::total_cmp);
        let n = seconds.len();
        let median = if n % 2 == 1 {
            seconds[n / 2]
        } else {
            0.5 * (seconds[n / 2 - 1] + seconds[n / 2])
        };
        Self {
            median,
            min: seconds[0],
            max: seconds[n - 1],
            samples: n,
        }
    }

    /// `work / seconds`: the median rate and its range (the fastest sample
    /// gives the largest rate).
    pub fn rate(&self, work: f64) -> (f64, f64, f64) {
        (work / self.median, work / self.max, work / self.min)
    }
}

/// How long and how often to sample.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Untimed runs first (the first dispatch of a GPU pipeline compiles it).
    pub warmup: usize,
    pub min_samples: usize,
    pub max_samples: usize,
    /// Stop sampling once this much time was spent (after `min_samples`).
    pub time: Duration,
    /// Work per sample is repeated until one sample lasts about this long,
    /// so that a GPU submit-and-wait does not dominate tiny kernels.
    pub sample_time: Duration,
}

/// Times `run(repeats)`, which must do `repeats` units of work and wait for
/// them to finish; returns seconds per unit.
pub fn measure(budget: &Budget, mut run: impl FnMut(usize) -> Result<()>) -> Result<Timing> {
    for _ in 0..budget.warmup {
        run(1)?;
    }
    let started = Instant::now();
    run(1)?;
    let once = started.elapsed().as_secs_f64().max(1e-7);
    let repeats = ((budget.sample_time.as_secs_f64() / once) as usize).clamp(1, 4096);
    let mut seconds = Vec::with_capacity(budget.max_samples);
    let overall = Instant::now();
    while seconds.len() < budget.max_samples
        && (seconds.len() < budget.min_samples || overall.elapsed() < budget.time)
    {
        let started = Instant::now();
        run(repeats)?;
        seconds.push(started.elapsed().as_secs_f64() / repeats as f64);
    }
    Ok(Timing::from_seconds(seconds))
}
