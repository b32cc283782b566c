//! Values seen once, remembered by their hash, so that a table (the hellos' shared parts, the
//! fingerprints) takes in only what comes a second time: a client that shuffles its
//! extensions sends a new order on every connection, and a table of values that never come
//! again would hold each of them long after its connection closed.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash};

/// Values seen once remembered at most (8 bytes each).
const MAX_SEEN_ONCE: usize = 8192;

/// Values seen once, by their hash: a value is worth keeping for others when it comes again.
#[derive(Default)]
pub(super) struct SeenOnce {
    hashes: HashSet<u64>,
    hasher: RandomState,
}

impl SeenOnce {
    /// True when `value` was seen before (and it is forgotten again); else it is remembered.
    /// Two values with the same 64-bit hash count as one, which costs at most one value
    /// kept that did not need to be.
    pub(super) fn again<K: Hash + ?Sized>(&mut self, value: &K) -> bool {
        let h = self.hasher.hash_one(value);
        if self.hashes.remove(&h) {
            return true;
        }
        if self.hashes.len() >= MAX_SEEN_ONCE {
            self.hashes.clear();
        }
        self.hashes.insert(h);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_counts_as_again_on_its_second_sight_only() {
        let mut once = SeenOnce::default();
        assert!(!once.again("a"));
        assert!(once.again("a"));
        assert!(!once.again("a"));
    }
}
