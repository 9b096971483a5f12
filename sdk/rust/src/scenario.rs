//! The [`Scenario`] trait and the adapter that turns it into the WIT `runner` exports.
//!
//! The generated bindings want a `Guest` type with associated functions (`setup`, `teardown`) and a `vu`
//! resource type whose methods take `&self`. [`Runner<S>`] is that `Guest` for any `S: Scenario`, and
//! [`VuCell<S>`] is the resource: it keeps the user's value in a `RefCell` so `iteration` can take
//! `&mut self`. The host never calls into one VU re-entrantly, so the borrow never conflicts.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::exports::stampede::scenario::runner::{Guest, GuestVu};
use crate::install_panic_hook;

/// A load-test scenario: the code one virtual user (VU) runs.
///
/// Implement it for your per-VU state and export it with [`export_scenario!`](crate::export_scenario).
/// Returning `Err` from a method is a failure the host records and survives; panicking traps the call
/// (see the crate docs on panics).
pub trait Scenario: Sized + 'static {
    /// Runs once per test run, on one worker, before any VU is created. The returned bytes are passed
    /// to every VU's [`init`](Scenario::init) and to [`teardown`](Scenario::teardown).
    /// An `Err` aborts the run. The default returns no data.
    fn setup() -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }

    /// Creates one VU, called once before its first [`iteration`](Scenario::iteration), with the bytes
    /// [`setup`](Scenario::setup) returned. Log in or build per-VU state here. A panic fails this VU's
    /// start and is reported.
    fn init(setup_data: &[u8]) -> Self;

    /// Runs one iteration of the plan scenario named `scenario` (a plan can map several scenarios to one
    /// component). An `Err` counts the iteration as failed; the VU goes on with the next one.
    fn iteration(&mut self, scenario: &str) -> Result<(), String>;

    /// Runs once after every VU has stopped, with the bytes [`setup`](Scenario::setup) returned.
    /// The default does nothing.
    fn teardown(setup_data: &[u8]) -> Result<(), String> {
        let _ = setup_data;
        Ok(())
    }
}

/// The `Guest` implementation for a [`Scenario`]; named by [`export_scenario!`](crate::export_scenario).
#[doc(hidden)]
pub struct Runner<S>(PhantomData<S>);

/// The exported `vu` resource: one [`Scenario`] value behind a `RefCell`.
#[doc(hidden)]
pub struct VuCell<S>(RefCell<S>);

impl<S: Scenario> Guest for Runner<S> {
    type Vu = VuCell<S>;

    fn setup() -> Result<Vec<u8>, String> {
        install_panic_hook();
        S::setup()
    }

    fn teardown(setup_data: Vec<u8>) -> Result<(), String> {
        install_panic_hook();
        S::teardown(&setup_data)
    }
}

impl<S: Scenario> GuestVu for VuCell<S> {
    fn new(setup_data: Vec<u8>) -> Self {
        install_panic_hook();
        VuCell(RefCell::new(S::init(&setup_data)))
    }

    fn iteration(&self, scenario: String) -> Result<(), String> {
        self.0.borrow_mut().iteration(&scenario)
    }
}
