//! `stampede report`: render a saved JSON summary again, in any report format; and the report
//! files `stampede run --summary-*` writes.

use crate::exit::{Failure, bad_input};
use anyhow::Context;
use stampede_coordinator::{Format, Report};
use std::path::{Path, PathBuf};

/// A report format, as the command line names it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FormatArg {
    /// The terminal summary `stampede run` prints.
    Text,
    /// The JSON summary (docs/summary-json.md).
    Json,
    /// JUnit XML: a test case per threshold and one for the run.
    Junit,
    /// CSV, one row per metric, threshold sub-metric and check.
    Csv,
    /// CSV, one row per second (VUs, requests, iterations, errors).
    TimeseriesCsv,
    /// One self-contained HTML page with charts.
    Html,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Junit => Format::Junit,
            FormatArg::Csv => Format::Csv,
            FormatArg::TimeseriesCsv => Format::TimeseriesCsv,
            FormatArg::Html => Format::Html,
        }
    }
}

/// Arguments of `stampede report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// A summary written by `stampede run --summary-json FILE`.
    summary: PathBuf,
    /// The format to render.
    #[arg(long, short, value_enum, default_value = "text")]
    format: FormatArg,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub async fn run(args: ReportArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.summary)
        .with_context(|| format!("cannot read the summary {}", args.summary.display()))
        .map_err(bad_input)?;
    let report = Report::from_json(&bytes)
        .with_context(|| format!("cannot read {}", args.summary.display()))
        .map_err(bad_input)?;
    if let Some(path) = &args.output {
        check_outputs(&[("--output", path)], &[("the summary", &args.summary)])
            .map_err(bad_input)?;
    }
    let text = Format::from(args.format).render(&report);
    match &args.output {
        Some(path) => write(path, &text, "the report").map_err(Failure::Internal),
        None => {
            use std::io::Write;
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                // `stampede report ... | head`: the reader has what it wanted.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other
                    .context("cannot write the report to standard output")
                    .map_err(Failure::Internal),
            }
        }
    }
}

/// Check before a run that each report file can be created: its folder exists, it is not a
/// folder itself, it can be opened for writing (permissions, a read-only file system), no two flags name the same file, and none is one of the run's `inputs` (the plan,
/// the component), which writing it would destroy. Paths are compared once resolved, so
/// `a.json` and `./a.json` are the same file, and existing files by inode (hard links). A long run
/// should not end in a lost report.
pub fn check_outputs(files: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> anyhow::Result<()> {
    let same = |a: &Path, b: &Path| resolve(a) == resolve(b) || same_inode(a, b);
    for (i, (flag, path)) in files.iter().enumerate() {
        if path.as_os_str() == "-" {
            anyhow::bail!(
                "{flag} -: give a file name (`stampede report SUMMARY.json -f FORMAT` prints a \
                 report on stdout)"
            );
        }
        if let Some((other, _)) = files[..i].iter().find(|(_, p)| same(p, path)) {
            anyhow::bail!(
                "{other} and {flag} name the same file {}: give each its own",
                path.display()
            );
        }
        if let Some((what, _)) = inputs.iter().find(|(_, p)| same(p, path)) {
            anyhow::bail!(
                "{flag} {} is {what}: writing the report there would overwrite it; name another file",
                path.display()
            );
        }
        if path.is_dir() {
            anyhow::bail!("{flag} {} is a folder: name a file in it", path.display());
        }
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            anyhow::bail!(
                "{flag} {}: the folder {} does not exist; create it first",
                path.display(),
                folder.display()
            );
        }
        can_write(path).map_err(|e| {
            anyhow::anyhow!(
                "{flag} {}: cannot write the file: {e}; name one in a folder you can write to",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// Whether `path` can be opened for writing, tried without changing it: an existing regular file
/// is opened (not truncated), a new one is created and removed again. Anything else that exists
/// (`/dev/stdout`, a pipe some reader will open) is left to the write itself: opening a pipe
/// would wait for its reader.
fn can_write(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => std::fs::OpenOptions::new().write(true).open(path).map(drop),
        // Not a regular file, or a symbolic link to a file not there yet.
        Ok(_) => Ok(()),
        Err(_) if path.symlink_metadata().is_ok() => Ok(()),
        Err(_) => {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)?;
            std::fs::remove_file(path)
        }
    }
}

/// Whether `a` and `b` are one existing file under two names (hard links included).
fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `path` made absolute, with its folder's symbolic links and `.`/`..` resolved where the folder
/// exists (the file itself may not exist yet), so two names of one file compare equal.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(folder), Some(name)) => folder
            .canonicalize()
            .map_or_else(|_| absolute.clone(), |f| f.join(name)),
        _ => absolute,
    }
}

/// Write a report file; `what` names it in the error.
pub fn write(path: &Path, text: &str, what: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| {
        // EMFILE: every connection a run holds is a file descriptor.
        let hint = if e.raw_os_error() == Some(24) {
            " (the open file limit is below the number of connections: raise `ulimit -n`)"
        } else {
            ""
        };
        anyhow::Error::new(e).context(format!("cannot write {what} to {}{hint}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::check_outputs;
    use std::path::Path;

    #[test]
    fn a_dash_is_not_a_report_file() {
        let err = check_outputs(&[("--summary-json", Path::new("-"))], &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--summary-json -: give a file name"),
            "{err}"
        );
    }

    #[test]
    fn two_names_of_one_file_are_one_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("sub/../a.json");
        let err = check_outputs(&[("--summary-json", &a), ("--summary-csv", &b)], &[]).unwrap_err();
        assert!(err.to_string().contains("name the same file"), "{err}");
        let plan = dir.path().join("plan.toml");
        std::fs::write(&plan, "").unwrap();
        let err = check_outputs(
            &[("--summary-csv", &b.with_file_name("plan.toml"))],
            &[("the plan", &plan)],
        )
        .unwrap_err();
        assert!(err.to_string().contains("is the plan"), "{err}");
        // A hard link is the same file under another name.
        let link = dir.path().join("link.json");
        std::fs::hard_link(&plan, &link).unwrap();
        let err = check_outputs(&[("--summary-json", &link)], &[("the plan", &plan)]).unwrap_err();
        assert!(err.to_string().contains("is the plan"), "{err}");
    }
}
