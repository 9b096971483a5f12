//! Shared isolation: many VUs as concurrent async calls into one component instance.
//!
//! A [`SharedGroup`] hosts the VUs of one plan scenario in instances of up to `vus_per_instance` VUs.
//! Each instance belongs to a driver task that owns its `Store` and runs `run_concurrent`; VUs talk to
//! it over a channel ([`Command`]) and await a oneshot reply, so a VU waiting for its iteration costs a
//! few hundred bytes of host memory plus its guest task.
//!
//! A trap (or a runaway loop, or the memory limit) ends the instance and with it every VU it hosts:
//! their calls fail with the instance's error, the driver builds a new instance, and each VU re-runs
//! its constructor and `init` there before its next iteration (as a VU of isolation `instance` does
//! after its own trap). A call that exceeds the wall-clock limit fails alone; its guest task is left
//! behind until the instance ends.
//!
//! A VU that stops has its guest resource dropped, running the guest's destructor. wasmtime runs a
//! destructor only with the store in hand, outside `run_concurrent`, so the driver collects the drops
//! and runs them as soon as no call is in flight in the instance (at the latest when the scenario's
//! last iterations have ended: the calls of interrupted VUs are left behind, not waited for). An
//! interrupted VU does not run its destructor, as with one instance per VU.

use crate::bindings::shared::ScenarioShared;
use crate::error::CallError;
use crate::state::{RunContext, VuIdentity, VuState, new_store};
use crate::vu::{LoadedScenario, classify};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::component::{Accessor, ResourceAny};

/// The plan option behind the limit of VU calls.
const ITERATION_TIMEOUT: &str = "iteration-timeout";

/// How long a VU whose call was cut short waits to learn why (the driver records the instance's error
/// right after `run_concurrent` returns).
const FAILURE_NOTICE: Duration = Duration::from_secs(1);

/// A VU's guest-side handle in one generation of its instance.
#[derive(Clone, Copy)]
struct Handle {
    generation: u64,
    vu: ResourceAny,
}

type Reply<T> = oneshot::Sender<Result<T, CallError>>;

/// A command on its way: the receiver of its reply (`None` when the driver is gone), and the
/// generation of the instance it went to.
struct Sent<T> {
    answer: Option<oneshot::Receiver<Result<T, CallError>>>,
    generation: u64,
}

/// What a VU asks of its instance's driver.
enum Command {
    /// Construct the VU's resource and run its `init`.
    Start { id: u64, reply: Reply<Handle> },
    /// Drop the VU's resource, running the guest's destructor, once no call is in flight.
    Drop { handle: Handle, reply: Reply<()> },
    /// Run one iteration.
    Iterate {
        handle: Handle,
        exec: Arc<str>,
        number: u64,
        reply: Reply<Result<(), String>>,
    },
}

/// One instance's mailbox and what its VUs need to know about it.
struct Slot {
    tx: mpsc::UnboundedSender<Command>,
    /// VUs assigned to this instance.
    members: AtomicUsize,
    /// The generation that failed last and why.
    failure: watch::Receiver<(u64, Option<CallError>)>,
}

/// The instances hosting the VUs of one plan scenario.
pub struct SharedGroup {
    ctx: Arc<DriverCtx>,
    per_instance: usize,
    slots: Mutex<Vec<Arc<Slot>>>,
}

/// What every driver of a group needs.
struct DriverCtx {
    scenario: Arc<LoadedScenario>,
    run: Arc<RunContext>,
    who: VuIdentity,
    setup_data: Arc<[u8]>,
    max_handles: usize,
}

impl SharedGroup {
    /// A group for the VUs of the plan scenario `who` describes (its id is unused), with at most
    /// `per_instance` VUs per instance.
    pub fn new(
        scenario: Arc<LoadedScenario>,
        run: Arc<RunContext>,
        who: VuIdentity,
        setup_data: Arc<[u8]>,
        per_instance: usize,
    ) -> Self {
        let per_instance = per_instance.max(1);
        SharedGroup {
            ctx: Arc::new(DriverCtx {
                scenario,
                run,
                who,
                setup_data,
                // The VU resources, their tasks and in-flight subtasks, with room to spare.
                max_handles: (per_instance * 8).max(100_000),
            }),
            per_instance,
            slots: Mutex::new(Vec::new()),
        }
    }

    /// Create VU `id` in the first instance with room (a new instance when all are full) and run its
    /// constructor and `init` there.
    pub async fn new_vu(&self, id: u64) -> Result<SharedVu, CallError> {
        let slot = self.assign();
        let mut vu = SharedVu {
            slot,
            id,
            handle: None,
            iterations: 0,
        };
        vu.restart().await?;
        Ok(vu)
    }

    fn assign(&self) -> Arc<Slot> {
        let mut slots = self.slots.lock().expect("shared group lock");
        let open = slots
            .iter()
            .find(|s| s.members.load(Ordering::Relaxed) < self.per_instance && !s.tx.is_closed());
        let slot = match open {
            Some(slot) => slot.clone(),
            None => {
                let slot = spawn_driver(self.ctx.clone());
                slots.push(slot.clone());
                slot
            }
        };
        slot.members.fetch_add(1, Ordering::Relaxed);
        slot
    }
}

/// One VU of a shared instance.
pub struct SharedVu {
    slot: Arc<Slot>,
    id: u64,
    handle: Option<Handle>,
    iterations: u64,
}

impl SharedVu {
    /// This VU's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True when the VU has no live guest resource (its instance ended, or a call timed out): the next
    /// iteration re-creates it.
    pub fn needs_restart(&self) -> bool {
        self.handle.is_none()
    }

    /// Construct the VU's guest resource and run `init` (again, after its instance ended).
    pub async fn restart(&mut self) -> Result<(), CallError> {
        if self.handle.is_some() {
            return Ok(());
        }
        let id = self.id;
        let handle = self.ask(|reply| Command::Start { id, reply }).await?;
        self.handle = Some(handle);
        Ok(())
    }

    /// Run one iteration of the plan scenario `exec`. `Ok(Err(msg))` is an iteration the guest reported
    /// as failed; `Err` means the call failed (and, for a trap, the whole instance ended): the next
    /// iteration starts from a fresh VU resource.
    pub async fn iteration(&mut self, exec: &Arc<str>) -> Result<Result<(), String>, CallError> {
        if self.handle.is_none() {
            // Boxed: the rare path need not take room in every waiting VU.
            Box::pin(self.restart()).await?;
        }
        // Sent before the first await (in a plain function), so the waiting VU holds only the reply.
        let sent = self.send_iteration(exec);
        let result = self.reply(sent).await;
        if result.is_err() {
            self.handle = None;
        }
        result
    }

    /// Stop the VU: drop its guest resource (running the guest's destructor, whose samples are
    /// recorded) and wait until that is done. A destructor that traps ends the instance, as a trap
    /// in any call does.
    pub async fn close(mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = self.ask(|reply| Command::Drop { handle, reply }).await;
        }
    }

    fn send_iteration(&mut self, exec: &Arc<str>) -> Sent<Result<(), String>> {
        let handle = self.handle.expect("restart set the handle");
        let number = self.iterations;
        self.iterations += 1;
        self.send(|reply| Command::Iterate {
            handle,
            exec: exec.clone(),
            number,
            reply,
        })
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, CallError> {
        let sent = self.send(command);
        self.reply(sent).await
    }

    /// Send a command; the reply's receiver and the instance generation it was sent to.
    fn send<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Sent<T> {
        let (reply, answer) = oneshot::channel();
        let generation = self.slot.failure.borrow().0;
        let answer = self.slot.tx.send(command(reply)).is_ok().then_some(answer);
        Sent { answer, generation }
    }

    async fn reply<T>(&self, sent: Sent<T>) -> Result<T, CallError> {
        let Some(answer) = sent.answer else {
            return Err(CallError::Trap("the shared instance is gone".into()));
        };
        match answer.await {
            Ok(result) => result,
            // The driver dropped the call: the instance ended under it. (Boxed: the rare path's timer
            // need not take room in every waiting VU.)
            Err(_) => Err(Box::pin(self.why_instance_ended(sent.generation)).await),
        }
    }

    async fn why_instance_ended(&self, after: u64) -> CallError {
        let mut failure = self.slot.failure.clone();
        let noticed = tokio::time::timeout(
            FAILURE_NOTICE,
            failure.wait_for(|(generation, _)| *generation > after),
        )
        .await;
        let error = match noticed {
            Ok(Ok(f)) => f.1.clone(),
            _ => None,
        };
        error.unwrap_or_else(|| CallError::Trap("the shared instance ended".into()))
    }
}

impl Drop for SharedVu {
    fn drop(&mut self) {
        // Dropped without `close`: the VU was interrupted (graceful stop, ramp-down), maybe with its
        // call still in flight and holding its resource. As with one instance per VU, its destructor
        // does not run; the resource stays until the instance ends.
        self.slot.members.fetch_sub(1, Ordering::Relaxed);
    }
}

fn spawn_driver(ctx: Arc<DriverCtx>) -> Arc<Slot> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (failed, failure) = watch::channel((0, None));
    tokio::spawn(drive(ctx, rx, failed));
    Arc::new(Slot {
        tx,
        members: AtomicUsize::new(0),
        failure,
    })
}

/// Why `serve` stopped.
enum Exit {
    /// Every VU of the instance is gone.
    Closed,
    /// The instance is unusable (trap, CPU budget, memory limit).
    Failed(CallError),
    /// No call is in flight and VUs wait for their resources to be dropped.
    Drops,
}

/// Resources to drop when no call is in flight, with the replies their VUs wait for (none for the
/// resource of a VU whose `init` failed).
type Drops = Vec<(ResourceAny, Option<Reply<()>>)>;

/// The driver: (re)creates the instance whenever a command arrives for a dead one, and serves commands
/// inside `run_concurrent` until every VU is gone or the instance fails.
async fn drive(
    ctx: Arc<DriverCtx>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    failed: watch::Sender<(u64, Option<CallError>)>,
) {
    let mut generation = 0u64;
    loop {
        // Instantiate only when someone needs the instance: a broken component is not retried in a loop.
        let Some(first) = rx.recv().await else {
            return;
        };
        if let Command::Drop { reply, .. } = first {
            // For an instance that has ended: its resource went with it.
            let _ = reply.send(Ok(()));
            continue;
        }
        generation += 1;
        let mut state = VuState::new(ctx.run.clone(), ctx.who.clone());
        state.share();
        let mut store = new_store(ctx.scenario.handle(), state);
        store.set_max_component_handles(ctx.max_handles);
        let limit = (ctx.run.call_timeout, ITERATION_TIMEOUT);
        let instance = crate::vu::guarded(&mut store, limit, async |s| {
            ctx.scenario.shared_pre().instantiate_async(s).await
        })
        .await;
        let bindings = match instance {
            Ok(b) => b,
            Err(e) => {
                reject(first, &e);
                let _ = failed.send((generation, Some(e)));
                continue;
            }
        };
        let mut first = Some(first);
        let mut drops = Drops::new();
        let error = loop {
            let served = store
                .run_concurrent(async |acc| {
                    serve(
                        acc,
                        &bindings,
                        &ctx,
                        &mut rx,
                        first.take(),
                        generation,
                        &mut drops,
                    )
                    .await
                })
                .await;
            match served {
                Ok(Exit::Closed) => return,
                Ok(Exit::Drops) => match drop_resources(&mut store, &ctx, &mut drops).await {
                    Ok(()) => continue,
                    Err(e) => break e,
                },
                Ok(Exit::Failed(e)) => break e,
                Err(e) => break classify(store.data(), e),
            }
        };
        // Resources still to drop went with the instance.
        for reply in drops.drain(..).filter_map(|(_, reply)| reply) {
            let _ = reply.send(Ok(()));
        }
        tracing::warn!(
            scenario = %ctx.who.scenario,
            "a shared instance ended: {error}; its VUs are recreated in a new instance"
        );
        store.data_mut().flush();
        let _ = failed.send((generation, Some(error)));
    }
}

fn reject(command: Command, error: &CallError) {
    match command {
        Command::Start { reply, .. } => {
            let _ = reply.send(Err(error.clone()));
        }
        Command::Iterate { reply, .. } => {
            let _ = reply.send(Err(error.clone()));
        }
        // Not reached (`drive` answers a drop before instantiating), but harmless: there is no
        // instance, so no resource to drop.
        Command::Drop { reply, .. } => {
            let _ = reply.send(Ok(()));
        }
    }
}

type Call<'a> = Pin<Box<dyn Future<Output = Ended> + Send + 'a>>;

/// How a guest call ended, as far as the instance is concerned.
enum Ended {
    /// The instance carries on.
    Fine,
    /// The instance is unusable: the error ends it.
    Fatal(CallError),
    /// A VU's `init` returned an error: its resource, which no VU holds, is dropped (its destructor
    /// runs) once no call is in flight, like a stopped VU's.
    Orphan(ResourceAny),
}

impl From<Option<CallError>> for Ended {
    fn from(fatal: Option<CallError>) -> Ended {
        fatal.map_or(Ended::Fine, Ended::Fatal)
    }
}

/// Run commands as concurrent guest calls. A call that reports an instance-ending error stops
/// serving: the remaining calls are dropped (their VUs learn why through the failure watch).
async fn serve(
    acc: &Accessor<VuState>,
    bindings: &ScenarioShared,
    ctx: &DriverCtx,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    first: Option<Command>,
    generation: u64,
    drops: &mut Drops,
) -> Exit {
    let mut calls: FuturesUnordered<Call<'_>> = FuturesUnordered::new();
    let mut next = first;
    loop {
        if next.is_none() && calls.is_empty() && !drops.is_empty() {
            return Exit::Drops;
        }
        let command = match next.take() {
            Some(c) => c,
            None => tokio::select! {
                biased;
                Some(ended) = calls.next(), if !calls.is_empty() => {
                    match ended {
                        Ended::Fine => {}
                        Ended::Fatal(error) => return Exit::Failed(error),
                        Ended::Orphan(vu) => drops.push((vu, None)),
                    }
                    continue;
                }
                command = rx.recv() => match command {
                    Some(c) => c,
                    None => return Exit::Closed,
                },
            },
        };
        match command {
            Command::Start { id, reply } => {
                calls.push(Box::pin(start(acc, bindings, ctx, id, generation, reply)));
            }
            Command::Drop { handle, reply } => {
                if handle.generation == generation {
                    drops.push((handle.vu, Some(reply)));
                } else {
                    // A resource of an instance that has ended since went with it.
                    let _ = reply.send(Ok(()));
                }
            }
            Command::Iterate {
                handle,
                exec,
                number,
                reply,
            } => {
                if handle.generation != generation {
                    // The VU's resource belonged to an instance that has ended since.
                    let _ = reply.send(Err(CallError::Trap(
                        "the shared instance was recreated".into(),
                    )));
                    continue;
                }
                calls.push(Box::pin(iterate(
                    acc, bindings, ctx, handle.vu, exec, number, reply,
                )));
            }
        }
    }
}

/// A call's result as seen by its VU, and whether it ended the instance.
fn settle<T>(
    acc: &Accessor<VuState>,
    outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    limit: Duration,
) -> (Result<T, CallError>, Option<CallError>) {
    match outcome {
        Ok(Ok(value)) => (Ok(value), None),
        Ok(Err(e)) => {
            let error = acc.with(|mut a| classify(a.get(), e));
            (Err(error.clone()), Some(error))
        }
        Err(_) => (
            Err(CallError::Timeout {
                limit,
                option: ITERATION_TIMEOUT,
            }),
            None,
        ),
    }
}

fn begin_call(acc: &Accessor<VuState>) {
    acc.with(|mut a| {
        let s = a.get();
        s.ticks = 0;
        s.cpu_exceeded = false;
        s.limiter.hit = false;
        s.last_error_log = None;
    });
}

/// Drop the resources of stopped VUs, running the guest's destructors (each within the call limits)
/// and recording their samples. A destructor that fails (a trap, the CPU budget, the memory limit or
/// the iteration timeout) ends the instance, as any failed call does: its error comes back.
async fn drop_resources(
    store: &mut wasmtime::Store<VuState>,
    ctx: &DriverCtx,
    drops: &mut Drops,
) -> Result<(), CallError> {
    let limit = (ctx.run.call_timeout, ITERATION_TIMEOUT);
    while let Some((vu, reply)) = drops.pop() {
        let dropped =
            crate::vu::guarded(store, limit, async |s| vu.resource_drop_async(s).await).await;
        store.data_mut().flush();
        match reply {
            Some(reply) => {
                let _ = reply.send(dropped.clone());
            }
            None => tracing::debug!(
                target: "stampede_runtime::shared",
                ok = dropped.is_ok(),
                "dropped the resource of a VU whose init failed"
            ),
        }
        dropped?;
    }
    Ok(())
}

async fn start(
    acc: &Accessor<VuState>,
    bindings: &ScenarioShared,
    ctx: &DriverCtx,
    id: u64,
    generation: u64,
    reply: Reply<Handle>,
) -> Ended {
    let limit = ctx.run.call_timeout;
    let runner = bindings.stampede_scenario_shared_runner().vu();
    begin_call(acc);
    let began = std::time::Instant::now();
    let call = async {
        let vu = runner
            .call_constructor(acc, id, ctx.setup_data.to_vec())
            .await?;
        let init = runner.call_init(acc, vu).await?;
        wasmtime::Result::Ok((vu, init))
    };
    let outcome = tokio::time::timeout(limit, call).await;
    tracing::debug!(
        target: "stampede_runtime::vu_start",
        vu = id,
        instantiate_us = 0u64,
        constructor_us = began.elapsed().as_micros() as u64,
        ok = matches!(outcome, Ok(Ok((_, Ok(()))))),
    );
    let (result, fatal) = settle(acc, outcome, limit);
    let (result, ended) = match result {
        Ok((vu, Ok(()))) => (Ok(Handle { generation, vu }), Ended::Fine),
        Ok((vu, Err(message))) => (Err(CallError::Failed(message)), Ended::Orphan(vu)),
        Err(e) => (Err(e), fatal.into()),
    };
    // Samples first, so a VU that stops right after this call has them counted.
    acc.with(|mut a| a.get().flush());
    let _ = reply.send(result);
    ended
}

async fn iterate(
    acc: &Accessor<VuState>,
    bindings: &ScenarioShared,
    ctx: &DriverCtx,
    vu: ResourceAny,
    exec: Arc<str>,
    number: u64,
    reply: Reply<Result<(), String>>,
) -> Ended {
    let limit = ctx.run.call_timeout;
    let runner = bindings.stampede_scenario_shared_runner().vu();
    let mut reply = reply;
    begin_call(acc);
    let call = tokio::time::timeout(
        limit,
        runner.call_iteration(acc, vu, exec.to_string(), number),
    );
    let outcome = tokio::select! {
        biased;
        outcome = call => outcome,
        // The VU is gone (interrupted at a graceful stop or a ramp-down): its call is left behind,
        // like one that timed out, so that VUs waiting for the instance to be idle (to run their
        // destructors) do not wait for it.
        () = reply.closed() => {
            acc.with(|mut a| a.get().flush());
            return Ended::Fine;
        }
    };
    let (result, fatal) = settle(acc, outcome, limit);
    acc.with(|mut a| a.get().flush());
    let _ = reply.send(result);
    fatal.into()
}
