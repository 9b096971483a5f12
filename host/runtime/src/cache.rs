//! On-disk cache of compiled components, keyed by content hash and the engine's compatibility hash,
//! so a JavaScript or Python component (seconds to compile) is compiled once per machine.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components live: `$STAMPEDE_CACHE_DIR`, else `$XDG_CACHE_HOME/stampede`, else
/// `~/.cache/stampede`. `None` when no home is known (then nothing is cached).
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("STAMPEDE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("stampede"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("stampede"))
}

/// Compile `bytes` or load the compiled artifact from `dir`.
pub fn compile(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
    dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, bytes);
    };
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let path = dir.join(format!("{sha256}-{:016x}.cwasm", h.finish()));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` below for this engine configuration
        // (the file name carries the engine's compatibility hash) and is only read back by us.
        #[allow(unsafe_code)]
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok(c),
            Err(e) => tracing::warn!("ignoring unusable cache entry {}: {e:#}", path.display()),
        }
    }
    say_compiling(bytes.len(), dir);
    let component = Component::new(engine, bytes)?;
    if let Err(e) = store(&path, &component) {
        tracing::debug!(
            "could not cache the compiled component at {}: {e:#}",
            path.display()
        );
    }
    Ok(component)
}

/// Components at least this large (a JavaScript or Python interpreter) take seconds to compile.
const SLOW_TO_COMPILE: usize = 1 << 20;

/// Say why the run pauses before it starts, when the compilation will take a while.
fn say_compiling(len: usize, dir: &Path) {
    if len >= SLOW_TO_COMPILE {
        tracing::info!(
            target: "compile",
            "compiling the component ({:.1} MiB) for this machine, ~10-20 s on 2 cores for a \
             JavaScript or Python one: once per component and memory-limit, then cached in {}",
            len as f64 / f64::from(1 << 20),
            dir.display()
        );
    }
}

fn store(path: &Path, component: &Component) -> wasmtime::Result<()> {
    let dir = path.parent().expect("cache path has a parent");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}",
        std::process::id(),
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
