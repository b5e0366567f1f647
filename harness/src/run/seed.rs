//! Where every random draw's seed comes from: one hash and one way to derive sub-seeds,
//! so a check's data depends only on the run's seed and the check's id, and request `i`
//! of a load (or client `i` of a sequence) only on `i`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A stable 64-bit hash (FNV-1a): unlike std's hasher it never changes between Rust
/// versions, so seeds, shards and image tags stay the same across builds.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The seed of a named scope (a check's id, the load step, an upstream answer).
pub(crate) fn for_scope(seed: u64, scope: &str) -> u64 {
    seed ^ stable_hash(scope.as_bytes())
}

/// The seed of copy `i` (load request `i`, sequence client `i`): the golden-ratio
/// multiplier spreads neighbouring indices over the whole range.
pub(crate) fn for_index(seed: u64, i: u64) -> u64 {
    seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A random source seeded with `seed`.
pub(crate) fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn sub_seeds_differ_and_index_zero_keeps_the_seed() {
        assert_eq!(for_index(7, 0), 7);
        assert_ne!(for_index(7, 1), for_index(7, 2));
        assert_ne!(for_scope(7, "a"), for_scope(7, "b"));
    }
}
