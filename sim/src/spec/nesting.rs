//! A linear pre-scan that refuses deeply nested flow collections (`a: [[[[…`) before the
//! YAML library sees them.
//!
//! libyaml's scanner keeps one possible simple key per open flow collection and walks
//! them all on every token, so its time grows with the square of the nesting depth:
//! 200 KB of `[` took it tens of seconds, and serde_yaml's own depth limit applies only
//! once the whole file has been scanned. This scan reads the text once, tracking just
//! enough YAML (quotes, comments, block scalars, whether a value has begun) to count
//! open `[` and `{`, and stops at the first one past [`DEPTH_MAX`].
//!
//! It errs on the side of the file: a bracket it cannot place (inside a plain scalar in
//! block context, say `see [1]`) is not counted, so a sound file is never refused.

use super::diag::Location;

/// Deepest nesting of flow collections accepted: the collecting deserializer refuses
/// values nested deeper than 64 levels of any kind anyway (`de/context.rs`), so this
/// refuses nothing it would accept; no real topology comes near.
pub(crate) const DEPTH_MAX: usize = 64;

/// Where the first `[` or `{` that opens level [`DEPTH_MAX`] + 1 is, if any.
pub(crate) fn too_deep(text: &str) -> Option<Location> {
    let mut scan = Scan::default();
    for (index, line) in text.split('\n').enumerate() {
        if let Some(column) = scan.line(line) {
            return Some(Location { line: index + 1, column });
        }
    }
    None
}

/// An open quoted scalar, which may run over several lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Quote {
    #[default]
    None,
    Single,
    Double,
}

/// What the scan carries from one line to the next.
#[derive(Debug, Default)]
struct Scan {
    /// Open flow collections.
    depth: usize,
    quote: Quote,
    /// Inside a block scalar (`|`, `>`) whose lines are indented more than this.
    block_scalar_above: Option<usize>,
}

/// What the scan knows within one line.
struct Cursor {
    /// Whether the next character may begin a value (a bracket or a quote there opens
    /// one); false inside a plain scalar.
    at_value_start: bool,
    /// The column (from 0) where the current key or list item began: a block scalar's
    /// lines are indented more than it.
    node_column: usize,
    /// The previous character, to tell a comment (`#` after a blank) from text.
    previous: Option<char>,
    /// Inside an anchor or a tag (`&x`, `!!seq`), after which a value still begins.
    in_property: bool,
}

impl Scan {
    /// Scans one line (without its `\n`); the 1-based column of an opener past the
    /// limit, if there is one.
    fn line(&mut self, line: &str) -> Option<usize> {
        let indent = line.chars().take_while(|&c| c == ' ').count();
        if let Some(above) = self.block_scalar_above {
            if line.trim().is_empty() || indent > above {
                return None;
            }
            self.block_scalar_above = None;
        }
        let mut cursor = Cursor {
            at_value_start: true,
            node_column: indent,
            previous: None,
            in_property: false,
        };
        let mut chars = line.chars().enumerate().peekable();
        while let Some((column, c)) = chars.next() {
            let next = chars.peek().map(|&(_, next)| next);
            let escapes_next = match self.quote {
                Quote::Double => c == '\\',
                Quote::Single => c == '\'' && next == Some('\''),
                Quote::None => false,
            };
            if escapes_next {
                chars.next();
                continue;
            }
            if self.in_quote(c) {
                cursor.previous = Some(c);
                continue;
            }
            match self.token(c, column, &mut cursor) {
                Step::Go => {}
                Step::EndOfLine => break,
                Step::TooDeep => return Some(column + 1),
            }
            cursor.previous = Some(c);
        }
        None
    }

    /// Whether `c` is inside a quoted scalar (closing it when it is the closing quote);
    /// escapes were skipped before.
    fn in_quote(&mut self, c: char) -> bool {
        match (self.quote, c) {
            (Quote::None, _) => false,
            (Quote::Single, '\'') | (Quote::Double, '"') => {
                self.quote = Quote::None;
                true
            }
            _ => true,
        }
    }

    /// Reads one character outside quotes.
    fn token(&mut self, c: char, column: usize, cursor: &mut Cursor) -> Step {
        let after_blank = cursor.previous.is_none_or(|p| p == ' ' || p == '\t');
        let in_flow = self.depth > 0;
        match c {
            '#' if after_blank => return Step::EndOfLine,
            ' ' | '\t' => {
                // In a flow collection every blank separates tokens; in block context a
                // blank ends an indicator (`- `, `: `, `? `) but not a plain scalar.
                if in_flow || cursor.in_property || matches!(cursor.previous, Some('-' | ':' | '?'))
                {
                    cursor.at_value_start = true;
                }
                cursor.in_property = false;
            }
            '"' | '\'' if cursor.at_value_start => {
                self.quote = if c == '"' { Quote::Double } else { Quote::Single };
                cursor.at_value_start = false;
            }
            '[' | '{' if in_flow || cursor.at_value_start => {
                self.depth += 1;
                if self.depth > DEPTH_MAX {
                    return Step::TooDeep;
                }
                cursor.at_value_start = true;
            }
            ']' | '}' if in_flow => self.depth -= 1,
            ',' if in_flow => cursor.at_value_start = true,
            '|' | '>' if !in_flow && cursor.at_value_start => {
                self.block_scalar_above = Some(cursor.node_column);
                return Step::EndOfLine;
            }
            // An anchor or a tag comes before the value it names.
            '&' | '!' if cursor.at_value_start => {
                cursor.in_property = true;
                cursor.at_value_start = false;
            }
            '-' | '?' | ':' if cursor.at_value_start || !in_flow && c == ':' => {
                if c == '-' && !in_flow {
                    cursor.node_column = column;
                }
            }
            _ => {
                if cursor.at_value_start && !in_flow && after_blank {
                    // A key or a plain scalar begins here.
                    cursor.node_column = column;
                }
                cursor.at_value_start = in_flow && c == ':';
            }
        }
        Step::Go
    }
}

/// What the scan does after one character.
enum Step {
    Go,
    EndOfLine,
    TooDeep,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(prefix: &str, depth: usize) -> String {
        format!("{prefix}{}\n", "[".repeat(depth))
    }

    #[test]
    fn counts_flow_openers_past_the_limit() {
        assert_eq!(too_deep(&nested("a: ", DEPTH_MAX)), None);
        let at = too_deep(&nested("a: ", DEPTH_MAX + 1));
        assert_eq!(at, Some(Location { line: 1, column: 4 + DEPTH_MAX }));
        let mixed = format!("a:\n  - {}\n", "{b: [".repeat(DEPTH_MAX));
        // Two openers per `{b: [`: the one past the limit opens repetition DEPTH_MAX / 2 + 1.
        assert_eq!(too_deep(&mixed), Some(Location { line: 2, column: 5 + 5 * (DEPTH_MAX / 2) }));
    }

    #[test]
    fn closed_collections_do_not_add_up() {
        let text = "a: [1, [2]]\n".repeat(DEPTH_MAX * 2);
        assert_eq!(too_deep(&text), None);
    }

    #[test]
    fn brackets_in_quotes_comments_plain_text_and_block_scalars_are_not_counted() {
        let deep = "[".repeat(DEPTH_MAX + 1);
        for text in [
            format!("a: \"{deep}\"\n"),
            format!("a: '{deep}'\n"),
            format!("a: \"x\\\"{deep}\"\n"),
            format!("a: 'it''s {deep}'\n"),
            format!("a: 1 # {deep}\n"),
            format!("a: see {deep}\n"),
            format!("a: |\n  {deep}\n\n  {deep}\nb: 1\n"),
            format!("- k: >-\n    {deep}\n"),
            format!("a: \"two\n  lines {deep}\"\n"),
        ] {
            assert_eq!(too_deep(&text), None, "{text}");
        }
    }

    #[test]
    fn scanning_resumes_after_a_block_scalar_ends() {
        let text = format!("a: |\n  text\n{}", nested("b: ", DEPTH_MAX + 1));
        assert_eq!(too_deep(&text), Some(Location { line: 3, column: 4 + DEPTH_MAX }));
    }

    #[test]
    fn anchors_and_tags_before_a_collection_do_not_hide_it() {
        let text = nested("a: &x !!seq ", DEPTH_MAX + 1);
        assert_eq!(too_deep(&text), Some(Location { line: 1, column: 13 + DEPTH_MAX }));
    }
}
