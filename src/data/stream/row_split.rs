//! The validation split of streamed data, decided row by row from the
//! row's global index alone, so it is the same whatever the chunk size,
//! the shard boundaries or the order the rows are read in.

/// Mixed into the hash so that the split is not correlated with other uses
/// of the run's seed (the shuffles seed ChaCha8 from it).
const VALIDATION_SALT: u64 = 0x5EED_5A17_D47E_0F01;

/// SplitMix64's output function of `x` (Steele, Lea and Flood 2014): a
/// bijection of `u64` whose outputs of consecutive inputs look independent.
///
/// `z = x + 0x9E3779B97F4A7C15`,
/// `z = (z ⊕ (z ≫ 30)) · 0xBF58476D1CE4E5B9`,
/// `z = (z ⊕ (z ≫ 27)) · 0x94D049BB133111EB`,
/// `splitmix64(x) = z ⊕ (z ≫ 31)` (wrapping arithmetic).
pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether global row `row` is held out for validation:
///
/// `u = ⌊splitmix64(seed ⊕ SALT ⊕ row) / 2¹¹⌋ · 2⁻⁵³ ∈ [0, 1)`, and the row is
/// held out when `u < fraction` (compared in f64).
///
/// So each row is held out with probability `fraction`, independently of
/// the others, of the chunking and of the order of reading; the number of
/// held-out rows is about `fraction · N` (binomial, not exact). A fraction
/// ≤ 0 holds out nothing and one ≥ 1 everything.
pub fn is_validation_row(seed: u64, fraction: f32, row: u64) -> bool {
    let hash = splitmix64(seed ^ VALIDATION_SALT ^ row);
    let unit = (hash >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    unit < f64::from(fraction)
}

/// Which rows a pass reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowFilter {
    /// Every row.
    All,
    /// The rows [`is_validation_row`] does not hold out.
    Train { seed: u64, fraction: f32 },
    /// The rows [`is_validation_row`] holds out.
    Validation { seed: u64, fraction: f32 },
}

impl RowFilter {
    /// Whether global row `row` is read.
    #[inline]
    pub fn selects(&self, row: u64) -> bool {
        match *self {
            RowFilter::All => true,
            RowFilter::Train { seed, fraction } => !is_validation_row(seed, fraction, row),
            RowFilter::Validation { seed, fraction } => is_validation_row(seed, fraction, row),
        }
    }

    /// How many of the global rows `0..rows` are read (one hash per row).
    pub fn count(&self, rows: usize) -> usize {
        match self {
            RowFilter::All => rows,
            _ => (0..rows as u64).filter(|&row| self.selects(row)).count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_outputs() {
        // The first outputs of the reference generator seeded with 0, whose
        // state steps by the golden gamma: splitmix64(k · gamma).
        let gamma = 0x9E37_79B9_7F4A_7C15u64;
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(gamma), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(splitmix64(gamma.wrapping_mul(2)), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn the_held_out_fraction_is_respected_and_deterministic() {
        let rows = 100_000u64;
        for (seed, fraction) in [(0u64, 0.1f32), (7, 0.25), (12345, 0.5), (1, 0.02)] {
            let held = (0..rows)
                .filter(|&r| is_validation_row(seed, fraction, r))
                .count() as f64;
            let expected = fraction as f64 * rows as f64;
            // Binomial: the standard deviation is at most 158 rows here;
            // 5 of them, or 3 % of the expected count, whichever is larger.
            let allowed = (5.0 * (expected * (1.0 - fraction as f64)).sqrt()).max(0.03 * expected);
            assert!(
                (held - expected).abs() <= allowed,
                "seed {seed}, fraction {fraction}: {held} of {rows} held out"
            );
            let train = RowFilter::Train { seed, fraction };
            let validation = RowFilter::Validation { seed, fraction };
            assert_eq!(validation.count(rows as usize) as f64, held);
            assert_eq!(
                train.count(rows as usize) + validation.count(rows as usize),
                rows as usize
            );
            for row in (0..rows).step_by(997) {
                assert_ne!(train.selects(row), validation.selects(row));
                assert_eq!(
                    is_validation_row(seed, fraction, row),
                    is_validation_row(seed, fraction, row)
                );
            }
        }
        // Different seeds hold out different rows.
        let differ = (0..1000u64)
            .filter(|&r| is_validation_row(1, 0.5, r) != is_validation_row(2, 0.5, r))
            .count();
        assert!((350..650).contains(&differ), "{differ}");
        assert!(!(0..1000).any(|r| is_validation_row(3, 0.0, r)));
        assert!((0..1000).all(|r| is_validation_row(3, 1.0, r)));
        assert_eq!(RowFilter::All.count(17), 17);
    }
}
