//! Rendering a host's template with bounds: a fuel limit stops a runaway
//! loop (`range(100000)` nested twice would run for hours at full CPU), the
//! output is capped while it is written, and multiplication is refused
//! (`"x" * 100000000` builds a value of any size in one instruction). A
//! template can still build a large value by joining strings (`s ~ s`,
//! line after line): templates are the host's own files, run as the
//! service; keep them to the text of a post.

use std::io::{self, Write};

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity, SourceFile};

/// Instructions one render may run. The built-in templates use a few
/// hundred; a host's template with a loop over every question stays far
/// below this, while a runaway loop reaches it in milliseconds.
pub const FUEL: u64 = 200_000;

/// The most a post may render to before tidying. Servers accept a few
/// thousand characters; anything near this is a mistake.
pub const MAX_RENDERED: usize = 64 * 1024;

/// Why a render failed.
pub enum Failure {
    /// The output passed [`MAX_RENDERED`].
    TooLong,
    /// The template failed (out of fuel, unknown variable, …).
    Template(minijinja::Error),
}

/// A sink that refuses to grow past [`MAX_RENDERED`].
struct Capped {
    text: Vec<u8>,
    overflowed: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.text.len() + buf.len() > MAX_RENDERED {
            self.overflowed = true;
            return Err(io::Error::other("rendered text too long"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Renders `template` with `ctx`, within the output cap (the fuel limit is
/// the environment's).
pub fn capped(
    template: &minijinja::Template<'_, '_>,
    ctx: &impl Serialize,
) -> Result<String, Failure> {
    let mut out = Capped {
        text: Vec::new(),
        overflowed: false,
    };
    match template.render_captured_to(ctx, &mut out) {
        Ok(_) => Ok(String::from_utf8_lossy(&out.text).into_owned()),
        Err(_) if out.overflowed => Err(Failure::TooLong),
        Err(e) => Err(Failure::Template(e)),
    }
}

/// The `plural` filter: `{{ questions|plural("question") }}` gives
/// "1 question" or "5 questions"; an irregular plural is the second
/// argument: `{{ participants|plural("person", "people") }}`.
pub fn plural(n: i64, one: String, many: Option<String>) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {}", many.unwrap_or_else(|| format!("{one}s")))
    }
}

/// The first `*` inside a template's `{{ … }}` or `{% … %}`, outside
/// string literals: posts have no use for arithmetic, and string
/// repetition fills the memory.
pub fn check_operators(source: &SourceFile) -> Option<Diagnostic> {
    let star = find_operator_star(&source.text)?;
    Some(
        source
            .diag(
                Severity::Error,
                star..star + 1,
                "templates may not multiply: a repeated string can fill the memory",
            )
            .with_help("write the text itself, or compute the number in the question file"),
    )
}

/// The byte offset of a `*` in a tag's code (not in text, a comment or a
/// string literal).
fn find_operator_star(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let close: &[u8] = match (bytes[i], bytes[i + 1]) {
            (b'{', b'{') => b"}}",
            (b'{', b'%') => b"%}",
            (b'{', b'#') => {
                // A comment: skip to its end.
                i = text[i + 2..]
                    .find("#}")
                    .map_or(bytes.len(), |e| i + 2 + e + 2);
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        i += 2;
        let mut quote: Option<u8> = None;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(_) if b == b'\\' => i += 1,
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'"' || b == b'\'' => quote = Some(b),
                None if b == b'*' => return Some(i),
                None if bytes[i..].starts_with(close) => {
                    i += 1;
                    break;
                }
                None => {}
            }
            i += 1;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_operator_star;

    #[test]
    fn a_star_counts_only_as_an_operator_in_a_tag() {
        assert_eq!(find_operator_star(r#"{{ "x" * 9 }}"#), Some(7));
        assert_eq!(find_operator_star(r#"{% set s = 'x' * 9 %}"#), Some(15));
        assert_eq!(find_operator_star(r#"{{ "}}" ~ ("x" * 3) }}"#), Some(15));
        for fine in [
            "*bold* {{ text }} #{{ hashtag }}",
            r#"{{ text }} {{ "*" }} {{ '\'*' }}"#,
            "{# a * comment #}{{ text }}",
        ] {
            assert_eq!(find_operator_star(fine), None, "{fine}");
        }
    }
}
