//! Writing to stdout and stderr without panicking when they are closed (`println!` does).
//!
//! A reader that went away (`stampede run plan.toml | head`, a closed terminal) must not cost a run
//! its report files or its exit code, so a failed write is not an error here: a closed pipe is
//! ignored, anything else is reported on stderr once it can be.

use std::io::{ErrorKind, Write};

/// Write `text` and a newline to stdout.
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush())
        && e.kind() != ErrorKind::BrokenPipe
    {
        err_line(&format!("warning: cannot write to stdout: {e}"));
    }
}

/// Write `text` and a newline to stderr; a failure is ignored (there is nowhere left to say it).
pub fn err_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `result` of writing to stdout, with a closed pipe counting as done: the reader has all it
/// wanted.
pub fn closed_pipe_is_ok(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_done_and_other_errors_are_not() {
        assert!(closed_pipe_is_ok(Err(ErrorKind::BrokenPipe.into())).is_ok());
        assert!(closed_pipe_is_ok(Ok(())).is_ok());
        assert!(closed_pipe_is_ok(Err(ErrorKind::StorageFull.into())).is_err());
    }
}
