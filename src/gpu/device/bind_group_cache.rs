//! Bind groups reused across dispatches, so steady training steps create none.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, RandomState};

/// Most groups a cache grows to hold (see [`BindGroupCache`]).
const MAX_CAPACITY: usize = 8192;

/// Bind groups by what they bind. Each entry keeps its buffers alive, so
/// the cache is cleared once it holds its capacity, `CAPACITY` at first
/// ([`Capacity`] says when it grows instead).
pub(crate) struct BindGroupCache<K, const CAPACITY: usize> {
    groups: HashMap<K, wgpu::BindGroup>,
    capacity: Capacity,
    hasher: RandomState,
}

impl<K, const CAPACITY: usize> Default for BindGroupCache<K, CAPACITY> {
    fn default() -> Self {
        Self {
            groups: HashMap::new(),
            capacity: Capacity::new(CAPACITY),
            hasher: RandomState::new(),
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
        let hash = self.hasher.hash_one(&key);
        if self.capacity.miss(hash, self.groups.len()) == Full::Clear {
            let hasher = &self.hasher;
            self.capacity
                .cleared(self.groups.keys().map(|k| hasher.hash_one(k)));
            self.groups.clear();
        }
        let group = create();
        self.groups.insert(key, group.clone());
        group
    }
}

/// What a miss in a full cache does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Full {
    /// Not full, or it grew: insert.
    Insert,
    /// Clear, then insert.
    Clear,
}

/// When a cache grows. A step whose working set is larger than the cache
/// (a sweep's K members each bind their own buffers) would clear it every
/// step and create every group again. So the rule remembers which keys
/// clears dropped: when, between one clear and the cache being full again,
/// half a capacity's worth of the keys it filled with had been dropped
/// before, the groups were in use, and the capacity doubles instead of
/// clearing (up to [`MAX_CAPACITY`]). Keys that never return (buffers made
/// for one dispatch and dropped) do not count, nor does a key that comes
/// back once per fill among many one-off keys (a persistent dispatch
/// beside an unfused step's fresh scratch), so the dead buffers it keeps
/// alive stay bounded.
struct Capacity {
    limit: usize,
    /// Hashes of keys clears dropped (at most [`REMEMBERED`]).
    dropped: HashSet<u64>,
    /// Of those, how many were asked for again since the last clear or
    /// growth.
    returned: usize,
}

/// Most dropped keys a [`Capacity`] remembers before it starts afresh.
const REMEMBERED: usize = 4 * MAX_CAPACITY;

impl Capacity {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            dropped: HashSet::new(),
            returned: 0,
        }
    }

    /// A miss on the key hashed `hash`, with `len` groups cached.
    fn miss(&mut self, hash: u64, len: usize) -> Full {
        if self.dropped.remove(&hash) {
            self.returned += 1;
        }
        if len < self.limit {
            return Full::Insert;
        }
        if 2 * self.returned >= self.limit && self.limit < MAX_CAPACITY {
            self.limit *= 2;
            self.returned = 0;
            Full::Insert
        } else {
            Full::Clear
        }
    }

    /// The cache dropped the keys hashed `hashes`.
    fn cleared(&mut self, hashes: impl Iterator<Item = u64>) {
        if self.dropped.len() > REMEMBERED {
            self.dropped.clear();
        }
        self.dropped.extend(hashes);
        self.returned = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache of first capacity 4 without a device: the rule, and a set
    /// of keys standing for its map.
    struct Model {
        rule: Capacity,
        cached: HashSet<u64>,
    }

    impl Model {
        fn new() -> Self {
            Self::with_capacity(4)
        }

        fn with_capacity(limit: usize) -> Self {
            Self {
                rule: Capacity::new(limit),
                cached: HashSet::new(),
            }
        }

        /// Groups created when `keys` are asked for in turn.
        fn created(&mut self, keys: impl IntoIterator<Item = u64>) -> usize {
            let mut created = 0;
            for key in keys {
                if self.cached.contains(&key) {
                    continue;
                }
                if self.rule.miss(key, self.cached.len()) == Full::Clear {
                    self.rule.cleared(self.cached.drain());
                }
                self.cached.insert(key);
                created += 1;
            }
            created
        }
    }

    #[test]
    fn a_working_set_larger_than_the_cache_grows_it_until_it_fits() {
        let mut cache = Model::new();
        // Ten keys over and over: within a few rounds nothing is created.
        let per_round: Vec<usize> = (0..8).map(|_| cache.created(0..10)).collect();
        assert_eq!(
            &per_round[5..],
            &[0, 0, 0],
            "groups created per round: {per_round:?}"
        );
        assert!(
            (10..=32).contains(&cache.rule.limit),
            "capacity {}",
            cache.rule.limit
        );
    }

    #[test]
    fn keys_used_once_never_grow_it() {
        let mut cache = Model::new();
        assert_eq!(cache.created(0..1000), 1000);
        assert_eq!(cache.rule.limit, 4);
    }

    #[test]
    fn a_few_keys_that_stay_among_many_one_off_keys_never_grow_it() {
        // The recorder's first capacity; per step three keys that return
        // (an update's) and six used once (an unfused step's fresh scratch).
        let mut cache = Model::with_capacity(32);
        let mut fresh = 1000;
        for _ in 0..20_000 {
            let one_off: Vec<u64> = (fresh..fresh + 6).collect();
            fresh += 6;
            cache.created([1, 2, 3].into_iter().chain(one_off));
        }
        assert_eq!(cache.rule.limit, 32);
    }

    #[test]
    fn it_grows_no_further_than_its_maximum() {
        let mut cache = Model::new();
        let keys = 0..(2 * MAX_CAPACITY as u64);
        for _ in 0..20 {
            cache.created(keys.clone());
        }
        assert_eq!(cache.rule.limit, MAX_CAPACITY);
    }
}
