//! Golden tests over the plans in the repository's `tests/plans` folder.
//!
//! - `valid/*.toml` must load without problems.
//! - `invalid/NAME.toml` must fail to load, and the error's `Display` must equal `invalid/NAME.err`.
//!
//! Plans are read with [`load`], so the component check is covered too: each folder holds a placeholder
//! `scenario.wasm` that the plans name (`component = "scenario.wasm"`), except the golden that tests a missing
//! component. To keep goldens machine-independent the runner reports the plan as its file name only, and
//! replaces the absolute folder in messages with `$DIR`.
//!
//! Run with `BLESS=1` to rewrite the `.err` files from the current output (then review the diff).

use std::fs;
use std::path::{Path, PathBuf};

use stampede_plan::load;

fn plans_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/plans")
}

/// The `.toml` files of `tests/plans/<sub>`, sorted.
fn plans(sub: &str) -> Vec<PathBuf> {
    let dir = plans_dir().join(sub);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn valid_plans_load() {
    let files = plans("valid");
    assert!(!files.is_empty());
    for file in files {
        let plan = load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(!plan.scenarios.is_empty(), "{}", file.display());
    }
}

#[test]
fn invalid_plans_match_their_goldens() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v != "0");
    let files = plans("invalid");
    assert!(
        files.len() >= 10,
        "expected at least 10 invalid plans, found {}",
        files.len()
    );
    let dir = fs::canonicalize(plans_dir().join("invalid")).unwrap();
    let mut mismatches = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_owned();
        let err = match load(&dir.join(&name)) {
            Ok(_) => {
                mismatches.push(format!("{}: loaded without errors", file.display()));
                continue;
            }
            Err(err) => err.with_file(&name),
        };
        let actual = format!("{err}\n").replace(&format!("{}/", dir.display()), "$DIR/");
        let golden = file.with_extension("err");
        if bless {
            fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&golden).unwrap_or_default();
        if expected != actual {
            mismatches.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                golden.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatches (rerun with BLESS=1 to accept):\n\n{}",
        mismatches.join("\n")
    );
}

/// Every `.err` has its `.toml`, so a renamed plan does not leave a stale golden behind.
#[test]
fn no_orphan_goldens() {
    let dir = plans_dir().join("invalid");
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "err") {
            assert!(
                path.with_extension("toml").is_file(),
                "orphan golden {}",
                path.display()
            );
        }
    }
}
