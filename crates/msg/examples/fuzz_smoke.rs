//! Millions of seeded mutated and random datagrams through the decoder,
//! with the checks of the cargo-fuzz target, on a stable toolchain:
//! `cargo run --release -p msg --example fuzz_smoke -- [ITERATIONS] [SEED]`.
//! Deterministic for a given seed; not coverage-guided (that is `fuzz/`).

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let started = std::time::Instant::now();
    let accepted = common::fuzz::run(seed, iterations);
    println!(
        "fuzz_smoke: seed {seed}: {iterations} inputs, {accepted} decoded, no panic, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
