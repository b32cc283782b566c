//! Chains already summarised, kept so that the next connection presenting the same bytes does
//! not parse, hash and verify them again.
//!
//! A fleet's devices present the same endpoint chain thousands of times, and a device that
//! reconnects presents its own chain again; summarising a chain (X.509 parse, SHA-256 and
//! SHA-1 of each certificate, one signature check per link) costs more than the rest of a
//! short connection's decoding. The summary depends on nothing but the DER bytes, so a copy
//! is as good as a fresh one. Entries hold the chain's bytes and are matched on them, not on
//! a hash alone, so a collision only costs a miss. The cache is bounded in chains and in
//! bytes and forgets its oldest entry first.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::Hasher;
use std::sync::{LazyLock, Mutex};

use super::Chain;

/// Chains kept at most.
const MAX_CHAINS: usize = 64;
/// DER bytes kept at most, all chains together.
const MAX_BYTES: usize = 1 << 20;
/// A chain larger than this is summarised every time rather than kept.
const MAX_CHAIN_BYTES: usize = 64 << 10;

/// What [`super::read_chain`] computes from a chain: each certificate summarised, the
/// chain's links checked, and the root it leads to named.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ChainSummary {
    pub chain: Chain,
    pub issued_by_next: Vec<Option<bool>>,
    pub root: Option<String>,
    pub root_known: bool,
}

struct Entry {
    /// Each certificate's length, then all of them back to back.
    lens: Vec<usize>,
    bytes: Vec<u8>,
    summary: ChainSummary,
}

impl Entry {
    fn holds(&self, chain: &[&[u8]]) -> bool {
        self.lens.len() == chain.len()
            && self.lens.iter().zip(chain).all(|(n, d)| *n == d.len())
            && chain
                .iter()
                .scan(0usize, |at, d| {
                    let start = *at;
                    *at += d.len();
                    Some(self.bytes.get(start..*at) == Some(*d))
                })
                .all(|same| same)
    }
}

#[derive(Default)]
pub(super) struct ChainCache {
    entries: HashMap<u64, Entry>,
    /// Keys in the order they were stored, oldest first.
    order: VecDeque<u64>,
    bytes: usize,
}

fn key(chain: &[&[u8]]) -> u64 {
    let mut h = DefaultHasher::new();
    for der in chain {
        h.write_usize(der.len());
        h.write(der);
    }
    h.finish()
}

impl ChainCache {
    pub(super) fn get(&self, chain: &[&[u8]]) -> Option<ChainSummary> {
        let entry = self.entries.get(&key(chain))?;
        entry.holds(chain).then(|| entry.summary.clone())
    }

    pub(super) fn put(&mut self, chain: &[&[u8]], summary: &ChainSummary) {
        let size: usize = chain.iter().map(|d| d.len()).sum();
        if chain.is_empty() || size > MAX_CHAIN_BYTES {
            return;
        }
        let k = key(chain);
        self.remove(k);
        while self.entries.len() >= MAX_CHAINS || self.bytes + size > MAX_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.remove(oldest);
        }
        self.bytes += size;
        self.order.push_back(k);
        self.entries.insert(
            k,
            Entry {
                lens: chain.iter().map(|d| d.len()).collect(),
                bytes: chain.concat(),
                summary: summary.clone(),
            },
        );
    }

    fn remove(&mut self, k: u64) {
        if let Some(old) = self.entries.remove(&k) {
            self.bytes -= old.bytes.len();
            self.order.retain(|o| *o != k);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The one cache of the process: replayed connections and the proxy's share it.
static SHARED: LazyLock<Mutex<ChainCache>> = LazyLock::new(Default::default);

/// The summary of `chain`, from the cache or made by `make` (and then kept).
pub(super) fn summary(chain: &[&[u8]], make: impl FnOnce() -> ChainSummary) -> ChainSummary {
    // A poisoned lock only means another thread panicked while holding it; the cache is
    // then skipped rather than trusted.
    if let Some(hit) = SHARED.lock().ok().and_then(|c| c.get(chain)) {
        return hit;
    }
    let fresh = make();
    if let Ok(mut c) = SHARED.lock() {
        c.put(chain, &fresh);
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::Certificate;

    fn summary_named(root: &str) -> ChainSummary {
        ChainSummary {
            chain: vec![Certificate::default()].into(),
            issued_by_next: vec![None],
            root: Some(root.to_string()),
            root_known: false,
        }
    }

    #[test]
    fn hit_only_on_the_same_bytes() {
        let mut c = ChainCache::default();
        let a: &[u8] = b"leaf-a";
        let b: &[u8] = b"issuer";
        c.put(&[a, b], &summary_named("r1"));
        assert_eq!(c.get(&[a, b]), Some(summary_named("r1")));
        // Same bytes, cut differently: another chain.
        assert_eq!(c.get(&[b"leaf-ai", b"ssuer"]), None);
        assert_eq!(c.get(&[a]), None);
        assert_eq!(c.get(&[b"leaf-b", b]), None);
    }

    #[test]
    fn stays_within_its_bounds_and_forgets_the_oldest() {
        let mut c = ChainCache::default();
        let ders: Vec<Vec<u8>> = (0..MAX_CHAINS + 10)
            .map(|i| format!("cert {i}").into_bytes())
            .collect();
        for d in &ders {
            c.put(&[d.as_slice()], &summary_named("r"));
        }
        assert_eq!(c.len(), MAX_CHAINS);
        assert_eq!(c.get(&[ders[0].as_slice()]), None);
        assert!(c.get(&[ders[MAX_CHAINS + 9].as_slice()]).is_some());

        let big = vec![7u8; MAX_CHAIN_BYTES + 1];
        c.put(&[big.as_slice()], &summary_named("big"));
        assert_eq!(c.get(&[big.as_slice()]), None);

        let mut c = ChainCache::default();
        let half = vec![1u8; MAX_CHAIN_BYTES];
        for i in 0..(MAX_BYTES / MAX_CHAIN_BYTES) + 3 {
            let mut d = half.clone();
            d[0] = i as u8;
            c.put(&[d.as_slice()], &summary_named("r"));
            assert!(c.bytes <= MAX_BYTES);
        }
    }
}
