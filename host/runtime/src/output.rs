//! Guest stdout/stderr: kept as a short tail per VU (to show what the guest printed before a trap),
//! never blocking and never failing, however much the guest prints.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Bytes kept: enough for a panic message and a few lines before it.
const TAIL_BYTES: usize = 4096;

/// The last [`TAIL_BYTES`] a guest wrote to stdout and stderr.
#[derive(Clone, Default)]
pub(crate) struct TailPipe {
    tail: Arc<Mutex<VecDeque<u8>>>,
}

impl TailPipe {
    /// What is kept, lossily decoded.
    pub(crate) fn contents(&self) -> String {
        let tail = self.tail.lock().expect("tail lock");
        let (a, b) = tail.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).into_owned()
    }

    fn push(&self, bytes: &[u8]) {
        let mut tail = self.tail.lock().expect("tail lock");
        let keep = bytes.len().min(TAIL_BYTES);
        let overflow = (tail.len() + keep).saturating_sub(TAIL_BYTES);
        tail.drain(..overflow);
        tail.extend(&bytes[bytes.len() - keep..]);
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
