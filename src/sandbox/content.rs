//! From the plain text a client posts to what a server stores and shows: the
//! `content` HTML with linked hashtags, mentions and URLs (in each flavour's
//! markup, as recorded in `shared/samples/`), the tags and mentions found,
//! and the length the server counts against `max_characters`.

use super::flavour::Flavour;

/// One piece of a status text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Ordinary text, newlines included.
    Text(String),
    /// `#name`, without the `#`, case kept.
    Tag(String),
    /// `@user` or `@user@domain`.
    Mention {
        /// The local part.
        username: String,
        /// The domain, if one was written.
        domain: Option<String>,
    },
    /// An `http://` or `https://` URL.
    Url(String),
}

/// Splits `text` into text, hashtags, mentions and URLs.
pub fn parse(text: &str) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut i = 0;
    while i < chars.len() {
        let prev = if i == 0 { None } else { Some(chars[i - 1]) };
        if let Some((segment, len)) = special_at(&chars, i, prev) {
            if !plain.is_empty() {
                out.push(Segment::Text(std::mem::take(&mut plain)));
            }
            out.push(segment);
            i += len;
        } else {
            plain.push(chars[i]);
            i += 1;
        }
    }
    if !plain.is_empty() {
        out.push(Segment::Text(plain));
    }
    out
}

/// A hashtag, mention or URL starting at `i`, with its length in chars.
fn special_at(chars: &[char], i: usize, prev: Option<char>) -> Option<(Segment, usize)> {
    // A special token starts a word: not glued to letters, digits or `/`.
    let at_word_start = prev.is_none_or(|p| !(p.is_alphanumeric() || "_/#@&".contains(p)));
    if !at_word_start {
        return None;
    }
    let rest: String = chars[i..].iter().take(8).collect();
    if rest.starts_with("http://") || rest.starts_with("https://") {
        let mut end = i;
        while end < chars.len() && !chars[end].is_whitespace() && !"<>\"".contains(chars[end]) {
            end += 1;
        }
        // Trailing punctuation belongs to the sentence, not the URL.
        while end > i && ".,;:!?)'".contains(chars[end - 1]) {
            end -= 1;
        }
        let url: String = chars[i..end].iter().collect();
        return Some((Segment::Url(url), end - i));
    }
    match chars[i] {
        '#' => {
            let name: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .collect();
            // Mastodon needs a letter or `_` somewhere: `#1` is not a tag.
            if name.chars().any(|c| c.is_alphabetic() || c == '_') {
                let len = 1 + name.chars().count();
                return Some((Segment::Tag(name), len));
            }
            None
        }
        '@' => {
            let username: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .collect();
            if username.is_empty() {
                return None;
            }
            let mut len = 1 + username.len();
            let mut domain = None;
            if chars.get(i + len) == Some(&'@') {
                let d: String = chars[i + len + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || "-.:".contains(**c))
                    .collect();
                let d = d.trim_end_matches(['.', ':']).to_string();
                if !d.is_empty() {
                    len += 1 + d.len();
                    domain = Some(d);
                }
            }
            Some((Segment::Mention { username, domain }, len))
        }
        _ => None,
    }
}

/// The lower-cased names of the hashtags in `text`, first use first, no repeats.
pub fn tags(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in parse(text) {
        if let Segment::Tag(name) = s {
            let lower = name.to_lowercase();
            if !out.contains(&lower) {
                out.push(lower);
            }
        }
    }
    out
}

/// The usernames of the mentions in `text` that point at this server
/// (no domain, or `domain` equal to `local_domain`).
pub fn local_mentions(text: &str, local_domain: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in parse(text) {
        if let Segment::Mention { username, domain } = s {
            let local = domain
                .as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case(local_domain));
            if local && !out.iter().any(|u| u.eq_ignore_ascii_case(&username)) {
                out.push(username);
            }
        }
    }
    out
}

/// The length a server counts against `max_characters`: Mastodon counts every
/// URL as `characters_reserved_per_url` and a remote mention as its local part;
/// GoToSocial counts characters as written. The spoiler text counts too.
pub fn counted_length(flavour: Flavour, text: &str, spoiler_text: &str) -> usize {
    let spoiler = spoiler_text.chars().count();
    match flavour {
        Flavour::GoToSocial => text.chars().count() + spoiler,
        Flavour::Mastodon => {
            let body: usize = parse(text)
                .iter()
                .map(|s| match s {
                    Segment::Text(t) => t.chars().count(),
                    Segment::Tag(t) => 1 + t.chars().count(),
                    Segment::Mention { username, .. } => 1 + username.chars().count(),
                    Segment::Url(_) => flavour.characters_reserved_per_url(),
                })
                .sum();
            body + spoiler
        }
    }
}

/// Escapes text for HTML the way both servers do.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown emphasis as GoToSocial renders it for an account whose default
/// is Markdown: `**x**` strong, `*x*` emphasis (outside tags only).
pub fn emphasis(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    for (i, part) in html.split('<').enumerate() {
        if i > 0 {
            out.push('<');
        }
        // `part` is "tag>text" (or all text before the first tag).
        let (tag, text) = match part.find('>') {
            Some(gt) if i > 0 => part.split_at(gt + 1),
            _ if i > 0 => (part, ""),
            _ => ("", part),
        };
        out.push_str(tag);
        out.push_str(&wrap_pairs(&wrap_pairs(text, "**", "strong"), "*", "em"));
    }
    out
}

/// Each `mark…mark` pair in `text` as `<tag>…</tag>`.
fn wrap_pairs(text: &str, mark: &str, tag: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find(mark) {
        let after = &rest[open + mark.len()..];
        match after.find(mark).filter(|&close| close > 0) {
            Some(close) => {
                out.push_str(&rest[..open]);
                out.push_str(&format!("<{tag}>{}</{tag}>", &after[..close]));
                rest = &after[close + mark.len()..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// Renders `text` as the server's `content` HTML. `base_url` is the server's
/// own origin (`http://127.0.0.1:PORT`); `is_local_user` says whether a
/// mentioned username exists here (unknown mentions stay plain text).
pub fn render_html(
    flavour: Flavour,
    base_url: &str,
    text: &str,
    is_local_user: impl Fn(&str) -> Option<String>,
) -> String {
    let local_domain = base_url.split("://").nth(1).unwrap_or(base_url);
    let mut inline = String::new();
    for segment in parse(text.trim()) {
        match segment {
            Segment::Text(t) => inline.push_str(&escape(&t)),
            Segment::Tag(name) => inline.push_str(&tag_link(flavour, base_url, &name)),
            Segment::Url(url) => inline.push_str(&url_link(flavour, &url)),
            Segment::Mention { username, domain } => {
                let local = domain
                    .as_deref()
                    .is_none_or(|d| d.eq_ignore_ascii_case(local_domain));
                match is_local_user(&username).filter(|_| local) {
                    Some(canonical) => {
                        inline.push_str(&mention_link(flavour, base_url, &canonical))
                    }
                    None => {
                        inline.push('@');
                        inline.push_str(&escape(&username));
                        if let Some(d) = domain {
                            inline.push('@');
                            inline.push_str(&escape(&d));
                        }
                    }
                }
            }
        }
    }
    // Anchors never contain newlines, so line breaks can be placed last.
    match flavour {
        Flavour::Mastodon => {
            let paragraphs: Vec<String> = split_paragraphs(&inline)
                .into_iter()
                .map(|p| format!("<p>{}</p>", p.replace('\n', "<br />")))
                .collect();
            paragraphs.concat()
        }
        Flavour::GoToSocial => format!("<p>{}</p>", inline.replace('\n', "<br>")),
    }
}

/// Splits at blank lines (two or more newlines).
fn split_paragraphs(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' && bytes.get(i + 1) == Some(&b'\n') {
            out.push(&s[start..i]);
            while i < bytes.len() && bytes[i] == b'\n' {
                i += 1;
            }
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&s[start..]);
    out
}

fn tag_link(flavour: Flavour, base_url: &str, name: &str) -> String {
    let href = format!("{base_url}/tags/{}", escape(&name.to_lowercase()));
    let name = escape(name);
    match flavour {
        Flavour::Mastodon => {
            format!(
                r#"<a href="{href}" class="mention hashtag" rel="tag">#<span>{name}</span></a>"#
            )
        }
        Flavour::GoToSocial => format!(
            r#"<a href="{href}" class="mention hashtag" rel="tag nofollow noreferrer noopener" target="_blank">#<span>{name}</span></a>"#
        ),
    }
}

fn mention_link(flavour: Flavour, base_url: &str, username: &str) -> String {
    let href = format!("{base_url}/@{}", escape(username));
    let user = escape(username);
    match flavour {
        Flavour::Mastodon => format!(
            r#"<span class="h-card" translate="no"><a href="{href}" class="u-url mention">@<span>{user}</span></a></span>"#
        ),
        Flavour::GoToSocial => format!(
            r#"<span class="h-card"><a href="{href}" class="u-url mention" rel="nofollow noreferrer noopener" target="_blank">@<span>{user}</span></a></span>"#
        ),
    }
}

fn url_link(flavour: Flavour, url: &str) -> String {
    let href = escape(url);
    match flavour {
        Flavour::Mastodon => {
            // Mastodon hides the scheme and elides what is past 30 characters.
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let shown: String = rest.chars().take(30).collect();
            let hidden: String = rest.chars().skip(30).collect();
            let class = if hidden.is_empty() { "" } else { "ellipsis" };
            format!(
                r#"<a href="{href}" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">{}://</span><span class="{class}">{}</span><span class="invisible">{}</span></a>"#,
                escape(scheme),
                escape(&shown),
                escape(&hidden)
            )
        }
        Flavour::GoToSocial => {
            format!(
                r#"<a href="{href}" rel="nofollow noreferrer noopener" target="_blank">{href}</a>"#
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_emphasis_outside_tags_only() {
        let html = r#"<p>a *b* **c** <a href="https://x.example/*y*">*z*</a> d*</p>"#;
        assert_eq!(
            emphasis(html),
            r#"<p>a <em>b</em> <strong>c</strong> <a href="https://x.example/*y*"><em>z</em></a> d*</p>"#
        );
    }

    const BASE: &str = "http://127.0.0.1:8089";

    fn known(u: &str) -> Option<String> {
        (u.eq_ignore_ascii_case("chatbot")).then(|| "chatbot".to_string())
    }

    #[test]
    fn gotosocial_markup_matches_the_recorded_question() {
        // gotosocial/07_post_bot_question.json
        let html = render_html(
            Flavour::GoToSocial,
            BASE,
            "#testchat Q1: What is the capital of France? [run 2fe2ee]",
            known,
        );
        assert_eq!(
            html,
            "<p><a href=\"http://127.0.0.1:8089/tags/testchat\" class=\"mention hashtag\" rel=\"tag nofollow noreferrer noopener\" target=\"_blank\">#<span>testchat</span></a> Q1: What is the capital of France? [run 2fe2ee]</p>"
        );
    }

    #[test]
    fn gotosocial_mention_markup_matches_the_recorded_reply() {
        // gotosocial/10_post_carol_unlisted_reply.json
        let html = render_html(
            Flavour::GoToSocial,
            BASE,
            "@chatbot A1: paris (unlisted, no hashtag)",
            known,
        );
        assert_eq!(
            html,
            "<p><span class=\"h-card\"><a href=\"http://127.0.0.1:8089/@chatbot\" class=\"u-url mention\" rel=\"nofollow noreferrer noopener\" target=\"_blank\">@<span>chatbot</span></a></span> A1: paris (unlisted, no hashtag)</p>"
        );
    }

    #[test]
    fn mastodon_markup_links_tags_mentions_and_urls_and_breaks_lines() {
        let html = render_html(
            Flavour::Mastodon,
            "https://example.social",
            "A1: <b>Paris</b> #TestChat @chatbot @nobody\nsee https://example.com/a.\n\nbye",
            known,
        );
        assert_eq!(
            html,
            "<p>A1: &lt;b&gt;Paris&lt;/b&gt; \
             <a href=\"https://example.social/tags/testchat\" class=\"mention hashtag\" rel=\"tag\">#<span>TestChat</span></a> \
             <span class=\"h-card\" translate=\"no\"><a href=\"https://example.social/@chatbot\" class=\"u-url mention\">@<span>chatbot</span></a></span> \
             @nobody<br />see \
             <a href=\"https://example.com/a\" target=\"_blank\" rel=\"nofollow noopener\" translate=\"no\"><span class=\"invisible\">https://</span><span class=\"\">example.com/a</span><span class=\"invisible\"></span></a>.</p>\
             <p>bye</p>"
        );
    }

    #[test]
    fn tags_are_lower_cased_and_deduplicated_and_need_a_letter() {
        assert_eq!(
            tags("#TestChat Q1 #testchat #42 #chat_2 a#b https://x.org/#frag"),
            vec!["testchat", "chat_2"]
        );
    }

    #[test]
    fn local_mentions_ignore_other_domains() {
        assert_eq!(
            local_mentions(
                "@chatbot @alice@127.0.0.1:8089 @bob@elsewhere.social mail@x.org",
                "127.0.0.1:8089"
            ),
            vec!["chatbot", "alice"]
        );
    }

    #[test]
    fn mastodon_counts_urls_as_23_and_gotosocial_counts_characters() {
        let url = format!("https://example.com/{}", "x".repeat(100));
        let text = format!("A1: {url}");
        assert_eq!(counted_length(Flavour::Mastodon, &text, ""), 4 + 23);
        assert_eq!(
            counted_length(Flavour::GoToSocial, &text, ""),
            text.chars().count()
        );
        assert_eq!(counted_length(Flavour::Mastodon, "héllo", "cw"), 7);
        assert_eq!(
            counted_length(Flavour::Mastodon, "@bob@elsewhere.social", ""),
            4
        );
    }
}
