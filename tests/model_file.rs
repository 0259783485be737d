//! The safetensors model file: round trips, atomic saving, and clear errors
//! for files that are not valid lintrain models.

use lintrain::checkpoint_file::SavedCheckpoint;
use lintrain::data::Standardizer;
use lintrain::limits::{MAX_CLASSES, MAX_PARAMETERS};
use lintrain::model_file::{MAX_MODEL_FILE_BYTES, format_loss, parse_loss};
use lintrain::optimizer::STATE_SLOTS;
use lintrain::{Checkpoint, Error, Loss, Model, Optimizer, SavedModel};
use ndarray::{Array1, Array2, array};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn model(features: usize, outputs: usize, classes: usize, loss: Loss) -> Model {
    Model {
        weights: Array2::from_shape_fn((features, outputs), |(i, j)| {
            (i as f32 + 1.0) * 0.37 - j as f32 * 1.25
        }),
        bias: Array1::from_shape_fn(outputs, |j| j as f32 * -0.5 + 0.125),
        loss,
        classes,
    }
}

fn saved(features: usize, classes: usize, loss: Loss, standardized: bool) -> SavedModel {
    let outputs = if classes == 2 && loss == Loss::Logistic {
        1
    } else {
        classes
    };
    let standardizer = standardized.then(|| Standardizer {
        mean: Array1::from_shape_fn(features, |i| i as f32 - 0.75),
        std: Array1::from_shape_fn(features, |i| 0.5 + i as f32),
    });
    SavedModel::new(
        model(features, outputs, classes, loss),
        standardizer,
        (0..classes).map(|c| format!("class {c}")).collect(),
        (0..features).map(|i| format!("feature_{i}")).collect(),
    )
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The load error's message, asserting it is a one-line error naming `path`.
fn load_error(path: &Path) -> String {
    let error = SavedModel::load(path).expect_err("expected the load to fail");
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "message does not name the file: {message}"
    );
    assert!(!message.contains('\n'), "not one line: {message}");
    message
}

#[test]
fn round_trip_keeps_everything() {
    let dir = TempDir::new().unwrap();
    let cases = [
        saved(
            5,
            3,
            Loss::SoftmaxCrossEntropy {
                label_smoothing: 0.1,
            },
            true,
        ),
        saved(4, 4, Loss::Hinge { margin: 0.3 }, false),
        saved(3, 2, Loss::SquaredHinge { margin: 2.5 }, true),
        saved(2, 2, Loss::Logistic, false),
        saved(6, 3, Loss::MeanSquaredError, true),
    ];
    for (i, original) in cases.iter().enumerate() {
        let path = dir.path().join(format!("model_{i}.safetensors"));
        original.save(&path).unwrap();
        let loaded = SavedModel::load(&path).unwrap();
        assert_eq!(&loaded, original, "case {i}");
        assert_eq!(loaded.version, env!("CARGO_PKG_VERSION"));
    }
}

#[test]
fn the_class_label_type_round_trips_and_an_unknown_one_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("typed.safetensors");
    for label_type in ["bool", "int", "float", "str"] {
        let typed = saved(3, 2, Loss::softmax(), false).with_class_label_type(label_type);
        typed.save(&path).unwrap();
        let loaded = SavedModel::load(&path).unwrap();
        assert_eq!(loaded.class_label_type.as_deref(), Some(label_type));
        assert_eq!(loaded, typed);
    }
    // Unrecorded (the command line's files): none comes back.
    saved(3, 2, Loss::softmax(), false).save(&path).unwrap();
    assert_eq!(SavedModel::load(&path).unwrap().class_label_type, None);
    let e = saved(3, 2, Loss::softmax(), false)
        .with_class_label_type("complex")
        .save(dir.path().join("bad.safetensors"))
        .unwrap_err();
    assert!(e.to_string().contains("class_label_type"), "{e}");
    assert!(!dir.path().join("bad.safetensors").exists());
}

#[test]
fn loss_text_round_trips_with_parameters() {
    for loss in [
        Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.0,
        },
        Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.1,
        },
        Loss::Hinge { margin: 1.0 },
        Loss::Hinge {
            margin: 0.333_333_34,
        },
        Loss::SquaredHinge { margin: 7.0 },
        Loss::MeanSquaredError,
        Loss::Logistic,
    ] {
        let text = format_loss(&loss);
        assert_eq!(parse_loss(&text).unwrap(), loss, "{text}");
    }
    assert_eq!(parse_loss("svm").unwrap(), Loss::Hinge { margin: 1.0 });
    for bad in [
        "hinge",
        "svm(margin=x)",
        "svm(margin=1",
        "softmax(margin=1)",
        "svm(margin=-1)",
    ] {
        assert!(parse_loss(bad).is_err(), "{bad} parsed");
    }
}

#[test]
fn prepare_checks_features_and_standardizes() {
    let standardized = saved(2, 3, Loss::softmax(), true);
    let x = array![[1.0f32, 2.0], [-0.75, 1.5]];
    let prepared = standardized.prepare(x.view()).unwrap();
    let standardizer = standardized.standardizer.as_ref().unwrap();
    for ((i, j), &v) in prepared.indexed_iter() {
        let expected = (x[(i, j)] - standardizer.mean[j]) / standardizer.std[j];
        assert!((v - expected).abs() < 1e-6, "[{i}, {j}]: {v} vs {expected}");
    }
    let plain = saved(2, 3, Loss::softmax(), false);
    assert_eq!(plain.prepare(x.view()).unwrap(), x);
    let wrong = Array2::<f32>::zeros((1, 3));
    let error = plain.prepare(wrong.view()).unwrap_err();
    assert!(matches!(error, Error::ShapeMismatch { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("the feature counts differ: the data has 3 features, the model 2"),
        "{error}"
    );
}

#[test]
fn saving_over_a_model_replaces_it_whole_and_leaves_no_temporary_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("model.safetensors");
    let first = saved(3, 3, Loss::softmax(), true);
    let second = saved(7, 4, Loss::hinge(), false);
    first.save(&path).unwrap();
    second.save(&path).unwrap();
    assert_eq!(SavedModel::load(&path).unwrap(), second);
    assert_eq!(entries(dir.path()), ["model.safetensors"]);
}

/// A new model file is readable by others (temporary files start
/// owner-only); saving over an existing file keeps its permissions.
#[cfg(unix)]
#[test]
fn saved_files_get_shareable_or_existing_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("model.safetensors");
    let model = saved(3, 2, Loss::softmax(), true);
    model.save(&path).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o644, "new model file mode");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    model.save(&path).unwrap();
    assert_eq!(mode(&path), 0o600, "an existing file's mode is kept");
    assert_eq!(SavedModel::load(&path).unwrap(), model);
}

#[test]
fn failed_saves_leave_existing_files_intact() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("model.safetensors");
    let good = saved(3, 3, Loss::softmax(), true);
    good.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();

    let mut diverged = good.clone();
    diverged.model.weights[(1, 2)] = f32::NAN;
    let message = diverged.save(&path).unwrap_err().to_string();
    assert!(message.contains("non-finite"), "{message}");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let occupied = dir.path().join("a_directory");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("keep.txt"), "keep").unwrap();
    let error = good.save(&occupied).unwrap_err();
    assert!(matches!(error, Error::File { .. }), "{error:?}");
    assert_eq!(
        std::fs::read_to_string(occupied.join("keep.txt")).unwrap(),
        "keep"
    );

    let nowhere = dir.path().join("missing_dir").join("model.safetensors");
    let error = good.save(&nowhere).unwrap_err();
    assert!(error.to_string().contains("missing_dir"), "{error}");

    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(entries(dir.path()), ["a_directory", "model.safetensors"]);
}

#[test]
fn inconsistent_models_are_not_saved() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("m.safetensors");
    let mut too_few_names = saved(3, 3, Loss::softmax(), false);
    too_few_names.class_names.pop();
    let mut wrong_features = saved(3, 3, Loss::softmax(), false);
    wrong_features.feature_names.push("extra".into());
    let mut duplicate = saved(3, 3, Loss::softmax(), false);
    duplicate.class_names[2] = "class 0".into();
    for (what, model) in [
        ("class names", too_few_names),
        ("feature names", wrong_features),
        ("twice", duplicate),
    ] {
        let message = model.save(&path).unwrap_err().to_string();
        assert!(message.contains(what), "{message}");
        assert!(!path.exists());
    }
}

// ---------------------------------------------------------------- bad files

struct RawTensor {
    name: &'static str,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_tensor(name: &'static str, shape: Vec<usize>) -> RawTensor {
    let len: usize = shape.iter().product();
    RawTensor {
        name,
        dtype: Dtype::F32,
        shape,
        bytes: (0..len)
            .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
            .collect(),
    }
}

fn metadata(classes: usize, features: usize) -> HashMap<String, String> {
    let names = |prefix: &str, n: usize| {
        serde_json::to_string(&(0..n).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>()).unwrap()
    };
    HashMap::from([
        ("format".into(), "lintrain-linear".into()),
        ("loss".into(), "softmax(label_smoothing=0)".into()),
        ("classes".into(), names("c", classes)),
        ("feature_names".into(), names("x", features)),
        ("num_classes".into(), classes.to_string()),
        ("lintrain_version".into(), "0.0.0".into()),
    ])
}

fn write_raw(
    dir: &TempDir,
    name: &str,
    tensors: &[RawTensor],
    metadata: HashMap<String, String>,
) -> PathBuf {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|t| {
            (
                t.name,
                TensorView::new(t.dtype, t.shape.clone(), &t.bytes).unwrap(),
            )
        })
        .collect();
    let bytes = safetensors::serialize(views, Some(metadata)).unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn hand_written_valid_file_loads() {
    let dir = TempDir::new().unwrap();
    let path = write_raw(
        &dir,
        "ok.safetensors",
        &[
            f32_tensor("weight", vec![2, 3]),
            f32_tensor("bias", vec![3]),
        ],
        metadata(3, 2),
    );
    let loaded = SavedModel::load(&path).unwrap();
    assert_eq!(
        loaded.model.weights,
        array![[0.0f32, 0.5, 1.0], [1.5, 2.0, 2.5]]
    );
    assert_eq!(loaded.class_names, ["c0", "c1", "c2"]);
    assert_eq!(loaded.standardizer, None);
}

/// The smallest standard deviation a file may hold is the smallest normal
/// f32; one step below it is refused (`crafted_files_give_typed_errors`).
#[test]
fn the_smallest_normal_std_loads() {
    let dir = TempDir::new().unwrap();
    let path = write_raw(
        &dir,
        "smallest_std.safetensors",
        &[
            f32_tensor("weight", vec![2, 3]),
            f32_tensor("bias", vec![3]),
            f32_values("mean", vec![2], &[0.0, 0.0]),
            f32_values("std", vec![2], &[f32::MIN_POSITIVE, 1.0]),
        ],
        metadata(3, 2),
    );
    let loaded = SavedModel::load(&path).unwrap();
    assert_eq!(
        loaded.standardizer.unwrap().std,
        array![f32::MIN_POSITIVE, 1.0]
    );
}

#[test]
fn random_and_truncated_files_are_rejected() {
    let dir = TempDir::new().unwrap();
    let random = dir.path().join("random.safetensors");
    let noise: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&random, noise).unwrap();
    assert!(load_error(&random).contains("not a lintrain model file"));

    let good = dir.path().join("good.safetensors");
    saved(4, 3, Loss::softmax(), true).save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for cut in [4, 40, bytes.len() - 1] {
        let truncated = dir.path().join(format!("cut_{cut}.safetensors"));
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        assert!(load_error(&truncated).contains("not a lintrain model file"));
    }

    let missing = dir.path().join("absent.safetensors");
    assert!(matches!(
        SavedModel::load(&missing),
        Err(Error::File { .. })
    ));
}

#[test]
fn missing_tensors_wrong_shapes_and_dtypes_are_named() {
    let dir = TempDir::new().unwrap();
    let weight = || f32_tensor("weight", vec![2, 4]);
    let cases: Vec<(&str, Vec<RawTensor>, &str)> = vec![
        ("no_bias", vec![weight()], "missing tensor `bias`"),
        (
            "bias_shape",
            vec![weight(), f32_tensor("bias", vec![3])],
            "tensor `bias` has shape [3], expected [4]",
        ),
        (
            "weight_1d",
            vec![f32_tensor("weight", vec![8]), f32_tensor("bias", vec![4])],
            "tensor `weight` has shape [8]",
        ),
        (
            "mean_shape",
            vec![
                weight(),
                f32_tensor("bias", vec![4]),
                f32_tensor("mean", vec![3]),
                f32_tensor("std", vec![2]),
            ],
            "tensor `mean` has shape [3], expected [2]",
        ),
        (
            "std_alone",
            vec![
                weight(),
                f32_tensor("bias", vec![4]),
                f32_tensor("std", vec![2]),
            ],
            "`std` without tensor `mean`",
        ),
        (
            "f64_weight",
            vec![
                RawTensor {
                    name: "weight",
                    dtype: Dtype::F64,
                    shape: vec![2, 4],
                    bytes: vec![0; 64],
                },
                f32_tensor("bias", vec![4]),
            ],
            "tensor `weight` has dtype F64, expected F32",
        ),
        (
            "nan_bias",
            vec![
                weight(),
                RawTensor {
                    name: "bias",
                    dtype: Dtype::F32,
                    shape: vec![4],
                    bytes: [0.0f32, 1.0, f32::NAN, 2.0]
                        .iter()
                        .flat_map(|v| v.to_le_bytes())
                        .collect(),
                },
            ],
            "tensor `bias` has a non-finite value at index 2",
        ),
    ];
    for (name, tensors, expected) in cases {
        let path = write_raw(
            &dir,
            &format!("{name}.safetensors"),
            &tensors,
            metadata(4, 2),
        );
        let message = load_error(&path);
        assert!(message.contains(expected), "{name}: {message}");
    }
}

#[test]
fn bad_metadata_is_named() {
    let dir = TempDir::new().unwrap();
    let tensors = [
        f32_tensor("weight", vec![2, 3]),
        f32_tensor("bias", vec![3]),
    ];
    let with = |key: &str, value: Option<&str>| {
        let mut m = metadata(3, 2);
        match value {
            Some(v) => m.insert(key.into(), v.into()),
            None => m.remove(key),
        };
        m
    };
    let cases = [
        (
            "other_format",
            with("format", Some("pytorch")),
            "not a lintrain model file",
        ),
        (
            "no_format",
            with("format", None),
            "not a lintrain model file",
        ),
        ("no_loss", with("loss", None), "missing metadata `loss`"),
        ("bad_loss", with("loss", Some("ridge")), "unknown loss"),
        ("bad_classes", with("classes", Some("[1, 2")), "`classes`"),
        (
            "class_count",
            with("classes", Some("[\"a\", \"b\"]")),
            "class names",
        ),
        (
            "feature_count",
            with("feature_names", Some("[\"a\"]")),
            "1 feature names for 2 features",
        ),
        (
            "num_classes",
            with("num_classes", Some("three")),
            "`num_classes`",
        ),
    ];
    for (name, metadata, expected) in cases {
        let path = write_raw(&dir, &format!("{name}.safetensors"), &tensors, metadata);
        let message = load_error(&path);
        assert!(message.contains(expected), "{name}: {message}");
    }
}

// ------------------------------------------------- invariants (issue 11 §3)

const ALL_LOSSES: [Loss; 5] = [
    Loss::SoftmaxCrossEntropy {
        label_smoothing: 0.0,
    },
    Loss::Hinge { margin: 1.0 },
    Loss::SquaredHinge { margin: 1.0 },
    Loss::MeanSquaredError,
    Loss::Logistic,
];

/// The rule, spelled out: softmax and the hinges compare the true class's
/// score with every other, so they need one column per class; logistic and
/// MSE also read one 0/1 column for two classes, and alone train on
/// real-valued targets (0 classes). One class is never a classifier.
fn fits(loss: &Loss, outputs: usize, classes: usize) -> bool {
    let single_target = matches!(loss, Loss::Logistic | Loss::MeanSquaredError);
    match classes {
        0 => single_target,
        1 => false,
        2 => outputs == 2 || (outputs == 1 && single_target),
        c => outputs == c,
    }
}

/// Runs `f`, failing the test with `what` if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| panic!("{what} panicked"))
}

fn is_inconsistent<T: std::fmt::Debug>(what: &str, result: lintrain::Result<T>) {
    match result {
        Err(Error::InvalidConfig(message)) if message.starts_with("inconsistent model") => {}
        other => panic!("{what}: expected an inconsistent-model error, got {other:?}"),
    }
}

/// Every combination of loss, outputs, classes and bias length: the
/// scoring functions of a hand-built `Model` either work, with predictions
/// that are classes of the model, or return the one typed error; none
/// panics (a one-column SVM model used to index past its scores).
#[test]
fn every_scoring_function_checks_the_model_invariants() {
    let x = array![[0.5f32, -1.0], [2.0, 0.25], [-0.75, 1.5]];
    for loss in ALL_LOSSES {
        for classes in 0..=4 {
            for outputs in 1..=4 {
                for bias_len in [outputs, outputs + 1, outputs - 1] {
                    let case = format!(
                        "{} with {outputs} outputs, {classes} classes, {bias_len} biases",
                        loss.name()
                    );
                    let mut m = model(2, outputs, classes, loss);
                    m.bias = Array1::from_shape_fn(bias_len, |j| 0.1 * j as f32);
                    let labels = [0u32, 1, 1].map(|l| l.min(classes.saturating_sub(1) as u32));
                    let labels = Array1::from(labels.to_vec());
                    let valid = fits(&loss, outputs, classes) && bias_len == outputs;
                    assert_eq!(m.check().is_ok(), valid, "{case}: check");
                    let scores = no_panic(&case, || m.decision_function(x.view()));
                    let predicted = no_panic(&case, || m.predict(x.view()));
                    let proba = no_panic(&case, || m.predict_proba(x.view()));
                    let class_scores = no_panic(&case, || m.class_scores(x.view()));
                    let loss_value = no_panic(&case, || m.data_loss(x.view(), labels.view()));
                    let evaluation = no_panic(&case, || m.evaluate(x.view(), labels.view()));
                    let accuracy = no_panic(&case, || m.accuracy(x.view(), labels.view()));
                    if !valid {
                        is_inconsistent(&case, scores);
                        is_inconsistent(&case, predicted);
                        is_inconsistent(&case, proba);
                        is_inconsistent(&case, class_scores);
                        is_inconsistent(&case, loss_value);
                        is_inconsistent(&case, evaluation);
                        is_inconsistent(&case, accuracy);
                        continue;
                    }
                    assert_eq!(scores.unwrap().dim(), (3, outputs), "{case}");
                    let predicted = predicted.unwrap();
                    if classes == 0 {
                        // Real-valued targets: scores, but no labels to score.
                        assert!(matches!(loss_value, Err(Error::InvalidConfig(_))), "{case}");
                        assert!(evaluation.is_err(), "{case}");
                        continue;
                    }
                    assert!(
                        predicted.iter().all(|&p| (p as usize) < classes),
                        "{case}: {predicted:?}"
                    );
                    let proba = proba.unwrap();
                    let class_scores = class_scores.unwrap();
                    assert_eq!(proba.dim(), (3, classes), "{case}");
                    assert_eq!(class_scores.dim(), (3, classes), "{case}");
                    for (i, row) in proba.outer_iter().enumerate() {
                        assert!((row.sum() - 1.0).abs() < 1e-5, "{case}");
                        let first_max = |r: ndarray::ArrayView1<'_, f32>| {
                            (0..r.len()).fold(0, |b, j| if r[j] > r[b] { j } else { b }) as u32
                        };
                        assert_eq!(
                            first_max(class_scores.row(i)),
                            predicted[i],
                            "{case}: class scores"
                        );
                        assert_eq!(first_max(row), predicted[i], "{case}: proba");
                    }
                    let loss_value = loss_value.unwrap();
                    assert!(loss_value.is_finite(), "{case}");
                    let evaluation = evaluation.unwrap();
                    assert_eq!(evaluation.loss, loss_value, "{case}");
                    assert_eq!(evaluation.predicted, predicted, "{case}");
                    let ranks: Vec<u32> = class_scores
                        .outer_iter()
                        .zip(labels.iter())
                        .map(|(row, &label)| {
                            lintrain::metrics::label_rank(row, label as usize) as u32
                        })
                        .collect();
                    assert_eq!(evaluation.label_ranks, ranks, "{case}");
                    let margins = (classes == 2).then(|| {
                        class_scores
                            .outer_iter()
                            .map(|row| row[1] as f64 - row[0] as f64)
                            .collect::<Vec<f64>>()
                    });
                    assert_eq!(evaluation.margins, margins, "{case}");
                    accuracy.unwrap();
                }
            }
        }
    }
    // Loss parameters out of range are the same error.
    let mut smoothing = model(2, 3, 3, Loss::softmax());
    smoothing.loss = Loss::SoftmaxCrossEntropy {
        label_smoothing: 1.5,
    };
    is_inconsistent("label smoothing 1.5", smoothing.predict(x.view()));
}

#[test]
fn the_limits_on_classes_and_parameters_are_checked() {
    let softmax = Loss::softmax();
    // (D + 1)·C exactly at the limit passes, one feature more does not.
    let outputs = 1 << 10;
    let features = (MAX_PARAMETERS / outputs - 1) as usize;
    Model::check_parts(
        &softmax,
        features,
        outputs as usize,
        outputs as usize,
        outputs as usize,
    )
    .unwrap();
    match Model::check_parts(
        &softmax,
        features + 1,
        outputs as usize,
        outputs as usize,
        outputs as usize,
    ) {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!(size, (features as u64 + 2) * outputs);
            assert_eq!(limit, MAX_PARAMETERS);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let too_many = MAX_CLASSES as usize + 1;
    assert!(matches!(
        Model::check_parts(&softmax, 1, too_many, too_many, too_many),
        Err(Error::TooLarge { .. })
    ));
    // Sizes whose product overflows are over the limit too.
    assert!(matches!(
        Model::check_parts(&softmax, usize::MAX, 2, 2, 2),
        Err(Error::TooLarge { .. })
    ));
}

/// The file: `loss=svm` (or squared-hinge, or softmax), one weight
/// column, two classes. It used to load; `eval` then panicked (or, for
/// softmax, reported a loss of 0).
#[test]
fn a_one_column_model_loads_only_for_losses_that_read_one_column() {
    let dir = TempDir::new().unwrap();
    let tensors = [
        f32_tensor("weight", vec![2, 1]),
        f32_tensor("bias", vec![1]),
    ];
    for loss in ALL_LOSSES {
        let mut metadata = metadata(2, 2);
        metadata.insert("loss".into(), format_loss(&loss));
        let path = write_raw(
            &dir,
            &format!("{}.safetensors", loss.name()),
            &tensors,
            metadata,
        );
        if fits(&loss, 1, 2) {
            let saved = SavedModel::load(&path).unwrap();
            let x = array![[1.0f32, -1.0], [-3.0, 0.5]];
            let labels = array![1u32, 0];
            assert!(
                saved
                    .model
                    .data_loss(x.view(), labels.view())
                    .unwrap()
                    .is_finite()
            );
            assert!(
                saved
                    .model
                    .predict(x.view())
                    .unwrap()
                    .iter()
                    .all(|&p| p < 2)
            );
        } else {
            let message = load_error(&path);
            assert!(
                message.contains("2 classes do not fit 1 output columns"),
                "{}: {message}",
                loss.name()
            );
        }
    }
}

// ------------------------------------------------- crafted files (§3, §5)

/// A file with this exact header text and data.
fn raw_file(dir: &TempDir, name: &str, header: &str, data: &[u8]) -> PathBuf {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Loading must end in a typed error, never a panic; returns it.
fn typed_load_error(path: &Path) -> Error {
    let result = no_panic(&path.display().to_string(), || SavedModel::load(path));
    let error = result.expect_err("expected the load to fail");
    let message = error.to_string();
    assert!(!message.contains('\n'), "not one line: {message}");
    assert!(
        matches!(
            error,
            Error::Format { .. } | Error::TooLarge { .. } | Error::File { .. }
        ),
        "{error:?}"
    );
    assert!(
        message.contains(&path.display().to_string()),
        "does not name the file: {message}"
    );
    error
}

fn f32_values(name: &'static str, shape: Vec<usize>, values: &[f32]) -> RawTensor {
    RawTensor {
        name,
        dtype: Dtype::F32,
        shape,
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

#[test]
fn crafted_files_give_typed_errors() {
    let dir = TempDir::new().unwrap();
    let weight = || f32_tensor("weight", vec![2, 3]);
    let bias = || f32_tensor("bias", vec![3]);
    let with = |changes: &[(&str, &str)]| {
        let mut m = metadata(3, 2);
        for (key, value) in changes {
            m.insert(key.to_string(), value.to_string());
        }
        m
    };
    let dtype = |name: &'static str, dtype: Dtype, shape: Vec<usize>, bytes: usize| RawTensor {
        name,
        dtype,
        shape,
        bytes: vec![0; bytes],
    };
    let mean = |v: [f32; 2]| f32_values("mean", vec![2], &v);
    let std = |v: [f32; 2]| f32_values("std", vec![2], &v);
    // (file name, tensors, metadata, expected fragment of the error)
    type Case = (
        &'static str,
        Vec<RawTensor>,
        HashMap<String, String>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "i32_weight",
            vec![dtype("weight", Dtype::I32, vec![2, 3], 24), bias()],
            with(&[]),
            "dtype I32",
        ),
        (
            "f16_weight",
            vec![dtype("weight", Dtype::F16, vec![2, 3], 12), bias()],
            with(&[]),
            "dtype F16",
        ),
        (
            "u8_bias",
            vec![weight(), dtype("bias", Dtype::U8, vec![3], 3)],
            with(&[]),
            "dtype U8",
        ),
        (
            "bf16_mean",
            vec![
                weight(),
                bias(),
                dtype("mean", Dtype::BF16, vec![2], 4),
                std([1.0, 1.0]),
            ],
            with(&[]),
            "dtype BF16",
        ),
        (
            "scalar_weight",
            vec![f32_tensor("weight", vec![]), bias()],
            with(&[]),
            "expected 2 dimensions",
        ),
        (
            "3d_weight",
            vec![f32_tensor("weight", vec![2, 3, 1]), bias()],
            with(&[]),
            "expected 2 dimensions",
        ),
        (
            "empty_weight",
            vec![f32_tensor("weight", vec![0, 3]), bias()],
            with(&[]),
            "both sizes must be positive",
        ),
        (
            "2d_bias",
            vec![weight(), f32_tensor("bias", vec![3, 1])],
            with(&[]),
            "tensor `bias` has shape [3, 1]",
        ),
        (
            "nan_mean",
            vec![weight(), bias(), mean([0.0, f32::NAN]), std([1.0, 1.0])],
            with(&[]),
            "tensor `mean` has a non-finite value at index 1",
        ),
        (
            "inf_weight",
            vec![
                f32_values(
                    "weight",
                    vec![2, 3],
                    &[0.0, 1.0, 2.0, f32::INFINITY, 4.0, 5.0],
                ),
                bias(),
            ],
            with(&[]),
            "tensor `weight` has a non-finite value at index 3",
        ),
        (
            "nan_std",
            vec![weight(), bias(), mean([0.0, 1.0]), std([f32::NAN, 1.0])],
            with(&[]),
            "tensor `std` has a non-finite value at index 0",
        ),
        (
            "zero_std",
            vec![weight(), bias(), mean([0.0, 1.0]), std([1.0, 0.0])],
            with(&[]),
            "tensor `std` has the value 0e0 at index 1",
        ),
        (
            "negative_std",
            vec![weight(), bias(), mean([0.0, 1.0]), std([-2.0, 1.0])],
            with(&[]),
            "tensor `std` has the value -2e0 at index 0",
        ),
        // Positive and finite, but standardizing divides by it: ordinary
        // data became infinite and `eval` printed a loss of null.
        (
            "subnormal_std",
            vec![weight(), bias(), mean([0.0, 1.0]), std([1.0, 1e-45])],
            with(&[]),
            "tensor `std` has the value 1e-45 at index 1; a standard deviation must be a normal positive f32",
        ),
        (
            "largest_subnormal_std",
            vec![
                weight(),
                bias(),
                mean([0.0, 1.0]),
                std([f32::MIN_POSITIVE - f32::from_bits(1), 1.0]),
            ],
            with(&[]),
            "at least 1.1754944e-38 (f32::MIN_POSITIVE)",
        ),
        (
            "huge_num_classes",
            vec![weight(), bias()],
            with(&[("num_classes", "2000000")]),
            "`num_classes` is 2000000",
        ),
        (
            "overflowing_num_classes",
            vec![weight(), bias()],
            with(&[("num_classes", "99999999999999999999999")]),
            "not a whole number",
        ),
        (
            "negative_num_classes",
            vec![weight(), bias()],
            with(&[("num_classes", "-3")]),
            "not a whole number",
        ),
        (
            "fractional_num_classes",
            vec![weight(), bias()],
            with(&[("num_classes", "3.0")]),
            "not a whole number",
        ),
        (
            "one_class",
            vec![
                f32_tensor("weight", vec![2, 1]),
                f32_tensor("bias", vec![1]),
            ],
            with(&[
                ("num_classes", "1"),
                ("classes", "[\"only\"]"),
                ("loss", "logistic"),
            ]),
            "1 class",
        ),
        (
            "no_classes",
            vec![weight(), bias()],
            with(&[("num_classes", "0"), ("classes", "[]"), ("loss", "mse")]),
            "at least 2 classes",
        ),
        (
            "duplicate_classes",
            vec![weight(), bias()],
            with(&[("classes", "[\"a\", \"b\", \"a\"]")]),
            "class name \"a\" occurs twice",
        ),
        (
            "numeric_classes",
            vec![weight(), bias()],
            with(&[("classes", "[1, 2, 3]")]),
            "not a JSON array of strings",
        ),
        (
            "object_features",
            vec![weight(), bias()],
            with(&[("feature_names", "{\"a\": 1}")]),
            "not a JSON array of strings",
        ),
        (
            "nan_margin",
            vec![weight(), bias()],
            with(&[("loss", "svm(margin=NaN)")]),
            "margin",
        ),
        (
            "negative_margin",
            vec![weight(), bias()],
            with(&[("loss", "squared-hinge(margin=-1)")]),
            "margin",
        ),
        (
            "text_margin",
            vec![weight(), bias()],
            with(&[("loss", "svm(margin=wide)")]),
            "not a number",
        ),
        (
            "smoothing_one",
            vec![weight(), bias()],
            with(&[("loss", "softmax(label_smoothing=1)")]),
            "label smoothing",
        ),
        (
            "logistic_three_on_one",
            vec![
                f32_tensor("weight", vec![2, 1]),
                f32_tensor("bias", vec![1]),
            ],
            with(&[("loss", "logistic")]),
            "3 classes do not fit 1 output columns",
        ),
        (
            "softmax_three_on_two",
            vec![
                f32_tensor("weight", vec![2, 2]),
                f32_tensor("bias", vec![2]),
            ],
            with(&[]),
            "3 classes do not fit 2 output columns",
        ),
    ];
    for (name, tensors, metadata, expected) in cases {
        let path = write_raw(&dir, &format!("{name}.safetensors"), &tensors, metadata);
        let message = typed_load_error(&path).to_string();
        assert!(message.contains(expected), "{name}: {message}");
    }
    // The limit on classes is the typed TooLarge, checked before the names.
    let path = write_raw(
        &dir,
        "too_many_classes.safetensors",
        &[weight(), bias()],
        with(&[("num_classes", &(MAX_CLASSES + 1).to_string())]),
    );
    assert!(
        matches!(typed_load_error(&path), Error::TooLarge { size, .. } if size == MAX_CLASSES + 1)
    );

    // Headers no serializer would write: declared shapes far beyond the
    // data, sizes that overflow, offsets past the end, bad lengths.
    let meta = serde_json::to_string(&metadata(3, 2)).unwrap();
    let entry = |shape: &str, offsets: &str| {
        format!(
            "{{\"__metadata__\":{meta},\"bias\":{{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}},\"weight\":{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":{offsets}}}}}"
        )
    };
    let data = vec![0u8; 12 + 24];
    let headers = [
        ("huge_shape", entry("[1073741824,1073741824]", "[12,36]")),
        (
            "overflowing_shape",
            entry("[4294967296,4294967296,4294967296]", "[12,36]"),
        ),
        ("offsets_past_end", entry("[2,3]", "[12,4000000000]")),
        ("negative_shape", entry("[-2,3]", "[12,36]")),
        ("fractional_shape", entry("[2.5,3]", "[12,36]")),
        ("not_json", "{\"weight\": [".to_string()),
        ("not_an_object", "[1, 2, 3]".to_string()),
    ];
    for (name, header) in headers {
        let path = raw_file(&dir, &format!("{name}.safetensors"), &header, &data);
        let message = typed_load_error(&path).to_string();
        assert!(
            message.contains("not a lintrain model file"),
            "{name}: {message}"
        );
    }
    // A header length beyond the file, or beyond any header safetensors reads.
    for (name, length) in [("long_header", 1u64 << 40), ("max_header", u64::MAX)] {
        let path = dir.path().join(format!("{name}.safetensors"));
        let mut bytes = length.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        std::fs::write(&path, bytes).unwrap();
        assert!(
            typed_load_error(&path)
                .to_string()
                .contains("not a lintrain model file")
        );
    }
    // Invalid UTF-8 in the header.
    let path = raw_file(&dir, "latin1.safetensors", "{\"a\u{e9}\":1}", &[]);
    let mut bytes = std::fs::read(&path).unwrap();
    let e9 = bytes.iter().position(|&b| b == 0xc3).unwrap();
    bytes[e9] = 0xe9;
    std::fs::write(&path, bytes).unwrap();
    typed_load_error(&path);
}

/// Byte flips, truncations and insertions in a valid file: each load ends
/// in a typed error or in a model that checks and scores.
#[test]
fn mutated_files_never_panic() {
    let dir = TempDir::new().unwrap();
    let good = dir.path().join("good.safetensors");
    saved(3, 4, Loss::Hinge { margin: 0.5 }, true)
        .save(&good)
        .unwrap();
    let original = std::fs::read(&good).unwrap();
    let path = dir.path().join("mutant.safetensors");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |bound: usize| {
        // xorshift64*: a fixed sequence, so a failure reproduces.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % bound
    };
    let (mut loaded, mut refused) = (0, 0);
    for round in 0..3000 {
        let mut bytes = original.clone();
        match round % 4 {
            0 | 1 => {
                for _ in 0..1 + next(3) {
                    let at = next(bytes.len());
                    bytes[at] = next(256) as u8;
                }
            }
            2 => bytes.truncate(next(bytes.len())),
            _ => {
                let at = next(bytes.len());
                bytes.insert(at, next(256) as u8);
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let result = no_panic(&format!("round {round}"), || SavedModel::load(&path));
        match result {
            Ok(saved) => {
                loaded += 1;
                saved.model.check().unwrap();
                let x = Array2::<f32>::ones((2, saved.model.features()));
                no_panic(&format!("round {round} scoring"), || {
                    let x = saved.prepare(x.view()).unwrap();
                    // A flipped exponent can make a weight or a mean huge
                    // but finite: its scores may overflow, which is the
                    // typed error naming a row, never a NaN result.
                    let scored = |result: lintrain::Result<()>| match result {
                        Ok(()) | Err(Error::NonFinite { what: "scores", .. }) => {}
                        Err(other) => panic!("round {round}: {other:?}"),
                    };
                    scored(saved.model.predict(x.view()).map(drop));
                    scored(saved.model.predict_proba(x.view()).map(|proba| {
                        assert!(proba.iter().all(|p| p.is_finite()), "round {round}");
                    }));
                    scored(
                        saved
                            .model
                            .data_loss(x.view(), array![0u32, 1].view())
                            .map(|loss| assert!(loss.is_finite(), "round {round}")),
                    );
                });
            }
            Err(error) => {
                refused += 1;
                assert!(
                    matches!(error, Error::Format { .. } | Error::TooLarge { .. }),
                    "round {round}: {error:?}"
                );
            }
        }
    }
    // Flips in the weights load; flips in the header mostly do not.
    assert!(
        loaded > 100 && refused > 100,
        "{loaded} loaded, {refused} refused"
    );
}

/// `/dev/zero`, a directory and a file larger than any model are refused
/// before they are read (`/dev/zero` used to be read without end).
#[test]
fn devices_directories_and_oversized_files_are_not_read() {
    let dir = TempDir::new().unwrap();
    #[cfg(unix)]
    {
        let error = typed_load_error(Path::new("/dev/zero"));
        assert!(matches!(error, Error::File { .. }), "{error:?}");
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }
    let error = typed_load_error(dir.path());
    assert!(error.to_string().contains("not a regular file"), "{error}");
    // Sparse: no disk space, and the size is refused before any read.
    let huge = dir.path().join("huge.safetensors");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(MAX_MODEL_FILE_BYTES + 1).unwrap();
    drop(file);
    match typed_load_error(&huge) {
        Error::TooLarge { size, limit, .. } => {
            assert_eq!(size, MAX_MODEL_FILE_BYTES + 1);
            assert_eq!(limit, MAX_MODEL_FILE_BYTES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // The bound leaves room for the largest model the limits allow.
    const { assert!(MAX_MODEL_FILE_BYTES >= 4 * 3 * MAX_PARAMETERS) };
}

// ---------------------------------------------- reproducible files (§6)

/// The metadata used to be written from a `HashMap`, whose order differs
/// between maps: the same model gave different bytes from save to save.
#[test]
fn the_same_model_saves_to_the_same_bytes() {
    let dir = TempDir::new().unwrap();
    let model = saved(
        4,
        3,
        Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.1,
        },
        true,
    );
    let path = dir.path().join("first.safetensors");
    model.save(&path).unwrap();
    let first = std::fs::read(&path).unwrap();
    for i in 0..40 {
        let path = dir.path().join(format!("again_{i}.safetensors"));
        model.clone().save(&path).unwrap();
        assert!(std::fs::read(&path).unwrap() == first, "save {i} differs");
    }
    // The metadata keys are written sorted.
    let header_len = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&first[8..8 + header_len]).unwrap();
    let keys = [
        "classes",
        "feature_names",
        "format",
        "lintrain_version",
        "loss",
        "num_classes",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            header
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{header}");
}

/// The file is what `safetensors::serialize` writes, but for the order of
/// the metadata keys: the same header as JSON, the same data, the header
/// padded to 8 bytes, and the crate reads it back.
#[test]
fn saved_files_are_standard_safetensors() {
    let dir = TempDir::new().unwrap();
    for (i, model) in [
        saved(5, 3, Loss::softmax(), true),
        saved(3, 2, Loss::Logistic, false),
        saved(2, 4, Loss::SquaredHinge { margin: 2.0 }, true),
    ]
    .iter()
    .enumerate()
    {
        let path = dir.path().join(format!("m{i}.safetensors"));
        model.save(&path).unwrap();
        let ours = std::fs::read(&path).unwrap();

        let (features, outputs) = model.model.weights.dim();
        let bytes = |values: &mut dyn Iterator<Item = &f32>| -> Vec<u8> {
            values.flat_map(|v| v.to_le_bytes()).collect()
        };
        let mut tensors = vec![
            (
                "weight",
                vec![features, outputs],
                bytes(&mut model.model.weights.iter()),
            ),
            ("bias", vec![outputs], bytes(&mut model.model.bias.iter())),
        ];
        if let Some(s) = &model.standardizer {
            tensors.push(("mean", vec![features], bytes(&mut s.mean.iter())));
            tensors.push(("std", vec![features], bytes(&mut s.std.iter())));
        }
        let views: Vec<(&str, TensorView<'_>)> = tensors
            .iter()
            .map(|(name, shape, data)| {
                (
                    *name,
                    TensorView::new(Dtype::F32, shape.clone(), data).unwrap(),
                )
            })
            .collect();
        let metadata = HashMap::from([
            ("format".to_string(), "lintrain-linear".to_string()),
            ("loss".to_string(), format_loss(&model.model.loss)),
            (
                "classes".to_string(),
                serde_json::to_string(&model.class_names).unwrap(),
            ),
            (
                "feature_names".to_string(),
                serde_json::to_string(&model.feature_names).unwrap(),
            ),
            ("num_classes".to_string(), model.model.classes.to_string()),
            (
                "lintrain_version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ]);
        let reference = safetensors::serialize(views, Some(metadata)).unwrap();

        let split = |file: &[u8]| {
            let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
            let header: serde_json::Value = serde_json::from_slice(&file[8..8 + n]).unwrap();
            (n, header, file[8 + n..].to_vec())
        };
        let (n, header, data) = split(&ours);
        let (reference_n, reference_header, reference_data) = split(&reference);
        assert_eq!(n % 8, 0, "header padded to 8 bytes");
        assert_eq!(n, reference_n);
        assert_eq!(header, reference_header);
        assert_eq!(data, reference_data);
        let read = safetensors::SafeTensors::deserialize(&ours).unwrap();
        for (name, shape, data) in &tensors {
            let view = read.tensor(name).unwrap();
            assert_eq!(view.shape(), shape.as_slice());
            assert_eq!(view.data(), data.as_slice());
        }
    }
}

fn checkpoint_of(saved: &SavedModel, state_len: usize) -> SavedCheckpoint {
    let checkpoint = Checkpoint {
        model: saved.model.clone(),
        optimizer_state: (0..state_len).map(|i| i as f32 * 0.25 - 3.0).collect(),
        steps_taken: 1234,
        epochs_done: 7,
    };
    SavedCheckpoint::new(
        checkpoint,
        Optimizer::adam(),
        saved.standardizer.clone(),
        saved.class_names.clone(),
        saved.feature_names.clone(),
    )
}

#[test]
fn checkpoints_round_trip_and_check_their_state() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("run.ckpt");
    let saved = saved(5, 3, Loss::softmax(), true);
    let params = 5 * 3 + 3;
    let written = checkpoint_of(&saved, STATE_SLOTS * params);
    written.save(&path).expect("saves");
    let bytes = std::fs::read(&path).unwrap();
    written.save(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "not reproducible");
    let read = SavedCheckpoint::load(&path, Optimizer::adam()).expect("loads");
    assert_eq!(read.checkpoint, written.checkpoint);
    assert_eq!(read.saved.standardizer, saved.standardizer);
    assert_eq!(read.saved.class_names, saved.class_names);

    // Another optimizer's run cannot use the state.
    let error = SavedCheckpoint::load(&path, Optimizer::Sgd)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("optimizer") && error.contains("Sgd"),
        "{error}"
    );
    // A model file is not a checkpoint, nor a checkpoint a model file.
    let model_path = dir.path().join("m.safetensors");
    saved.save(&model_path).unwrap();
    let error = SavedCheckpoint::load(&model_path, Optimizer::adam())
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a lintrain checkpoint file"), "{error}");
    let error = SavedModel::load(&path).unwrap_err().to_string();
    assert!(error.contains("not a lintrain model file"), "{error}");
    // A state of the wrong size is neither written nor read.
    let wrong = checkpoint_of(&saved, STATE_SLOTS * params - 1);
    let error = wrong
        .save(dir.path().join("bad.ckpt"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("optimizer state"), "{error}");
    assert!(!dir.path().join("bad.ckpt").exists());
    // A NaN written into the state's bytes in the file: refused on load.
    let (header_len, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let (start, _) = header.info("optimizer_state").unwrap().data_offsets;
    let mut corrupt = bytes.clone();
    let at = 8 + header_len + start + 4;
    corrupt[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let corrupt_path = dir.path().join("corrupt.ckpt");
    std::fs::write(&corrupt_path, corrupt).unwrap();
    let error = SavedCheckpoint::load(&corrupt_path, Optimizer::adam())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("optimizer_state") && error.contains("NaN"),
        "{error}"
    );
}

#[test]
fn the_regularizer_round_trips_in_the_metadata_and_older_files_load_without_it() {
    let dir = TempDir::new().unwrap();
    for regularizer in [
        lintrain::Regularizer::None,
        lintrain::Regularizer::L2 {
            strength: 1.0 / 300.0,
        },
        lintrain::Regularizer::L1 { strength: 1e-4 },
        lintrain::Regularizer::ElasticNet {
            strength: 2.5e-3,
            l1_ratio: 0.26086956,
        },
    ] {
        let model = saved(3, 3, Loss::softmax(), true).with_regularizer(regularizer);
        let path = dir.path().join("regularized.safetensors");
        model.save(&path).unwrap();
        let loaded = SavedModel::load(&path).unwrap();
        assert_eq!(loaded.regularizer, Some(regularizer));
        assert_eq!(loaded, model);
    }
    // A file written before the regularizer was recorded.
    let path = write_raw(
        &dir,
        "older.safetensors",
        &[
            f32_tensor("weight", vec![2, 3]),
            f32_tensor("bias", vec![3]),
        ],
        metadata(3, 2),
    );
    assert_eq!(SavedModel::load(&path).unwrap().regularizer, None);
    // A recorded regularizer that does not parse is named.
    for (entries, fragment) in [
        (vec![("regularizer", "l3")], "l3"),
        (vec![("regularizer", "l2")], "reg_strength"),
        (
            vec![("regularizer", "l2"), ("reg_strength", "strong")],
            "strong",
        ),
        (
            vec![("regularizer", "l1"), ("reg_strength", "-1")],
            "strength",
        ),
        (
            vec![("regularizer", "elastic"), ("reg_strength", "1e-3")],
            "l1_ratio",
        ),
    ] {
        let mut bad = metadata(3, 2);
        bad.extend(entries.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let path = write_raw(
            &dir,
            "bad.safetensors",
            &[
                f32_tensor("weight", vec![2, 3]),
                f32_tensor("bias", vec![3]),
            ],
            bad,
        );
        let message = load_error(&path);
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    }
}
