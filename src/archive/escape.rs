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

/// The URL when it may become a link, normalised: `http:` or `https:`
/// only (never `javascript:`, `data:` or a relative path), without
/// whitespace, control characters or userinfo (`user:pass@` is dropped
/// with the whole URL, never shown). The result is what `url` serialises
/// (lower-case scheme, punycode host, non-ASCII percent-encoded), with any
/// character RFC 3986 forbids percent-encoded too, so it is a valid
/// `"format": "uri"` and safe in an attribute once HTML-escaped.
pub fn web_url(url: Option<&str>) -> Option<String> {
    let u = url?.trim();
    // The parser silently drops tabs and newlines; refuse them instead.
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let parsed = reqwest::Url::parse(u).ok()?;
    let web = matches!(parsed.scheme(), "http" | "https");
    let userinfo = !parsed.username().is_empty() || parsed.password().is_some();
    if !web || userinfo || parsed.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let s = parsed.as_str();
    // A special URL's serialisation is `scheme://host[:port]` then a path
    // starting with '/': only the rest can hold characters to encode.
    let authority_end = s.find("://").map(|i| i + 3)?;
    let path_start = s[authority_end..].find('/').map(|i| i + authority_end)?;
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..path_start]);
    out.push_str(&rfc3986_tail(&s[path_start..]));
    Some(out)
}

/// Path, query and fragment of a serialised URL with every character
/// RFC 3986 does not allow there percent-encoded: `%` not starting an
/// escape, `|`, `^`, `[`, `]`, a second `#` and the like.
fn rfc3986_tail(tail: &str) -> String {
    let bytes = tail.as_bytes();
    let mut out = String::with_capacity(tail.len());
    let mut in_fragment = false;
    for (i, &b) in bytes.iter().enumerate() {
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
        let escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if allowed || escape {
            out.push(char::from(b));
        } else if b == b'#' && !in_fragment {
            in_fragment = true;
            out.push('#');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
            // `empty()` empties the tags only: its default `lang` and
            // `title` on every tag would still pass (found by tests/fuzz.rs).
            .generic_attributes(HashSet::new())
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
    fn no_attribute_passes_on_every_tag() {
        // ammonia's generic `title` and `lang` passed on any tag, also
        // after foreign content (found by tests/fuzz.rs).
        for input in [
            r#"<p title="x" lang="en" dir="rtl">a</p>"#,
            r#"<svg><noscript><p title="</noscript><img src=x onerror=alert(1)>">a"#,
        ] {
            let out = sanitise(input);
            assert!(out.starts_with("<p>") && out.ends_with("</p>"), "{out}");
            assert!(!out.contains("title") && !out.contains("lang"), "{out}");
        }
        assert_eq!(
            sanitise(r#"<a title="t" lang="en" href="https://a.example/">k</a>"#),
            r#"<a href="https://a.example/" rel="nofollow noopener noreferrer ugc">k</a>"#
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

    #[test]
    fn web_urls_are_normalised_to_valid_uris() {
        let cases = [
            ("HTTPS://A.example", "https://a.example/"),
            (" https://a.example/@ann/1 ", "https://a.example/@ann/1"),
            (
                "https://bücher.example/@a/1",
                "https://xn--bcher-kva.example/@a/1",
            ),
            ("https://a.example/@a|b", "https://a.example/@a%7Cb"),
            ("https://a.example/@a\"b", "https://a.example/@a%22b"),
            ("https://a.example/%zz", "https://a.example/%25zz"),
            ("https://a.example/%7e", "https://a.example/%7e"),
            (
                "https://a.example/é?q=ü#f#g",
                "https://a.example/%C3%A9?q=%C3%BC#f%23g",
            ),
            (
                "https://a.example/?a[]=1^2",
                "https://a.example/?a%5B%5D=1%5E2",
            ),
            ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ];
        for (input, want) in cases {
            assert_eq!(web_url(Some(input)).as_deref(), Some(want), "{input}");
        }
        for refused in [
            "javascript:alert(1)",
            " JAVASCRIPT:x",
            "data:text/html,x",
            "ftp://a.example/x",
            "//evil.example/x",
            "/relative",
            "https://user:pass@a.example/x",
            "https://user@a.example/x",
            "https://a.example/x y",
            "https://a.example/x\ty",
            "https://a.example/x\ny",
            "https://a.example/\u{7}",
            "https://",
            "",
        ] {
            assert_eq!(web_url(Some(refused)), None, "{refused:?}");
        }
        assert_eq!(web_url(None), None);
    }
}
