//! Errors for people: every problem in a host's files becomes a
//! [`Diagnostic`] that names the file, line and column, shows the line with a
//! caret under the culprit, and ends with what to do — the way cargo and
//! compilers do it, so a host can fix a typo at 7:55pm without guessing.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the chat still runs.
    Warning,
    /// The file (or that week's chat) cannot be used until it is fixed.
    Error,
}

/// One problem, located in a file or in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is in, or a description of its source
    /// (e.g. `environment variable CHATHOST__INSTANCE__URL`).
    pub origin: String,
    /// Where in the file, when known.
    pub location: Option<Box<Location>>,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

/// A place in a text file, with the line shown under the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// The text of that line (secrets already masked).
    pub source_line: String,
    /// How many characters the caret underline spans (at least 1).
    pub width: usize,
    /// The values masked on that line: never printed, and scrubbed from
    /// the message and help too (a parser's message may quote them).
    pub hidden: Vec<String>,
}

impl Diagnostic {
    /// An error about `origin` with no location.
    pub fn error(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            origin: origin.into(),
            location: None,
            message: message.into(),
            help: None,
        }
    }

    /// A warning about `origin` with no location.
    pub fn warning(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(origin, message)
        }
    }

    /// Adds what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a location.
    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location.map(Box::new);
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` (or just the origin when there is no location).
    pub fn position(&self) -> String {
        match &self.location {
            Some(l) => format!("{}:{}:{}", self.origin, l.line, l.column),
            None => self.origin.clone(),
        }
    }
}

impl Diagnostic {
    /// Hides `value` wherever this diagnostic would print it, its quoted
    /// line included: for a secret under a key that does not look like one
    /// (a token pasted as `credential`, a password inside a URL).
    pub fn hiding(mut self, value: &str) -> Self {
        if let Some(l) = self.location.as_mut().filter(|_| !value.is_empty()) {
            l.source_line = l.source_line.replace(value, "********");
            l.hidden.push(value.to_string());
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let hidden = self.location.as_ref().map_or(&[][..], |l| &l.hidden[..]);
        // Nothing a file or a server wrote reaches the terminal raw: an
        // ESC would drive it.
        writeln!(
            f,
            "{}: {kind}: {}",
            self.position(),
            escape_controls(&scrub(&self.message, hidden))
        )?;
        if let Some(l) = &self.location {
            let gutter = " ".repeat(l.line.to_string().len());
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{} | {}", l.line, escape_controls(&l.source_line))?;
            writeln!(
                f,
                "{gutter} | {}{}",
                " ".repeat(l.column.saturating_sub(1)),
                "^".repeat(l.width.max(1))
            )?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  help: {}", escape_controls(&scrub(help, hidden)))?;
        }
        Ok(())
    }
}

/// `text` with every control character but newline and tab written as
/// `\u{1b}`, safe to print on a terminal.
pub fn escape_controls(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A host's file held in memory, able to turn byte offsets into locations.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Where it was read from (as the host named it).
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// Reads a file; the error names the file and says what to do.
    pub fn read(path: &Path) -> Result<SourceFile, Diagnostic> {
        match crate::files::read_text(path, crate::files::TEXT_LIMIT) {
            Ok(text) => Ok(SourceFile {
                path: path.to_path_buf(),
                text,
            }),
            Err(e) => Err(Diagnostic::error(
                path.display().to_string(),
                format!("cannot read this file: {e}"),
            )
            .with_help(match e.io_kind() {
                Some(std::io::ErrorKind::NotFound) => {
                    "check the path, or pass --config PATH to name bot.toml"
                }
                _ => e.help(),
            })),
        }
    }

    /// A file from text already in memory (tests, embedded defaults).
    pub fn from_text(path: impl Into<PathBuf>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The file name as shown in diagnostics.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The location of a byte range (its start, underlined to its end on
    /// the same line).
    pub fn locate(&self, span: Range<usize>) -> Location {
        let start = floor_char_boundary(&self.text, span.start.min(self.text.len()));
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line = self.text[..start].matches('\n').count() + 1;
        let column = self.text[line_start..start].chars().count() + 1;
        let end = floor_char_boundary(&self.text, span.end.clamp(start, line_end));
        let width = self.text[start..end].chars().count().max(1);
        let raw_line = self.text[line_start..line_end].trim_end_matches('\r');
        let (source_line, hidden) = if in_secret_block(&self.text[..line_start]) {
            // A line inside a multi-line string opened on a secret's line.
            ("********".to_string(), vec![raw_line.trim().to_string()])
        } else {
            mask_line(raw_line)
        };
        Location {
            line,
            column,
            source_line,
            width,
            hidden,
        }
    }

    /// A diagnostic at a byte range of this file.
    pub fn diag(
        &self,
        severity: Severity,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity,
            origin: self.name(),
            location: Some(Box::new(self.locate(span))),
            message: message.into(),
            help: None,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Whether a key names a secret, spelt right or not: `token`, `TOKEN`,
/// `api_token`, `tokn`, `client_secret`, `password`, `api_key`, `auth`…
pub fn is_secret_key(key: &str) -> bool {
    let key = key.trim().trim_matches(['"', '\'']).to_lowercase();
    let segments = key.split(['_', '-', '.']);
    ["token", "secret", "passw", "bearer"]
        .iter()
        .any(|w| key.contains(w))
        || segments
            .into_iter()
            .any(|s| matches!(s, "key" | "apikey" | "auth" | "authorization"))
        || (key.len() >= 3 && edit_distance(&key, "token") <= 2)
}

/// Whether a line of a settings file has a secret's key (`token = …`,
/// `account = { token = "…" }`, `account.token = …`, `'token' = …`). Only
/// keys count: a question that mentions "the key sign" is not a secret.
fn is_secret_line(line: &str) -> bool {
    keys_on_line(line)
        .iter()
        .any(|k| k.split('.').any(is_secret_key))
}

/// The keys of a TOML line: what stands before each `=` outside quotes,
/// back to the line's start, a `{` or a `,`.
fn keys_on_line(line: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | ',') => start = i + 1,
            (None, '=') => {
                keys.push(line[start..i].trim().to_string());
                start = i + 1;
            }
            (None, '#') => break,
            _ => {}
        }
    }
    keys
}

/// Masks every value on a line that mentions a secret's key: quoted
/// strings become `********`, and an unquoted value after `=` too. Returns
/// the line to show and the values hidden.
pub fn mask_line(line: &str) -> (String, Vec<String>) {
    if !is_secret_line(line) {
        return (line.to_string(), Vec::new());
    }
    let mut shown = String::new();
    let mut hidden = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find(['"', '\'']) {
        let quote = &rest[open..open + 1];
        let body = &rest[open + 1..];
        // A key in quotes ('token' =) stays; values are hidden.
        let close = body.find(quote);
        let value = &body[..close.unwrap_or(body.len())];
        let is_key = close.is_some_and(|c| body[c + 1..].trim_start().starts_with('='));
        shown.push_str(&rest[..open]);
        if is_key || value.is_empty() {
            shown.push_str(&rest[open..open + 1 + value.len() + usize::from(close.is_some())]);
        } else {
            shown.push_str(quote);
            shown.push_str("********");
            if close.is_some() {
                shown.push_str(quote);
            }
            hidden.push(value.to_string());
        }
        rest = match close {
            Some(c) => &body[c + 1..],
            None => "",
        };
    }
    shown.push_str(rest);
    if hidden.is_empty()
        && let Some(eq) = shown.find('=')
    {
        // An unquoted value (token = abc123): hide all after `=`.
        let value = shown[eq + 1..].trim().to_string();
        if !value.is_empty() {
            hidden.push(value);
            shown = format!("{}= ********", &shown[..eq]);
        }
    }
    (shown, hidden)
}

/// Whether the text before a line leaves a multi-line string (`"""` or
/// `'''`) open that began on a secret's line.
fn in_secret_block(before: &str) -> bool {
    let mut open: Option<bool> = None;
    for line in before.lines() {
        for _ in 0..line.matches("\"\"\"").count() + line.matches("\'\'\'").count() {
            open = match open {
                None => Some(is_secret_line(line)),
                Some(_) => None,
            };
        }
    }
    open == Some(true)
}

/// `text` with every hidden value (long enough to be one) replaced.
fn scrub(text: &str, hidden: &[String]) -> String {
    hidden
        .iter()
        .filter(|h| h.chars().count() >= 4)
        .fold(text.to_string(), |t, h| t.replace(h.as_str(), "********"))
}

/// The closest candidate to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_l = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word_l, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Prints diagnostics to stderr, errors and warnings alike.
pub fn print_all(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{d}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_make_a_line_secret() {
        for line in [
            r#"text = "What is the key sign, the secret of a good token?""#,
            r#"topic = "Authority and keynotes""#,
            r#"credential = "chathost-token""#,
        ] {
            assert_eq!(mask_line(line).0, line, "masked: {line}");
        }
        for line in [
            r#"api_key = "abc123""#,
            r#"account = { auth = "abc123", x = 1 }"#,
            r#"account.token = "abc123" x"#,
            r#"'TOKEN' = "abc123""#,
            r#"tokn = "abc123""#,
        ] {
            assert!(!mask_line(line).0.contains("abc123"), "shown: {line}");
        }
    }

    #[test]
    fn control_characters_are_never_printed_raw() {
        let file = SourceFile::from_text("bot.toml", "hashtag = \"a\u{1b}[2Jb\"\n");
        let d =
            Diagnostic::error("bot.toml", "the server said: \u{7}bell").at(Some(file.locate(0..7)));
        let shown = d.to_string();
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown:?}"
        );
        assert!(shown.contains("a\\u{1b}[2Jb"), "{shown}");
        assert!(shown.contains("\\u{7}bell"), "{shown}");
    }

    #[test]
    fn renders_file_line_column_caret_and_help() {
        let src = SourceFile::from_text("bot.toml", "[chats.x]\nzone = \"Europe/Londn\"\n");
        let start = src.text.find("\"Europe").unwrap();
        let d = src
            .diag(Severity::Error, start..start + 14, "unknown time zone")
            .with_help("did you mean \"Europe/London\"?");
        assert_eq!(
            d.to_string(),
            "bot.toml:2:8: error: unknown time zone\n  |\n2 | zone = \"Europe/Londn\"\n  |        ^^^^^^^^^^^^^^\n  help: did you mean \"Europe/London\"?\n"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = SourceFile::from_text("q.toml", "intro = \"Café\" x\n");
        let at = src.text.find('x').unwrap();
        assert_eq!(src.locate(at..at + 1).column, 16);
    }

    #[test]
    fn a_token_line_is_masked() {
        let src = SourceFile::from_text("bot.toml", "[account]\ntoken = \"s3cr3t-value\"\n");
        let at = src.text.find("token").unwrap();
        let shown = src
            .diag(Severity::Warning, at..at + 5, "inline token")
            .to_string();
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("token = \"********\""), "{shown}");
    }

    #[test]
    fn suggests_close_words_only() {
        let keys = ["hashtag", "weekday", "time", "zone"];
        assert_eq!(did_you_mean("hashtga", keys), Some("hashtag"));
        assert_eq!(did_you_mean("Zone", keys), Some("zone"));
        assert_eq!(did_you_mean("colour", keys), None);
    }
}
