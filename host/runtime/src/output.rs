//! Guest stdout/stderr: printed line by line through the log (as k6 prints `console.log`), and
//! kept as a short tail per VU (to show what the guest printed before a trap), never blocking and
//! never failing, however much the guest prints.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::host::log::Who;

/// Bytes kept: enough for a panic message and a few lines before it.
const TAIL_BYTES: usize = 4096;

/// A line longer than this is printed in pieces of this length.
const LINE_BYTES: usize = 4096;

/// What a VU wrote to stdout and stderr: printed a line at a time, its last [`TAIL_BYTES`] kept.
#[derive(Clone, Default)]
pub(crate) struct TailPipe(Arc<Mutex<Pipe>>);

#[derive(Default)]
struct Pipe {
    tail: VecDeque<u8>,
    /// The line being written, printed when it ends.
    line: Vec<u8>,
    /// Who prints: `None` keeps the output without printing it (setup's own checks, tests).
    who: Option<(Who, Arc<str>)>,
}

impl TailPipe {
    /// The pipe of VU `id` of `scenario`, which prints what it is given.
    pub(crate) fn printing(id: u64, scenario: Arc<str>) -> TailPipe {
        let pipe = Pipe {
            tail: VecDeque::new(),
            line: Vec::new(),
            who: Some((Who { id, shared: false }, scenario)),
        };
        TailPipe(Arc::new(Mutex::new(pipe)))
    }

    /// Lines printed from here on come from a shared instance (no one VU wrote them).
    pub(crate) fn share(&self) {
        if let Some((who, _)) = &mut self.lock().who {
            who.shared = true;
        }
    }

    /// What is kept, lossily decoded.
    pub(crate) fn contents(&self) -> String {
        let pipe = self.lock();
        let (a, b) = pipe.tail.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).into_owned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pipe> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, bytes: &[u8]) {
        let mut pipe = self.lock();
        let Pipe { tail, line, who } = &mut *pipe;
        let keep = bytes.len().min(TAIL_BYTES);
        let overflow = (tail.len() + keep).saturating_sub(TAIL_BYTES);
        tail.drain(..overflow);
        tail.extend(&bytes[bytes.len() - keep..]);
        if let Some((vu, scenario)) = who {
            split_lines(line, bytes, |text| print(vu, scenario, text));
        }
    }
}

/// Add `bytes` to the unfinished `line`, and give `emit` every line they end (without its `\n` or
/// `\r\n`; a line longer than [`LINE_BYTES`] in pieces of that length, and one of exactly that
/// length once).
fn split_lines(line: &mut Vec<u8>, mut bytes: &[u8], mut emit: impl FnMut(&str)) {
    while !bytes.is_empty() {
        let room = LINE_BYTES - line.len();
        // One byte past the room: a newline there ends a line that is exactly full.
        let window = &bytes[..bytes.len().min(room + 1)];
        match window.iter().position(|&b| b == b'\n') {
            Some(end) => {
                line.extend_from_slice(&bytes[..end]);
                bytes = &bytes[end + 1..];
            }
            None if bytes.len() <= room => {
                line.extend_from_slice(bytes);
                return;
            }
            None => {
                line.extend_from_slice(&bytes[..room]);
                bytes = &bytes[room..];
            }
        }
        let text = String::from_utf8_lossy(line);
        emit(text.strip_suffix('\r').unwrap_or(&text));
        // A long line's buffer is not kept for the VU's life.
        if line.capacity() > 256 {
            *line = Vec::new();
        } else {
            line.clear();
        }
    }
}

/// Lines of guest output printed per second and process, at most: enough to follow a few VUs
/// while debugging, not a flood (a Python exception escaping every iteration has its runtime print
/// a traceback each time: 5,590 lines in 2 s with one VU).
const LINES_PER_SECOND: u32 = 100;

/// How many lines this second has printed, and how many it left out.
struct Budget {
    second: Option<std::time::Instant>,
    printed: u32,
    left_out: u64,
}

static BUDGET: Mutex<Budget> = Mutex::new(Budget {
    second: None,
    printed: 0,
    left_out: 0,
});

impl Budget {
    /// Say how many lines were left out since the last time, if any.
    fn say_left_out(&mut self) {
        if self.left_out > 0 {
            tracing::warn!(
                target: "guest",
                "{} lines the scenarios printed were left out (at most {LINES_PER_SECOND} a \
                 second are printed; `log` lines are not limited)",
                self.left_out
            );
        }
        self.left_out = 0;
        self.printed = 0;
    }

    /// Whether a line may be printed at `now`; the first line of a new second first says how many
    /// the last one left out.
    fn take(&mut self, now: std::time::Instant) -> bool {
        let current = self
            .second
            .is_some_and(|start| now.duration_since(start) < std::time::Duration::from_secs(1));
        if !current {
            self.say_left_out();
            *self = Budget {
                second: Some(now),
                printed: 0,
                left_out: 0,
            };
        }
        if self.printed < LINES_PER_SECOND {
            self.printed += 1;
            true
        } else {
            self.left_out += 1;
            false
        }
    }
}

/// Say how many lines the last second left out, if any, and start counting afresh: at the end of a
/// run (its last second has no next line to say it) and before the next.
pub fn say_left_out_lines() {
    let mut budget = BUDGET.lock().unwrap_or_else(|e| e.into_inner());
    budget.say_left_out();
    budget.second = None;
}

/// One line the guest printed, as a guest log line at `info` (within [`LINES_PER_SECOND`]).
fn print(vu: &Who, scenario: &str, text: &str) {
    let now = std::time::Instant::now();
    if BUDGET.lock().unwrap_or_else(|e| e.into_inner()).take(now) {
        tracing::info!(target: "guest", vu = %vu, scenario, "{text}");
    }
}

impl Drop for Pipe {
    /// A last line without its end is printed when the VU's instance goes.
    fn drop(&mut self) {
        if let Some((vu, scenario)) = &self.who
            && !self.line.is_empty()
        {
            print(vu, scenario, &String::from_utf8_lossy(&self.line));
        }
    }
}

impl IsTerminal for TailPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TailPipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(TailWriter(self.clone()))
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for TailPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for TailPipe {
    async fn ready(&mut self) {}
}

struct TailWriter(TailPipe);

impl tokio::io::AsyncWrite for TailWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines `writes` end, in order.
    fn lines(writes: &[&[u8]]) -> (Vec<String>, Vec<u8>) {
        let (mut line, mut printed) = (Vec::new(), Vec::new());
        for bytes in writes {
            split_lines(&mut line, bytes, |text| printed.push(text.to_owned()));
        }
        (printed, line)
    }

    #[test]
    fn prints_whole_lines() {
        let (printed, rest) = lines(&[b"hello ", b"world\r\nsecond\n\nthird ", b"part"]);
        assert_eq!(printed, ["hello world", "second", ""]);
        assert_eq!(rest, b"third part");
        let long = vec![b'x'; LINE_BYTES * 2 + 10];
        let (printed, rest) = lines(&[&long, b"\n"]);
        assert_eq!(
            printed.iter().map(String::len).collect::<Vec<_>>(),
            [LINE_BYTES, LINE_BYTES, 10]
        );
        assert!(rest.is_empty());
        // A line of exactly the longest length is one line, with its newline in the same write or
        // the next.
        let full = vec![b'y'; LINE_BYTES];
        for writes in [
            &[&[full.as_slice(), b"\n"].concat()[..]][..],
            &[&full, b"\nz\n"],
        ] {
            let (printed, rest) = lines(writes);
            let lens: Vec<usize> = printed.iter().map(String::len).collect();
            assert_eq!(lens[0], LINE_BYTES);
            assert!(
                !printed.iter().any(String::is_empty),
                "no blank line: {lens:?}"
            );
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn prints_at_most_a_budget_of_lines_a_second() {
        let mut budget = Budget {
            second: None,
            printed: 0,
            left_out: 0,
        };
        let t0 = std::time::Instant::now();
        let printed = (0..250).filter(|_| budget.take(t0)).count();
        assert_eq!(printed, LINES_PER_SECOND as usize);
        assert_eq!(budget.left_out, 150);
        let later = t0 + std::time::Duration::from_millis(999);
        assert!(!budget.take(later));
        // A new second: printing again, the count of the last one said and reset.
        assert!(budget.take(t0 + std::time::Duration::from_secs(1)));
        assert_eq!((budget.printed, budget.left_out), (1, 0));
    }

    #[test]
    fn keeps_only_the_tail() {
        let pipe = TailPipe::default();
        pipe.push(&vec![b'a'; 10_000]);
        pipe.push(b"panicked at the end");
        let text = pipe.contents();
        assert_eq!(text.len(), TAIL_BYTES);
        assert!(text.ends_with("panicked at the end"));
    }
}
