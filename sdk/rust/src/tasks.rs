//! Weighted task choice: each iteration runs one task, picked in proportion to its weight.
//!
//! This is k6's "scenario mix" / Locust's `@task(weight)` as a plain value. Keep the [`Tasks`] list next to
//! the per-VU state (not inside it), so `run_one` can borrow both:
//!
//! ```no_run
//! use stampede_sdk::{Scenario, Tasks};
//!
//! struct Session { visits: u32 }
//! struct Vu { session: Session, tasks: Tasks<Session> }
//!
//! fn browse(s: &mut Session) -> Result<(), String> { s.visits += 1; Ok(()) }
//! fn buy(_: &mut Session) -> Result<(), String> { Ok(()) }
//!
//! impl Scenario for Vu {
//!     fn init(_: &[u8]) -> Self {
//!         let tasks = Tasks::new().task(3, "browse", browse).task(1, "buy", buy);
//!         Vu { session: Session { visits: 0 }, tasks }
//!     }
//!     fn iteration(&mut self, _: &str) -> Result<(), String> {
//!         self.tasks.run_one(&mut self.session)
//!     }
//! }
//! ```
//!
//! In a [`SharedScenario`](https://docs.rs/stampede-sdk) (feature `shared`), tasks that send requests
//! are async: add them with [`Tasks::task_async`] as functions returning a boxed future
//! ([`TaskFuture`]), and run them with [`Tasks::run_one_async`]:
//!
//! ```no_run
//! use stampede_sdk::{TaskFuture, Tasks};
//!
//! struct Session { base_url: String }
//!
//! fn browse(s: &mut Session) -> TaskFuture<'_> {
//!     Box::pin(async move {
//!         let _ = &s.base_url; // e.g. http::get(...).send_async().await?;
//!         Ok(())
//!     })
//! }
//!
//! async fn iteration(session: &mut Session, tasks: &Tasks<Session>) -> Result<(), String> {
//!     tasks.run_one_async(session).await
//! }
//! # let _ = Tasks::new().task_async(1, "browse", browse);
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::rng::Rng;

/// Stream id for task picking ("task" in ASCII), so task choice and the scenario's own
/// [`Rng::for_iteration`] draws are independent.
const TASK_STREAM: u64 = 0x7461_736B;

/// A task: a function over the per-VU state `S`.
pub type TaskFn<S> = fn(&mut S) -> Result<(), String>;

/// What an async task returns: its work as a boxed future, borrowing the VU's state.
pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

/// An async task (for shared isolation, where requests are awaited): a function over the per-VU
/// state `S` that returns its work as a [`TaskFuture`].
pub type AsyncTaskFn<S> = for<'a> fn(&'a mut S) -> TaskFuture<'a>;

enum Run<S> {
    Sync(TaskFn<S>),
    Async(AsyncTaskFn<S>),
}

struct Task<S> {
    weight: u32,
    name: &'static str,
    run: Run<S>,
}

/// A weighted list of tasks over per-VU state `S`.
pub struct Tasks<S> {
    tasks: Vec<Task<S>>,
    total_weight: u64,
}

impl<S> Tasks<S> {
    /// An empty list.
    pub fn new() -> Self {
        Tasks {
            tasks: Vec::new(),
            total_weight: 0,
        }
    }

    /// Add a task that runs with probability `weight / total weight`. A weight of 0 disables it.
    /// `name` prefixes the task's errors (`"browse: status 500"`).
    pub fn task(self, weight: u32, name: &'static str, run: TaskFn<S>) -> Self {
        self.with(weight, name, Run::Sync(run))
    }

    /// Add an async task, as [`task`](Tasks::task) does a plain one. Only
    /// [`run_one_async`](Tasks::run_one_async) runs async tasks.
    pub fn task_async(self, weight: u32, name: &'static str, run: AsyncTaskFn<S>) -> Self {
        self.with(weight, name, Run::Async(run))
    }

    fn with(mut self, weight: u32, name: &'static str, run: Run<S>) -> Self {
        self.total_weight += u64::from(weight);
        self.tasks.push(Task { weight, name, run });
        self
    }

    /// The sum of all weights.
    pub fn total_weight(&self) -> u64 {
        self.total_weight
    }

    /// The task names in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.tasks.iter().map(|t| t.name)
    }

    /// Pick a task's index with `rng`, or `None` when no task has a positive weight.
    pub fn pick(&self, rng: &mut Rng) -> Option<usize> {
        if self.total_weight == 0 {
            return None;
        }
        let mut ticket = rng.below(self.total_weight);
        for (index, task) in self.tasks.iter().enumerate() {
            let weight = u64::from(task.weight);
            if ticket < weight {
                return Some(index);
            }
            ticket -= weight;
        }
        unreachable!("the ticket is below the total weight")
    }

    /// Run one task picked by weight, seeded from this VU's id and iteration (reproducible across
    /// runs). A task's error is returned prefixed with its name.
    pub fn run_one(&self, state: &mut S) -> Result<(), String> {
        self.run_one_with(state, &mut Rng::for_stream(TASK_STREAM))
    }

    /// [`run_one`](Tasks::run_one) with an explicit generator. An async task picked here is an
    /// error (run the list with [`run_one_async`](Tasks::run_one_async)).
    pub fn run_one_with(&self, state: &mut S, rng: &mut Rng) -> Result<(), String> {
        let task = self.chosen(rng, "run_one")?;
        match task.run {
            Run::Sync(run) => run(state).map_err(|err| format!("{}: {err}", task.name)),
            Run::Async(_) => Err(format!(
                "{}: an async task (added with task_async): run the list with run_one_async",
                task.name
            )),
        }
    }

    /// Run one task picked by weight, plain or async, as [`run_one`](Tasks::run_one) picks it
    /// (the pick is made before the first await, so it is this VU's in a shared instance too).
    pub async fn run_one_async(&self, state: &mut S) -> Result<(), String> {
        self.run_one_async_with(state, &mut Rng::for_stream(TASK_STREAM))
            .await
    }

    /// [`run_one_async`](Tasks::run_one_async) with an explicit generator.
    pub async fn run_one_async_with(&self, state: &mut S, rng: &mut Rng) -> Result<(), String> {
        let task = self.chosen(rng, "run_one_async")?;
        let result = match task.run {
            Run::Sync(run) => run(state),
            Run::Async(run) => run(state).await,
        };
        result.map_err(|err| format!("{}: {err}", task.name))
    }

    fn chosen(&self, rng: &mut Rng, caller: &str) -> Result<&Task<S>, String> {
        let index = self
            .pick(rng)
            .ok_or_else(|| format!("Tasks::{caller}: no task has a positive weight"))?;
        Ok(&self.tasks[index])
    }
}

impl<S> Default for Tasks<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> fmt::Debug for Tasks<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.tasks.iter().map(|t| (t.name, t.weight)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(log: &mut Vec<&'static str>) -> Result<(), String> {
        log.push("a");
        Ok(())
    }
    fn b(log: &mut Vec<&'static str>) -> Result<(), String> {
        log.push("b");
        Err("boom".into())
    }

    #[test]
    fn picks_follow_the_weights() {
        let tasks: Tasks<()> = Tasks::new()
            .task(3, "x", |_| Ok(()))
            .task(0, "off", |_| Ok(()))
            .task(1, "y", |_| Ok(()));
        let mut counts = [0u32; 3];
        for iteration in 0..40_000 {
            let mut rng = Rng::seeded(1 + iteration % 50, iteration, TASK_STREAM);
            counts[tasks.pick(&mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[1], 0, "a zero weight is never picked");
        let share = f64::from(counts[0]) / 40_000.0;
        assert!((0.73..0.77).contains(&share), "weight 3 of 4 got {share}");
    }

    #[test]
    fn picking_is_reproducible() {
        let tasks: Tasks<()> = Tasks::new()
            .task(1, "x", |_| Ok(()))
            .task(1, "y", |_| Ok(()));
        let run = |vu| {
            (0..100)
                .map(|i| tasks.pick(&mut Rng::seeded(vu, i, TASK_STREAM)).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn empty_or_zero_weight_lists_pick_nothing() {
        let mut rng = Rng::new(1);
        assert_eq!(Tasks::<()>::new().pick(&mut rng), None);
        let zero: Tasks<()> = Tasks::new().task(0, "x", |_| Ok(()));
        assert_eq!(zero.pick(&mut rng), None);
        assert!(zero.run_one_with(&mut (), &mut rng).is_err());
    }

    fn c<'a>(log: &'a mut Vec<&'static str>) -> TaskFuture<'a> {
        Box::pin(async move {
            log.push("c");
            Err("async boom".into())
        })
    }

    /// Poll `future` once: the tasks here never wait.
    fn ready<T>(future: impl Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("the task waited"),
        }
    }

    #[test]
    fn async_tasks_run_with_run_one_async_only() {
        let tasks = Tasks::new().task(1, "a", a).task_async(1, "c", c);
        let mut log = Vec::new();
        // The same picks from the same seeds, whichever way the list is run.
        let picks: Vec<usize> = (0..40)
            .map(|i| tasks.pick(&mut Rng::seeded(1, i, TASK_STREAM)).unwrap())
            .collect();
        assert!(picks.contains(&0) && picks.contains(&1), "{picks:?}");
        for (i, pick) in picks.iter().enumerate() {
            let seed = || Rng::seeded(1, i as u64, TASK_STREAM);
            let ran = ready(tasks.run_one_async_with(&mut log, &mut seed()));
            let sync = tasks.run_one_with(&mut log, &mut seed());
            if *pick == 0 {
                assert_eq!(ran, Ok(()));
                assert_eq!(sync, Ok(()));
                assert_eq!(log[log.len() - 2..], ["a", "a"]);
            } else {
                assert_eq!(ran, Err("c: async boom".to_owned()));
                assert_eq!(
                    sync,
                    Err(
                        "c: an async task (added with task_async): run the list with run_one_async"
                            .to_owned()
                    )
                );
                assert_eq!(log.last(), Some(&"c"), "run_one did not run it");
            }
        }
        let none: Tasks<Vec<&'static str>> = Tasks::new().task_async(0, "c", c);
        assert!(ready(none.run_one_async_with(&mut log, &mut Rng::new(1))).is_err());
    }

    #[test]
    fn errors_are_prefixed_with_the_task_name() {
        let tasks = Tasks::new().task(0, "a", a).task(1, "b", b);
        let mut log = Vec::new();
        assert_eq!(
            tasks.run_one_with(&mut log, &mut Rng::new(3)),
            Err("b: boom".to_owned())
        );
        assert_eq!(log, ["b"]);
        assert_eq!(tasks.names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(format!("{tasks:?}"), r#"{"a": 0, "b": 1}"#);
    }
}
