//! Making strings safe for each output: HTML text and attributes, post
//! HTML through ammonia, Markdown, XML, and which URLs may become links.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// `s` escaped for HTML text or a quoted attribute value.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// `s` escaped for XML text or attributes (the Atom feed). Characters XML
/// 1.0 forbids (most control characters) are dropped.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The URL when it may become a link: `http:` or `https:` only (never
/// `javascript:`, `data:` or a relative path), without whitespace or
/// control characters.
pub fn web_url(url: Option<&str>) -> Option<&str> {
    let u = url?.trim();
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    let clean = !u.chars().any(|c| c.is_whitespace() || c.is_control());
    (web && clean && u.len() > "http://".len()).then_some(u)
}

/// Markdown-significant ASCII punctuation: escaped with a backslash so a
/// post's text stays text (no links, emphasis, HTML or headings).
const MD_SPECIAL: &str = "\\`*_{}[]()<>#+-.!|~&\"'=:";

/// One line of text escaped for Markdown.
fn markdown_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if MD_SPECIAL.contains(c) {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Text escaped for Markdown inside a list item: each line escaped, lines
/// kept apart by hard breaks and indented so they stay in the item.
pub fn markdown(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(markdown_line)
        .collect::<Vec<_>>()
        .join("\\\n  ")
}

/// A URL made safe as a Markdown link destination: characters that could
/// end it or open markup are percent-encoded.
pub fn markdown_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' | '<' | '>' | '(' | ')' | '[' | ']' | '"' | '\'' | '\\' | '`' | '*' | '_' => {
                out.push_str(&format!("%{:02X}", c as u32));
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The sanitiser for stored post HTML: the few tags a status uses, links
/// only to web pages, Mastodon's link-shortening spans, nothing else.
fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let tags: HashSet<&str> = [
            "p",
            "br",
            "a",
            "span",
            "em",
            "strong",
            "b",
            "i",
            "code",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "li",
        ]
        .into();
        let mut builder = ammonia::Builder::empty();
        builder
            .tags(tags)
            .tag_attributes(HashMap::from([("a", HashSet::from(["href"]))]))
            .allowed_classes(HashMap::from([(
                "span",
                HashSet::from(["invisible", "ellipsis"]),
            )]))
            .url_schemes(HashSet::from(["http", "https"]))
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("nofollow noopener noreferrer ugc"))
            // Their content is code, never text worth showing.
            .clean_content_tags(HashSet::from(["script", "style"]));
        builder
    })
}

/// A post's stored HTML made safe to embed: see [`cleaner`].
pub fn sanitise(post_html: &str) -> String {
    // A span whose classes were all dropped keeps an empty attribute.
    cleaner()
        .clean(post_html)
        .to_string()
        .replace(" class=\"\"", "")
}

/// A post's content as safe HTML: its stored HTML sanitised, else its
/// text escaped with line breaks kept; `None` when it has neither.
pub fn post_html(html_src: Option<&str>, text: Option<&str>) -> Option<String> {
    if let Some(h) = html_src {
        return Some(sanitise(h));
    }
    let t = text?;
    let lines: Vec<String> = t.lines().map(html).collect();
    Some(format!("<p>{}</p>", lines.join("<br>")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitiser_keeps_text_and_links_and_drops_the_rest() {
        let hostile = r#"<p onclick="x()">Hi <script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(2)">j</a> <a href="https://ok.example/p" class="evil" target="_blank">ok</a><style>body{}</style><span class="invisible">https://</span><span class="ellipsis" style="color:red">x</span><span class="h-card">c</span></p>"#;
        let out = sanitise(hostile);
        for bad in [
            "<script",
            "alert(1)",
            "<img",
            "onerror",
            "onclick",
            "javascript:",
            "<style",
            "style=",
            "evil",
            "target",
            "h-card",
        ] {
            assert!(!out.contains(bad), "{bad} in {out}");
        }
        assert!(out.contains(
            r#"<a href="https://ok.example/p" rel="nofollow noopener noreferrer ugc">ok</a>"#
        ));
        assert!(out.contains(r#"<span class="invisible">https://</span>"#));
        assert!(
            out.contains("Hi ") && out.contains(">j<"),
            "text stays: {out}"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            html(r#"<b a="1">&'"#),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;"
        );
        assert_eq!(xml("a<b>&\u{1}'"), "a&lt;b&gt;&amp;&apos;");
        assert_eq!(web_url(Some("javascript:alert(1)")), None);
        assert_eq!(web_url(Some(" JAVASCRIPT:x")), None);
        assert_eq!(web_url(Some("//evil.example/x")), None);
        assert_eq!(web_url(Some("https://a.example/x y")), None);
        assert_eq!(
            web_url(Some("HTTPS://a.example/")),
            Some("HTTPS://a.example/")
        );
        assert_eq!(
            markdown("[x](javascript:y) <b>"),
            r"\[x\]\(javascript\:y\) \<b\>"
        );
        assert_eq!(markdown("one\n\ntwo"), "one\\\n  two");
        assert_eq!(
            markdown_url("https://a.example/(x) y"),
            "https://a.example/%28x%29%20y"
        );
        assert_eq!(
            post_html(None, Some("a <b>\nc")).as_deref(),
            Some("<p>a &lt;b&gt;<br>c</p>")
        );
    }
}
