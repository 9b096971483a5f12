//! Feature `libc-random`: writes a static library with one function, wasi-libc's
//! `__wasilibc_random`, filled from `wasi:random`'s `get-random-u64` (why: `src/alloc.rs`,
//! "One condition from outside").
//!
//! The function is a library's archive member rather than Rust code, because the linker then takes
//! it only when something calls it, as it takes wasi-libc's: a Rust definition has to be
//! `#[no_mangle]`, and rustc exports every such function of a component, so the function and its
//! import would be in every component, and the import alone costs ~2 KiB per VU with one instance
//! per VU (bench/memory.py, BENCHMARKS.md).
//!
//! The library is bundled into the SDK's rlib (as a member of its own, in the rlib's symbol index),
//! and the rlib comes before wasi-libc's `libc.a` in the link (std's `-lc` follows every crate). An
//! archive member that offers a symbol first keeps it in `wasm-ld`, so when wasi-libc's `getentropy`
//! or `arc4random` asks for `__wasilibc_random`, the linker takes this one, and wasi-libc's (alone in
//! its member) is never linked. That rests on the link order: a crate of the component that links
//! wasi-libc (`-l c`) itself ahead of the SDK, or a build that does not run this script, gets
//! wasi-libc's function back. The host's e2e test `the_sdks_random_bytes_cost_an_import_only_where_used`
//! checks the repository's components.
//!
//! The archive holds one relocatable WebAssembly object, written here byte by byte after the
//! object-file conventions of LLVM's linker, `wasm-ld` (WebAssembly/tool-conventions, Linking.md):
//! the function's code, a `linking` section naming its symbols and a `reloc.CODE` section for its
//! one call.

use std::env;
use std::fs;
use std::path::PathBuf;

/// The library's name (`-l stampede_libc_random`).
const LIBRARY: &str = "stampede_libc_random";
/// The function the object defines.
const FUNCTION: &str = "__wasilibc_random";
/// The function it calls: `wasi:random/random@0.2.0`'s `get-random-u64`, under a symbol name of its
/// own.
const IMPORT_MODULE: &str = "wasi:random/random@0.2.0";
const IMPORT_NAME: &str = "get-random-u64";
const IMPORT_SYMBOL: &str = "__stampede_get_random_u64";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let wanted = env::var_os("CARGO_FEATURE_LIBC_RANDOM").is_some()
        && env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("wasi")
        && env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("p2")
        && !env::var("CARGO_CFG_TARGET_FEATURE")
            .unwrap_or_default()
            .split(',')
            .any(|feature| feature == "atomics");
    if !wanted {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let library = out.join(format!("lib{LIBRARY}.a"));
    fs::write(&library, archive("libc_random.o", FUNCTION, &object()))
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", library.display()));
    println!("cargo::rustc-link-search=native={}", out.display());
    // Bundled (the default): the member goes into the SDK's rlib, which the final link reads member
    // by member, as it reads wasi-libc's archive.
    println!("cargo::rustc-link-lib=static={LIBRARY}");
}

/// An unsigned LEB128 number.
fn uleb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A name: its length, then its bytes.
fn name(out: &mut Vec<u8>, name: &str) {
    uleb(out, name.len() as u32);
    out.extend_from_slice(name.as_bytes());
}

/// A section: its id, its size, then its content.
fn section(out: &mut Vec<u8>, id: u8, content: &[u8]) {
    out.push(id);
    uleb(out, content.len() as u32);
    out.extend_from_slice(content);
}

/// A custom section: id 0, then its name inside the content.
fn custom(out: &mut Vec<u8>, section_name: &str, content: &[u8]) {
    let mut all = Vec::new();
    name(&mut all, section_name);
    all.extend_from_slice(content);
    section(out, 0, &all);
}

// Value types and opcodes used below.
const I32: u8 = 0x7f;
const I64: u8 = 0x7e;
const BLOCK: u8 = 0x02;
const LOOP: u8 = 0x03;
const IF: u8 = 0x04;
const EMPTY: u8 = 0x40;
const END: u8 = 0x0b;
const BR: u8 = 0x0c;
const BR_IF: u8 = 0x0d;
const CALL: u8 = 0x10;
const LOCAL_GET: u8 = 0x20;
const LOCAL_SET: u8 = 0x21;
const I64_STORE8: u8 = 0x3c;
const I32_CONST: u8 = 0x41;
const I64_CONST: u8 = 0x42;
const I32_EQZ: u8 = 0x45;
const I32_ADD: u8 = 0x6a;
const I32_SUB: u8 = 0x6b;
const I64_SHR_U: u8 = 0x88;

// Sections.
const TYPE_SECTION: u8 = 1;
const IMPORT_SECTION: u8 = 2;
const FUNCTION_SECTION: u8 = 3;
const CODE_SECTION: u8 = 10;
/// The code section's index among the object's sections (type, import, function, code), which
/// `reloc.CODE` names.
const CODE_SECTION_INDEX: u32 = 3;

// Linking metadata (tool-conventions, Linking.md).
const LINKING_VERSION: u32 = 2;
const WASM_SYMBOL_TABLE: u8 = 8;
const SYMTAB_FUNCTION: u8 = 0;
const WASM_SYM_VISIBILITY_HIDDEN: u32 = 0x04;
const WASM_SYM_UNDEFINED: u32 = 0x10;
const WASM_SYM_EXPLICIT_NAME: u32 = 0x40;
const R_WASM_FUNCTION_INDEX_LEB: u8 = 0;

/// The object: `__wasilibc_random(buffer: i32, len: i32) -> i32` writes `len` bytes at `buffer`,
/// each eight from one `get-random-u64`, and returns 0 (as wasi-libc's does; this one cannot fail).
fn object() -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();

    // Types: 0 is `() -> i64` (the import), 1 is `(i32, i32) -> i32` (the function).
    let mut types = Vec::new();
    uleb(&mut types, 2);
    types.extend_from_slice(&[0x60, 0, 1, I64]);
    types.extend_from_slice(&[0x60, 2, I32, I32, 1, I32]);
    section(&mut module, TYPE_SECTION, &types);

    // Imports: the linear memory, as every object imports it, and the function 0.
    let mut imports = Vec::new();
    uleb(&mut imports, 2);
    name(&mut imports, "env");
    name(&mut imports, "__linear_memory");
    imports.extend_from_slice(&[0x02, 0x00, 0x00]); // a memory, at least 0 pages, no maximum
    name(&mut imports, IMPORT_MODULE);
    name(&mut imports, IMPORT_NAME);
    imports.extend_from_slice(&[0x00, 0x00]); // a function of type 0
    section(&mut module, IMPORT_SECTION, &imports);

    // Functions: 1, of type 1.
    section(&mut module, FUNCTION_SECTION, &[1, 1]);

    // Locals: 0 buffer, 1 len (parameters), 2 the bits left of the last random u64, 3 how many
    // bytes of it are left.
    const BUFFER: u8 = 0;
    const LEN: u8 = 1;
    const BITS: u8 = 2;
    const LEFT: u8 = 3;
    let mut body = vec![2, 1, I64, 1, I32];
    body.extend_from_slice(&[BLOCK, EMPTY, LOOP, EMPTY]);
    // while len != 0
    body.extend_from_slice(&[LOCAL_GET, LEN, I32_EQZ, BR_IF, 1]);
    // if left == 0 { bits = get_random_u64(); left = 8 }
    body.extend_from_slice(&[LOCAL_GET, LEFT, I32_EQZ, IF, EMPTY, CALL]);
    let call_index_at = body.len();
    body.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x00]); // function 0, padded for the relocation
    body.extend_from_slice(&[LOCAL_SET, BITS, I32_CONST, 8, LOCAL_SET, LEFT, END]);
    // *buffer = bits as u8; bits >>= 8
    body.extend_from_slice(&[LOCAL_GET, BUFFER, LOCAL_GET, BITS, I64_STORE8, 0, 0]);
    body.extend_from_slice(&[LOCAL_GET, BITS, I64_CONST, 8, I64_SHR_U, LOCAL_SET, BITS]);
    // left -= 1; buffer += 1; len -= 1
    body.extend_from_slice(&[LOCAL_GET, LEFT, I32_CONST, 1, I32_SUB, LOCAL_SET, LEFT]);
    body.extend_from_slice(&[LOCAL_GET, BUFFER, I32_CONST, 1, I32_ADD, LOCAL_SET, BUFFER]);
    body.extend_from_slice(&[LOCAL_GET, LEN, I32_CONST, 1, I32_SUB, LOCAL_SET, LEN]);
    body.extend_from_slice(&[BR, 0, END, END]);
    body.extend_from_slice(&[I32_CONST, 0, END]);

    let mut code = Vec::new();
    uleb(&mut code, 1);
    uleb(&mut code, body.len() as u32);
    let call_index_offset = code.len() + call_index_at;
    code.extend_from_slice(&body);
    section(&mut module, CODE_SECTION, &code);

    // Symbols: 0 the import (undefined, under its own name), 1 the function (hidden: linked, never
    // exported).
    let mut symbols = Vec::new();
    uleb(&mut symbols, 2);
    symbols.push(SYMTAB_FUNCTION);
    uleb(&mut symbols, WASM_SYM_UNDEFINED | WASM_SYM_EXPLICIT_NAME);
    uleb(&mut symbols, 0);
    name(&mut symbols, IMPORT_SYMBOL);
    symbols.push(SYMTAB_FUNCTION);
    uleb(&mut symbols, WASM_SYM_VISIBILITY_HIDDEN);
    uleb(&mut symbols, 1);
    name(&mut symbols, FUNCTION);
    let mut linking = Vec::new();
    uleb(&mut linking, LINKING_VERSION);
    linking.push(WASM_SYMBOL_TABLE);
    uleb(&mut linking, symbols.len() as u32);
    linking.extend_from_slice(&symbols);
    custom(&mut module, "linking", &linking);

    // The call's function index is symbol 0's.
    let mut relocations = Vec::new();
    uleb(&mut relocations, CODE_SECTION_INDEX);
    uleb(&mut relocations, 1);
    relocations.push(R_WASM_FUNCTION_INDEX_LEB);
    uleb(&mut relocations, call_index_offset as u32);
    uleb(&mut relocations, 0);
    custom(&mut module, "reloc.CODE", &relocations);

    module
}

/// A Unix archive (the GNU variant) of one member, with the symbol index linkers require: the
/// index's big-endian count and member offsets, then the symbols' names.
fn archive(member: &str, symbol: &str, object: &[u8]) -> Vec<u8> {
    fn header(out: &mut Vec<u8>, name: &str, size: usize) {
        let header = format!("{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n", 0, 0, 0, 644);
        assert_eq!(header.len(), 60, "an archive member's header is 60 bytes");
        out.extend_from_slice(header.as_bytes());
    }
    fn pad(out: &mut Vec<u8>) {
        if out.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    let mut index = Vec::new();
    index.extend_from_slice(&1u32.to_be_bytes());
    let offset_at = index.len();
    index.extend_from_slice(&0u32.to_be_bytes());
    index.extend_from_slice(symbol.as_bytes());
    index.push(0);
    if index.len() % 2 == 1 {
        index.push(0);
    }
    let member_offset = (8 + 60 + index.len()) as u32;
    index[offset_at..offset_at + 4].copy_from_slice(&member_offset.to_be_bytes());

    let mut out = b"!<arch>\n".to_vec();
    header(&mut out, "/", index.len());
    out.extend_from_slice(&index);
    assert_eq!(out.len() as u32, member_offset);
    header(&mut out, &format!("{member}/"), object.len());
    out.extend_from_slice(object);
    pad(&mut out);
    out
}
