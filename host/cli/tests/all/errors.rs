//! Bad input: each exits 2 with a message that names the problem, before any load is sent.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn broken_plan_exits_2_listing_every_problem() {
    let target = Target::start().await;
    let plan = fixture_plan(
        &target,
        "get",
        "",
        "[scenarios.main]\nexecutor = \"constant-vus\"\nvu = 3\nduration = \"ten seconds\"\n",
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.contains("scenarios.main.vu") && err.contains("did you mean `vus`"),
        "{err}"
    );
    assert!(err.contains("scenarios.main.duration"), "{err}");
    assert_eq!(target.requests().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn non_wasm_file_exits_2() {
    let run = run_component_file("scenario.wasm", b"#!/bin/sh\necho not wasm\n").await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("scenario.wasm is not a WebAssembly file"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn core_module_exits_2() {
    let run = run_component_file("core.wasm", b"\0asm\x01\0\0\0").await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("is a core WebAssembly module, not a component"),
        "{}",
        run.stderr()
    );
}

/// A file that starts like a component but is not one: wasmtime's reason, once (Stampede compiles
/// for two engines in turn, and the second attempt's error is the one reported).
#[tokio::test(flavor = "multi_thread")]
async fn broken_component_exits_2_with_the_compilers_reason() {
    let run = run_component_file("broken.wasm", b"\0asm\x0d\0\x01\0\xff\xff\xff garbage").await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let err = run.stderr();
    assert!(err.contains("broken.wasm could not be compiled: "), "{err}");
    assert_eq!(err.matches("could not be compiled").count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn component_of_another_world_exits_2() {
    let run = run_plan(&one_vu_plan(&guest("wrong_world")), &[]).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("does not implement the world stampede:scenario/scenario@0.2.0"),
        "{}",
        run.stderr()
    );
}

/// A scenario built against the previous release of the world (`fixture_basic` with its
/// `stampede:scenario/...@0.2.0` names rewritten to `@0.1.0`, which keeps every length) is told to
/// rebuild, with both versions named, rather than that it implements no Stampede world.
#[tokio::test(flavor = "multi_thread")]
async fn component_of_an_older_world_version_is_told_to_rebuild() {
    let current = std::fs::read(guest("fixture_basic")).unwrap();
    let (from, to) = (b"@0.2.0", b"@0.1.0");
    let prefix = b"stampede:scenario/";
    let mut old = current.clone();
    let mut renamed = 0;
    for at in 0..current.len() {
        if !current[at..].starts_with(prefix) {
            continue;
        }
        let name = at + prefix.len();
        let interface = current[name..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || **b == b'-')
            .count();
        let version = name + interface;
        if current[version..].starts_with(from) {
            old[version..version + from.len()].copy_from_slice(to);
            renamed += 1;
        }
    }
    assert!(
        renamed > 0,
        "fixture_basic names no stampede:scenario interface"
    );
    let run = run_component_file("old_world.wasm", &old).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "old_world.wasm was built against stampede:scenario@0.1.0, but this Stampede implements @0.2.0; rebuild it"
        ),
        "{}",
        run.stderr()
    );
}

/// A scenario one instance of which would create more linear memories than a store allows
/// (`fixture_basic` with a core module of four memories added and instantiated beside its own) is
/// refused when it loads, with the count and the limit, before any VU starts.
#[tokio::test(flavor = "multi_thread")]
async fn a_component_with_more_memories_than_an_instance_may_create_is_refused_at_load() {
    // Every size and index written here is under 128, so each is one byte of LEB128.
    fn byte(n: usize) -> u8 {
        u8::try_from(n)
            .ok()
            .filter(|b| *b < 0x80)
            .expect("under 128")
    }
    fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        out.push(byte(payload.len()));
        out.extend_from_slice(payload);
    }
    let mut component = std::fs::read(guest("fixture_basic")).unwrap();
    // The component's own core modules (top-level sections of id 1) come first in its module index
    // space, so the added module's index is their count.
    let mut modules = 0;
    let mut at = 8;
    while at < component.len() {
        let id = component[at];
        let (mut size, mut shift) = (0usize, 0);
        at += 1;
        loop {
            let byte = component[at];
            at += 1;
            size |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte < 0x80 {
                break;
            }
        }
        modules += usize::from(id == 1);
        at += size;
    }
    // A core module with four memories of one page each.
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(5, &[4, 0, 1, 0, 1, 0, 1, 0, 1], &mut module);
    section(1, &module, &mut component);
    // One core instance of it: `instantiate`, its index, no arguments.
    let instance = [1, 0, byte(modules), 0];
    section(2, &instance, &mut component);

    let run = run_component_file("five_memories.wasm", &component).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "one instance of component five_memories.wasm would create 5 linear memories, but Stampede allows each instance"
        ),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("at most 3 linear memories and 4 tables"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn more_vus_than_the_process_can_host_fails_up_front() {
    let target = Target::start().await;
    let plan = fixture_plan(&target, "get", "", &constant(1, "1s"));
    let run = run_plan(&plan, &["--vus", "5000000"]).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("can host at most"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("vm.max_map_count"),
        "{}",
        run.stderr()
    );
    assert_eq!(target.requests().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_flag_exits_2() {
    let out = stampede(&["run", "plan.toml", "--duration", "soon"]).await;
    assert_eq!(out.status.code(), Some(2));
}

/// One VU for a second with `component`, against a port nobody listens on (these plans fail before
/// any request).
fn one_vu_plan(component: &std::path::Path) -> String {
    format!(
        "component = \"{}\"\ntargets = [\"http://127.0.0.1:9\"]\n{}",
        component.display(),
        constant(1, "1s")
    )
}

/// Run [`one_vu_plan`] with `bytes` as the component, in a file named `name`.
async fn run_component_file(name: &str, bytes: &[u8]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    run_plan(&one_vu_plan(&path), &[]).await
}

/// A scenario that only checks statuses still shows why its requests failed: each distinct reason
/// is logged once per process (not per request or per VU), with the request it came from.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_connection_is_logged_once_whatever_the_vus() {
    // A loopback port bound but not listening: connections to it are refused, and no other test
    // can take it meanwhile.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    let origin = format!("http://127.0.0.1:{port}");
    let plan = format!(
        "component = \"{}\"\ntargets = [\"{origin}\"]\n[params]\nmode = \"get\"\nurl = \"{origin}/\"\n{}",
        guest("fixture_basic").display(),
        constant(5, "1s")
    );
    let run = run_plan(&plan, &[]).await;
    let stderr = run.stderr();
    assert_eq!(run.code(), 0, "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("request failed: could not connect"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("Connection refused")
            && warnings[0].contains(&format!("(GET {origin}/)"))
            && warnings[0].contains("error_code=\"connect\""),
        "{stderr}"
    );
    assert!(run.metric("http_req_failed", "rate") == 1.0);
}
