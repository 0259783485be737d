//! Learning-rate schedules against their formulas written out here in f64.
//!
//! The expectations never call into lintrain: [`RefSchedule`] is a
//! test-local copy of each schedule's hyperparameters in f64, and
//! [`reference_lr`] re-derives the rate from the rustdoc formulas of
//! `src/schedule.rs` (warmup `lr₀·s/W`, then `s' = s − W`,
//! `T' = max(T − W, 1)`). Past the end of the run (`s' > T'`) the cosine and
//! linear schedules are expected to hold at `min_lr` rather than wrap around
//! or go below it.

use lintrain::{LrSchedule, Schedule};

// ---------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------

const RTOL: f64 = 1e-6;
/// Absolute slack for expectations that are exactly 0 (warmup at step 0).
const ATOL: f64 = 1e-12;

/// A schedule as the reference computes it, with f64 hyperparameters.
#[derive(Clone, Copy, Debug)]
enum RefSchedule {
    Constant,
    Step { step_size: u64, gamma: f64 },
    Exponential { gamma: f64 },
    Cosine { min_lr: f64 },
    Linear { min_lr: f64 },
    InverseSqrt,
}

impl RefSchedule {
    /// The lintrain schedule with the same hyperparameters (all chosen to be
    /// exact in f32, so the comparison measures the formula, not rounding).
    fn to_lintrain(self) -> Schedule {
        match self {
            RefSchedule::Constant => Schedule::Constant,
            RefSchedule::Step { step_size, gamma } => Schedule::Step {
                step_size,
                gamma: gamma as f32,
            },
            RefSchedule::Exponential { gamma } => Schedule::Exponential {
                gamma: gamma as f32,
            },
            RefSchedule::Cosine { min_lr } => Schedule::Cosine {
                min_lr: min_lr as f32,
            },
            RefSchedule::Linear { min_lr } => Schedule::Linear {
                min_lr: min_lr as f32,
            },
            RefSchedule::InverseSqrt => Schedule::InverseSqrt,
        }
    }
}

/// The rate of the step taken after `s` steps of a `total`-step run.
fn reference_lr(schedule: RefSchedule, warmup: u64, base: f64, s: u64, total: u64) -> f64 {
    if s < warmup {
        // Linear warmup from 0: lr₀·s/W.
        return base * s as f64 / warmup as f64;
    }
    let s_after = (s - warmup) as f64;
    let t_after = if total > warmup {
        (total - warmup) as f64
    } else {
        1.0
    };
    match schedule {
        RefSchedule::Constant => base,
        RefSchedule::Step { step_size, gamma } => {
            let drops = (s - warmup) / step_size;
            let mut lr = base;
            for _ in 0..drops {
                lr *= gamma;
            }
            lr
        }
        RefSchedule::Exponential { gamma } => base * gamma.powf(s_after),
        RefSchedule::Cosine { min_lr } => {
            if s_after >= t_after {
                min_lr
            } else {
                let cos = (std::f64::consts::PI * s_after / t_after).cos();
                min_lr + (base - min_lr) * (1.0 + cos) / 2.0
            }
        }
        RefSchedule::Linear { min_lr } => {
            if s_after >= t_after {
                min_lr
            } else {
                min_lr + (base - min_lr) * (1.0 - s_after / t_after)
            }
        }
        RefSchedule::InverseSqrt => base / (1.0 + s_after).sqrt(),
    }
}

#[track_caller]
fn assert_lr(what: &str, actual: f32, expected: f64) {
    let a = actual as f64;
    let diff = (a - expected).abs();
    assert!(
        diff <= ATOL + RTOL * expected.abs(),
        "{what}: got {actual}, expected {expected} (|diff| = {diff:e}, relative tolerance {RTOL:e})"
    );
}

const BASE: f32 = 0.1;
const TOTAL: u64 = 20;

fn all_schedules() -> Vec<RefSchedule> {
    vec![
        RefSchedule::Constant,
        RefSchedule::Step {
            step_size: 4,
            gamma: 0.5,
        },
        RefSchedule::Exponential { gamma: 0.875 },
        RefSchedule::Cosine { min_lr: 0.0078125 },
        RefSchedule::Cosine { min_lr: 0.0 },
        RefSchedule::Linear { min_lr: 0.015625 },
        RefSchedule::Linear { min_lr: 0.0 },
        RefSchedule::InverseSqrt,
    ]
}

/// Steps worth checking for a run of `total` steps with `warmup` warmup steps:
/// the first two, the warmup boundary on both sides, the middle, the last,
/// the end and past it.
fn probe_steps(warmup: u64, total: u64) -> Vec<u64> {
    let mut steps = vec![0, 1, 2, total / 2, total - 1, total, total + 1, total + 7];
    if warmup > 0 {
        steps.extend([warmup - 1, warmup, warmup + 1]);
    }
    steps.extend(warmup..warmup + 6);
    steps.sort_unstable();
    steps.dedup();
    steps
}

#[test]
fn every_schedule_matches_its_formula_with_and_without_warmup() {
    let base = BASE as f64;
    for schedule in all_schedules() {
        for warmup in [0u64, 3] {
            let lr = LrSchedule {
                schedule: schedule.to_lintrain(),
                warmup_steps: warmup,
            };
            for s in probe_steps(warmup, TOTAL) {
                let expected = reference_lr(schedule, warmup, base, s, TOTAL);
                let actual = lr.learning_rate(BASE, s, TOTAL);
                assert_lr(
                    &format!("{schedule:?}, warmup {warmup}, step {s} of {TOTAL}"),
                    actual,
                    expected,
                );
            }
        }
    }
}

#[test]
fn schedules_match_hand_computed_values() {
    let base = BASE as f64;
    let at = |schedule: Schedule, warmup: u64, s: u64| {
        LrSchedule {
            schedule,
            warmup_steps: warmup,
        }
        .learning_rate(BASE, s, TOTAL)
    };

    // Step: γ^⌊s'/step_size⌋ with step_size 4, γ = 0.5.
    let step = Schedule::Step {
        step_size: 4,
        gamma: 0.5,
    };
    assert_lr("step s=3", at(step, 0, 3), base);
    assert_lr("step s=4", at(step, 0, 4), base * 0.5);
    assert_lr("step s=9", at(step, 0, 9), base * 0.25);
    assert_lr("step s=19", at(step, 0, 19), base * 0.0625);
    // With warmup 3, s' = s − 3: s = 7 is s' = 4, the first drop.
    assert_lr("step W=3 s=6", at(step, 3, 6), base);
    assert_lr("step W=3 s=7", at(step, 3, 7), base * 0.5);

    // Exponential: γ^s'.
    let exp = Schedule::Exponential { gamma: 0.5 };
    assert_lr("exp s=0", at(exp, 0, 0), base);
    assert_lr("exp s=3", at(exp, 0, 3), base * 0.125);
    assert_lr("exp W=3 s=5", at(exp, 3, 5), base * 0.25);

    // Cosine over T' = 20: the half-way point is the mean of lr₀ and min_lr,
    // a quarter of the way is min + (lr₀ − min)·(1 + √2/2)/2.
    let min = 0.01f64;
    let cos = Schedule::Cosine { min_lr: min as f32 };
    assert_lr("cosine s=10", at(cos, 0, 10), (base + min) / 2.0);
    assert_lr(
        "cosine s=5",
        at(cos, 0, 5),
        min + (base - min) * (1.0 + 0.5f64.sqrt()) / 2.0,
    );

    // Linear over T' = 20: a quarter of the way is 3/4 of the span.
    let lin = Schedule::Linear { min_lr: min as f32 };
    assert_lr("linear s=5", at(lin, 0, 5), min + (base - min) * 0.75);
    // With warmup 4, T' = 16 and s = 12 is s' = 8, half-way.
    assert_lr("linear W=4 s=12", at(lin, 4, 12), (base + min) / 2.0);

    // InverseSqrt: lr₀/√(1 + s'): s' = 3 halves it, s' = 8 divides by 3.
    assert_lr("inv-sqrt s=3", at(Schedule::InverseSqrt, 0, 3), base / 2.0);
    assert_lr(
        "inv-sqrt W=3 s=11",
        at(Schedule::InverseSqrt, 3, 11),
        base / 3.0,
    );
}

#[test]
fn warmup_rises_linearly_from_zero_to_the_base_rate() {
    let base = BASE as f64;
    for schedule in all_schedules() {
        for warmup in [1u64, 3, 5] {
            let lr = LrSchedule {
                schedule: schedule.to_lintrain(),
                warmup_steps: warmup,
            };
            let at = |s| lr.learning_rate(BASE, s, TOTAL);
            assert_eq!(
                at(0),
                0.0,
                "{schedule:?}, warmup {warmup}: the first step must have rate 0"
            );
            for s in 1..warmup {
                assert_lr(
                    &format!("{schedule:?}, warmup {warmup}, step {s}"),
                    at(s),
                    base * s as f64 / warmup as f64,
                );
            }
            // At s = W the schedule itself starts with s' = 0: every schedule
            // gives lr₀ there.
            assert_lr(
                &format!("{schedule:?}, warmup {warmup}, step W"),
                at(warmup),
                base,
            );
            // The warmup is monotone.
            for s in 1..=warmup {
                assert!(
                    at(s) > at(s - 1),
                    "{schedule:?}, warmup {warmup}: rate at step {s} ({}) is not above step {} ({})",
                    at(s),
                    s - 1,
                    at(s - 1)
                );
            }
        }
    }
}

#[test]
fn cosine_starts_at_the_base_rate_after_warmup_and_ends_at_min_lr() {
    let min = 0.004f32;
    for warmup in [0u64, 3, 7] {
        for total in [1u64, 2, 10, 21, 100] {
            let lr = LrSchedule {
                schedule: Schedule::Cosine { min_lr: min },
                warmup_steps: warmup,
            };
            let at = |s| lr.learning_rate(BASE, s, total);
            let what = format!("cosine, warmup {warmup}, total {total}");
            assert_lr(&format!("{what}, step W"), at(warmup), BASE as f64);
            if total > warmup {
                assert_lr(&format!("{what}, step T"), at(total), min as f64);
                // Monotone non-increasing from W to T.
                for s in warmup + 1..=total {
                    assert!(
                        at(s) <= at(s - 1),
                        "{what}: rate rises from step {} ({}) to {s} ({})",
                        s - 1,
                        at(s - 1),
                        at(s)
                    );
                }
            }
            // Past the end it stays at min_lr.
            for past in [1, 5, 1000] {
                let s = total.max(warmup) + past;
                assert_lr(
                    &format!("{what}, step {s} (past the end)"),
                    at(s),
                    min as f64,
                );
            }
        }
    }
}

#[test]
fn linear_ends_at_min_lr_and_never_goes_below() {
    let min = 0.002f32;
    let lr = LrSchedule {
        schedule: Schedule::Linear { min_lr: min },
        warmup_steps: 3,
    };
    assert_lr("linear step W", lr.learning_rate(BASE, 3, 23), BASE as f64);
    assert_lr("linear step T", lr.learning_rate(BASE, 23, 23), min as f64);
    for s in [24, 50, 10_000] {
        let got = lr.learning_rate(BASE, s, 23);
        assert_lr(&format!("linear step {s} past the end"), got, min as f64);
    }
}

#[test]
fn schedule_names_are_the_cli_names() {
    let names: Vec<&str> = all_schedules()
        .into_iter()
        .map(|s| {
            LrSchedule {
                schedule: s.to_lintrain(),
                warmup_steps: 0,
            }
            .name()
        })
        .collect();
    assert_eq!(
        names,
        [
            "constant",
            "step",
            "exponential",
            "cosine",
            "cosine",
            "linear",
            "linear",
            "inv-sqrt"
        ]
    );
}
