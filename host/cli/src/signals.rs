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
    /// Start listening. A signal that cannot be listened for (Linux refuses none of these three)
    /// keeps its default action, and the others still work.
    pub fn new() -> Self {
        let listen = |kind: SignalKind, which: StopSignal| {
            signal(kind)
                .inspect_err(|e| tracing::debug!("cannot listen for {}: {e}", which.name))
                .ok()
        };
        Self {
            interrupt: listen(SignalKind::interrupt(), INTERRUPT),
            terminate: listen(SignalKind::terminate(), TERMINATE),
            hangup: listen(SignalKind::hangup(), HANGUP),
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

/// The next delivery of `signal`; never, if it is not listened for.
async fn recv(signal: &mut Option<Signal>) {
    if let Some(s) = signal
        && s.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}
