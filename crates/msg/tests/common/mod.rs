//! Helpers shared by the integration tests: the test key of WIRE.md's
//! captures, keys for each method, and a small seeded generator so every
//! randomised test is reproducible without an RNG dependency.

#![allow(dead_code)]

use config::AuthKeys;

/// The harness key of WIRE.md's captures: index 1, sha1, `hb-test-secret`.
pub fn capture_keys() -> AuthKeys {
    keys("auth 1\n1 sha1 hb-test-secret\n")
}

/// Parses authkeys text.
pub fn keys(text: &str) -> AuthKeys {
    match config::parse_authkeys(text, "test-authkeys") {
        Ok(k) => k,
        Err(e) => panic!("bad test authkeys {text:?}: {e:?}"),
    }
}

/// xorshift64*: deterministic, seeded, good enough for test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}

pub mod fuzz;
