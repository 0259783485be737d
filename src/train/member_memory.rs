//! How many members of a shape a sweep may hold at once: together they are
//! one wide model (the CPU steps them side by side), and each keeps its own
//! buffers on the backend and copies on the host.

/// Bytes one member holds per parameter at a sweep's peak, an f32 for each
/// copy: its weights, gradient and [`crate::optimizer::STATE_SLOTS`]
/// optimizer states on the backend (5); on the CPU its columns of the
/// step's side-by-side weights, gradient and packed weights (3); on the
/// host its latest weights and their model, the last finite model and
/// early stopping's best weights (4); and as training ends its result, the
/// model, the checkpoint's model and optimizer state and the last finite
/// model (6). 18 in all, as `tests/sweep_memory.rs` measures it, and 2 for
/// the packed panels' padding and the epoch's read-back.
pub const BYTES_PER_MEMBER_PARAMETER: u64 = 4 * 20;

/// Whether `members` models of `features` features and `outputs` outputs
/// fit beside each other: K·(D + 1)·C parameters at most
/// [`MAX_PARAMETERS`](crate::limits::MAX_PARAMETERS), and
/// [`BYTES_PER_MEMBER_PARAMETER`] of each within the memory available now
/// ([`crate::limits::available_memory`]). The reason when not, saying how
/// many members of this shape would fit.
pub fn members_fit(
    members: usize,
    features: usize,
    outputs: usize,
) -> std::result::Result<(), String> {
    let outputs = outputs.max(1) as u64;
    let per_member = (features as u64 + 1) * outputs;
    let members = members as u64;
    let limit = crate::limits::MAX_PARAMETERS;
    let shape = format!("({features} features + 1 by {outputs} outputs)");
    if members.saturating_mul(per_member) > limit {
        return Err(format!(
            "{members} members of {per_member} parameters {shape} are more than the {limit} parameters a sweep may hold at once; at most {} members of this shape fit",
            limit / per_member
        ));
    }
    match crate::limits::available_memory() {
        Some(available) => check_members_memory(members, per_member, available)
            .map_err(|reason| format!("{reason} {shape}")),
        None => Ok(()),
    }
}

/// `members` members of `per_member` parameters within `available` bytes,
/// or why not.
fn check_members_memory(
    members: u64,
    per_member: u64,
    available: u64,
) -> std::result::Result<(), String> {
    let per_member_bytes = per_member.saturating_mul(BYTES_PER_MEMBER_PARAMETER);
    let needed = members.saturating_mul(per_member_bytes);
    if needed <= available {
        return Ok(());
    }
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    Err(format!(
        "{members} members need about {:.1} GiB (each member's weights, gradient and optimizer state, and its copies on the host), and {:.1} GiB are available; at most {} members of this shape fit",
        gib(needed),
        gib(available),
        available / per_member_bytes.max(1)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_beyond_the_available_memory_are_refused_with_how_many_fit() {
        let per_member = 1_000_000;
        let bytes = per_member * BYTES_PER_MEMBER_PARAMETER;
        assert!(check_members_memory(10, per_member, 10 * bytes).is_ok());
        let reason = check_members_memory(11, per_member, 10 * bytes + 5).unwrap_err();
        assert!(reason.contains("at most 10 members"), "{reason}");
        assert!(reason.contains("are available"), "{reason}");
    }
}
