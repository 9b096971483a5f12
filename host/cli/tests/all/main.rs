//! End-to-end tests: the real `stampede` binary, real guest components built from `plugins/` and
//! `tests/fixtures/`, and real demo targets on 127.0.0.1. Every run is bounded (a few seconds, a few
//! VUs) and stops by itself.

mod common;
mod cookies;
mod errors;
mod executors;
mod guests;
mod interrupts;
mod lang_c;
mod lang_js;
mod lang_python;
mod new;
mod redirects;
mod reports;
mod run;
mod shared;
mod threads;
mod tls;
mod validate;
