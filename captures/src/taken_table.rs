//! A hash table for values that are taken out and put back under the same key, hashing the
//! key once for both.
//!
//! Every TCP segment of a capture takes its flow out of the flow table, works on it (which
//! needs the rest of the table, so the flow cannot stay borrowed in it), and puts it back. With
//! `std`'s `HashMap` that is two hashes of the address pair per segment: SipHash, kept because
//! the addresses come from the file, was some 6 % of a replay of short connections in `perf`.
//! hashbrown's `HashTable` (the table under `std`'s map) takes the hash from its caller, so the
//! one made for the removal serves the insertion.

use std::hash::{BuildHasher, Hash, RandomState};

use hashbrown::HashTable;

pub(crate) struct TakenTable<K, V> {
    table: HashTable<(K, V)>,
    /// The keyed default hasher: keys come from the input.
    keys: RandomState,
}

impl<K: Hash + Eq, V> TakenTable<K, V> {
    pub(crate) fn new() -> Self {
        TakenTable {
            table: HashTable::new(),
            keys: RandomState::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.table.iter().map(|(k, v)| (k, v))
    }

    /// The hash [`TakenTable::take`] and [`TakenTable::put`] want for `key`.
    pub(crate) fn hash(&self, key: &K) -> u64 {
        self.keys.hash_one(key)
    }

    /// Takes the value under `key` (whose hash is `hash`) out of the table.
    pub(crate) fn take(&mut self, hash: u64, key: &K) -> Option<V> {
        match self.table.find_entry(hash, |(k, _)| k == key) {
            Ok(entry) => Some(entry.remove().0 .1),
            Err(_) => None,
        }
    }

    /// Puts `value` under `key` (whose hash is `hash`), which must not be in the table.
    pub(crate) fn put(&mut self, hash: u64, key: K, value: V) {
        let keys = &self.keys;
        self.table
            .insert_unique(hash, (key, value), |(k, _)| keys.hash_one(k));
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.take(self.hash(key), key)
    }

    /// Puts `value` under `key`, which must not be in the table.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.put(self.hash(&key), key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_taken_out_is_found_again_once_put_back() {
        let mut t = TakenTable::new();
        for i in 0..1000u32 {
            t.insert(i, i * 2);
        }
        let h = t.hash(&7);
        assert_eq!(t.take(h, &7), Some(14));
        assert_eq!(t.take(h, &7), None);
        assert_eq!(t.len(), 999);
        // The table grows between the take and the put: the hash still finds its place.
        for i in 1000..5000u32 {
            t.insert(i, i * 2);
        }
        t.put(h, 7, 15);
        assert_eq!(t.remove(&7), Some(15));
        assert_eq!(t.remove(&4999), Some(9998));
        assert_eq!(t.len(), 4998);
        let mut keys: Vec<u32> = t.iter().map(|(k, _)| *k).collect();
        keys.sort();
        assert_eq!(keys.len(), 4998);
        assert_eq!(keys[..3], [0, 1, 2]);
    }
}
