//! Messages a process logs once per run: the same one from any number of VUs (or requests) is
//! logged the first time only, and past a cap of distinct ones a note says the rest are not.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// What [`Once::first`] says of a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Its first time: log it.
    First,
    /// The first new message past the cap: log the note that further ones are not logged.
    Full,
    /// Logged before, or past the cap: log nothing.
    Again,
}

/// The messages logged in this run, by hash (a repeat costs no allocation, a long message is not
/// kept), up to `cap` distinct ones.
pub(crate) struct Once {
    seen: Mutex<Option<HashSet<u64>>>,
    cap: usize,
}

impl Once {
    pub(crate) const fn new(cap: usize) -> Self {
        Once {
            seen: Mutex::new(None),
            cap,
        }
    }

    /// Whether `message` (anything hashable that identifies it) is logged now.
    pub(crate) fn first(&self, message: impl Hash) -> Seen {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        message.hash(&mut h);
        let key = h.finish();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let seen = seen.get_or_insert_with(HashSet::new);
        if seen.len() > self.cap || seen.contains(&key) {
            return Seen::Again;
        }
        let verdict = if seen.len() < self.cap {
            Seen::First
        } else {
            Seen::Full
        };
        seen.insert(key);
        verdict
    }

    /// Forget what was logged: a new run logs its own.
    pub(crate) fn forget(&self) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::{Once, Seen};

    #[test]
    fn each_message_once_then_a_note_past_the_cap() {
        let once = Once::new(2);
        assert_eq!(once.first("a"), Seen::First);
        assert_eq!(once.first("a"), Seen::Again);
        assert_eq!(once.first("b"), Seen::First);
        assert_eq!(once.first("c"), Seen::Full);
        assert_eq!(once.first("d"), Seen::Again);
        assert_eq!(once.first("a"), Seen::Again);
        once.forget();
        assert_eq!(once.first("d"), Seen::First);
    }
}
