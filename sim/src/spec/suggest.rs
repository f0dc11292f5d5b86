//! "Did you mean …?": picks the closest of a few known names for a misspelt one, and
//! words the list of names that would have been accepted. Used by the deserializer for
//! fields and enum values, and by the resolver for names that refer to other things.
//!
//! The distance is optimal string alignment (Levenshtein plus swapping two neighbours,
//! so `bnid` is one step from `bind`), written here to avoid a dependency for twenty lines.

/// The longest name a suggestion is looked for: far above any real one.
const SUGGEST_CHARS_MAX: usize = 64;

/// The known name closest to `unknown`, if it is close enough to be a plausible typo.
pub(crate) fn closest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let index = closest_index(unknown, known.iter())?;
    known.get(index).copied()
}

/// Like [`closest`], for any list of names (node names, parameters, designs); the answer
/// is owned so that it can outlive the list.
pub(crate) fn did_you_mean<I, S>(unknown: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let candidates: Vec<S> = candidates.into_iter().collect();
    let index = closest_index(unknown, candidates.iter())?;
    candidates.get(index).map(|name| name.as_ref().to_owned())
}

/// The position of the closest plausible name. Among equally close names one with the
/// same letters wins (`wroker` is `worker` typed out of order, not `broker`); remaining
/// ties keep the earlier one, so the answer follows declaration order.
fn closest_index<S: AsRef<str>>(
    unknown: &str,
    candidates: impl Iterator<Item = S>,
) -> Option<usize> {
    let length = unknown.chars().count();
    // The distance takes time in the product of the two lengths: a name this long is
    // no typo, and a hostile file's megabyte of text must not be compared.
    if length > SUGGEST_CHARS_MAX {
        return None;
    }
    let unknown_lower = unknown.to_lowercase();
    // Like rustc: a third of the length, and at least one edit for short names.
    let limit = length.max(3) / 3;
    let letters = |s: &str| {
        let mut v: Vec<char> = s.chars().collect();
        v.sort_unstable();
        v
    };
    let unknown_letters = letters(&unknown_lower);
    let mut best: Option<((usize, bool), usize)> = None;
    for (index, name) in candidates.enumerate() {
        // Lengths further apart than the limit cannot be within it.
        if name.as_ref().chars().count().abs_diff(length) > limit {
            continue;
        }
        let name = name.as_ref().to_lowercase();
        let distance = edit_distance(&unknown_lower, &name);
        let key = (distance, letters(&name) != unknown_letters);
        if distance <= limit && best.is_none_or(|(k, _)| key < k) {
            best = Some((key, index));
        }
    }
    best.map(|(_, index)| index)
}

/// "did you mean `x`?" if a close name exists, else "expected one of …".
pub(crate) fn did_you_mean_or_list(unknown: &str, known: &[&str]) -> String {
    match closest(unknown, known) {
        Some(name) => format!("did you mean `{name}`?"),
        None => expected_list(known),
    }
}

/// "expected one of `a`, `b`, `c`", "expected `a`", or a note that nothing is accepted.
pub(crate) fn expected_list(known: &[&str]) -> String {
    match known {
        [] => "nothing is accepted here".to_owned(),
        [only] => format!("expected `{only}`"),
        _ => format!("expected one of {}", quoted_list(known)),
    }
}

/// "`a`, `b`, `c`".
pub(crate) fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(", ")
}

/// The most names [`nearest_names`] lists before it says how many more there are.
const LISTED_MAX: usize = 8;

/// "a, b, c": every name if there are a few, else the [`LISTED_MAX`] nearest
/// `unknown` (ties in the given order) and "and N more", so that a hint stays short
/// enough to be read, and printed, whole.
pub(crate) fn nearest_names<S: AsRef<str>>(unknown: &str, names: &[S]) -> String {
    let mut listed: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    if listed.len() <= LISTED_MAX + 2 {
        return listed.join(", ");
    }
    // No distance for a name far too long to be a typo: the first names then.
    if unknown.chars().count() <= SUGGEST_CHARS_MAX {
        let unknown = unknown.to_lowercase();
        listed.sort_by_cached_key(|name| edit_distance(&unknown, &name.to_lowercase()));
    }
    let more = listed.len() - LISTED_MAX;
    format!("{} and {more} more", listed[..LISTED_MAX].join(", "))
}

/// Optimal string alignment distance between two strings, counted in characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rolling rows: two back (for swaps), one back, and the row being filled.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["name", "type", "bind", "connect", "options"];

    #[test]
    fn a_swap_of_letters_beats_an_equally_close_substitution() {
        assert_eq!(did_you_mean("wroker", ["broker", "worker"]), Some("worker".to_owned()));
        assert_eq!(did_you_mean("brocker", ["broker", "worker"]), Some("broker".to_owned()));
    }

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(edit_distance("bnd", "bind"), 1);
        assert_eq!(edit_distance("bnid", "bind"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("héllo", "hello"), 1);
    }

    #[test]
    fn suggests_only_plausible_typos() {
        assert_eq!(closest("bnd", FIELDS), Some("bind"));
        assert_eq!(closest("conect", FIELDS), Some("connect"));
        assert_eq!(closest("Name", FIELDS), Some("name"));
        assert_eq!(closest("hwm", FIELDS), None);
        assert_eq!(closest("zzzzzz", FIELDS), None);
    }

    #[test]
    fn did_you_mean_takes_any_names() {
        let owned = vec!["client".to_owned(), "broker".to_owned()];
        assert_eq!(did_you_mean("brokr", &owned), Some("broker".to_owned()));
        assert_eq!(
            did_you_mean("clinet", owned.iter().map(String::as_str)),
            Some("client".to_owned())
        );
        assert_eq!(did_you_mean("x", ["uniform", "normal"]), None);
        assert_eq!(did_you_mean("x", Vec::<String>::new()), None);
    }

    #[test]
    fn lists_when_nothing_is_close() {
        assert_eq!(did_you_mean_or_list("bnd", FIELDS), "did you mean `bind`?");
        assert_eq!(
            did_you_mean_or_list("hwm", FIELDS),
            "expected one of `name`, `type`, `bind`, `connect`, `options`"
        );
        assert_eq!(expected_list(&["a"]), "expected `a`");
        assert_eq!(expected_list(&[]), "nothing is accepted here");
    }
}
