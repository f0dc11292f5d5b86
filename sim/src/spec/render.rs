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

use std::fmt::Write as _;

use super::diag::{Diagnostic, Location};

/// How many columns a tab takes in the excerpt.
const TAB_WIDTH_COLUMNS: usize = 4;

/// Renders diagnostics one after another, separated by blank lines; the excerpt is the one
/// each diagnostic captured when it was recorded, and is left out if it has none.
pub fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, diag) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, diag);
    }
    out
}

fn render_one(out: &mut String, diag: &Diagnostic) {
    let _ = writeln!(out, "{}[{}]: {}", diag.severity.as_str(), diag.code, diag.message);
    let Some(at) = diag.location else {
        // No position: the file alone still says where to look.
        if !diag.file.as_os_str().is_empty() {
            let _ = writeln!(out, " --> {}", diag.file.display());
        }
        write_hint(out, diag, 1);
        return;
    };
    let gutter = at.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {}:{}:{}", diag.file.display(), at.line, at.column);
    if let Some(line) = &diag.excerpt {
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{}", format!("{} | {}", at.line, expand_tabs(line)).trim_end());
        let _ = writeln!(out, "{pad} | {}", underline(line, at));
    }
    write_hint(out, diag, gutter);
}

fn write_hint(out: &mut String, diag: &Diagnostic, gutter: usize) {
    if let Some(hint) = &diag.hint {
        let _ = writeln!(out, "{} = hint: {hint}", " ".repeat(gutter));
    }
}

/// Spaces up to the column, then carets under the token that starts there.
fn underline(line: &str, at: Location) -> String {
    let chars: Vec<char> = line.chars().collect();
    let start = at.column.saturating_sub(1).min(chars.len());
    let indent: usize = chars[..start].iter().map(|&c| display_width(c)).sum();
    let width = token_width(&chars[start..], is_in_flow(&chars[..start]));
    format!("{}{}", " ".repeat(indent), "^".repeat(width.max(1)))
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

fn display_width(c: char) -> usize {
    if c == '\t' { TAB_WIDTH_COLUMNS } else { 1 }
}

fn expand_tabs(line: &str) -> String {
    line.replace('\t', &" ".repeat(TAB_WIDTH_COLUMNS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::diag::{Diagnostics, Severity};
    use crate::spec::source::SourceFile;
    use std::path::PathBuf;

    fn diag_at(line: usize, column: usize, message: &str) -> Diagnostic {
        let mut diag = Diagnostic::new(Severity::Error, "unknown-field", message, "x.yaml");
        diag.location = Some(Location { line, column });
        diag
    }

    fn carets(line: &str, column: usize) -> String {
        underline(line, Location { line: 1, column })
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
        let mut first = Diagnostic::new(Severity::Warning, "odd", "odd thing", "y.yaml");
        first.hint("be careful");
        let second = diag_at(3, 2, "no excerpt captured");
        let expected = "\
warning[odd]: odd thing
 --> y.yaml
  = hint: be careful

error[unknown-field]: no excerpt captured
 --> x.yaml:3:2
";
        assert_eq!(render(&[first, second]), expected);
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
}
