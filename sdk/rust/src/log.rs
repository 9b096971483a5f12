//! Log lines, printed by the host with the VU id and scenario.
//!
//! Use the functions with a ready string, or the macros with `format!` arguments:
//!
//! ```no_run
//! use stampede_sdk::log;
//!
//! log::info("logged in");
//! stampede_sdk::warn!("cart has {} items, expected {}", 2, 3);
//! ```
//!
//! Logging costs a host call and usually a formatted string: keep it off the hot path of an iteration.

use crate::bindings::stampede::scenario::{log as wit, types::Level};

pub use crate::{debug, error, info, warn};

/// Write a `debug` line (hidden unless the run asks for it).
pub fn debug(message: &str) {
    wit::write(Level::Debug, message);
}

/// Write an `info` line.
pub fn info(message: &str) {
    wit::write(Level::Info, message);
}

/// Write a `warn` line: something looks wrong but the iteration goes on.
pub fn warn(message: &str) {
    wit::write(Level::Warn, message);
}

/// Write an `error` line: something failed.
pub fn error(message: &str) {
    wit::write(Level::Error, message);
}

/// Write a `debug` log line with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::debug(&::std::format!($($arg)+)) };
}

/// Write an `info` log line with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::info(&::std::format!($($arg)+)) };
}

/// Write a `warn` log line with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::warn(&::std::format!($($arg)+)) };
}

/// Write an `error` log line with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::error(&::std::format!($($arg)+)) };
}
