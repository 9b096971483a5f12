//! `stampede guest`: toolchain helpers for scenarios written in languages without a Stampede SDK
//! build of their own (C, or any language that produces a core Wasm module):
//!
//! - `stampede guest bindings-c DIR` writes the C bindings of the scenario world (`scenario.h`,
//!   `scenario.c`, `scenario_component_type.o`), as `wit-bindgen c` would.
//! - `stampede guest componentize CORE.wasm -o OUT.wasm` wraps a core module built against those
//!   bindings into a component, as `wasm-tools component new` would, adding the WASI preview1
//!   adapter when the module imports preview1 (libc I/O such as `printf`).
//!
//! Both use the WIT world built into this binary (the same `wit/stampede.wit` the host runs), unless
//! `--wit` names another folder.

use crate::exit::{Failure, bad_input};
use anyhow::Context;
use std::path::{Path, PathBuf};
use wasi_preview1_component_adapter_provider as adapter;
use wit_bindgen_core::wit_parser::{Resolve, WorldId};

/// The scenario world the host implements, built in.
pub const SCENARIO_WIT: &str = include_str!("../../../../wit/stampede.wit");

/// Arguments of `stampede guest`.
#[derive(clap::Args)]
pub struct GuestArgs {
    #[command(subcommand)]
    command: GuestCommand,
}

#[derive(clap::Subcommand)]
enum GuestCommand {
    /// Write C bindings for the scenario world into DIR (scenario.h, scenario.c,
    /// scenario_component_type.o).
    BindingsC {
        /// Output folder (created if missing).
        dir: PathBuf,
        /// A WIT folder to use instead of the built-in scenario world.
        #[arg(long)]
        wit: Option<PathBuf>,
    },
    /// Wrap a core Wasm module (built with the generated bindings) into a scenario component.
    Componentize {
        /// The core module (e.g. clang --target=wasm32-wasi -mexec-model=reactor output).
        core: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub async fn run(args: GuestArgs) -> Result<(), Failure> {
    match args.command {
        GuestCommand::BindingsC { dir, wit } => {
            let files = c_bindings(wit.as_deref()).map_err(bad_input)?;
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))
                .map_err(bad_input)?;
            for (name, contents) in files {
                let path = dir.join(&name);
                std::fs::write(&path, contents)
                    .with_context(|| format!("cannot write {}", path.display()))
                    .map_err(bad_input)?;
                crate::out::err_line(&format!("wrote {}", path.display()));
            }
            Ok(())
        }
        GuestCommand::Componentize { core, output } => {
            let module = std::fs::read(&core)
                .with_context(|| format!("cannot read {}", core.display()))
                .map_err(bad_input)?;
            let component = componentize(&module)
                .with_context(|| format!("cannot make a component of {}", core.display()))
                .map_err(bad_input)?;
            std::fs::write(&output, &component)
                .with_context(|| format!("cannot write {}", output.display()))
                .map_err(bad_input)?;
            crate::out::err_line(&format!(
                "wrote {} ({} bytes)",
                output.display(),
                component.len()
            ));
            Ok(())
        }
    }
}

/// The scenario world from `wit` (a folder), or the built-in one.
fn scenario_world(wit: Option<&Path>) -> anyhow::Result<(Resolve, WorldId)> {
    let mut resolve = Resolve::default();
    let package = match wit {
        Some(dir) => {
            resolve
                .push_dir(dir)
                .with_context(|| format!("cannot read the WIT in {}", dir.display()))?
                .0
        }
        None => resolve.push_source("stampede.wit", SCENARIO_WIT)?,
    };
    let world = resolve.select_world(&[package], Some("scenario"))?;
    Ok((resolve, world))
}

/// The C bindings of the scenario world: file name and contents.
pub fn c_bindings(wit: Option<&Path>) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let (mut resolve, world) = scenario_world(wit)?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    Ok(files
        .iter()
        .map(|(name, bytes)| (name.to_owned(), bytes.to_vec()))
        .collect())
}

/// A component made of `module`, whose `component-type` custom section (from the generated
/// `scenario_component_type.o`) says which world it implements.
pub fn componentize(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    if module.get(..4) != Some(b"\0asm") {
        anyhow::bail!("not a WebAssembly file (no \\0asm header)");
    }
    if module.get(4..8) != Some(&[1, 0, 0, 0]) {
        anyhow::bail!("already a component, or not a core module: nothing to wrap");
    }
    let mut encoder = wit_component::ComponentEncoder::default();
    encoder = std::mem::take(encoder.validate(true).module(module).context(
        "the module has no scenario world type information: link scenario_component_type.o \
         (from `stampede guest bindings-c`) into it",
    )?);
    if imports_preview1(module).context("the module is not valid WebAssembly")? {
        encoder = std::mem::take(encoder.adapter(
            adapter::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            adapter::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?);
    }
    encoder.encode()
}

/// Whether the core module imports from `wasi_snapshot_preview1` (libc I/O); only then does the
/// component need the preview1 adapter.
fn imports_preview1(module: &[u8]) -> anyhow::Result<bool> {
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ImportSection(imports) = payload? {
            for import in imports.into_imports() {
                if import?.module == adapter::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}
