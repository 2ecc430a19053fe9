//! A brief quote of an answer for the recap: without its `A3:` prefix,
//! without any mention (a recap notifies nobody), its trailing hashtags
//! dropped and the others made plain words, cut at a word boundary with
//! an ellipsis. The recap links the answer, so the quote only has to say
//! what it is about.

/// `text` quoted in at most `max` characters (at least a few words).
pub fn brief(text: &str, max: usize) -> String {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    while words.first().is_some_and(|w| w.starts_with('@')) {
        words.remove(0);
    }
    if words
        .first()
        .is_some_and(|w| crate::collect::attribute::answer_prefix(w).is_some())
    {
        words.remove(0);
    }
    while words.len() > 1 && words.last().is_some_and(|w| w.starts_with('#')) {
        words.pop();
    }
    // A recap never mentions anyone (a mention notifies, and may name a
    // person who asked not to be) nor files itself under other hashtags.
    let words: Vec<String> = words
        .iter()
        .filter(|w| !w.starts_with('@'))
        .map(|w| defuse(w))
        .filter(|w| !w.is_empty())
        .collect();
    let whole = words.join(" ");
    if whole.chars().count() <= max {
        return whole;
    }
    let mut out = String::new();
    for w in &words {
        let extra = usize::from(!out.is_empty()) + w.chars().count();
        if out.chars().count() + extra + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        // One giant word: cut it.
        out = whole.chars().take(max.saturating_sub(1)).collect();
    }
    out.push('…');
    out
}

/// `text` unable to mention anyone or file a post under a hashtag: an `@`
/// or `#` (or its fullwidth form) that starts a word or follows
/// punctuation, where servers see a mention or a tag ("(@bob", "“#tag",
/// "x,@bob@host" even glued to a link), is dropped; one inside a word
/// ("jane@nhs.uk") or a link's path ("https://host/@ann/1", "?a=#b") stays:
/// Mastodon sees no mention after a word character, `/` or `=`.
pub fn defuse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(char::is_whitespace) {
        let mut prev: Option<char> = None;
        for c in word.chars() {
            let sigil = matches!(c, '@' | '#' | '\u{FF20}' | '\u{FF03}');
            // ASCII only: Mastodon's word characters are narrower than
            // Rust's alphanumerics ("x²@bob" mentions); dropping a sigil
            // after a non-ASCII letter costs nothing.
            let in_word =
                prev.is_some_and(|p| p.is_ascii_alphanumeric() || matches!(p, '_' | '/' | '='));
            if !sigil || in_word {
                out.push(c);
            }
            prev = Some(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{brief, defuse};

    #[test]
    fn defuse_drops_sigils_where_servers_see_mentions_and_tags() {
        assert_eq!(
            defuse("(@bob) “#Tag” @@x ＃wide ＠wide"),
            "(bob) “Tag” x wide wide"
        );
        assert_eq!(
            defuse("jane@nhs.uk C# https://x.example/@bob/1#top"),
            "jane@nhs.uk C# https://x.example/@bob/1#top"
        );
        assert_eq!(
            brief("A1: so true (@bob@x.social, #nursing) ok", 80),
            "so true (bob@x.social, nursing) ok"
        );
        // Glued to a link, a mention or tag is still one (the review's
        // case): only a link's own path keeps its sigils.
        assert_eq!(
            brief(
                "A2: great point “@alice@evil.social”https://x.y and x,#othertag,http://a.b/?q=#f",
                200
            ),
            "great point “alice@evil.social”https://x.y and x,othertag,http://a.b/?q=#f"
        );
        assert_eq!(
            defuse("x://(@victim@host.social)"),
            "x://(victim@host.social)"
        );
        assert_eq!(defuse("x²@bob@evil.social Ⓐ#tag"), "x²bob@evil.social Ⓐtag");
    }

    #[test]
    fn prefixes_mentions_and_trailing_tags_go() {
        assert_eq!(
            brief("@chatbot A2: Tea and a kind word #WeNurses", 80),
            "Tea and a kind word"
        );
        assert_eq!(brief("a3) Checklists #WeNurses #nursing", 80), "Checklists");
        assert_eq!(brief("#WeNurses", 80), "WeNurses");
        let q = brief(
            "A2: #Handover matters to @jane@nurses.social and @bob most #WeNurses",
            80,
        );
        assert_eq!(q, "Handover matters to and most");
        assert!(!q.contains('@') && !q.contains('#'));
    }

    #[test]
    fn long_answers_are_cut_between_words() {
        let q = brief("A1: Short feedback loops every single time, honestly", 25);
        assert_eq!(q, "Short feedback loops…");
        assert!(q.chars().count() <= 25);
        let giant = brief(&"x".repeat(100), 10);
        assert_eq!(giant.chars().count(), 10);
    }
}
