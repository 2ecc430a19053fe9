//! A participant's status as safe plain text, for the store, the recap
//! and the archive: no markup survives, entities are decoded, links are
//! kept as their full URLs (Mastodon shortens what it shows), mentions
//! become `@user@host`, and invisible or direction-changing characters go
//! (they can hide or reorder text in a transcript). The length is capped.

use crate::html;

/// The most characters kept of one answer (Mastodon allows 500, other
/// servers far more; a transcript needs no more than this).
pub const MAX_CHARS: usize = 5000;

/// Plain text of a status's HTML `content`.
pub fn clean(content_html: &str) -> String {
    let text = html::to_text(&with_full_mentions(content_html));
    let kept: String = text
        .chars()
        .filter(|&c| !is_hidden(c))
        .take(MAX_CHARS)
        .collect();
    kept.trim().to_string()
}

/// Characters that show nothing or change what follows: controls (but
/// newline and tab), zero-width characters, bidirectional overrides and
/// isolates, the byte-order mark.
fn is_hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c,
            '\u{200b}'..='\u{200f}'   // zero-width space, joiners, marks
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{feff}')
}

/// The HTML with each mention link's text made `@user@host`, the host
/// taken from the link (servers show remote mentions as `@user` only).
fn with_full_mentions(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<a ") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let (Some(tag_end), Some(close)) = (tail.find('>'), tail.find("</a>")) else {
            out.push_str(tail);
            return out;
        };
        if close < tag_end {
            out.push_str(&tail[..close + 4]);
            rest = &tail[close + 4..];
            continue;
        }
        let tag = &tail[..tag_end];
        let inner = &tail[tag_end + 1..close];
        let inner_text = html::to_text(inner);
        match mention_host(tag) {
            Some(host) if inner_text.starts_with('@') && !inner_text[1..].contains('@') => {
                out.push_str(&inner_text);
                out.push('@');
                out.push_str(&host);
            }
            _ => out.push_str(&tail[..close + 4]),
        }
        rest = &tail[close + 4..];
    }
    out.push_str(rest);
    out
}

/// The host of a mention link (`class="u-url mention"`, not a hashtag).
fn mention_host(tag: &str) -> Option<String> {
    let class = attribute(tag, "class").unwrap_or_default();
    let words: Vec<&str> = class.split_whitespace().collect();
    if !words.contains(&"mention") || words.contains(&"hashtag") {
        return None;
    }
    let href = attribute(tag, "href")?;
    let after_scheme = href.split_once("://")?.1;
    let host = after_scheme.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The value of a double-quoted attribute in a tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_links_and_mentions_come_back_whole() {
        // As Mastodon renders a remote mention and a long link.
        let html = r#"<p><span class="h-card"><a href="https://nurses.example/@sam" class="u-url mention">@<span>sam</span></a></span> A2: see <a href="https://example.org/a/very/long/path" rel="nofollow noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.org/a/very/lo</span><span class="invisible">ng/path</span></a> <a href="https://m.example/tags/WeNurses" class="mention hashtag" rel="tag">#<span>WeNurses</span></a></p>"#;
        assert_eq!(
            clean(html),
            "@sam@nurses.example A2: see https://example.org/a/very/long/path #WeNurses"
        );
    }

    #[test]
    fn markup_and_hidden_characters_never_survive() {
        let html =
            "<p>A1: <script>alert(1)</script>fine &lt;b&gt; \u{202e}olleh\u{200b}</p><p>two</p>";
        // Tags go (their text stays, as text); an escaped `<b>` is text
        // the participant wrote, escaped again wherever it is shown.
        assert_eq!(clean(html), "A1: alert(1)fine <b> olleh\n\ntwo");
    }

    #[test]
    fn length_is_capped() {
        let html = format!("<p>{}</p>", "x".repeat(20_000));
        assert_eq!(clean(&html).chars().count(), MAX_CHARS);
    }
}
