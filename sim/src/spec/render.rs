//! Prints diagnostics the way rustc does, without colours, so that expected-output files
//! stay stable:
//!
//! ```text
//! error[unknown-field]: unknown field `bnd` in `nodes[0].sockets[0]`
//!   --> topologies/broken/x.yaml:12:9
//!    |
//! 12 |         bnd: tcp://*:5555
//!    |         ^^^
//!    = hint: did you mean `bind`?
//! ```
//!
//! The carets underline the token at the location: a plain or quoted scalar (or key) to its
//! end, a mapping or list opener with a single caret.
//!
//! Everything printed comes from user input one way or another, so it is made safe for a
//! terminal here: control characters (and the bidirectional overrides that reorder text)
//! are shown escaped as `\u{1b}`, a long excerpt is cut to a window around the location,
//! and a long quoted name in a message is cut in its middle.

use std::fmt::Write as _;

use super::diag::{Code, Diagnostic, Location};

/// How many columns a tab takes in the excerpt.
const TAB_WIDTH_COLUMNS: usize = 4;

/// The most characters of a source line an excerpt shows; a longer line is cut to a
/// window around the location, marked with `…` where it was cut.
const EXCERPT_CHARS_MAX: usize = 100;

/// How many characters of a cut line are shown before the location.
const EXCERPT_CHARS_BEFORE: usize = 30;

/// The longest name or value quoted in backticks that a message shows whole.
const QUOTED_CHARS_MAX: usize = 60;

/// The longest message or hint shown whole.
const MESSAGE_CHARS_MAX: usize = 400;

/// The most diagnostics [`render`] prints in full. A generated file with one mistake
/// repeated on every node can hold a hundred thousand; nobody reads past the first
/// screens, and printing them all took megabytes and tens of seconds.
pub const RENDERED_MAX: usize = 100;

/// Renders diagnostics one after another, separated by blank lines; the excerpt is the one
/// each diagnostic captured when it was recorded, and is left out if it has none.
///
/// Only the first [`RENDERED_MAX`] are printed; one closing line then counts the errors
/// and warnings left out, so a caller's own totals (taken from the whole slice) still
/// agree with what the reader was told exists.
pub fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, diag) in diags.iter().take(RENDERED_MAX).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, diag);
    }
    let rest = diags.get(RENDERED_MAX..).unwrap_or_default();
    if !rest.is_empty() {
        let errors = rest.iter().filter(|d| d.is_error()).count();
        let warnings = rest.len() - errors;
        let _ = writeln!(
            out,
            "\nnote[{}]: {errors} more error(s) and {warnings} more warning(s) are not shown; \
             fix the ones above first",
            Code::TooManyErrors
        );
    }
    out
}

fn render_one(out: &mut String, diag: &Diagnostic) {
    let message = printable(&diag.message);
    let _ = writeln!(out, "{}[{}]: {message}", diag.severity.as_str(), diag.code);
    let file = printable(&diag.file.display().to_string());
    let Some(at) = diag.location else {
        // No position: the file alone still says where to look.
        if !file.is_empty() {
            let _ = writeln!(out, " --> {file}");
        }
        write_hint(out, diag, 1);
        return;
    };
    let gutter = at.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {file}:{}:{}", at.line, at.column);
    if let Some(line) = &diag.excerpt {
        let (shown, carets) = excerpt(line, at);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{}", format!("{} | {shown}", at.line).trim_end());
        let _ = writeln!(out, "{pad} | {carets}");
    }
    write_hint(out, diag, gutter);
}

fn write_hint(out: &mut String, diag: &Diagnostic, gutter: usize) {
    if let Some(hint) = &diag.hint {
        let _ = writeln!(out, "{} = hint: {}", " ".repeat(gutter), printable(hint));
    }
}

/// A message, hint or path as it may be printed: control characters escaped, each
/// backticked name over `QUOTED_CHARS_MAX` cut in its middle, and the whole cut
/// between words at about `MESSAGE_CHARS_MAX` (`cut`).
pub fn printable(text: &str) -> String {
    let mut out = String::new();
    // Between backticks on odd pieces; an unpaired backtick leaves the rest as it is.
    for (i, piece) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        let count = piece.chars().count();
        if i % 2 == 1 && count > QUOTED_CHARS_MAX {
            let head: String = piece.chars().take(QUOTED_CHARS_MAX - 12).collect();
            let tail: String = piece.chars().skip(count - 8).collect();
            let _ = write!(out, "{}…{} ({count} characters)", escaped(&head), escaped(&tail));
        } else {
            out.push_str(&escaped(piece));
        }
    }
    cut(out)
}

/// `text`, or when it is longer than `MESSAGE_CHARS_MAX` characters, as much of it as
/// fits ending at a space outside backticks, and ` …`: no word or quoted name is cut in
/// two. A text with no such space is cut at the limit.
fn cut(text: String) -> String {
    if text.chars().count() <= MESSAGE_CHARS_MAX {
        return text;
    }
    // One character more: a space just past the limit ends a last word that fits.
    let head: String = text.chars().take(MESSAGE_CHARS_MAX + 1).collect();
    let mut quoted = false;
    let mut space = None;
    for (i, c) in head.char_indices() {
        match c {
            '`' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => space = Some(i),
            _ => {}
        }
    }
    match space.map(|i| head[..i].trim_end()) {
        Some(kept) if !kept.is_empty() => format!("{kept} …"),
        _ => head.chars().take(MESSAGE_CHARS_MAX).chain(['…']).collect(),
    }
}

/// `text` with every control or bidirectional-override character escaped.
fn escaped(text: &str) -> String {
    text.chars().map(|c| if is_unsafe(c) { escape_char(c) } else { c.to_string() }).collect()
}

/// Characters a terminal would act on rather than show: C0 and C1 controls, DEL, and
/// the bidirectional marks and overrides that reorder what follows them.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_char(c: char) -> String {
    format!("\\u{{{:x}}}", u32::from(c))
}

/// How a character of an excerpt is shown: tabs expanded, unsafe characters escaped.
fn shown_char(c: char) -> String {
    match c {
        '\t' => " ".repeat(TAB_WIDTH_COLUMNS),
        c if is_unsafe(c) => escape_char(c),
        c => c.to_string(),
    }
}

/// The excerpt line as shown (cut to a window around the location when long) and the
/// carets under the token that starts at the location.
fn excerpt(line: &str, at: Location) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let start = at.column.saturating_sub(1).min(chars.len());
    let token = token_width(&chars[start..], is_in_flow(&chars[..start]));
    let (from, to) = if chars.len() <= EXCERPT_CHARS_MAX {
        (0, chars.len())
    } else {
        let to = (start.saturating_sub(EXCERPT_CHARS_BEFORE) + EXCERPT_CHARS_MAX).min(chars.len());
        (to - EXCERPT_CHARS_MAX, to)
    };
    let mut shown = String::new();
    let mut indent = 0;
    if from > 0 {
        shown.push('…');
        indent += 1;
    }
    for (i, &c) in chars[from..to].iter().enumerate() {
        let text = shown_char(c);
        if from + i < start {
            indent += text.chars().count();
        }
        shown.push_str(&text);
    }
    if to < chars.len() {
        shown.push('…');
    }
    let token_end = (start + token).min(to);
    let width: usize =
        chars[start.min(token_end)..token_end].iter().map(|&c| shown_char(c).chars().count()).sum();
    (shown, format!("{}{}", " ".repeat(indent), "^".repeat(width.max(1))))
}

/// How many characters the token at the start of `rest` spans.
fn token_width(rest: &[char], in_flow: bool) -> usize {
    match rest.first() {
        None | Some('{' | '[' | '|' | '>') => 1,
        Some(&quote @ ('"' | '\'')) => quoted_width(rest, quote),
        Some(_) => plain_width(rest, in_flow),
    }
}

/// The width of a quoted scalar up to its closing quote (or the end of the line).
fn quoted_width(rest: &[char], quote: char) -> usize {
    let mut i = 1;
    while i < rest.len() {
        match rest[i] {
            '\\' if quote == '"' => i += 2,
            // In single quotes, a doubled quote is an escaped quote.
            '\'' if quote == '\'' && rest.get(i + 1) == Some(&'\'') => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    rest.len()
}

/// The width of a plain scalar: up to `: `, ` #`, the end of the line, or a flow indicator
/// when inside `[...]` or `{...}`; trailing blanks are not underlined.
fn plain_width(rest: &[char], in_flow: bool) -> usize {
    let mut end = rest.len();
    for (i, &c) in rest.iter().enumerate() {
        let next = rest.get(i + 1).copied();
        let ends_here = match c {
            ':' => next
                .is_none_or(|n| n == ' ' || n == '\t' || (in_flow && matches!(n, ',' | ']' | '}'))),
            '#' => i > 0 && matches!(rest[i - 1], ' ' | '\t'),
            ',' | ']' | '}' => in_flow,
            _ => false,
        };
        if ends_here {
            end = i;
            break;
        }
    }
    let trimmed = rest[..end].iter().rposition(|c| !c.is_whitespace()).map_or(0, |last| last + 1);
    trimmed.max(1)
}

/// Whether the text before a position leaves it inside a flow collection.
fn is_in_flow(before: &[char]) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for &c in before {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, '#') => break,
            _ => {}
        }
    }
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::diag::{Diagnostics, Severity};
    use crate::spec::source::SourceFile;
    use std::path::PathBuf;

    fn diag_at(line: usize, column: usize, message: &str) -> Diagnostic {
        let mut diag = Diagnostic::new(Severity::Error, Code::UnknownField, message, "x.yaml");
        diag.location = Some(Location { line, column });
        diag
    }

    fn carets(line: &str, column: usize) -> String {
        excerpt(line, Location { line: 1, column }).1
    }

    #[test]
    fn renders_rustc_shape() {
        let text = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n        bnd: tcp://*:5555\n";
        let src = SourceFile::new("topologies/broken/x.yaml", text);
        let mut diags = Diagnostics::new(&src);
        let mut diag = diag_at(12, 9, "unknown field `bnd` in `nodes[0].sockets[0]`");
        diag.file = PathBuf::from("topologies/broken/x.yaml");
        diags.push(diag).hint("did you mean `bind`?");
        let expected = "\
error[unknown-field]: unknown field `bnd` in `nodes[0].sockets[0]`
  --> topologies/broken/x.yaml:12:9
   |
12 |         bnd: tcp://*:5555
   |         ^^^
   = hint: did you mean `bind`?
";
        assert_eq!(render(diags.as_slice()), expected);
    }

    #[test]
    fn renders_warning_without_location_or_excerpt() {
        let mut first = Diagnostic::new(Severity::Warning, Code::NoWorkload, "odd thing", "y.yaml");
        first.hint("be careful");
        let second = diag_at(3, 2, "no excerpt captured");
        let expected = "\
warning[no-workload]: odd thing
 --> y.yaml
  = hint: be careful

error[unknown-field]: no excerpt captured
 --> x.yaml:3:2
";
        assert_eq!(render(&[first, second]), expected);
    }

    #[test]
    fn prints_the_first_hundred_then_counts_the_rest() {
        let mut diags: Vec<Diagnostic> =
            (1..=RENDERED_MAX + 7).map(|i| diag_at(i, 1, "bad")).collect();
        for diag in &mut diags[RENDERED_MAX + 5..] {
            diag.severity = Severity::Warning;
        }
        let text = render(&diags);
        assert_eq!(text.matches("error[unknown-field]").count(), RENDERED_MAX);
        assert!(!text.contains(&format!("x.yaml:{}:1", RENDERED_MAX + 1)), "{text}");
        assert!(
            text.ends_with(
                "\nnote[too-many-errors]: 5 more error(s) and 2 more warning(s) are not shown; \
                 fix the ones above first\n"
            ),
            "{text}"
        );
        // Exactly the cap prints no closing line.
        assert!(!render(&diags[..RENDERED_MAX]).contains("not shown"));
    }

    #[test]
    fn underlines_whole_tokens() {
        assert_eq!(carets("  bnd: tcp://*:5555", 3), "  ^^^");
        assert_eq!(carets("  bnd: tcp://*:5555", 8), "       ^^^^^^^^^^^^");
        assert_eq!(carets("a: \"quoted \\\" x\" # c", 4), "   ^^^^^^^^^^^^^");
        assert_eq!(carets("a: 'it''s' # c", 4), "   ^^^^^^^");
        assert_eq!(carets("a: plain words # comment", 4), "   ^^^^^^^^^^^");
        assert_eq!(carets("a: {b: 1}", 4), "   ^");
        assert_eq!(carets("sockets: [{name: x, bnd: y}]", 21), "                    ^^^");
        assert_eq!(carets("sockets: [{name: x, bnd: y}]", 26), "                         ^");
        assert_eq!(carets("short", 40), "     ^");
        assert_eq!(carets("\tkey: v", 2), "    ^^^");
    }

    #[test]
    fn control_characters_are_shown_escaped_and_the_carets_stay_aligned() {
        // From issue 17: control characters in names reached the terminal raw.
        let mut diag = diag_at(1, 10, "no node is called `x\u{1b}[2J`");
        diag.excerpt = Some("a: \u{1b}[31m\u{202e}b: value".to_owned());
        diag.hint("did you mean `\u{9b}y`?");
        let shown = render(&[diag]);
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "{shown:?}");
        let expected = "\
error[unknown-field]: no node is called `x\\u{1b}[2J`
 --> x.yaml:1:10
  |
1 | a: \\u{1b}[31m\\u{202e}b: value
  |                      ^
  = hint: did you mean `\\u{9b}y`?
";
        assert_eq!(shown, expected);
    }

    #[test]
    fn long_lines_are_cut_to_a_window_around_the_location() {
        let line = format!("{}key: value{}", "a ".repeat(500), " b".repeat(500));
        let (shown, carets) = excerpt(&line, Location { line: 1, column: 1001 });
        assert_eq!(shown.chars().count(), EXCERPT_CHARS_MAX + 2, "the window and two `…`");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        let at = carets.find('^').expect("carets");
        assert_eq!(&shown.chars().skip(at).take(3).collect::<String>(), "key", "{shown}\n{carets}");
        assert_eq!(carets.trim(), "^^^");
    }

    #[test]
    fn long_quoted_names_in_messages_are_cut_in_the_middle() {
        let name = format!("{}END", "n".repeat(1000));
        let shown = printable(&format!("unknown `{name}` here"));
        assert!(shown.starts_with("unknown `nnnn"), "{shown}");
        assert!(shown.ends_with("nnnnnEND (1003 characters)` here"), "{shown}");
        assert!(shown.chars().count() < 100, "{shown}");
        let long = "word ".repeat(200);
        let shown = printable(&long);
        assert!(shown.chars().count() <= MESSAGE_CHARS_MAX + 2, "cut, with a ` …`: {shown}");
        assert!(shown.ends_with("word word …"), "{shown}");
    }

    #[test]
    fn a_long_hint_is_cut_between_words_and_never_inside_backticks() {
        // From the new-user audit: a hint ended "…register your own from Rust with `Re…".
        let names = "lazy-pirate-client, ".repeat(17);
        let hint =
            format!("designs: {names}ventilator; register your own with `Registry::register`");
        let shown = printable(&hint);
        assert!(shown.ends_with("ventilator; register your own with …"), "{shown}");
        assert!(shown.chars().count() <= MESSAGE_CHARS_MAX + 2, "{shown}");
        // The last space before the limit is inside a quoted name: cut before its quote.
        let hint = format!("{}`a quoted name with spaces` and more", "x ".repeat(190));
        let shown = printable(&hint);
        assert!(shown.ends_with("x x …"), "{shown}");
        // One word longer than the limit is still cut, at the limit.
        let shown = printable(&"y".repeat(1000));
        assert_eq!(shown.chars().count(), MESSAGE_CHARS_MAX + 1, "{shown}");
    }
}
