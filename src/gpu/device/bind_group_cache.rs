//! Bind groups reused across dispatches, so steady training steps create none.

use std::collections::HashMap;
use std::hash::Hash;

/// Bind groups by what they bind. Each entry keeps its buffers alive, so
/// the cache is cleared once it holds `CAPACITY` groups.
pub(crate) struct BindGroupCache<K, const CAPACITY: usize> {
    groups: HashMap<K, wgpu::BindGroup>,
}

impl<K, const CAPACITY: usize> Default for BindGroupCache<K, CAPACITY> {
    fn default() -> Self {
        Self {
            groups: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq, const CAPACITY: usize> BindGroupCache<K, CAPACITY> {
    /// The cached group for `key`, or the one `create` makes.
    pub(crate) fn get_or_create(
        &mut self,
        key: K,
        create: impl FnOnce() -> wgpu::BindGroup,
    ) -> wgpu::BindGroup {
        if let Some(group) = self.groups.get(&key) {
            return group.clone();
        }
        if self.groups.len() >= CAPACITY {
            self.groups.clear();
        }
        let group = create();
        self.groups.insert(key, group.clone());
        group
    }
}
