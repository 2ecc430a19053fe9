//! Characters a post must not carry: control characters (NUL, ESC…) are
//! invisible in an editor, may be refused or mangled by the server, and
//! ESC printed raw drives the host's terminal.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Severity, SourceFile};

/// Whether `c` is a control character other than newline and tab.
fn forbidden(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// The byte offset and value of the first forbidden control character in
/// `text`; a carriage return before a newline (Windows line ends) is fine.
pub fn find_control(text: &str) -> Option<(usize, char)> {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\r' && matches!(chars.peek(), Some((_, '\n'))) {
            continue;
        }
        if forbidden(c) {
            return Some((i, c));
        }
    }
    None
}

pub use crate::diagnostic::escape_controls;

/// `U+001B`.
fn code(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// A located error for control character `c` at `span` of `source`.
/// `raw` says the character itself is in the file (not a `\u…` escape),
/// so the quoted line must be escaped before it is printed.
pub fn control_error(source: &SourceFile, span: Range<usize>, c: char, raw: bool) -> Diagnostic {
    let mut d = source
        .diag(
            Severity::Error,
            span,
            format!("the control character {} is not allowed in a post", code(c)),
        )
        .with_help(format!(
            "remove the control character {} (invisible in most editors; servers refuse or mangle it)",
            code(c)
        ));
    if raw && let Some(l) = d.location.as_mut() {
        l.source_line = escape_controls(&l.source_line);
        l.width = escape_controls(&c.to_string()).chars().count();
    }
    d
}

/// The error for the first control character in a host's file, if any.
pub fn check_source(source: &SourceFile) -> Option<Diagnostic> {
    find_control(&source.text).map(|(i, c)| control_error(source, i..i + c.len_utf8(), c, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_newline_tab_and_crlf_are_allowed() {
        assert_eq!(find_control("a\tb\r\nc\n"), None);
        assert_eq!(find_control("a\u{1b}[31m"), Some((1, '\u{1b}')));
        assert_eq!(find_control("a\rb"), Some((1, '\r')));
        assert_eq!(escape_controls("x\u{1b}y\0\n"), "x\\u{1b}y\\u{0}\n");
    }
}
