//! The decoder's memory bound, measured: while decoding the worst packets
//! we can build (thousands of minimal fields, long lists of one-byte items,
//! empty nested structs, random junk), the bytes it holds allocated at
//! once never exceed 16 times the datagram's size. A counting allocator
//! tracks the test thread's live and peak bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use msg::Limits;

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + size;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size)));
}

// SAFETY: forwards to the system allocator unchanged; the bookkeeping
// touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as a fresh block while the old one is still held, as a
        // moving reallocation would be.
        note_alloc(new_size);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        note_free(layout.size());
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated by `f` beyond what was live before it.
fn peak_of<T>(f: impl FnOnce() -> T) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    drop(out);
    peak
}

fn repeated(item: &[u8], size: usize) -> Vec<u8> {
    let mut body = b"###\n".to_vec();
    while body.len() + item.len() + 4 <= size {
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"%%%\n");
    body
}

fn one_list(size: usize) -> Vec<u8> {
    let mut items = Vec::new();
    while items.len() + 4 + 20 <= size {
        items.extend_from_slice(b"1:a,");
    }
    let mut item = b"(3)l=".to_vec();
    item.extend_from_slice(&items);
    let mut body = format!("###\n{}:", item.len()).into_bytes();
    body.extend_from_slice(&item);
    body.extend_from_slice(b",%%%\n");
    body
}

#[test]
fn decoding_holds_at_most_16_times_the_packet_size() {
    let unlimited = Limits::default()
        .with_max_packet(msg::MAX_PACKET_CEILING)
        .with_max_fields(usize::MAX);
    let mut junk_state = 0x1234_5678_u64;
    let mut junk = vec![0u8; 65507];
    for b in junk.iter_mut() {
        junk_state ^= junk_state << 13;
        junk_state ^= junk_state >> 7;
        junk_state ^= junk_state << 17;
        *b = junk_state as u8;
    }
    junk[..4].copy_from_slice(b"###\n");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("minimal fields, 64 KiB", repeated(b"5:(0)a=,", 65507)),
        (
            "minimal fields, 256 KiB",
            repeated(b"5:(0)a=,", msg::MAX_PACKET_CEILING),
        ),
        ("empty structs", repeated(b"13:(2)c=###\n%%%\n,", 65507)),
        ("one-byte list items", one_list(65507)),
        ("junk", junk),
    ];
    for (what, packet) in cases {
        let mut ok = false;
        let peak = peak_of(|| {
            let r = msg::decode_with(&packet, &unlimited);
            ok = r.is_ok();
            r
        });
        let ratio = peak as f64 / packet.len() as f64;
        println!(
            "{what}: {} bytes, decoded={ok}, peak {peak} bytes ({ratio:.1}x)",
            packet.len()
        );
        assert!(
            peak <= 16 * packet.len() + 1024,
            "{what}: peak {peak} for {} bytes",
            packet.len()
        );
        if what != "junk" {
            assert!(ok, "{what} should decode");
        }
    }
}
