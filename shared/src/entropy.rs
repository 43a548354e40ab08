//! Randomness, as a port: retry jitter and anything else drawn at random asks an
//! `Entropy`, so a simulation can seed it and replay a run exactly.

use std::fmt;
use std::sync::Mutex;

pub trait Entropy: Send + Sync + fmt::Debug {
    fn next_u64(&self) -> u64;

    /// A value in `0..bound` (0 when `bound` is 0).
    fn below(&self, bound: u64) -> u64 {
        // Modulo bias is below 2^-32 for the small bounds used here (jitter in ms).
        self.next_u64().checked_rem(bound).unwrap_or(0)
    }
}

/// A random (version 4) UUID drawn from `entropy`.
pub fn uuid(entropy: &dyn Entropy) -> uuid::Uuid {
    let high = entropy.next_u64().to_be_bytes();
    let low = entropy.next_u64().to_be_bytes();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high);
    bytes[8..].copy_from_slice(&low);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The operating system's randomness: what every function runs with.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    #[allow(clippy::disallowed_methods)] // The one place unseeded randomness is allowed.
    fn next_u64(&self) -> u64 {
        rand::random()
    }
}

/// A seeded stream: the same seed gives the same values, in order.
#[derive(Debug)]
pub struct SeededEntropy(Mutex<rand::rngs::StdRng>);

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)))
    }
}

impl Entropy for SeededEntropy {
    fn next_u64(&self) -> u64 {
        use rand::RngCore;
        match self.0.lock() {
            Ok(mut rng) => rng.next_u64(),
            Err(poisoned) => poisoned.into_inner().next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_its_stream() {
        let (a, b) = (SeededEntropy::new(7), SeededEntropy::new(7));
        let first: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let again: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(first, again);
        assert_ne!(
            first,
            (0..4)
                .map(|_| SeededEntropy::new(8).next_u64())
                .collect::<Vec<_>>()
        );
        assert!((0..100).all(|_| a.below(10) < 10));
        assert_eq!(a.below(0), 0);
    }
}
