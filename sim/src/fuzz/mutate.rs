//! Mutators: how one input is made from a seed-corpus entry, bytes or lines at a time.
//!
//! Everything draws from the one RNG handed in, so an input is a function of the run's
//! seed and its iteration number. Inputs never grow past the cap handed in, which is
//! what bounds the time one input can take.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Byte values at the edges of the encodings' fields (flags, lengths, ids).
const INTERESTING_BYTES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 0x7f, 0x80, 0xfe, 0xff];

/// 64-bit lengths at the edges: empty, one byte, short/long boundary, 2^31, 2^32,
/// 2^63 and the all-ones length.
const INTERESTING_U64: [u64; 9] = [0, 1, 255, 256, 1 << 16, 1 << 31, 1 << 32, 1 << 63, u64::MAX];

/// 32-bit lengths (ZMTP property values, SP ids).
const INTERESTING_U32: [u32; 6] = [0, 1, 255, 0x7fff_ffff, 0x8000_0000, u32::MAX];

/// YAML values at the edges of what the resolver parses: empty, null, negative, huge,
/// fractional, wrong units, wrong kinds, anchors, tags and odd text.
const INTERESTING_VALUES: [&str; 24] = [
    "",
    "~",
    "null",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "0.0000001",
    "NaN",
    "1.5",
    "0s",
    "-5ms",
    "1y",
    "99999999h",
    "10 GiB",
    "[]",
    "{}",
    "[a, [b, {c: d}]]",
    "&x a",
    "*x",
    "!!binary aGk=",
    "\"\\u0000\"",
    "'multi\n  line'",
    "é€𝄞",
];

/// Applies one to four byte-level mutations to `input`, taking material from `corpus`.
pub(crate) fn mutate_bytes(
    rng: &mut ChaCha8Rng,
    input: &mut Vec<u8>,
    corpus: &[Vec<u8>],
    cap: usize,
) {
    for _ in 0..rng.random_range(1..=4) {
        mutate_once(rng, input, corpus);
    }
    input.truncate(cap);
}

fn mutate_once(rng: &mut ChaCha8Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = input.len();
    let at = |rng: &mut ChaCha8Rng| if len == 0 { 0 } else { rng.random_range(0..len) };
    match rng.random_range(0..9) {
        0 if len > 0 => {
            let i = at(rng);
            input[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = at(rng);
            input[i] = INTERESTING_BYTES[rng.random_range(0..INTERESTING_BYTES.len())];
        }
        2 => {
            let i = at(rng);
            let extra: Vec<u8> = (0..rng.random_range(1..=8)).map(|_| rng.random()).collect();
            input.splice(i..i, extra);
        }
        3 if len > 0 => {
            let i = at(rng);
            let end = (i + rng.random_range(1..=16)).min(len);
            input.drain(i..end);
        }
        4 if len > 0 => {
            let i = at(rng);
            let end = (i + rng.random_range(1..=32)).min(len);
            let piece = input[i..end].to_vec();
            let j = at(rng);
            input.splice(j..j, piece);
        }
        5 => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            let from = if other.is_empty() { 0 } else { rng.random_range(0..other.len()) };
            input.truncate(at(rng));
            input.extend_from_slice(&other[from..]);
        }
        6 => {
            let value = INTERESTING_U64[rng.random_range(0..INTERESTING_U64.len())];
            overwrite(input, at(rng), &value.to_be_bytes());
        }
        7 => input.truncate(at(rng)),
        _ => {
            let value = INTERESTING_U32[rng.random_range(0..INTERESTING_U32.len())];
            overwrite(input, at(rng), &value.to_be_bytes());
        }
    }
}

/// Writes `bytes` at `at`, extending the input where it is too short.
fn overwrite(input: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let end = at + bytes.len();
    if input.len() < end {
        input.resize(end, 0);
    }
    input[at..end].copy_from_slice(bytes);
}

/// Applies one to four line-level mutations to a YAML text: lines deleted, doubled,
/// swapped, re-indented, borrowed from another file, or a value replaced.
pub(crate) fn mutate_lines(
    rng: &mut ChaCha8Rng,
    text: &str,
    corpus: &[String],
    cap: usize,
) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..rng.random_range(1..=4) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = rng.random_range(0..lines.len());
        // Most mutations replace a value, which mostly keeps the YAML well formed and
        // so reaches the resolver rather than stopping in the parser.
        match rng.random_range(0..20) {
            0 | 1 => drop(lines.remove(i)),
            2 => lines.insert(i, lines[i].clone()),
            3 => {
                let j = rng.random_range(0..lines.len());
                lines.swap(i, j);
            }
            4 if rng.random_bool(0.5) => lines[i].insert_str(0, "  "),
            4 => lines[i] = lines[i].trim_start_matches(' ').to_owned(),
            5..=7 => {
                let other: Vec<&str> = corpus[rng.random_range(0..corpus.len())].lines().collect();
                if !other.is_empty() {
                    lines.insert(i, other[rng.random_range(0..other.len())].to_owned());
                }
            }
            _ => {
                // Only a line that already has a value: giving a mapping's header line
                // (`nodes:`) a value would orphan its children and stop in the parser.
                let valued: Vec<usize> =
                    (0..lines.len()).filter(|j| lines[*j].contains(": ")).collect();
                if !valued.is_empty() {
                    let j = valued[rng.random_range(0..valued.len())];
                    lines[j] = replace_value(rng, &lines[j]);
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.truncate(floor_char_boundary(&out, cap));
    out
}

/// The line with what follows its first `: ` replaced by an interesting value.
fn replace_value(rng: &mut ChaCha8Rng, line: &str) -> String {
    let value = INTERESTING_VALUES[rng.random_range(0..INTERESTING_VALUES.len())];
    match line.find(": ") {
        Some(at) => format!("{}{value}", &line[..at + 2]),
        None => format!("{line} {value}"),
    }
}

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    (0..=at.min(s.len())).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0)
}
