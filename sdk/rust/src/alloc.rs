//! The scenario's memory allocator (feature `fast-alloc`, on by default): free lists of blocks of
//! 16 to 2,048 bytes in front of the system allocator.
//!
//! Every request a scenario sends allocates in the guest: the request's strings, then the response's
//! header list, each header name and value, and the body, about a dozen blocks an iteration, all
//! freed by the next. wasi-libc's `malloc` (dlmalloc) took ~150 instructions per `malloc` and ~190
//! per `free` for them, 8 % of Stampede's instructions per request (bench/instructions.py). Here a
//! block of a size seen before comes off a free list and goes back onto it in a few instructions.
//!
//! Rust hands the block's layout back on `dealloc`, so blocks carry no header: a block's size class
//! follows from its layout. Sizes are rounded up to a multiple of 16 up to 512 bytes, then to a
//! quarter step between powers of two (640, 768, ... 2,048). Blocks over 2,048 bytes or aligned to
//! more than 16 go to the system allocator. Freed blocks stay on their class's list for reuse by that
//! class: a scenario's memory use is then its peak use per class.
//!
//! A Wasm instance runs one thread (the SDK is built without the `atomics` target feature), so the
//! lists need no locking; the allocator is installed only there.
//!
//! One condition from outside: wasi-libc must never hand a block from the component's
//! `cabi_realloc` (std's, so this allocator) to its own `free`. It does that with what the host
//! returns for the WASI environment, arguments, stdin, preopened directories and sockets, so the host
//! must grant none of them (Stampede's grants none: `VuState::new` in `stampede-runtime`; with
//! nothing granted every such list is empty and nothing is allocated or freed). And it did that with
//! random bytes: wasi-libc's `__wasilibc_random`, behind `getentropy`, `arc4random*` and C's stack
//! protector, asks `wasi:random` for a `list<u8>` and frees it with `free`, which the host does
//! grant. So the SDK replaces that function (feature `libc-random`, on by default) with one that
//! fills the buffer from `get-random-u64` and allocates nothing. The replacement is a one-function
//! static library written by the SDK's build script (`build.rs`), not Rust code: the linker then
//! takes it, like wasi-libc's, only into a component that draws random bytes, and the others import
//! nothing for it (an import costs ~2 KiB per VU with one instance per VU). The host's e2e test
//! `the_host_grants_no_wasi_environment_arguments_stdin_or_files` checks both: nothing granted, and
//! `getentropy` and `arc4random_buf` between allocations keep every block intact (without the
//! replacement its instances trapped); `the_sdks_random_bytes_cost_an_import_only_where_used` checks
//! which components import `wasi:random`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The smallest block, and the step between the sizes of small blocks: room for the free list's
/// link, and the alignment every block has.
const STEP: usize = 16;
/// Blocks up to this size come in steps of 16 bytes (16, 32, ... 512): a block wastes at most 15
/// bytes, which matters with `isolation = "shared"`, where every VU's state is a few blocks.
const SMALL_MAX: usize = 512;
/// Larger blocks come in quarter steps between powers of two, up to the largest served here.
const LARGE: [usize; 8] = [640, 768, 896, 1024, 1280, 1536, 1792, 2048];
/// The largest block served from the lists.
const MAX_BLOCK: usize = LARGE[LARGE.len() - 1];
/// Size classes: 32 small ones, then the large ones.
const CLASSES: usize = SMALL_MAX / STEP + LARGE.len();
/// New blocks are cut from chunks of this size taken from the system allocator: small, so an
/// instance holds little more than its blocks need. The size of the largest block, not 4 KiB: with
/// 4 KiB, the first chunk and the header wasi-libc's allocator writes after it spanned two pages of
/// a fresh instance's heap, one of them for that header alone (an idle VU's instance touched 3 heap
/// pages instead of 2, bench/memory.py).
const CHUNK: usize = MAX_BLOCK;
/// The installed allocator's first chunk is a static ([`FirstChunk`]) in the component's
/// zero-initialised data: pages of it are touched only as blocks are cut from them, and an instance
/// whose blocks fit in it never calls the system allocator, whose first call writes to two pages of
/// a fresh heap (its state, and an end marker at the end of the initial memory). An idle VU's
/// instance then touches one page of `.bss` for its blocks instead of two pages of heap
/// (bench/memory_breakdown.py: 12 -> 8 KiB of guest memory per VU).
///
/// Small, because the linker puts it between the component's data and its other zero-initialised
/// statics (std's, wit-bindgen's: a few hundred bytes, written by every instance's first call): a
/// small chunk keeps those on the page the data ends on or the next, where its first blocks are too.
/// With 8 KiB, `plugins/rust-get`'s instances touched 5 pages of linear memory instead of 3 (its
/// 272 bytes of blocks on one page, the statics 8 KiB further on straddling two more) and
/// `fixture-basic`'s 5 instead of 4 (bench/memory_breakdown.py). 2 KiB (the largest block) rather
/// than 3: with the guest stack's top 1.5 KiB into a page (the SDK's recommended
/// `-zstack-size=62976`), `plugins/rust-get`'s stack top, data (4 KiB), first blocks and those
/// statics then fit in two pages instead of three (`fixture-basic`: three instead of four), read
/// from the instances' resident pages.
const FIRST_CHUNK: usize = 2 * 1024;
// Every block fits in a chunk.
const _: () = assert!(MAX_BLOCK <= CHUNK && MAX_BLOCK <= FIRST_CHUNK);

/// Free lists per size class, and the chunk new blocks are cut from.
pub struct SizeClasses {
    state: UnsafeCell<State>,
    /// The first chunk to cut blocks from, if any, before chunks of the system allocator.
    first: Option<&'static FirstChunk>,
}

/// Memory for an allocator's first chunk: give it to one allocator with
/// [`SizeClasses::with_first_chunk`]. A static of it costs no bytes of the component's file
/// (zero-initialised data) and no memory until blocks are cut from it.
#[repr(C, align(16))]
pub struct FirstChunk(UnsafeCell<[u8; FIRST_CHUNK]>);

// SAFETY: as `SizeClasses`: only in a Wasm build without threads, and only its one allocator uses it.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl Sync for FirstChunk {}

impl FirstChunk {
    /// A chunk not given to any allocator yet.
    pub const fn new() -> Self {
        FirstChunk(UnsafeCell::new([0; FIRST_CHUNK]))
    }
}

impl Default for FirstChunk {
    fn default() -> Self {
        Self::new()
    }
}

struct State {
    /// Head of each class's list of free blocks; a free block's first word links to the next.
    free: [*mut u8; CLASSES],
    /// The unused part of the current chunk.
    next: *mut u8,
    end: *mut u8,
    /// Whether blocks were cut from the first chunk yet.
    first_taken: bool,
}

// SAFETY: the allocator is shared only where it is installed, a Wasm target without threads
// (see `lib.rs`), so no two threads ever reach the lists.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    /// An allocator with empty lists, whose chunks all come from the system allocator.
    pub const fn new() -> Self {
        Self::cutting_first_from(None)
    }

    /// An allocator with empty lists that cuts its first blocks from `first`.
    ///
    /// # Safety
    /// `first` is given to this allocator only, and to no other use.
    pub const unsafe fn with_first_chunk(first: &'static FirstChunk) -> Self {
        Self::cutting_first_from(Some(first))
    }

    const fn cutting_first_from(first: Option<&'static FirstChunk>) -> Self {
        SizeClasses {
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
                first_taken: first.is_none(),
            }),
            first,
        }
    }
}

impl Default for SizeClasses {
    fn default() -> Self {
        Self::new()
    }
}

/// The class of each size, by 16-byte step (`(size - 1) / 16`): one load on the hot path.
const CLASS_OF_STEP: [u8; MAX_BLOCK / STEP] = {
    let mut table = [0u8; MAX_BLOCK / STEP];
    let mut step = 0;
    while step < table.len() {
        let size = (step + 1) * STEP;
        table[step] = if size <= SMALL_MAX {
            step as u8
        } else {
            let mut i = 0;
            while LARGE[i] < size {
                i += 1;
            }
            (SMALL_MAX / STEP + i) as u8
        };
        step += 1;
    }
    table
};

/// The block size of each class.
const BLOCK_OF_CLASS: [usize; CLASSES] = {
    let mut table = [0usize; CLASSES];
    let mut class = 0;
    while class < CLASSES {
        table[class] = if class < SMALL_MAX / STEP {
            (class + 1) * STEP
        } else {
            LARGE[class - SMALL_MAX / STEP]
        };
        class += 1;
    }
    table
};

/// The largest class whose block fits in `room` bytes (16 to `MAX_BLOCK`, a multiple of 16).
#[inline]
fn largest_class_within(room: usize) -> usize {
    // The smallest class holding `room` bytes; its block is `room` or larger.
    let class = CLASS_OF_STEP[(room - 1) / STEP] as usize;
    if block_size(class) > room {
        // Classes grow with their index, and the one before is the largest below `room`.
        class - 1
    } else {
        class
    }
}

/// The size class of a block of `size` bytes aligned to `align`, if the lists serve it.
#[inline]
fn class(size: usize, align: usize) -> Option<usize> {
    if size > MAX_BLOCK || align > STEP {
        None
    } else {
        Some(CLASS_OF_STEP[size.saturating_sub(1) / STEP] as usize)
    }
}

#[inline]
fn block_size(class: usize) -> usize {
    BLOCK_OF_CLASS[class]
}

impl State {
    /// A block of `class`: from its list, else cut from the chunk (null when out of memory). When
    /// the chunk runs out, `first` is the next one if not yet taken, else one from the system.
    ///
    /// # Safety
    /// The lists and the chunk hold only blocks this allocator made and nobody uses; `first` is
    /// this allocator's first chunk (see [`SizeClasses::with_first_chunk`]), if it has one.
    unsafe fn take(&mut self, class: usize, first: Option<&'static FirstChunk>) -> *mut u8 {
        let head = self.free[class];
        if !head.is_null() {
            // SAFETY: a free block's first word is the link the list put there.
            self.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = block_size(class);
        if self.end.addr() - self.next.addr() < size {
            // The rest of the chunk (a multiple of 16 bytes, smaller than this block) goes onto the
            // lists of the largest classes it holds, so it is used later rather than lost.
            let mut rest = self.end.addr() - self.next.addr();
            while rest >= STEP {
                let tail = largest_class_within(rest);
                // SAFETY: `tail`'s block lies within the unused rest of the chunk, 16-aligned like
                // every block cut from it.
                unsafe {
                    self.give(tail, self.next);
                    self.next = self.next.add(block_size(tail));
                }
                rest -= block_size(tail);
            }
            let (chunk, len) = match first {
                Some(first) if !self.first_taken => {
                    self.first_taken = true;
                    (first.0.get().cast::<u8>(), FIRST_CHUNK)
                }
                _ => {
                    // SAFETY: a non-zero size and a power-of-two alignment.
                    let chunk =
                        unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, STEP)) };
                    (chunk, CHUNK)
                }
            };
            if chunk.is_null() {
                return chunk;
            }
            self.next = chunk;
            // SAFETY: the end of the chunk just taken.
            self.end = unsafe { chunk.add(len) };
        }
        let block = self.next;
        // SAFETY: at least `size` bytes are left in the chunk.
        self.next = unsafe { block.add(size) };
        block
    }

    /// Put a block of `class` back on its list.
    ///
    /// # Safety
    /// `block` came from `take(class)` and is no longer used.
    unsafe fn give(&mut self, class: usize, block: *mut u8) {
        // SAFETY: the block is at least 16 bytes and 16-aligned, and nobody uses it.
        unsafe { block.cast::<*mut u8>().write(self.free[class]) };
        self.free[class] = block;
    }
}

// SAFETY: blocks from the lists are at least as large as asked (the class's block size) and
// 16-aligned (chunks are, and every block size is a multiple of 16), served only for layouts
// aligned to 16 or less; each is handed out once until it is freed. Every other layout goes to the
// system allocator, and `dealloc`/`realloc` tell the two kinds apart by the same layout test.
unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class(layout.size(), layout.align()) {
            // SAFETY: one thread (see `Sync`), and no call here re-enters the allocator.
            Some(c) => unsafe { (*self.state.get()).take(c, self.first) },
            // SAFETY: forwarded with the caller's guarantees.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class(layout.size(), layout.align()) {
            Some(_) => {
                // SAFETY: as `alloc`; a block from a list holds old data, so it is cleared.
                unsafe {
                    let block = self.alloc(layout);
                    if !block.is_null() {
                        block.write_bytes(0, layout.size());
                    }
                    block
                }
            }
            // SAFETY: forwarded with the caller's guarantees.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class(layout.size(), layout.align()) {
            // SAFETY: the caller frees a block `alloc` made for this layout, so of this class.
            Some(c) => unsafe { (*self.state.get()).give(c, block) },
            // SAFETY: forwarded with the caller's guarantees.
            None => unsafe { System.dealloc(block, layout) },
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class(layout.size(), layout.align());
        let new = class(new_size, layout.align());
        if old.is_some() && old == new {
            // The block is already big enough (and a shrink keeps its class).
            return block;
        }
        if old.is_none() && new.is_none() {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(block, layout, new_size) };
        }
        // Between the lists and the system allocator, or between classes: move.
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_size` is non-zero (the caller's guarantee); the old block stays valid for
        // `layout.size()` bytes until freed here.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_map_to_16_byte_steps_then_quarter_powers_of_two() {
        assert_eq!(CLASSES, 40);
        assert_eq!(class(1, 1), Some(0));
        assert_eq!(class(16, 16), Some(0));
        assert_eq!(class(17, 8), Some(1));
        assert_eq!(class(512, 8), Some(31));
        assert_eq!(class(513, 8), Some(32));
        assert_eq!(class(2048, 4), Some(CLASSES - 1));
        assert_eq!(class(2049, 1), None);
        assert_eq!(class(64, 32), None);
        // Every size fits its class's block, which is a multiple of 16 (so 16-aligned).
        for size in 1..=MAX_BLOCK {
            let block = block_size(class(size, 1).unwrap());
            assert!(
                size <= block && block.is_multiple_of(STEP),
                "{size} -> {block}"
            );
            assert!(
                block - size < STEP.max(block / 5),
                "{size} wastes too much in {block}"
            );
        }
    }

    /// Record `[p, p + size)` as live; panics if it overlaps a live block.
    fn claim(ranges: &mut std::collections::BTreeMap<usize, usize>, p: *mut u8, size: usize) {
        let (start, end) = (p as usize, p as usize + size);
        if let Some((&s, &e)) = ranges.range(..end).next_back() {
            assert!(
                e <= start || s >= end,
                "block {start:#x}..{end:#x} overlaps live block {s:#x}..{e:#x}"
            );
        }
        ranges.insert(start, end);
    }

    /// A fixed pseudo-random walk of 20,000 allocations, frees and reallocations (1 byte to 5 KiB,
    /// alignments 1 to 32) on `heap`. Every block is filled with a byte of its own and checked
    /// later: blocks handed out at the same time never overlap (their address ranges are checked
    /// too), and contents survive `realloc`.
    fn random_walk(heap: &SizeClasses) {
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut ranges = std::collections::BTreeMap::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let check = |(p, layout, tag): &(*mut u8, Layout, u8)| {
            // SAFETY: a live block of `layout.size()` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(*p, layout.size()) };
            assert!(
                bytes.iter().all(|b| b == tag),
                "block of {} bytes changed",
                layout.size()
            );
            assert!((*p as usize).is_multiple_of(layout.align()));
        };
        for step in 0..20_000u32 {
            let r = next();
            let size = 1 + (r as usize >> 8) % if r % 7 == 0 { 5000 } else { 300 };
            let align = [1, 2, 4, 8, 16, 32][(r >> 40) as usize % 6];
            let tag = step as u8;
            match r % 4 {
                0 | 1 => {
                    let layout = Layout::from_size_align(size, align).unwrap();
                    // SAFETY: a non-zero size.
                    let p = unsafe {
                        if r % 8 == 1 {
                            heap.alloc_zeroed(layout)
                        } else {
                            heap.alloc(layout)
                        }
                    };
                    assert!(!p.is_null());
                    claim(&mut ranges, p, size);
                    if r % 8 == 1 {
                        // SAFETY: a live block of `size` bytes.
                        let bytes = unsafe { std::slice::from_raw_parts(p, size) };
                        assert!(bytes.iter().all(|&b| b == 0), "alloc_zeroed left data");
                    }
                    // SAFETY: a live block of `size` bytes.
                    unsafe { p.write_bytes(tag, size) };
                    live.push((p, layout, tag));
                }
                2 if !live.is_empty() => {
                    let i = (r >> 16) as usize % live.len();
                    let entry = live.swap_remove(i);
                    check(&entry);
                    ranges.remove(&(entry.0 as usize));
                    // SAFETY: freed once, with the layout it was allocated with.
                    unsafe { heap.dealloc(entry.0, entry.1) };
                }
                3 if !live.is_empty() => {
                    let i = (r >> 16) as usize % live.len();
                    let (p, layout, tag) = live[i];
                    check(&live[i]);
                    // SAFETY: a live block, a non-zero new size.
                    let q = unsafe { heap.realloc(p, layout, size) };
                    assert!(!q.is_null());
                    ranges.remove(&(p as usize));
                    claim(&mut ranges, q, size);
                    let kept = layout.size().min(size);
                    // SAFETY: the moved block holds at least `kept` bytes of the old one.
                    let bytes = unsafe { std::slice::from_raw_parts(q, kept) };
                    assert!(bytes.iter().all(|&b| b == tag), "realloc lost data");
                    // SAFETY: a live block of `size` bytes.
                    unsafe { q.write_bytes(tag, size) };
                    live[i] = (
                        q,
                        Layout::from_size_align(size, layout.align()).unwrap(),
                        tag,
                    );
                }
                _ => {}
            }
        }
        for entry in live {
            check(&entry);
            // SAFETY: freed once, with its layout.
            unsafe { heap.dealloc(entry.0, entry.1) };
        }
    }

    #[test]
    fn blocks_never_overlap_and_keep_their_contents() {
        random_walk(&SizeClasses::new());
    }

    #[test]
    fn blocks_cut_from_the_first_chunk_never_overlap_and_keep_their_contents() {
        let first: &'static FirstChunk = Box::leak(Box::new(FirstChunk::new()));
        // SAFETY: `first` is this allocator's only.
        random_walk(&unsafe { SizeClasses::with_first_chunk(first) });
    }

    #[test]
    fn the_rest_of_a_chunk_goes_to_the_largest_classes_it_holds() {
        for room in (STEP..=MAX_BLOCK).step_by(STEP) {
            let class = largest_class_within(room);
            assert!(block_size(class) <= room, "{room}");
            assert!(
                class + 1 == CLASSES || block_size(class + 1) > room,
                "{room}"
            );
        }
        let first: &'static FirstChunk = Box::leak(Box::new(FirstChunk::new()));
        // SAFETY: `first` is this allocator's only.
        let heap = unsafe { SizeClasses::with_first_chunk(first) };
        let big = Layout::from_size_align(1280, 8).unwrap();
        // SAFETY: blocks used within their layouts, never freed (the test's heap leaks).
        unsafe {
            // The first chunk (2 KiB) holds one 1,280-byte block.
            let a = heap.alloc(big);
            assert_eq!(a, first.0.get().cast::<u8>(), "the first chunk");
            // A second does not fit in the 768 bytes left: they go to the 768-byte class, and the
            // block comes from a chunk of the system allocator's.
            let b = heap.alloc(big);
            let in_first =
                |p: *mut u8| (a as usize..a as usize + FIRST_CHUNK).contains(&(p as usize));
            assert!(!in_first(b), "from a new chunk");
            let c = heap.alloc(Layout::from_size_align(700, 8).unwrap());
            assert_eq!(
                c,
                a.add(1280),
                "the first chunk's tail, as a 768-byte block"
            );
            // The next chunk's tail (2,048 - 1,280 bytes) goes to the 768-byte class too.
            let d = heap.alloc(big);
            assert!(
                !in_first(d) && !(b as usize..b as usize + CHUNK).contains(&(d as usize)),
                "from a third chunk"
            );
            assert_eq!(
                heap.alloc(Layout::from_size_align(700, 8).unwrap()),
                b.add(1280)
            );
        }
    }

    #[test]
    fn a_freed_block_is_reused_by_its_class() {
        let heap = SizeClasses::new();
        let layout = Layout::from_size_align(40, 8).unwrap();
        // SAFETY: allocated and freed with the same layouts.
        unsafe {
            let a = heap.alloc(layout);
            heap.dealloc(a, layout);
            let b = heap.alloc(Layout::from_size_align(48, 1).unwrap());
            assert_eq!(a, b, "48 bytes share the 48-byte class with 40");
            // Shrinking or growing within the class keeps the block.
            assert_eq!(
                heap.realloc(b, Layout::from_size_align(48, 1).unwrap(), 33),
                b
            );
            assert_eq!(
                heap.realloc(b, Layout::from_size_align(33, 1).unwrap(), 48),
                b
            );
            let c = heap.alloc(Layout::from_size_align(49, 1).unwrap());
            assert_ne!(c, b, "49 bytes are the next class");
            // A reused block comes back zeroed from alloc_zeroed.
            c.write_bytes(0xff, 49);
            heap.dealloc(c, Layout::from_size_align(49, 1).unwrap());
            let z = heap.alloc_zeroed(Layout::from_size_align(60, 4).unwrap());
            assert_eq!(z, c);
            assert!(std::slice::from_raw_parts(z, 60).iter().all(|&x| x == 0));
        }
    }
}
