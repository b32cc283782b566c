//! Hellos' offers and choices shared between the connections that sent the same one.
//!
//! A hello is read in full for every connection (its problems and its fingerprints come from
//! the bytes), then the part that is not the connection's own is looked up among those seen
//! before, and a connection that sent the same keeps the one already held. What a trace keeps
//! of its handshake is then a few small boxes, not some 25 blocks of lists and strings (about
//! 1.7 KB a connection, most of what a passthrough connection held after its handshake beyond
//! what a plain one holds).
//!
//! A value is taken into a table only when it is seen a second time ([`SeenOnce`]): a client
//! that shuffles its extensions (rustls, browsers) sends a new order on every connection, and
//! a table of orders that never come again would hold each of them long after its connection
//! closed. Tables are bounded: when one is full it is emptied and fills again; entries still
//! held by traces live on with them.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex};

use super::hello::{ClientOffer, Extension, ServerChoice};
use super::seen_once::SeenOnce;

/// Distinct values held per table at most.
const MAX_SHARED: usize = 1024;

struct Shared<T: ?Sized> {
    held: HashSet<Arc<T>>,
    once: SeenOnce,
}

impl<T: ?Sized> Default for Shared<T> {
    fn default() -> Self {
        Shared {
            held: HashSet::new(),
            once: SeenOnce::default(),
        }
    }
}

type Table<T> = LazyLock<Mutex<Shared<T>>>;

static OFFERS: Table<ClientOffer> = LazyLock::new(Default::default);
static ORDERS: Table<[Extension]> = LazyLock::new(Default::default);
static CHOICES: Table<ServerChoice> = LazyLock::new(Default::default);

/// The device's offer, as held by earlier connections that made the same one.
pub(super) fn offer(fresh: ClientOffer) -> Arc<ClientOffer> {
    shared(&OFFERS, fresh, Arc::new)
}

/// The order of a ClientHello's extensions, as held by earlier connections that sent the
/// same order.
pub(super) fn extensions(fresh: Vec<Extension>) -> Arc<[Extension]> {
    shared(&ORDERS, fresh, Arc::from)
}

/// The endpoint's choice, as held by earlier connections that were answered the same.
pub(super) fn choice(fresh: ServerChoice) -> Arc<ServerChoice> {
    shared(&CHOICES, fresh, Arc::new)
}

/// The value held for `fresh`, else `fresh` made shareable by `make` (and held from its
/// second sight).
fn shared<T, V>(table: &Table<T>, fresh: V, make: impl FnOnce(V) -> Arc<T>) -> Arc<T>
where
    T: Hash + Eq + ?Sized,
    V: Borrow<T>,
{
    // A poisoned table only means another thread panicked while holding it; the values in it
    // are whole either way.
    let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(held) = t.held.get(fresh.borrow()) {
        return Arc::clone(held);
    }
    let again = t.once.again(fresh.borrow());
    let fresh = make(fresh);
    if again {
        if t.held.len() >= MAX_SHARED {
            t.held.clear();
        }
        t.held.insert(Arc::clone(&fresh));
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_value_is_held_once_from_its_second_sight_and_a_different_one_apart() {
        // Held unsized, as a hello's extensions are: looked up by the value made, kept as
        // the shared form.
        let table: Table<str> = LazyLock::new(Default::default);
        let share = |s: &str| shared(&table, s.to_string(), Arc::<str>::from);
        let first = share("TLS_AES_128_GCM_SHA256");
        let a = share("TLS_AES_128_GCM_SHA256");
        let b = share("TLS_AES_128_GCM_SHA256");
        let c = share("TLS_AES_256_GCM_SHA384");
        assert!(!Arc::ptr_eq(&first, &a));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "TLS_AES_256_GCM_SHA384");
    }

    #[test]
    fn a_full_table_starts_again_and_keeps_giving_the_right_value() {
        let table: Table<u32> = LazyLock::new(Default::default);
        let first = shared(&table, 0, Arc::new);
        for round in 0..2 {
            for v in 0..MAX_SHARED as u32 + 10 {
                assert_eq!(*shared(&table, v, Arc::new), v, "round {round}");
            }
        }
        assert!(table.lock().unwrap().held.len() <= MAX_SHARED);
        // The value held before the table was emptied is still whole.
        assert_eq!(*first, 0);
    }

    #[test]
    fn a_value_seen_once_is_not_kept() {
        let table: Table<u32> = LazyLock::new(Default::default);
        for v in 0..100 {
            shared(&table, v, Arc::new);
        }
        assert!(table.lock().unwrap().held.is_empty());
    }
}
