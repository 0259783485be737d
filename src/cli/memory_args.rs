//! Where the data lives: the host memory budget that decides between
//! holding the data resident and streaming it from disk, the shuffle
//! buffer of a streamed run, and the device budget beyond which rows pass
//! through a ring of device buffers.

/// The share of physical memory the data may take when no
/// `--memory-budget` is given: half, leaving the rest to the model, the
/// optimizer state and everything else on the machine.
pub const DEFAULT_BUDGET_SHARE: f64 = 0.5;

/// The budget when physical memory cannot be read (not Linux).
const FALLBACK_BUDGET: u64 = 4 << 30;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct MemoryArgs {
    /// Host memory the data may take, e.g. 512MiB, 8GiB or 2GB; data larger than it is streamed from disk in chunks instead of loaded [default: half of physical memory].
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    pub memory_budget: Option<u64>,
    /// Streaming only: rows in the shuffle buffer, whose rows are shuffled together after the chunks' order is; the README explains how this differs from a full shuffle [default: as many rows as half the memory budget holds].
    #[arg(long, value_name = "ROWS", value_parser = clap::value_parser!(u64).range(1..))]
    pub shuffle_buffer: Option<u64>,
    /// Device memory the training and validation rows may take, e.g. 2GiB; rows beyond it pass through a ring of two device buffers every epoch, with the same results [default: no limit; streamed data always passes through the ring].
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    pub device_budget: Option<u64>,
}

impl MemoryArgs {
    /// `--memory-budget`, or [`DEFAULT_BUDGET_SHARE`] of physical memory.
    pub fn budget(&self) -> u64 {
        self.memory_budget.unwrap_or_else(default_budget)
    }

    /// How the budget was chosen, for the run's log.
    pub fn describe_budget(&self) -> String {
        match self.memory_budget {
            Some(bytes) => format!("--memory-budget {}", format_bytes(bytes)),
            None => format!(
                "a memory budget of {} (half of physical memory; set --memory-budget)",
                format_bytes(default_budget())
            ),
        }
    }
}

fn default_budget() -> u64 {
    lintrain::limits::physical_memory().map_or(FALLBACK_BUDGET, |bytes| {
        (bytes as f64 * DEFAULT_BUDGET_SHARE) as u64
    })
}

/// A size with an optional unit: `512MiB`, `8GiB`, `2GB`, `1.5 GiB` or a
/// number of bytes; at least one byte.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let bytes = parse_size::parse_size(text.trim())
        .map_err(|e| format!("expected a size such as 512MiB, 8GiB or 2GB, got {text:?} ({e})"))?;
    if bytes == 0 {
        return Err(format!("must be at least one byte, got {text:?}"));
    }
    Ok(bytes)
}

/// `bytes` in the largest binary unit that keeps it ≥ 1, to 3 significant
/// digits, a whole number of units without decimals (as budgets are
/// given): `512 MiB`, `5.59 GiB`, `30.5 GiB`, `1 MiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else if value >= 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units_and_refuse_nonsense() {
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("8GiB"), Ok(8 << 30));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_bytes("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        for bad in ["", "lots", "-1MiB", "0", "12 parsecs"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(format_bytes(512 << 20), "512 MiB");
        assert_eq!(format_bytes(6_000_000_000), "5.59 GiB");
        assert_eq!(format_bytes(1000), "1000 B");
        assert_eq!(format_bytes(61 << 29), "30.5 GiB");
        // Whole units, as a budget is usually given, print without decimals.
        assert_eq!(format_bytes(30 << 30), "30 GiB");
        assert_eq!(format_bytes(1 << 20), "1 MiB");
    }
}
