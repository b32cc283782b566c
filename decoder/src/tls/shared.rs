//! Hellos' offers and choices shared between the connections that sent the same one.
//!
//! A hello is read in full for every connection (its problems and its fingerprints come from
//! the bytes), then the part that is not the connection's own is looked up among those seen
//! before, and a connection that sent the same keeps the one already held. What a trace keeps
//! of its handshake is then two small boxes, not some 25 blocks of lists and strings (about
//! 2 KiB a connection, most of what a passthrough connection held after its handshake).
//!
//! The table is bounded: when it is full it is emptied and fills again; entries still held by
//! traces live on with them.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex};

use super::hello::{ClientOffer, ServerChoice, WireOrder};

/// Distinct values remembered per table at most.
const MAX_SHARED: usize = 1024;

type Table<T> = LazyLock<Mutex<HashSet<Arc<T>>>>;

static OFFERS: Table<ClientOffer> = LazyLock::new(Default::default);
static ORDERS: Table<WireOrder> = LazyLock::new(Default::default);
static CHOICES: Table<ServerChoice> = LazyLock::new(Default::default);

/// The device's offer, as held by earlier connections that made the same one.
pub(super) fn offer(fresh: ClientOffer) -> Arc<ClientOffer> {
    shared(&OFFERS, fresh)
}

/// The order of a ClientHello's extensions, as held by earlier connections that sent the
/// same order.
pub(super) fn wire(fresh: WireOrder) -> Arc<WireOrder> {
    shared(&ORDERS, fresh)
}

/// The endpoint's choice, as held by earlier connections that were answered the same.
pub(super) fn choice(fresh: ServerChoice) -> Arc<ServerChoice> {
    shared(&CHOICES, fresh)
}

fn shared<T: Hash + Eq>(table: &Table<T>, fresh: T) -> Arc<T> {
    // A poisoned table only means another thread panicked while holding it; the values in it
    // are whole either way.
    let mut set = table.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(held) = set.get(&fresh) {
        return Arc::clone(held);
    }
    if set.len() >= MAX_SHARED {
        set.clear();
    }
    let fresh = Arc::new(fresh);
    set.insert(Arc::clone(&fresh));
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::hello::Named;

    fn choice_with(suite: u16) -> ServerChoice {
        ServerChoice {
            legacy_version: 0x0303,
            version: 0x0304,
            cipher_suite: Named::suite(suite),
            compression_method: 0,
            extensions: Vec::new(),
            alpn: None,
            key_share_group: None,
            hello_retry_request: false,
            ja3s: String::new(),
            ja3s_hash: String::new(),
        }
    }

    #[test]
    fn the_same_choice_is_held_once_and_a_different_one_apart() {
        let a = choice(choice_with(0x1301));
        let b = choice(choice_with(0x1301));
        let c = choice(choice_with(0x1302));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.cipher_suite.id, 0x1302);
    }

    #[test]
    fn a_full_table_starts_again_and_keeps_giving_the_right_value() {
        let table: Table<u32> = LazyLock::new(Default::default);
        let first = shared(&table, 0);
        for v in 0..MAX_SHARED as u32 + 10 {
            assert_eq!(*shared(&table, v), v);
        }
        assert!(table.lock().unwrap().len() <= MAX_SHARED);
        // The value held before the table was emptied is still whole.
        assert_eq!(*first, 0);
    }
}
