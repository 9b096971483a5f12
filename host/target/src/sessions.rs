//! Logged-in sessions and their carts.
//!
//! A token is `<sequence number><tag>`, 32 hex digits: the sequence number makes it unique, the
//! tag (a keyed hash of the sequence number, with a per-server random key) makes it hard to guess.
//! Sessions are kept in sequence order, so evicting the oldest one when the store is full is cheap.
//! None of this is on a hot route, so one mutex is enough.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// At most this many sessions exist at once. A soak test that logs in on every iteration and never
/// logs out must not grow the server without bound; a million sessions with small carts is a few
/// hundred MB at worst, and a session that old has long been abandoned.
pub(crate) const MAX_SESSIONS: usize = 1_000_000;

/// A cart: product id to quantity, in product order.
pub(crate) type Cart = BTreeMap<u32, u32>;

/// A session token as handed to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    seq: u64,
    tag: u64,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}{:016x}", self.seq, self.tag)
    }
}

/// The string is not a token this server could have issued.
#[derive(Debug)]
pub(crate) struct MalformedToken;

impl FromStr for Token {
    type Err = MalformedToken;

    fn from_str(s: &str) -> Result<Self, MalformedToken> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MalformedToken);
        }
        let half = |part: &str| u64::from_str_radix(part, 16).map_err(|_| MalformedToken);
        Ok(Token {
            seq: half(&s[..16])?,
            tag: half(&s[16..])?,
        })
    }
}

/// The sessions of one server.
pub(crate) struct SessionStore {
    key: RandomState,
    max: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    next_seq: u64,
    carts: BTreeMap<u64, Cart>,
}

impl SessionStore {
    /// An empty store that keeps at most `max` sessions (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            key: RandomState::new(),
            max: max.max(1),
            inner: Mutex::new(Inner {
                next_seq: 0,
                carts: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock, and the data stays consistent if something did.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_genuine(&self, token: Token) -> bool {
        token.tag == self.key.hash_one(token.seq)
    }

    /// Starts a session with an empty cart, evicting the oldest session if the store is full.
    pub(crate) fn create(&self) -> Token {
        let mut inner = self.lock();
        while inner.carts.len() >= self.max {
            inner.carts.pop_first();
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.carts.insert(seq, Cart::new());
        Token {
            seq,
            tag: self.key.hash_one(seq),
        }
    }

    /// Whether `token` names a live session.
    pub(crate) fn contains(&self, token: Token) -> bool {
        self.is_genuine(token) && self.lock().carts.contains_key(&token.seq)
    }

    /// Ends the session; `false` if it did not exist.
    pub(crate) fn remove(&self, token: Token) -> bool {
        self.is_genuine(token) && self.lock().carts.remove(&token.seq).is_some()
    }

    /// Runs `f` on the session's cart; `None` if the session does not exist.
    pub(crate) fn with_cart<R>(&self, token: Token, f: impl FnOnce(&mut Cart) -> R) -> Option<R> {
        if !self.is_genuine(token) {
            return None;
        }
        self.lock().carts.get_mut(&token.seq).map(f)
    }

    /// Live sessions.
    pub(crate) fn len(&self) -> usize {
        self.lock().carts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let store = SessionStore::new(10);
        let token = store.create();
        let text = token.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<Token>().unwrap(), token);
        for bad in [
            "",
            "abc",
            &text[1..],
            &format!("+{}", &text[1..]),
            "g".repeat(32).as_str(),
        ] {
            assert!(bad.parse::<Token>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_unique_and_forged_tags_are_refused() {
        let store = SessionStore::new(10);
        let a = store.create();
        let b = store.create();
        assert_ne!(a, b);
        assert_ne!(a.tag, b.tag);
        let forged = Token {
            seq: a.seq,
            tag: a.tag ^ 1,
        };
        assert!(store.contains(a));
        assert!(!store.contains(forged));
        assert!(!store.remove(forged));
        assert!(store.with_cart(forged, |_| ()).is_none());
    }

    #[test]
    fn other_servers_tokens_are_refused() {
        let token = SessionStore::new(10).create();
        let other = SessionStore::new(10);
        other.create();
        assert!(!other.contains(token));
    }

    #[test]
    fn carts_belong_to_their_session_and_die_with_it() {
        let store = SessionStore::new(10);
        let a = store.create();
        let b = store.create();
        store.with_cart(a, |cart| cart.insert(3, 2)).unwrap();
        assert_eq!(store.with_cart(a, |cart| cart.clone()).unwrap().len(), 1);
        assert!(store.with_cart(b, |cart| cart.is_empty()).unwrap());
        assert!(store.remove(a));
        assert!(!store.remove(a));
        assert!(store.with_cart(a, |_| ()).is_none());
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn a_full_store_evicts_the_oldest_session() {
        let store = SessionStore::new(2);
        let first = store.create();
        let second = store.create();
        let third = store.create();
        assert_eq!(store.len(), 2);
        assert!(!store.contains(first));
        assert!(store.contains(second));
        assert!(store.contains(third));
    }
}
