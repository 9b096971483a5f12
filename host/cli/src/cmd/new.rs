//! `stampede new --lang rust|js|python|c [--shared] NAME`: a scenario project that builds and runs
//! as is. With `--shared` (Rust, JavaScript and Python), the scenario is built for shared isolation
//! (the world `scenario-shared`, or `scenario-shared-futures` for JavaScript; `isolation = "shared"`
//! in its plan).
//!
//! Every project has the same shape: the scenario source, a `build.sh` that produces `NAME.wasm`,
//! a `plan.toml` for `stampede target`, a README, `wit/stampede.wit` (the world this binary runs) and
//! a copy of the language's SDK under `sdk/<lang>/`, so the project needs nothing from the Stampede
//! repository. All of it is built into the binary.

use crate::exit::{Failure, bad_input};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Arguments of `stampede new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The scenario's language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Project name: lower-case letters, digits, `-` and `_`, starting with a letter. The project
    /// is created in the folder of that name (or in `--dir`).
    name: String,
    /// Create the project here instead of `./NAME` (must not exist, or be empty).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Build the scenario for shared isolation: many VUs as concurrent async calls in one instance
    /// (`isolation = "shared"`, docs/isolation.md). Rust, JavaScript and Python.
    #[arg(long)]
    shared: bool,
}

/// How the project's VUs map to instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// One instance per VU (the world `scenario`): the default.
    Instance,
    /// Many VUs per instance (the world `scenario-shared`).
    Shared,
}

/// The languages `stampede new` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with the stampede-sdk crate (cargo, target wasm32-wasip2).
    Rust,
    /// JavaScript, with componentize-js (node and npm).
    Js,
    /// Python, with componentize-py (python3 with venv and pip).
    Python,
    /// C, with clang for wasm32-wasi, wasi-libc and `stampede guest`.
    C,
}

/// One file of a project: path inside it, contents (with `{{...}}` placeholders), executable bit.
struct File {
    path: &'static str,
    contents: &'static str,
    executable: bool,
}

const fn file(path: &'static str, contents: &'static str) -> File {
    File {
        path,
        contents,
        executable: false,
    }
}

const fn script(path: &'static str, contents: &'static str) -> File {
    File {
        path,
        contents,
        executable: true,
    }
}

macro_rules! sdk {
    ($path:literal, $from:literal) => {
        file($path, include_str!(concat!("../../../../", $from)))
    };
}

macro_rules! template {
    ($path:literal, $from:literal) => {
        file($path, include_str!(concat!("../../templates/", $from)))
    };
}

const COMMON: &[File] = &[
    template!("plan.toml", "common/plan.toml"),
    template!("README.md", "common/README.md"),
    template!(".gitignore", "common/gitignore"),
    file("wit/stampede.wit", super::guest::SCENARIO_WIT),
];

const RUST: &[File] = &[
    template!("Cargo.toml", "rust/Cargo.toml"),
    template!(".cargo/config.toml", "rust/cargo/config.toml"),
    script("build.sh", include_str!("../../templates/rust/build.sh")),
    sdk!("sdk/rust/Cargo.toml", "sdk/rust/Cargo.toml"),
    sdk!("sdk/rust/README.md", "sdk/rust/README.md"),
    sdk!("sdk/rust/src/lib.rs", "sdk/rust/src/lib.rs"),
    sdk!("sdk/rust/src/alloc.rs", "sdk/rust/src/alloc.rs"),
    sdk!("sdk/rust/src/context.rs", "sdk/rust/src/context.rs"),
    sdk!("sdk/rust/src/http.rs", "sdk/rust/src/http.rs"),
    sdk!("sdk/rust/src/log.rs", "sdk/rust/src/log.rs"),
    sdk!("sdk/rust/src/metrics.rs", "sdk/rust/src/metrics.rs"),
    sdk!("sdk/rust/src/rng.rs", "sdk/rust/src/rng.rs"),
    sdk!("sdk/rust/src/scenario.rs", "sdk/rust/src/scenario.rs"),
    sdk!("sdk/rust/src/shared.rs", "sdk/rust/src/shared.rs"),
    sdk!("sdk/rust/src/tasks.rs", "sdk/rust/src/tasks.rs"),
];

const RUST_INSTANCE: &[File] = &[template!("src/lib.rs", "rust/lib.rs")];
const RUST_SHARED: &[File] = &[template!("src/lib.rs", "rust/shared_lib.rs")];

const JS: &[File] = &[
    script("build.sh", include_str!("../../templates/js/build.sh")),
    sdk!("sdk/js/README.md", "sdk/js/README.md"),
    sdk!("sdk/js/build.mjs", "sdk/js/build.mjs"),
    sdk!("sdk/js/core.js", "sdk/js/core.js"),
    sdk!("sdk/js/common.js", "sdk/js/common.js"),
    sdk!("sdk/js/stampede.js", "sdk/js/stampede.js"),
    sdk!("sdk/js/shared.js", "sdk/js/shared.js"),
    sdk!("sdk/js/stampede.d.ts", "sdk/js/stampede.d.ts"),
    sdk!("sdk/js/shared.d.ts", "sdk/js/shared.d.ts"),
    sdk!("sdk/js/wit.d.ts", "sdk/js/wit.d.ts"),
    sdk!("sdk/js/package.json", "sdk/js/package.json"),
    sdk!("sdk/js/package-lock.json", "sdk/js/package-lock.json"),
];

const JS_INSTANCE: &[File] = &[template!("scenario.js", "js/scenario.js")];
const JS_SHARED: &[File] = &[template!("scenario.js", "js/shared_scenario.js")];

const PYTHON: &[File] = &[
    script("build.sh", include_str!("../../templates/python/build.sh")),
    sdk!("sdk/python/README.md", "sdk/python/README.md"),
    script(
        "sdk/python/build.sh",
        include_str!("../../../../sdk/python/build.sh"),
    ),
    sdk!("sdk/python/stampede.py", "sdk/python/stampede.py"),
    sdk!("sdk/python/requirements.txt", "sdk/python/requirements.txt"),
];

const PYTHON_INSTANCE: &[File] = &[
    template!("src/scenario.py", "python/scenario.py"),
    template!("src/runner.py", "python/runner.py"),
];
const PYTHON_SHARED: &[File] = &[
    template!("src/scenario.py", "python/shared_scenario.py"),
    template!("src/shared_runner.py", "python/shared_runner.py"),
];

const C: &[File] = &[
    template!("scenario.c", "c/scenario.c"),
    template!("Makefile", "c/Makefile"),
    script("build.sh", include_str!("../../templates/c/build.sh")),
    sdk!("sdk/c/README.md", "sdk/c/README.md"),
    sdk!("sdk/c/stampede.h", "sdk/c/stampede.h"),
    sdk!("sdk/c/stampede.c", "sdk/c/stampede.c"),
];

impl Lang {
    /// The project's files besides [`COMMON`]: the language's, then the isolation's.
    fn files(self, isolation: Isolation) -> impl Iterator<Item = &'static File> {
        let (files, scenario): (&[File], &[File]) = match (self, isolation) {
            (Lang::Rust, Isolation::Instance) => (RUST, RUST_INSTANCE),
            (Lang::Rust, Isolation::Shared) => (RUST, RUST_SHARED),
            (Lang::Python, Isolation::Instance) => (PYTHON, PYTHON_INSTANCE),
            (Lang::Python, Isolation::Shared) => (PYTHON, PYTHON_SHARED),
            (Lang::Js, Isolation::Instance) => (JS, JS_INSTANCE),
            (Lang::Js, Isolation::Shared) => (JS, JS_SHARED),
            (Lang::C, _) => (C, &[]),
        };
        files.iter().chain(scenario)
    }

    /// Whether the language's toolchain builds components for shared isolation.
    fn builds_shared(self) -> bool {
        matches!(self, Lang::Rust | Lang::Js | Lang::Python)
    }

    fn key(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
            Lang::C => "c",
        }
    }

    fn language(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Js => "JavaScript",
            Lang::Python => "Python",
            Lang::C => "C",
        }
    }

    /// What `build.sh` needs, for the README.
    fn build_note(self) -> &'static str {
        match self {
            Lang::Rust => "cargo; adds the wasm32-wasip2 target with rustup if missing",
            Lang::Js => {
                "node >= 20 and npm; installs componentize-js and componentize-qjs on first use"
            }
            Lang::Python => "python3 with venv and pip; installs componentize-py on first use",
            Lang::C => {
                "clang, lld and wasi-libc (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32) and `stampede`"
            }
        }
    }

    /// The README's rows for the language's own files.
    fn readme_rows(self, isolation: Isolation) -> &'static str {
        if (self, isolation) == (Lang::Js, Isolation::Shared) {
            return "| `scenario.js` | the scenario (shared isolation: QuickJS, built with componentize-qjs for the world `scenario-shared-futures`) |\n| `sdk/js/` | the Stampede JavaScript SDK (`shared.js`, `build.mjs`; its README documents the API) |\n";
        }
        if (self, isolation) == (Lang::Python, Isolation::Shared) {
            return "| `src/scenario.py` | the scenario |\n| `src/shared_runner.py` | where componentize-py finds the exported `Vu` class (its name selects the world `scenario-shared`) |\n| `sdk/python/` | the Stampede Python SDK (`stampede.py`, `build.sh`; its README documents the API) |\n";
        }
        match self {
            Lang::Rust => {
                "| `src/lib.rs` | the scenario |\n| `Cargo.toml`, `.cargo/config.toml` | the crate, built for `wasm32-wasip2` |\n| `sdk/rust/` | the Stampede Rust SDK (`stampede-sdk`; its README documents the API) |\n"
            }
            Lang::Js => {
                "| `scenario.js` | the scenario |\n| `sdk/js/` | the Stampede JavaScript SDK (`stampede.js`, typings, `build.mjs`; its README documents the API) |\n"
            }
            Lang::Python => {
                "| `src/scenario.py` | the scenario |\n| `src/runner.py` | where componentize-py finds the exported `Vu` class |\n| `sdk/python/` | the Stampede Python SDK (`stampede.py`, `build.sh`; its README documents the API) |\n"
            }
            Lang::C => {
                "| `scenario.c` | the scenario |\n| `Makefile` | bindings (`stampede guest bindings-c`), clang, then `stampede guest componentize` |\n| `sdk/c/` | the Stampede C helpers (`stampede.h`; its README documents the API) |\n"
            }
        }
    }
}

pub async fn run(args: NewArgs) -> Result<(), Failure> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let isolation = if args.shared {
        Isolation::Shared
    } else {
        Isolation::Instance
    };
    create(args.lang, isolation, &args.name, &dir).map_err(bad_input)?;
    crate::out::line(&format!(
        "created {} ({} scenario `{}`{})\n\nnext:\n  cd {}\n  ./build.sh\n  stampede target &\n  stampede run plan.toml",
        dir.display(),
        args.lang.language(),
        args.name,
        match isolation {
            Isolation::Shared => ", shared isolation",
            Isolation::Instance => "",
        },
        dir.display()
    ));
    Ok(())
}

/// The plan's scenario lines for a shared-isolation project.
const SHARED_PLAN: &str = "# Many VUs as concurrent async calls in one instance (docs/isolation.md in Stampede's repository).\n\
                           isolation = \"shared\"\n\
                           vus-per-instance = 1000\n";

/// The README's paragraph on shared isolation.
const SHARED_NOTE: &str = concat!(
    "\n\nIt is built for shared isolation (`isolation = \"shared\"` in `plan.toml`): up to\n",
    "`vus-per-instance` VUs run as concurrent async calls in one instance, so an idle VU costs a few KiB\n",
    "instead of an instance of its own. They share the instance's globals, and a trap (a Rust panic; in\n",
    "Python only a `MemoryError` or `SystemExit`; in JavaScript only the memory limit or a runaway loop:\n",
    "exceptions fail just that VU's call) ends every VU of that instance, which are then re-created.\n",
    "Send requests and pause with the async calls; the blocking ones stall every VU of the instance.",
);

/// Check a project name: it becomes a file name, a crate name and a package name.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !starts_with_letter || !rest_ok || name.len() > 64 {
        bail!(
            "project name `{name}` is not usable: use lower-case letters, digits, `-` and `_`, \
             starting with a letter (at most 64 characters), e.g. `checkout-flow`"
        );
    }
    Ok(())
}

/// Write the project for `lang` and `isolation` named `name` into `dir` (which must not exist, or be
/// empty).
pub fn create(lang: Lang, isolation: Isolation, name: &str, dir: &Path) -> anyhow::Result<()> {
    check_name(name)?;
    if isolation == Isolation::Shared && !lang.builds_shared() {
        bail!(
            "--shared is for Rust, JavaScript and Python scenarios: C projects are not scaffolded \
             for the world `scenario-shared` (docs/isolation.md). Leave out --shared for one \
             instance per VU."
        );
    }
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("{} exists and is not a readable folder", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} already exists and is not empty: choose another name or --dir",
                dir.display()
            );
        }
    }
    let crate_name = name.replace('-', "_");
    let shared = isolation == Isolation::Shared;
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{lang}}", lang.key())
            .replace("{{language}}", lang.language())
            .replace("{{build_note}}", lang.build_note())
            .replace("{{files}}", lang.readme_rows(isolation))
            .replace("{{new_flags}}", if shared { " --shared" } else { "" })
            .replace(
                "{{sdk_features}}",
                if shared {
                    ", features = [\"shared\"]"
                } else {
                    ""
                },
            )
            .replace("{{isolation}}", if shared { SHARED_PLAN } else { "" })
            .replace("{{isolation_note}}", if shared { SHARED_NOTE } else { "" })
    };
    for f in COMMON.iter().chain(lang.files(isolation)) {
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // SDK files are copied as they are; only the templates have placeholders.
        let contents = if f.path.starts_with("sdk/") || f.path.starts_with("wit/") {
            f.contents.to_owned()
        } else {
            fill(f.contents)
        };
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        if f.executable {
            set_executable(&path)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)?.permissions();
    perms.set_mode(0o755);
    std::fs::set_permissions(path, perms)
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["shop", "checkout-flow", "a1_b2"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "Shop", "1shop", "-x", "a b", "a/b", "ünï"] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains("lower-case letters"), "{bad}: {err}");
        }
    }

    #[test]
    fn every_language_fills_every_placeholder_and_refuses_a_non_empty_folder() {
        let kinds = [Lang::Rust, Lang::Js, Lang::Python, Lang::C]
            .map(|l| (l, Isolation::Instance))
            .into_iter()
            .chain([Lang::Rust, Lang::Js, Lang::Python].map(|l| (l, Isolation::Shared)));
        for (lang, isolation) in kinds {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("my-test");
            create(lang, isolation, "my-test", &dir).unwrap();
            for f in COMMON.iter().chain(lang.files(isolation)) {
                let text = std::fs::read_to_string(dir.join(f.path)).unwrap();
                if !f.path.starts_with("sdk/") {
                    assert!(!text.contains("{{"), "{lang:?} {}: {text}", f.path);
                }
            }
            let plan = std::fs::read_to_string(dir.join("plan.toml")).unwrap();
            assert!(plan.contains("component = \"my-test.wasm\""));
            assert_eq!(
                plan.contains("isolation = \"shared\""),
                isolation == Isolation::Shared,
                "{plan}"
            );
            stampede_plan::parse(&plan, &dir).unwrap_or_else(|e| panic!("{lang:?}: {e}\n{plan}"));
            let err = create(lang, isolation, "my-test", &dir)
                .unwrap_err()
                .to_string();
            assert!(err.contains("not empty"), "{err}");
        }
    }

    #[test]
    fn shared_isolation_is_refused_for_c() {
        let tmp = tempfile::tempdir().unwrap();
        let err = create(Lang::C, Isolation::Shared, "x", &tmp.path().join("x"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--shared is for Rust, JavaScript and Python"),
            "{err}"
        );
        assert!(!tmp.path().join("x").exists(), "nothing written");
    }

    #[test]
    fn a_js_project_gets_every_module_of_the_sdk() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk/js");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".js") || name.ends_with(".d.ts") {
                let path = format!("sdk/js/{name}");
                assert!(
                    JS.iter().any(|f| f.path == path),
                    "`stampede new` does not copy {path} into JavaScript projects"
                );
            }
        }
    }

    #[test]
    fn a_rust_project_gets_every_source_file_of_the_sdk() {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk/rust/src");
        for entry in std::fs::read_dir(src).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let path = format!("sdk/rust/src/{name}");
            assert!(
                RUST.iter().any(|f| f.path == path),
                "`stampede new` does not copy {path} into Rust projects"
            );
        }
    }
}
