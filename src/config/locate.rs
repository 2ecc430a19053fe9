//! Where a problem is: parser errors turned into located diagnostics, and
//! the place a key path's value was written (file or environment).

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diagnostic::{Diagnostic, Severity, SourceFile, did_you_mean};

/// Turns a `toml` parse or deserialize error into a located diagnostic with
/// a suggestion for the common cases.
pub(super) fn toml_error(source: &SourceFile, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    let mut d = source.diag(Severity::Error, span.clone(), first_line(&message));
    if let Some((unknown, expected)) = unknown_name(&message) {
        let what = if message.starts_with("unknown variant") {
            "value"
        } else {
            "key"
        };
        d = d.with_help(
            match did_you_mean(&unknown, expected.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`? Allowed: {}", expected.join(", ")),
                None if expected.is_empty() => format!("remove this {what}"),
                None => format!("allowed here: {}", expected.join(", ")),
            },
        );
    } else if message.contains("missing field") {
        d = d.with_help(
            "add the missing key (see the commented example bot.toml in the repository)",
        );
    } else if message.contains("invalid type") && message.contains("expected a string") {
        d = d.with_help("put the value in double quotes, e.g. time = \"20:00\"");
    } else if message.contains("invalid type") {
        d = d.with_help("change the value to the type named above");
    } else {
        d = d.with_help("this is not valid TOML; check quotes, brackets and `=` on this line");
    }
    // The line shown is masked when it holds a secret; the parser's message
    // may quote the value, so it is replaced too.
    if message.contains("invalid type") && d.location.as_ref().is_some_and(|l| !l.hidden.is_empty())
    {
        d.message =
            "the secret on this line is not a quoted string (its value is not shown)".into();
        d.help = Some(
            "write it in double quotes, token = \"…\" — or better, use token_file or the CHATHOST_TOKEN variable"
                .into(),
        );
    }
    d
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown
/// variant …"), the unknown name and the allowed ones.
fn unknown_name(message: &str) -> Option<(String, Vec<String>)> {
    if !(message.starts_with("unknown field") || message.starts_with("unknown variant")) {
        return None;
    }
    let mut names = message.split('`').skip(1).step_by(2).map(str::to_string);
    let unknown = names.next()?;
    Some((unknown, names.collect()))
}

/// Finds where a key path's value was written: in the file, or in an
/// environment variable that overrode it.
pub(super) struct Locator<'a> {
    pub(super) source: &'a SourceFile,
    pub(super) doc: &'a toml::de::DeTable<'a>,
    pub(super) overrides: &'a BTreeMap<String, (String, String)>,
}

impl Locator<'_> {
    /// A diagnostic about the value at `path` (e.g. `["chats", "x", "zone"]`).
    pub(super) fn at(
        &self,
        severity: Severity,
        path: &[&str],
        message: impl Into<String>,
    ) -> Diagnostic {
        if let Some((var, _)) = self.overrides.get(&path.join(".")) {
            let d = Diagnostic::error(format!("environment variable {var}"), message);
            return Diagnostic { severity, ..d };
        }
        let span = self.span(path).unwrap_or(0..0);
        self.source.diag(severity, span, message)
    }

    fn span(&self, path: &[&str]) -> Option<Range<usize>> {
        let mut table = self.doc;
        let mut best = None;
        for (i, part) in path.iter().enumerate() {
            // A key left to its default: point at the nearest key written.
            let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref() == part) else {
                return best;
            };
            best = Some(key.span());
            if i + 1 == path.len() {
                return Some(value.span());
            }
            match value.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => return best,
            }
        }
        best
    }
}
