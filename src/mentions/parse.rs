//! The command in a mention's text: the first word after the leading
//! @mentions, case-insensitively, whatever the server's HTML left behind.

use chrono::{Datelike, Months, NaiveDate};

/// What a participant asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// When the next chat is.
    Next,
    /// Never quote, name or link me again.
    OptOut,
    /// Undo `optout`.
    OptIn,
    /// My participation record (`record` or `cpd`), for a period if given.
    Record {
        /// The period asked for; `None` for everything.
        period: Option<Period>,
    },
    /// The commands.
    Help,
    /// Anything else: the first word as written (cleaned, at most 40
    /// characters), for the log line. Gets no reply.
    Unknown(String),
}

impl Command {
    /// The word stored for it: next, optout, optin, record, help, unknown.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Next => "next",
            Command::OptOut => "optout",
            Command::OptIn => "optin",
            Command::Record { .. } => "record",
            Command::Help => "help",
            Command::Unknown(_) => "unknown",
        }
    }

    /// Its argument as stored: a record's period ("2026-01..2026-06"), an
    /// unknown command's word; `None` otherwise.
    pub fn argument(&self) -> Option<String> {
        match self {
            Command::Record { period } => period.map(|p| p.to_string()),
            Command::Unknown(word) => Some(word.clone()),
            _ => None,
        }
    }
}

/// A span of days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub until: NaiveDate,
}

impl Period {
    /// "2026" → the year, "2026-03" → the month, "2026-01..2026-06" → those
    /// months; anything else (or an end before the start) → `None`.
    pub fn parse(s: &str) -> Option<Period> {
        if let Some((a, b)) = s.split_once("..") {
            let (from, _) = month(a)?;
            let (_, until) = month(b)?;
            return (from <= until).then_some(Period { from, until });
        }
        if s.len() == 4 {
            let year = year(s)?;
            return Some(Period {
                from: NaiveDate::from_ymd_opt(year, 1, 1)?,
                until: NaiveDate::from_ymd_opt(year, 12, 31)?,
            });
        }
        let (from, until) = month(s)?;
        Some(Period { from, until })
    }

    /// Whether `date` is within.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.until
    }

    /// In words: "2026", "March 2026", "January 2026 to June 2026".
    pub fn label(&self) -> String {
        let whole_months = self.from.day() == 1 && last_of_month(self.until) == Some(self.until);
        if !whole_months {
            return format!(
                "{} to {}",
                self.from.format("%-d %B %Y"),
                self.until.format("%-d %B %Y")
            );
        }
        let (fy, fm, uy, um) = (
            self.from.year(),
            self.from.month(),
            self.until.year(),
            self.until.month(),
        );
        if fy == uy && fm == 1 && um == 12 {
            format!("{fy}")
        } else if fy == uy && fm == um {
            self.from.format("%B %Y").to_string()
        } else {
            format!(
                "{} to {}",
                self.from.format("%B %Y"),
                self.until.format("%B %Y")
            )
        }
    }
}

impl std::fmt::Display for Period {
    /// As typed: "2026-01..2026-06" (whole months), else the two dates.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from.day() == 1 && last_of_month(self.until) == Some(self.until) {
            write!(
                f,
                "{}..{}",
                self.from.format("%Y-%m"),
                self.until.format("%Y-%m")
            )
        } else {
            write!(f, "{}..{}", self.from, self.until)
        }
    }
}

fn year(s: &str) -> Option<i32> {
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// "2026-03" → its first and last day.
fn month(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, m) = s.split_once('-')?;
    if m.len() != 2 || !m.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first = NaiveDate::from_ymd_opt(year(y)?, m.parse().ok()?, 1)?;
    Some((first, last_of_month(first)?))
}

fn last_of_month(d: NaiveDate) -> Option<NaiveDate> {
    d.with_day(1)?
        .checked_add_months(Months::new(1))?
        .pred_opt()
}

/// The command in a mention's plain text (the status HTML already turned
/// to text, spoiler dropped): every leading @mention (the bot's and
/// others') skipped, the first word case-insensitive; `cpd` = `record`.
/// Extra words after a command are ignored, except a record's period.
pub fn parse(text: &str) -> Command {
    let text = clean(text);
    let mut words = text
        .split_whitespace()
        .skip_while(|w| is_mention(w) || w.chars().all(|c| !c.is_alphanumeric()));
    let Some(first) = words.next() else {
        return Command::Unknown(String::new());
    };
    let word = bare(first);
    match word.as_str() {
        "next" => Command::Next,
        "optout" => Command::OptOut,
        "optin" => Command::OptIn,
        // "opt out", "opt-in" and the like.
        "opt" => match words.next().map(bare).as_deref() {
            Some("out") => Command::OptOut,
            Some("in") => Command::OptIn,
            _ => Command::Unknown(word),
        },
        "help" => Command::Help,
        "record" | "cpd" => match words.next() {
            None => Command::Record { period: None },
            Some(arg) => {
                let arg = arg.trim_matches(|c: char| !c.is_ascii_digit());
                match Period::parse(arg) {
                    Some(p) => Command::Record { period: Some(p) },
                    None => Command::Unknown(format!("{word} {}", limit(arg))),
                }
            }
        },
        _ => Command::Unknown(word),
    }
}

/// A leading word that addresses someone: "@chatbot", "@bob@host",
/// "(@bob," — anything starting with `@` once wrapping punctuation goes.
fn is_mention(word: &str) -> bool {
    word.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '@')
        .starts_with('@')
}

/// A command word lower-cased, without the punctuation around it and the
/// hyphens and underscores inside ("Opt-Out!" → "optout").
fn bare(word: &str) -> String {
    let w: String = word
        .trim_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect();
    limit(&w)
}

/// At most 40 characters, for a log line.
fn limit(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Fullwidth forms as ASCII, invisible characters gone, and what an HTML
/// conversion may leave (tags, a few entities) as spaces or characters.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if in_tag {
            in_tag = c != '>';
            continue;
        }
        match c {
            // Only a tag-like `<p>`, `</span>`, `<br/>`: a lone `<` stays.
            '<' if rest.starts_with(|n: char| n.is_ascii_alphabetic() || n == '/') => {
                in_tag = true;
                // Inline tags split no word (`@<span>chatbot</span>`);
                // the others end one.
                let name: String = rest
                    .trim_start_matches('/')
                    .chars()
                    .take(4)
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                if !["span", "a ", "a>", "bdi"]
                    .iter()
                    .any(|t| name.starts_with(t))
                {
                    out.push(' ');
                }
            }
            '&' => {
                let entity = ENTITIES.iter().find(|(name, _)| rest.starts_with(name));
                match entity {
                    Some((name, with)) => {
                        rest = &rest[name.len()..];
                        out.push(*with);
                    }
                    None => out.push('&'),
                }
            }
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{AD}' => {}
            '\u{FF01}'..='\u{FF5E}' => {
                out.push(char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c));
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const ENTITIES: [(&str, char); 7] = [
    ("nbsp;", ' '),
    ("amp;", '&'),
    ("lt;", '<'),
    ("gt;", '>'),
    ("quot;", '"'),
    ("#39;", '\''),
    ("apos;", '\''),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_first_word_after_every_leading_mention_counts() {
        for (text, want) in [
            ("@chatbot next", Command::Next),
            ("@chatbot@chat.example NEXT", Command::Next),
            ("@bob@x.social @chatbot next?", Command::Next),
            ("@chatbot: Help!", Command::Help),
            ("(@chatbot) help", Command::Help),
            ("@chatbot optout please", Command::OptOut),
            ("@chatbot Opt-Out", Command::OptOut),
            ("@chatbot opt in.", Command::OptIn),
            ("@chatbot optin", Command::OptIn),
            ("@chatbot — next", Command::Next),
            ("\u{200B}@chatbot\u{00A0}next", Command::Next),
            ("<p><span>@chatbot</span> next</p>", Command::Next),
            (
                r#"<p><span class="h-card"><a href="https://c.example/@chatbot" class="u-url mention">@<span>chatbot</span></a></span> Next</p>"#,
                Command::Next,
            ),
            ("<p>@chatbot</p><p>help</p>", Command::Help),
            ("@chatbot<br>help", Command::Help),
            ("@chatbot&nbsp;help", Command::Help),
            ("＠ｃｈａｔｂｏｔ　ＮＥＸＴ！", Command::Next),
            ("next", Command::Next),
        ] {
            assert_eq!(parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn anything_else_is_unknown_and_only_the_first_word_counts() {
        assert_eq!(
            parse("@chatbot hello, next please"),
            Command::Unknown("hello".into())
        );
        assert_eq!(parse("hey @chatbot next"), Command::Unknown("hey".into()));
        assert_eq!(parse("@chatbot"), Command::Unknown(String::new()));
        assert_eq!(parse(""), Command::Unknown(String::new()));
        assert_eq!(parse("@chatbot opt"), Command::Unknown("opt".into()));
        assert_eq!(
            parse("@chatbot nexttime"),
            Command::Unknown("nexttime".into())
        );
        let long = parse(&format!("@chatbot {}", "x".repeat(500)));
        assert_eq!(long, Command::Unknown("x".repeat(40)));
    }

    #[test]
    fn record_and_cpd_take_a_period() {
        assert_eq!(parse("@chatbot record"), Command::Record { period: None });
        assert_eq!(parse("@chatbot CPD!"), Command::Record { period: None });
        let year = Period {
            from: ymd(2026, 1, 1),
            until: ymd(2026, 12, 31),
        };
        assert_eq!(
            parse("@chatbot cpd 2026"),
            Command::Record { period: Some(year) }
        );
        assert_eq!(
            parse("@chatbot record 2026."),
            Command::Record { period: Some(year) }
        );
        let feb = Period {
            from: ymd(2028, 2, 1),
            until: ymd(2028, 2, 29),
        };
        assert_eq!(
            parse("@chatbot record ２０２８-０２"),
            Command::Record { period: Some(feb) }
        );
        let h1 = parse("@chatbot record 2026-01..2026-06 thanks");
        let Command::Record { period: Some(p) } = h1 else {
            panic!("{h1:?}")
        };
        assert_eq!((p.from, p.until), (ymd(2026, 1, 1), ymd(2026, 6, 30)));
        assert_eq!(p.to_string(), "2026-01..2026-06");
        assert_eq!(p.label(), "January 2026 to June 2026");
        assert_eq!(year.label(), "2026");
        assert_eq!(feb.label(), "February 2028");
        for bad in [
            "record lately",
            "record 2026-13",
            "record 2026-06..2026-01",
            "record 26",
            "record 2026-1",
            "record 2026-01-05",
        ] {
            let c = parse(&format!("@chatbot {bad}"));
            assert!(
                matches!(c, Command::Unknown(ref w) if w.starts_with("record")),
                "{bad}: {c:?}"
            );
        }
    }

    #[test]
    fn names_and_arguments_as_stored() {
        assert_eq!(parse("@b next").name(), "next");
        assert_eq!(parse("@b next").argument(), None);
        assert_eq!(parse("@b cpd 2026").name(), "record");
        assert_eq!(
            parse("@b cpd 2026").argument().as_deref(),
            Some("2026-01..2026-12")
        );
        assert_eq!(parse("@b wat").argument().as_deref(), Some("wat"));
    }

    #[test]
    fn odd_input_never_panics() {
        // A fuzz-ish sweep: every short combination of awkward pieces.
        let pieces = [
            "",
            " ",
            "@",
            "@@",
            "＠",
            "<",
            ">",
            "</",
            "<p",
            "&",
            "&amp",
            "&nbsp;",
            "..",
            "-",
            "record",
            "cpd",
            "opt",
            "2026",
            "2026-",
            "9999-12",
            "0000-01",
            "-2026",
            "\u{0}",
            "\u{FEFF}",
            "\u{FF5E}",
            "é",
            "İ",
            "ﬀ",
            "🙂",
            "\u{10FFFF}",
            "\u{301}",
            "\n",
            "\t",
            "\u{3000}",
            "#tag",
            "https://x/@a",
        ];
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for text in [
                        format!("{a}{b}{c}"),
                        format!("@bot {a} {b}{c}"),
                        format!("{a} record {b}..{c}"),
                    ] {
                        let cmd = parse(&text);
                        if let Command::Unknown(w) = &cmd {
                            assert!(w.chars().count() <= 47, "{text:?}");
                        }
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 100_000);
        assert!(matches!(parse(&"<".repeat(10_000)), Command::Unknown(_)));
        assert!(matches!(parse(&"@".repeat(10_000)), Command::Unknown(_)));
        assert_eq!(
            parse(&format!("{}@bot next", "<p>".repeat(50_000))),
            Command::Next
        );
    }
}
