//! The signals that stop a command gracefully: Ctrl-C (`SIGINT`), `SIGTERM` (what `kill`,
//! `timeout`, `docker stop`, Kubernetes and a cancelled CI job send) and `SIGHUP` (the terminal
//! closed). k6 stops on the first two the same way.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// A stop signal that arrived: its name for messages and the exit code of a process it ends
/// (128 + its number, as a shell reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSignal {
    /// `"Ctrl-C"`, `"SIGTERM"` or `"SIGHUP"`.
    pub name: &'static str,
    /// 130, 143 or 129.
    pub exit_code: i32,
}

const INTERRUPT: StopSignal = StopSignal {
    name: "Ctrl-C",
    exit_code: 130,
};
const TERMINATE: StopSignal = StopSignal {
    name: "SIGTERM",
    exit_code: 143,
};
const HANGUP: StopSignal = StopSignal {
    name: "SIGHUP",
    exit_code: 129,
};

/// Listens for the stop signals from when it is made; each [`StopSignals::next`] waits for one.
pub struct StopSignals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
    hangup: Option<Signal>,
}

impl StopSignals {
    /// Start listening. A signal that was ignored when the process started stays ignored, as
    /// whoever started it asked (`nohup` ignores `SIGHUP`, a shell ignores `SIGINT` for a
    /// background job). A signal that cannot be listened for (Linux refuses none of these three)
    /// keeps its default action, and the others still work.
    pub fn new() -> Self {
        let listen = |kind: SignalKind, number: libc::c_int, which: StopSignal| {
            if ignored(number) {
                return None;
            }
            signal(kind)
                .inspect_err(|e| tracing::debug!("cannot listen for {}: {e}", which.name))
                .ok()
        };
        Self {
            interrupt: listen(SignalKind::interrupt(), libc::SIGINT, INTERRUPT),
            terminate: listen(SignalKind::terminate(), libc::SIGTERM, TERMINATE),
            hangup: listen(SignalKind::hangup(), libc::SIGHUP, HANGUP),
        }
    }

    /// The next stop signal.
    pub async fn next(&mut self) -> StopSignal {
        tokio::select! {
            () = recv(&mut self.interrupt) => INTERRUPT,
            () = recv(&mut self.terminate) => TERMINATE,
            () = recv(&mut self.hangup) => HANGUP,
        }
    }
}

/// Whether `signal`'s disposition is "ignore" (`SIG_IGN`).
#[allow(unsafe_code)] // one `sigaction` call that only reads
fn ignored(signal: libc::c_int) -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with a null new action, `sigaction` only writes the current one into `old`, which
    // is valid (zeroed) memory of the right type; it is read only if the call succeeded.
    let read = unsafe { libc::sigaction(signal, std::ptr::null(), old.as_mut_ptr()) } == 0;
    // SAFETY: zeroed, then filled in by a successful call.
    read && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// The next delivery of `signal`; never, if it is not listened for.
async fn recv(signal: &mut Option<Signal>) {
    if let Some(s) = signal
        && s.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}
