//! Parsing the small values of bot.toml: hashtags, weekdays, times of day
//! and lead times.

use std::str::FromStr;

use chrono::{NaiveTime, Weekday};

/// Mastodon's rule for a hashtag: letters, digits, `_` (and `·`, ZWNJ),
/// at least one of them not a digit. Returns (message, help) when broken.
pub fn check_hashtag(tag: &str) -> Result<(), (String, String)> {
    let help_example = "write the tag without `#`, e.g. hashtag = \"WeNurses\"";
    if let Some(rest) = tag.strip_prefix('#') {
        return Err((
            format!("the hashtag `{tag}` starts with `#`"),
            format!("write it without `#`: hashtag = \"{rest}\""),
        ));
    }
    if tag.is_empty() {
        return Err(("the hashtag is empty".into(), help_example.into()));
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '·' || *c == '\u{200c}'))
    {
        let what = if bad.is_whitespace() {
            "a space".to_string()
        } else {
            format!("`{bad}`")
        };
        return Err((
            format!("the hashtag `{tag}` contains {what}, which Mastodon does not allow in a tag"),
            "use only letters, digits and `_`; CamelCase keeps long tags readable (e.g. \"NHSDigitalChat\")".into(),
        ));
    }
    if tag.chars().all(|c| c.is_ascii_digit()) {
        return Err((
            format!("the hashtag `{tag}` is only digits, which Mastodon does not link as a tag"),
            "add at least one letter".into(),
        ));
    }
    Ok(())
}

/// "Wednesday", "wed", "WED" → Wednesday.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    Weekday::from_str(s.trim()).ok()
}

/// "20:00" or "8:30" (24-hour) → a time.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// "24h", "90m", "2d", "1h30m" → a duration.
pub fn parse_lead(s: &str) -> Option<std::time::Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        let unit = match c {
            'd' => 86400,
            'h' => 3600,
            'm' => 60,
            _ => return None,
        };
        // Checked: a huge number must not wrap round into a plausible one.
        total = total.checked_add(n.checked_mul(unit)?)?;
        any = true;
    }
    (any && digits.is_empty()).then(|| std::time::Duration::from_secs(total))
}

/// A short human form of a lead time: "24 hours", "1 hour", "30 minutes".
pub fn describe_lead(d: std::time::Duration) -> String {
    let m = d.as_secs() / 60;
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if m.is_multiple_of(60 * 24) && m >= 60 * 48 {
        plural(m / (60 * 24), "day")
    } else if m.is_multiple_of(60) {
        plural(m / 60, "hour")
    } else {
        plural(m, "minute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_times() {
        assert_eq!(parse_lead("24h").unwrap().as_secs(), 86400);
        assert_eq!(parse_lead("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_lead("2d").unwrap().as_secs(), 172800);
        assert!(parse_lead("24").is_none());
        assert!(parse_lead("h").is_none());
        assert!(parse_lead("3w").is_none());
        assert!(parse_lead("4611686018427387964m").is_none());
        assert!(parse_lead("18446744073709551615d").is_none());
        assert_eq!(describe_lead(parse_lead("24h").unwrap()), "24 hours");
        assert_eq!(describe_lead(parse_lead("1h").unwrap()), "1 hour");
        assert_eq!(describe_lead(parse_lead("2d").unwrap()), "2 days");
        assert_eq!(describe_lead(parse_lead("30m").unwrap()), "30 minutes");
    }

    #[test]
    fn hashtags_follow_mastodon_rules() {
        assert!(check_hashtag("WeNurses").is_ok());
        assert!(check_hashtag("nhs_chat2027").is_ok());
        assert!(check_hashtag("café").is_ok());
        assert!(
            check_hashtag("#WeNurses")
                .unwrap_err()
                .1
                .contains("\"WeNurses\"")
        );
        assert!(
            check_hashtag("We Nurses")
                .unwrap_err()
                .0
                .contains("a space")
        );
        assert!(check_hashtag("we-nurses").unwrap_err().0.contains("`-`"));
        assert!(check_hashtag("2027").is_err());
        assert!(check_hashtag("").is_err());
    }

    #[test]
    fn weekdays_and_times() {
        assert_eq!(parse_weekday("Wednesday"), Some(Weekday::Wed));
        assert_eq!(parse_weekday("wed"), Some(Weekday::Wed));
        assert_eq!(parse_weekday("Wednsday"), None);
        assert_eq!(parse_time("20:00"), NaiveTime::from_hms_opt(20, 0, 0));
        assert_eq!(parse_time("8pm"), None);
        assert_eq!(parse_time("25:00"), None);
    }
}
