//! How the run's one seed is handed down: every replica, incarnation and socket draws
//! from a stream of its own, derived from the seed by the splitmix64 finaliser, so
//! neighbouring inputs give unrelated streams and a seed repeats them all.

/// The splitmix64 finaliser: neighbouring inputs give unrelated outputs.
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A splitmix64 stream: the next number from `state`, which it advances.
pub(crate) fn splitmix_next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    splitmix(*state)
}
