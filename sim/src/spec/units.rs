//! Parses and prints the unit-bearing values of topology and scenario files: durations
//! (`250ms`), sizes (`64KiB`, `unlimited`), rates (`100/s`) and bandwidths (`1MiB/s`).
//!
//! One spelling per unit is accepted, with no space before it, so that files read the same
//! everywhere; near misses (`60 sec`, `1min`, `64kb`) are errors whose hint gives the
//! accepted spelling. Parsing is exact decimal arithmetic, so `1.5s` is 1500 ms, not a
//! float approximation. The `format_*` functions print the canonical spelling, which parses
//! back to the same value.

use std::fmt;
use std::time::Duration;

/// Why a unit-bearing value was not accepted, with a hint that gives a correct spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    /// What is wrong, in a sentence.
    pub message: String,
    /// A correct spelling, when one is likely.
    pub hint: Option<String>,
}

impl UnitError {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { message: message.into(), hint: Some(hint.into()) }
    }

    fn bare(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None }
    }
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnitError {}

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Duration units, canonical spelling first, with their length in nanoseconds.
const DURATION_UNITS: &[(&str, u128)] = &[
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Other spellings users write for a duration unit, compared in lower case.
const DURATION_ALIASES: &[(&[&str], &str)] = &[
    (&["nsec", "nsecs", "nanosecond", "nanoseconds"], "ns"),
    (&["µs", "μs", "usec", "usecs", "microsecond", "microseconds"], "us"),
    (&["msec", "msecs", "milli", "millis", "millisecond", "milliseconds"], "ms"),
    (&["sec", "secs", "second", "seconds"], "s"),
    (&["min", "mins", "minute", "minutes"], "m"),
    (&["hr", "hrs", "hour", "hours"], "h"),
    (&["day", "days"], "d"),
];

/// Size units, largest first so that printing picks the shortest exact spelling.
const SIZE_UNITS: &[(&str, u128)] = &[
    ("TiB", 1 << 40),
    ("TB", 1_000_000_000_000),
    ("GiB", 1 << 30),
    ("GB", 1_000_000_000),
    ("MiB", 1 << 20),
    ("MB", 1_000_000),
    ("KiB", 1 << 10),
    ("KB", 1_000),
    ("B", 1),
];

/// Rate denominators with their length in nanoseconds.
const RATE_UNITS: &[(&str, u128)] = &[
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("min", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
];

const RATE_ALIASES: &[(&[&str], &str)] = &[
    (&["µs", "μs", "usec", "microsecond"], "us"),
    (&["msec", "millisecond"], "ms"),
    (&["sec", "secs", "second", "seconds"], "s"),
    (&["m", "mins", "minute", "minutes"], "min"),
    (&["hr", "hour", "hours"], "h"),
    (&["day", "days"], "d"),
];

/// A non-negative decimal number, `mantissa / 10^scale`, kept exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: u128,
    scale: u32,
}

impl Decimal {
    /// `digits` or `digits.digits`; at most 30 digits so that scaling cannot overflow.
    fn parse(text: &str) -> Option<Self> {
        const DIGITS_MAX: usize = 30;
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let fraction_ok = !text.contains('.') || !fraction.is_empty();
        if whole.is_empty() || !fraction_ok || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        if whole.len() + fraction.len() > DIGITS_MAX {
            return None;
        }
        let mantissa = format!("{whole}{fraction}").parse().ok()?;
        Some(Self { mantissa, scale: u32::try_from(fraction.len()).ok()? })
    }

    fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// `self × factor` if it is a whole number that fits; `Err(true)` if it has a fraction
    /// left, `Err(false)` if it is too large.
    fn times(self, factor: u128) -> Result<u128, bool> {
        let product = self.mantissa.checked_mul(factor).ok_or(false)?;
        let divisor = 10u128.pow(self.scale);
        if product % divisor != 0 {
            return Err(true);
        }
        Ok(product / divisor)
    }

    fn to_f64(self) -> f64 {
        // Both parts are exact in decimal; the division is the only rounding.
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }
}

/// Splits `12.5ms` into `12.5` and `ms`.
fn split_number(text: &str) -> (&str, &str) {
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    text.split_at(end)
}

/// The canonical spelling for a unit written another way, if it is a known variant.
fn alias(
    unit: &str,
    aliases: &[(&[&str], &'static str)],
    canonical: &[(&'static str, u128)],
) -> Option<&'static str> {
    let lower = unit.to_lowercase();
    let canonical_match =
        canonical.iter().find(|(name, _)| name.to_lowercase() == lower).map(|(name, _)| *name);
    let alias_match = aliases
        .iter()
        .find(|(spellings, _)| spellings.contains(&lower.as_str()))
        .map(|(_, name)| *name);
    canonical_match.or(alias_match)
}

fn factor(unit: &str, units: &[(&str, u128)]) -> Option<u128> {
    units.iter().find(|(name, _)| *name == unit).map(|(_, factor)| *factor)
}

/// Parses a duration such as `250ms`, `1.5s`, `15m`, `2h`, `23d` or `500us`; a bare `0` is
/// the only number accepted without a unit.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let text = text.trim();
    let example = "write a number and a unit, such as `250ms`";
    if text.starts_with('-') {
        return Err(UnitError::bare(format!("duration `{text}` must not be negative")));
    }
    let (number, rest) = split_number(text);
    let Some(value) = Decimal::parse(number) else {
        return Err(UnitError::new(format!("`{text}` is not a duration"), example));
    };
    if rest.is_empty() {
        if value.is_zero() {
            return Ok(Duration::ZERO);
        }
        return Err(UnitError::new(
            format!("duration `{text}` has no unit"),
            "add a unit, e.g. `250ms`",
        ));
    }
    let unit_factor = unit_of(text, number, rest, DURATION_UNITS, DURATION_ALIASES, "duration")?;
    let nanos = value.times(unit_factor).map_err(|fraction_left| match fraction_left {
        true => UnitError::bare(format!("duration `{text}` is finer than a nanosecond")),
        false => UnitError::bare(format!("duration `{text}` is too large")),
    })?;
    let secs = u64::try_from(nanos / NANOS_PER_SEC)
        .map_err(|_| UnitError::bare(format!("duration `{text}` is too large")))?;
    Ok(Duration::new(secs, (nanos % NANOS_PER_SEC) as u32))
}

/// The factor of the unit in `rest`, or an error whose hint spells the accepted form.
fn unit_of(
    text: &str,
    number: &str,
    rest: &str,
    units: &[(&'static str, u128)],
    aliases: &[(&[&str], &'static str)],
    what: &str,
) -> Result<u128, UnitError> {
    let unit = rest.trim_start();
    if let Some(found) = factor(unit, units).filter(|_| unit == rest) {
        return Ok(found);
    }
    if let Some(canonical) = alias(unit, aliases, units) {
        let message = match unit == canonical {
            true => format!("`{text}` has a space before its unit"),
            false => format!("unknown {what} unit `{unit}` in `{text}`"),
        };
        return Err(UnitError::new(message, format!("write `{number}{canonical}`")));
    }
    let names: Vec<String> = units.iter().map(|(name, _)| format!("`{name}`")).collect();
    let message = format!("unknown {what} unit `{unit}` in `{text}`");
    Err(UnitError::new(message, format!("use one of {}", names.join(", "))))
}

/// Parses a size in bytes: `512B`, `64KiB`, `1MiB`, `100MB` (decimal: 10^6), a bare
/// integer (bytes), or `unlimited`, which is `None`.
pub fn parse_size(text: &str) -> Result<Option<u64>, UnitError> {
    let text = text.trim();
    if text == "unlimited" {
        return Ok(None);
    }
    if text.eq_ignore_ascii_case("unlimited") {
        return Err(UnitError::new(format!("`{text}` is not a size"), "write `unlimited`"));
    }
    if text.starts_with('-') {
        return Err(UnitError::bare(format!("size `{text}` must not be negative")));
    }
    let (number, rest) = split_number(text);
    let Some(value) = Decimal::parse(number) else {
        let hint = "write a number of bytes with a unit, such as `64KiB`, or `unlimited`";
        return Err(UnitError::new(format!("`{text}` is not a size"), hint));
    };
    let unit_factor = match rest {
        "" => 1,
        _ => size_unit(text, number, rest)?,
    };
    let bytes = value.times(unit_factor).map_err(|fraction_left| match fraction_left {
        true => UnitError::bare(format!("size `{text}` is not a whole number of bytes")),
        false => UnitError::bare(format!("size `{text}` is too large")),
    })?;
    u64::try_from(bytes)
        .map(Some)
        .map_err(|_| UnitError::bare(format!("size `{text}` is too large")))
}

/// The factor of a size unit; `kb`, `k` and the like are ambiguous between 1000 and 1024.
fn size_unit(text: &str, number: &str, rest: &str) -> Result<u128, UnitError> {
    let unit = rest.trim_start();
    let ambiguous = match unit.to_lowercase().as_str() {
        "k" | "kb" => Some(("KiB", "KB")),
        "m" | "mb" => Some(("MiB", "MB")),
        "g" | "gb" => Some(("GiB", "GB")),
        "t" | "tb" => Some(("TiB", "TB")),
        _ => None,
    };
    match ambiguous {
        Some((binary, decimal)) if factor(unit, SIZE_UNITS).is_none() || unit != rest => {
            let message = format!("ambiguous size unit `{unit}` in `{text}`");
            let hint = format!(
                "write `{number}{binary}` (powers of 1024) or `{number}{decimal}` (powers of 1000)"
            );
            Err(UnitError::new(message, hint))
        }
        _ => unit_of(text, number, rest, SIZE_UNITS, &[(&["byte", "bytes"], "B")], "size"),
    }
}

/// Parses a rate such as `100/s`, `5/ms`, `60/min` into events per second.
pub fn parse_rate(text: &str) -> Result<f64, UnitError> {
    let text = text.trim();
    let example = "write a count per time unit, such as `100/s`";
    if text.starts_with('-') {
        return Err(UnitError::bare(format!("rate `{text}` must not be negative")));
    }
    let (number, rest) = split_number(text);
    let Some(value) = Decimal::parse(number) else {
        return Err(UnitError::new(format!("`{text}` is not a rate"), example));
    };
    let rest_trimmed = rest.trim_start();
    let unit = if let Some(unit) = rest_trimmed.strip_prefix('/') {
        unit
    } else if let Some(unit) = rest_trimmed.strip_prefix("per ") {
        unit
    } else if rest.is_empty() {
        return Err(UnitError::new(
            format!("rate `{text}` has no unit"),
            format!("write `{number}/s`"),
        ));
    } else {
        return Err(UnitError::new(format!("`{text}` is not a rate"), example));
    };
    let canonical_form = rest.len() == unit.len() + 1 && !unit.starts_with(char::is_whitespace);
    let per = match factor(unit, RATE_UNITS).filter(|_| canonical_form) {
        Some(per) => per,
        None => return Err(rate_unit_error(text, number, unit.trim())),
    };
    Ok(value.to_f64() * (NANOS_PER_SEC as f64 / per as f64))
}

/// Parses a bandwidth, a size per time unit such as `1MiB/s`, `500KB/s` or `64KiB/ms`,
/// into bytes per second; `unlimited` is infinite (it lifts a limit set elsewhere). The
/// size needs its unit, so that `1000/s` (a message rate) is not read as bytes.
pub(crate) fn parse_bandwidth(text: &str) -> Result<f64, UnitError> {
    let text = text.trim();
    if text == "unlimited" {
        return Ok(f64::INFINITY);
    }
    let example = "write a size per time unit, such as `1MiB/s`, or `unlimited`";
    let Some((size, per)) = text.split_once('/') else {
        // `1MiB` alone, or `8Mbps`: say what is missing.
        return match parse_size(text) {
            Ok(Some(_)) => Err(UnitError::new(
                format!("bandwidth `{text}` has no time unit"),
                format!("write `{text}/s`"),
            )),
            _ => Err(UnitError::new(format!("`{text}` is not a bandwidth"), example)),
        };
    };
    let (number, unit) = split_number(size);
    if unit.is_empty() && !number.is_empty() {
        return Err(UnitError::new(
            format!("bandwidth `{text}` gives no unit of size"),
            format!("write `{number}B/{per}` for bytes"),
        ));
    }
    if size.trim_end() != size {
        // `1MiB /s`: refused as `1 MiB/s` is, and as `20 /s` is as a rate.
        return Err(UnitError::new(
            format!("`{text}` has a space before its unit"),
            format!("write `{}/{}`", size.trim_end(), per.trim()),
        ));
    }
    let sized = parse_size(size).map_err(|e| per_time_unit(e, per.trim()))?;
    let bytes = match sized {
        Some(bytes) => bytes,
        None => return Err(UnitError::new(format!("`{text}` is not a bandwidth"), example)),
    };
    let per_ns = match factor(per, RATE_UNITS) {
        Some(per_ns) => per_ns,
        None => {
            return Err(match alias(per.trim(), RATE_ALIASES, RATE_UNITS) {
                Some(canonical) => UnitError::new(
                    format!("`{text}` is not a bandwidth"),
                    format!("write `{size}/{canonical}`"),
                ),
                None => {
                    let names: Vec<String> =
                        RATE_UNITS.iter().map(|(name, _)| format!("`/{name}`")).collect();
                    let message = format!("unknown time unit `{per}` in bandwidth `{text}`");
                    UnitError::new(message, format!("use one of {}", names.join(", ")))
                }
            });
        }
    };
    Ok(bytes as f64 * (NANOS_PER_SEC as f64 / per_ns as f64))
}

/// A size's error in a bandwidth, its hint's spellings given the bandwidth's time unit:
/// `write \`10MiB\`` for `10 MiB/s` would be refused in turn as having none.
fn per_time_unit(error: UnitError, per: &str) -> UnitError {
    let hint = error.hint.map(|hint| {
        let mut quoted = false;
        let mut out = String::with_capacity(hint.len());
        for c in hint.chars() {
            if c == '`' {
                if quoted {
                    out.push('/');
                    out.push_str(per);
                }
                quoted = !quoted;
            }
            out.push(c);
        }
        out
    });
    UnitError { hint, ..error }
}

/// The canonical spelling of a bandwidth in bytes per second: the largest size unit
/// that divides it, per second (`1MiB/s`); `unlimited` for infinity.
pub(crate) fn format_bandwidth(bytes_per_sec: f64) -> String {
    if bytes_per_sec.is_infinite() {
        return "unlimited".to_owned();
    }
    if bytes_per_sec.fract() == 0.0 && bytes_per_sec >= 0.0 && bytes_per_sec < u64::MAX as f64 {
        return format!("{}/s", format_size(bytes_per_sec as u64));
    }
    format!("{bytes_per_sec}B/s")
}

fn rate_unit_error(text: &str, number: &str, unit: &str) -> UnitError {
    match alias(unit, RATE_ALIASES, RATE_UNITS) {
        Some(canonical) => UnitError::new(
            format!("`{text}` is not a rate"),
            format!("write `{number}/{canonical}`"),
        ),
        None => {
            let names: Vec<String> =
                RATE_UNITS.iter().map(|(name, _)| format!("`/{name}`")).collect();
            let message = format!("unknown rate unit `{unit}` in `{text}`");
            UnitError::new(message, format!("use one of {}", names.join(", ")))
        }
    }
}

/// The canonical spelling of a duration: the largest unit that divides it exactly.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0".to_owned();
    }
    largest_exact(nanos, DURATION_UNITS)
}

/// The canonical spelling of a size: the largest unit (binary or decimal) that divides it.
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".to_owned();
    }
    largest_exact(u128::from(bytes), SIZE_UNITS)
}

fn largest_exact(amount: u128, units: &[(&str, u128)]) -> String {
    let found = units.iter().find(|(_, factor)| amount.is_multiple_of(*factor));
    // Every table ends with a unit of 1, which divides everything.
    let (name, factor) = found.copied().unwrap_or(("", 1));
    format!("{}{name}", amount / factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint_of<T: fmt::Debug>(result: Result<T, UnitError>) -> String {
        result.expect_err("should be rejected").hint.unwrap_or_default()
    }

    fn message_of<T: fmt::Debug>(result: Result<T, UnitError>) -> String {
        result.expect_err("should be rejected").message
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("23d"), Ok(Duration::from_secs(23 * 86_400)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_with_near_miss_units_hint_the_spelling() {
        assert_eq!(hint_of(parse_duration("60 sec")), "write `60s`");
        assert_eq!(hint_of(parse_duration("60secs")), "write `60s`");
        assert_eq!(hint_of(parse_duration("60 seconds")), "write `60s`");
        assert_eq!(hint_of(parse_duration("1min")), "write `1m`");
        assert_eq!(hint_of(parse_duration("60 s")), "write `60s`");
        assert_eq!(message_of(parse_duration("60 s")), "`60 s` has a space before its unit");
        assert_eq!(hint_of(parse_duration("5MS")), "write `5ms`");
        assert_eq!(hint_of(parse_duration("3 hours")), "write `3h`");
    }

    #[test]
    fn durations_without_unit_or_sign_are_rejected() {
        assert_eq!(message_of(parse_duration("1000")), "duration `1000` has no unit");
        assert_eq!(hint_of(parse_duration("1000")), "add a unit, e.g. `250ms`");
        assert!(message_of(parse_duration("-5s")).contains("must not be negative"));
        assert_eq!(message_of(parse_duration("")), "`` is not a duration");
        assert_eq!(message_of(parse_duration("fast")), "`fast` is not a duration");
        assert_eq!(message_of(parse_duration(".5s")), "`.5s` is not a duration");
        assert_eq!(message_of(parse_duration("1.s")), "`1.s` is not a duration");
        assert_eq!(
            hint_of(parse_duration("5x")),
            "use one of `d`, `h`, `m`, `s`, `ms`, `us`, `ns`"
        );
    }

    #[test]
    fn durations_out_of_range_or_too_fine_are_rejected() {
        assert!(message_of(parse_duration("99999999999999999999999d")).contains("too large"));
        assert!(
            message_of(parse_duration(&format!("{}s", "9".repeat(40)))).contains("not a duration")
        );
        assert!(message_of(parse_duration("1.0000000001s")).contains("finer than a nanosecond"));
    }

    #[test]
    fn durations_print_canonically_and_round_trip() {
        let cases =
            [("23d", 23 * 86_400_000), ("250ms", 250), ("1500ms", 1_500), ("2h", 7_200_000)];
        for (text, millis) in cases {
            assert_eq!(format_duration(Duration::from_millis(millis)), text);
        }
        assert_eq!(format_duration(Duration::ZERO), "0");
        assert_eq!(format_duration(Duration::from_nanos(1_500)), "1500ns");
        for nanos in [1u64, 999, 1_000, 60_000_000_000, 86_400_000_000_001, u64::MAX] {
            let duration = Duration::from_nanos(nanos);
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }

    #[test]
    fn sizes_in_binary_and_decimal_units() {
        assert_eq!(parse_size("64KiB"), Ok(Some(65_536)));
        assert_eq!(parse_size("1MiB"), Ok(Some(1 << 20)));
        assert_eq!(parse_size("100MB"), Ok(Some(100_000_000)));
        assert_eq!(parse_size("1GB"), Ok(Some(1_000_000_000)));
        assert_eq!(parse_size("512B"), Ok(Some(512)));
        assert_eq!(parse_size("1024"), Ok(Some(1024)));
        assert_eq!(parse_size("1.5KiB"), Ok(Some(1536)));
        assert_eq!(parse_size("unlimited"), Ok(None));
    }

    #[test]
    fn sizes_with_ambiguous_or_wrong_units_are_rejected() {
        let hint = "write `64KiB` (powers of 1024) or `64KB` (powers of 1000)";
        assert_eq!(hint_of(parse_size("64kb")), hint);
        assert_eq!(hint_of(parse_size("64k")), hint);
        assert_eq!(hint_of(parse_size("64 KB")), hint);
        assert_eq!(hint_of(parse_size("64kib")), "write `64KiB`");
        assert_eq!(hint_of(parse_size("64 KiB")), "write `64KiB`");
        assert_eq!(hint_of(parse_size("10 bytes")), "write `10B`");
        assert_eq!(hint_of(parse_size("Unlimited")), "write `unlimited`");
        assert!(message_of(parse_size("-1KiB")).contains("must not be negative"));
        assert!(message_of(parse_size("1.5B")).contains("not a whole number of bytes"));
        assert!(message_of(parse_size("16777216TiB")).contains("too large"));
        assert!(message_of(parse_size("18446744073709551616")).contains("too large"));
        assert_eq!(message_of(parse_size("lots")), "`lots` is not a size");
    }

    #[test]
    fn sizes_print_canonically_and_round_trip() {
        assert_eq!(format_size(65_536), "64KiB");
        assert_eq!(format_size(100_000_000), "100MB");
        assert_eq!(format_size(1_024_000), "1000KiB");
        assert_eq!(format_size(512), "512B");
        assert_eq!(format_size(0), "0B");
        for bytes in [0u64, 1, 1000, 1024, 3 << 30, 5_000_000_000_000, u64::MAX] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(Some(bytes)));
        }
    }

    #[test]
    fn bandwidths_are_sizes_per_time_unit() {
        assert_eq!(parse_bandwidth("1MiB/s"), Ok(1_048_576.0));
        assert_eq!(parse_bandwidth("500KB/s"), Ok(500_000.0));
        assert_eq!(parse_bandwidth("64KiB/ms"), Ok(65_536_000.0));
        assert_eq!(parse_bandwidth("60MB/min"), Ok(1_000_000.0));
        assert_eq!(parse_bandwidth("100B/s"), Ok(100.0));
        assert_eq!(parse_bandwidth("0B/s"), Ok(0.0));
        assert_eq!(parse_bandwidth("unlimited"), Ok(f64::INFINITY));
    }

    #[test]
    fn bandwidths_with_missing_or_wrong_units_hint_the_form() {
        assert_eq!(message_of(parse_bandwidth("1MiB")), "bandwidth `1MiB` has no time unit");
        assert_eq!(hint_of(parse_bandwidth("1MiB")), "write `1MiB/s`");
        assert_eq!(hint_of(parse_bandwidth("1000/s")), "write `1000B/s` for bytes");
        assert_eq!(hint_of(parse_bandwidth("1MiB/sec")), "write `1MiB/s`");
        assert_eq!(
            hint_of(parse_bandwidth("1mb/s")),
            "write `1MiB/s` (powers of 1024) or `1MB/s` (powers of 1000)"
        );
        assert!(hint_of(parse_bandwidth("1MiB/week")).starts_with("use one of `/d`"));
        assert_eq!(message_of(parse_bandwidth("fast")), "`fast` is not a bandwidth");
        assert_eq!(message_of(parse_bandwidth("unlimited/s")), "`unlimited/s` is not a bandwidth");
        assert!(message_of(parse_bandwidth("-1MiB/s")).contains("must not be negative"));
    }

    #[test]
    fn a_bandwidths_hint_is_a_bandwidth_that_parses() {
        assert_eq!(message_of(parse_bandwidth("10 MiB/s")), "`10 MiB` has a space before its unit");
        assert_eq!(hint_of(parse_bandwidth("10 MiB/s")), "write `10MiB/s`");
        assert_eq!(
            hint_of(parse_bandwidth("1mb/ms")),
            "write `1MiB/ms` (powers of 1024) or `1MB/ms` (powers of 1000)"
        );
        assert_eq!(
            message_of(parse_bandwidth("10MiB /s")),
            "`10MiB /s` has a space before its unit"
        );
        assert_eq!(hint_of(parse_bandwidth("10MiB /s")), "write `10MiB/s`");
        for spaced in ["10 MiB/s", "1mb/ms", "10MiB /s"] {
            let hint = hint_of(parse_bandwidth(spaced));
            let first = hint.split('`').nth(1).expect("a spelling in the hint");
            assert!(parse_bandwidth(first).is_ok(), "{spaced}: the hint's `{first}` parses");
        }
    }

    #[test]
    fn bandwidths_print_canonically_and_round_trip() {
        assert_eq!(format_bandwidth(1_048_576.0), "1MiB/s");
        assert_eq!(format_bandwidth(f64::INFINITY), "unlimited");
        for text in ["1MiB/s", "500KB/s", "3B/s", "unlimited"] {
            let bps = parse_bandwidth(text).expect("parses");
            assert_eq!(parse_bandwidth(&format_bandwidth(bps)), Ok(bps));
        }
    }

    #[test]
    fn rates_per_time_unit() {
        assert_eq!(parse_rate("100/s"), Ok(100.0));
        assert_eq!(parse_rate("5/ms"), Ok(5_000.0));
        assert_eq!(parse_rate("60/min"), Ok(1.0));
        assert_eq!(parse_rate("16666/s"), Ok(16_666.0));
        assert_eq!(parse_rate("3600/h"), Ok(1.0));
        assert_eq!(parse_rate("0.5/s"), Ok(0.5));
        assert_eq!(parse_rate("0/s"), Ok(0.0));
    }

    #[test]
    fn rates_with_near_miss_spellings_hint_the_form() {
        assert_eq!(hint_of(parse_rate("100")), "write `100/s`");
        assert_eq!(hint_of(parse_rate("100/sec")), "write `100/s`");
        assert_eq!(hint_of(parse_rate("100 / s")), "write `100/s`");
        assert_eq!(hint_of(parse_rate("100 per second")), "write `100/s`");
        assert_eq!(hint_of(parse_rate("60/m")), "write `60/min`");
        assert!(hint_of(parse_rate("5/week")).starts_with("use one of `/d`"));
        assert!(message_of(parse_rate("-1/s")).contains("must not be negative"));
        assert_eq!(message_of(parse_rate("often")), "`often` is not a rate");
    }
}
