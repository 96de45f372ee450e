//! A short deterministic run of the fuzz checks (see `common::fuzz`) in
//! the ordinary test suite; `MSG_FUZZ_ITERATIONS` makes it longer, and
//! `cargo run --release --example fuzz_smoke` runs millions.

mod common;

#[test]
fn mutated_and_random_datagrams_never_panic_and_decode_canonically() {
    let iterations = std::env::var("MSG_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let accepted = common::fuzz::run(1, iterations);
    // The mutator must still reach the success path, or the run proves
    // little about it.
    assert!(
        accepted > iterations / 50,
        "only {accepted} of {iterations} inputs decoded"
    );
}
