//! The stated limits on sizes that come from a user: a flag, a file header,
//! a model file. Every such size is checked against these before anything
//! is allocated for it, and a size beyond one is an [`Error::TooLarge`]
//! naming both, so a crafted header or a typo in a flag is a clear error
//! instead of an allocation failure or the OOM killer.

use crate::{Error, Result};

/// Most values (rows × features) in one in-memory feature table: 2³² f32
/// values, 16 GiB.
pub const MAX_TABLE_VALUES: u64 = 1 << 32;

/// Most classes a model or a label set may have.
pub const MAX_CLASSES: u64 = 1 << 20;

/// Most parameters (D + 1)·C of one model: 2³⁰, 4 GiB of f32 weights.
pub const MAX_PARAMETERS: u64 = 1 << 30;

/// Most scores (batch rows × outputs) in one training step: 2³⁰, 4 GiB
/// of f32 for the scores and as much for their gradient.
pub const MAX_BATCH_SCORES: u64 = 1 << 30;

/// Most bytes read from one file that is read whole (a data file, a labels
/// file, a model file): 64 GiB.
pub const MAX_FILE_BYTES: u64 = 64 << 30;

/// Most values in one gradient check, rows × classes (its scores) and
/// rows × (features + outputs) (its f64 copy of the data): it evaluates the
/// whole objective twice per checked coordinate, in f64, so 2²⁴ values
/// already take seconds per coordinate.
pub const MAX_GRADCHECK_SCORES: u64 = 1 << 24;

/// Most scores (rows × output columns) a model computes at once: its
/// scoring functions ([`Model`](crate::Model)) work through the rows in
/// chunks of at most this many scores (one row at least), so that their
/// working memory is 16 MiB of f32 however many rows and classes there are.
pub const MAX_SCORES_PER_CHUNK: u64 = 1 << 22;

/// Most numbers (rows × classes) of scores or probabilities handed out
/// whole: the probabilities `predict --proba` writes (several GiB of CSV),
/// and the arrays [`Model::decision_function`](crate::Model::decision_function),
/// [`Model::class_scores`](crate::Model::class_scores) and
/// [`Model::predict_proba`](crate::Model::predict_proba) return (1 GiB of
/// f32). 2²⁸ ≈ 268 million; more goes through the chunked
/// [`Model::for_each_score_chunk`](crate::Model::for_each_score_chunk) and
/// its kin.
pub const MAX_OUTPUT_CELLS: u64 = 1 << 28;

/// `Ok(size)` when `size <= limit`, else [`Error::TooLarge`] naming `what`.
pub fn check(what: impl Into<String>, size: u64, limit: u64) -> Result<u64> {
    if size <= limit {
        Ok(size)
    } else {
        Err(Error::TooLarge {
            what: what.into(),
            size,
            limit,
        })
    }
}

/// `a · b` checked against `limit`; an overflowing product is over it too.
pub fn check_product(what: impl Into<String>, a: u64, b: u64, limit: u64) -> Result<u64> {
    check(what, a.saturating_mul(b), limit)
}

/// The memory the kernel says can be allocated without swapping
/// (`MemAvailable` in `/proc/meminfo`), in bytes; `None` where there is no
/// such file (not Linux) or it cannot be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

/// The machine's physical memory (`MemTotal` in `/proc/meminfo`), in
/// bytes; `None` where it cannot be read.
pub fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_bytes(&text, "MemTotal:")
}

/// `MemAvailable:  N kB` of a `/proc/meminfo` text, in bytes.
fn parse_mem_available(meminfo: &str) -> Option<u64> {
    meminfo_bytes(meminfo, "MemAvailable:")
}

/// `KEY  N kB` of a `/proc/meminfo` text, in bytes.
fn meminfo_bytes(meminfo: &str, key: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with(key))?;
    let mut words = line.split_whitespace().skip(1);
    let kilobytes: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => kilobytes.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_bytes() {
        let text = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(20_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: x kB\n"), None);
        assert_eq!(meminfo_bytes(text, "MemTotal:"), Some(24576000 * 1024));
    }

    #[test]
    fn sizes_up_to_the_limit_pass_and_beyond_it_name_both() {
        assert_eq!(check("rows", 10, 10).unwrap(), 10);
        let error = check("rows", 11, 10).unwrap_err().to_string();
        assert!(
            error.contains("rows") && error.contains("11") && error.contains("10"),
            "{error}"
        );
        assert!(check_product("values", u64::MAX, 2, 1 << 40).is_err());
        assert_eq!(check_product("values", 3, 4, 12).unwrap(), 12);
    }
}
