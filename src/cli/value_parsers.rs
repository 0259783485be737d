//! Value parsers of the command line: each reads one flag's text and says
//! what a value out of range must be, so that clap names the flag.

use lintrain::BatchSize;
use lintrain::data::{Delimiter, LabelColumn};

pub fn parse_f32(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number, got {text:?}"))?;
    if !value.is_finite() {
        return Err(format!("must be finite, got {text}"));
    }
    Ok(value)
}

pub fn positive(text: &str) -> Result<f32, String> {
    let v = parse_f32(text)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("must be > 0, got {v}"))
    }
}

pub fn non_negative(text: &str) -> Result<f32, String> {
    let v = parse_f32(text)?;
    if v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("must be ≥ 0, got {v}"))
    }
}

pub fn non_negative_f64(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number, got {text:?}"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("must be finite and ≥ 0, got {v}"))
    }
}

pub fn fraction_below_one(text: &str) -> Result<f32, String> {
    let v = parse_f32(text)?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be in [0, 1), got {v}"))
    }
}

pub fn unit_closed(text: &str) -> Result<f32, String> {
    let v = parse_f32(text)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be in [0, 1], got {v}"))
    }
}

pub fn decay_factor(text: &str) -> Result<f32, String> {
    let v = parse_f32(text)?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("must be in (0, 1], got {v}"))
    }
}

pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be ≥ 1, got 0".into()),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("expected a whole number ≥ 1, got {text:?}")),
    }
}

pub fn parse_batch_size(text: &str) -> Result<BatchSize, String> {
    if text.trim() == "full" {
        return Ok(BatchSize::Full);
    }
    at_least_one(text)
        .map(BatchSize::Rows)
        .map_err(|e| format!("{e} (or `full`)"))
}

pub fn parse_label_column(text: &str) -> Result<LabelColumn, String> {
    text.parse().map_err(|e: lintrain::Error| e.to_string())
}

pub fn parse_delimiter(text: &str) -> Result<Delimiter, String> {
    text.parse().map_err(|e: lintrain::Error| e.to_string())
}

/// A finite f64 > 0.
pub fn positive_f64(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number, got {text:?}"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("must be finite and > 0, got {v}"))
    }
}
