//! `lintrain gradcheck`: the analytic gradient of the full objective against
//! centered differences (f64), and a backend's f32 kernels against the f64
//! reference gradient.

use super::args::{BackendArg, GradcheckArgs};
use super::{CliError, CliResult, inputs};
use lintrain::data::{ClassMap, Standardizer};
use lintrain::gradcheck::{
    GradCheckOptions, backend_data_gradient, gradient_check, objective_and_gradient,
};
use lintrain::train::OpenedBackend;
use lintrain::{Backend, Loss, Regularizer, limits};
use ndarray::{Array1, Array2, Axis};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Features of the random problem used without --data.
const RANDOM_FEATURES: usize = 5;
/// Scale of the random parameters: large enough that softmax is not uniform.
const PARAM_SCALE: f32 = 0.5;

struct Problem {
    x: Array2<f32>,
    labels: Array1<u32>,
    classes: usize,
    source: String,
}

pub fn run(args: &GradcheckArgs) -> CliResult {
    let loss = args.objective.loss();
    let regularizer = args.objective.regularizer();
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    if args.data.data.is_none() {
        // Checked before the random problem is allocated.
        let classes = u64::from(args.classes);
        limits::check("--classes", classes, limits::MAX_CLASSES)?;
        let rows = (args.rows as u64).max(classes);
        limits::check_product(
            "gradcheck's rows × classes (--rows × --classes)",
            rows,
            classes,
            limits::MAX_GRADCHECK_SCORES,
        )?;
    }
    let problem = match &args.data.data {
        Some(_) => from_data(args, &mut rng)?,
        None => random_problem(args, &mut rng),
    };
    limits::check_product(
        "gradcheck's rows × classes",
        problem.x.nrows() as u64,
        problem.classes as u64,
        limits::MAX_GRADCHECK_SCORES,
    )?;
    let outputs = loss.outputs_for_classes(problem.classes);
    let (n, d) = problem.x.dim();
    let params: Vec<f32> = (0..d * outputs + outputs)
        .map(|_| PARAM_SCALE * rng.sample::<f32, _>(StandardNormal))
        .collect();
    let options = GradCheckOptions {
        sample: Some(args.coordinates),
        seed: args.seed,
        ..GradCheckOptions::default()
    };
    let report = gradient_check(
        problem.x.view(),
        problem.labels.view(),
        &params,
        outputs,
        &loss,
        &regularizer,
        &options,
    )?;
    println!(
        "gradient check: {} loss, {} regularizer, {} ({n} rows × {d} features, {} classes), {} of {} parameters, h = {:e}",
        loss.name(),
        regularizer.name(),
        problem.source,
        problem.classes,
        report.checked,
        params.len(),
        options.h
    );
    let objective_passed = report.max_relative_error <= args.threshold;
    println!(
        "max relative error {:.3e} at parameter {} (analytic {:.6e}, numerical {:.6e}); threshold {:e}: {}",
        report.max_relative_error,
        report.worst_index,
        report.analytic,
        report.numerical,
        args.threshold,
        verdict(objective_passed)
    );

    let (kernels, backend_error) = backend_check(args.backend, &problem, &params, outputs, &loss)?;
    let backend_passed = backend_error <= args.backend_threshold;
    println!(
        "{kernels} data gradient vs the f64 reference: max |g − a| / max |a| = {backend_error:.3e}; threshold {:e}: {}",
        args.backend_threshold,
        verdict(backend_passed)
    );
    if !objective_passed {
        return Err(CliError::new(format!(
            "gradient check failed: max relative error {:.3e} exceeds --threshold {:e}",
            report.max_relative_error, args.threshold
        )));
    }
    if !backend_passed {
        return Err(CliError::new(format!(
            "gradient check failed: the {kernels} gradient differs from the reference by {backend_error:.3e}, more than --backend-threshold {:e}",
            args.backend_threshold
        )));
    }
    Ok(())
}

fn verdict(passed: bool) -> &'static str {
    if passed { "PASS" } else { "FAIL" }
}

/// Seeded rows × 5 standard-normal features, labels cycling through the classes.
fn random_problem(args: &GradcheckArgs, rng: &mut ChaCha8Rng) -> Problem {
    let classes = args.classes as usize;
    let rows = args.rows.max(classes);
    let x = Array2::from_shape_fn((rows, RANDOM_FEATURES), |_| rng.sample(StandardNormal));
    let labels = Array1::from_iter((0..rows).map(|i| (i % classes) as u32));
    Problem {
        x,
        labels,
        classes,
        source: "a seeded random problem".into(),
    }
}

/// A seeded sample of `--rows` rows of the data, standardized.
fn from_data(args: &GradcheckArgs, rng: &mut ChaCha8Rng) -> CliResult<Problem> {
    let path = args.data.data.as_ref().expect("caller checked --data");
    let table = inputs::labelled(
        path,
        args.data.label.as_ref(),
        args.data.labels.as_ref(),
        None,
        &args.data.read,
    )?;
    let raw = table
        .labels
        .ok_or_else(|| CliError::new(format!("{}: the file has no labels", path.display())))?;
    let classes = ClassMap::fit(&raw);
    let labels = Array1::from(classes.encode(&raw)?);
    let n = labels.len();
    let mut rows = sample(rng, n, args.rows.min(n)).into_vec();
    rows.sort_unstable();
    let x = table.features.select(Axis(0), &rows);
    let x = Standardizer::fit(x.view()).apply(x.view())?;
    Ok(Problem {
        x,
        labels: labels.select(Axis(0), &rows),
        classes: classes.len(),
        source: path.display().to_string(),
    })
}

/// The chosen backend's data gradient against the f64 reference: the name
/// of what ran and the largest difference relative to the largest entry.
fn backend_check(
    choice: BackendArg,
    problem: &Problem,
    params: &[f32],
    outputs: usize,
    loss: &Loss,
) -> CliResult<(String, f64)> {
    match choice.choice().open()? {
        OpenedBackend::Gpu(backend) => {
            let name = format!("gpu ({})", backend.context().adapter_name());
            Ok((name, compare(&*backend, problem, params, outputs, loss)?))
        }
        OpenedBackend::Cpu(backend) => Ok((
            "cpu".into(),
            compare(&backend, problem, params, outputs, loss)?,
        )),
    }
}

fn compare<B: Backend>(
    backend: &B,
    problem: &Problem,
    params: &[f32],
    outputs: usize,
    loss: &Loss,
) -> CliResult<f64> {
    let kernels = backend_data_gradient(
        backend,
        problem.x.view(),
        problem.labels.view(),
        params,
        outputs,
        loss,
    )?;
    let x64 = problem.x.mapv(|v| v as f64);
    let params64: Vec<f64> = params.iter().map(|&p| p as f64).collect();
    let (_, reference) = objective_and_gradient(
        x64.view(),
        &problem.labels.to_vec(),
        &params64,
        outputs,
        loss,
        &Regularizer::None,
    );
    let largest = reference.iter().fold(0.0f64, |m, a| m.max(a.abs()));
    let worst = kernels
        .iter()
        .zip(&reference)
        .fold(0.0f64, |m, (&g, &a)| m.max((g as f64 - a).abs()));
    Ok(worst / largest.max(1e-12))
}
