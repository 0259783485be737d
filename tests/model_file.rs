//! The safetensors model file: round trips, atomic saving, and clear errors
//! for files that are not valid lintrain models.

use lintrain::data::Standardizer;
use lintrain::model_file::{format_loss, parse_loss};
use lintrain::{Error, Loss, Model, SavedModel};
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
    assert!(matches!(
        plain.prepare(wrong.view()),
        Err(Error::ShapeMismatch { .. })
    ));
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
