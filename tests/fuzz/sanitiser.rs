//! The archive's sanitiser under hostile markup (see the crate doc of
//! `tests/fuzz.rs`): the published HTML is scanned tag by tag.

use chathost::archive;

use super::*;

/// Hostile markup: tags a post must not carry, handlers, script URLs in
/// every spelling, comments, CDATA, entity and case tricks.
fn hostile_piece() -> impl Strategy<Value = String> {
    let tag = prop::sample::select(vec![
        "script",
        "ScRiPt",
        "style",
        "svg",
        "iframe",
        "img",
        "object",
        "embed",
        "math",
        "a",
        "p",
        "span",
        "template",
        "noscript",
        "form",
        "input",
        "button",
        "base",
        "meta",
        "link",
        "textarea",
        "xmp",
        "plaintext",
        "title",
        "video",
        "audio",
        "source",
        "details",
        "select",
        "table",
        "b",
        "code",
        "li",
        "use",
        "animate",
        "set",
        "foreignObject",
        "frame",
    ]);
    let attr = prop::sample::select(vec![
        "onclick",
        "OnError",
        "onload",
        "onmouseover",
        "href",
        "src",
        "srcdoc",
        "style",
        "class",
        "formaction",
        "action",
        "xlink:href",
        "data",
        "poster",
        "background",
        "rel",
        "target",
        "id",
        "name",
        "dir",
    ]);
    let value = prop::sample::select(vec![
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "java&#x09;script:alert(1)",
        "&#106;avascript:alert(1)",
        "javascript&colon;alert(1)",
        " javascript:alert(1)",
        "\u{1}javascript:alert(1)",
        "data:text/html,<script>x</script>",
        "DATA:image/svg+xml;base64,PHN2Zz4=",
        "vbscript:x",
        "//evil.example/x",
        "/relative",
        "https://ok.example/p?a=1&b=2",
        "http://ok.example/",
        "invisible",
        "ellipsis",
        "mention hashtag",
        "alert(1)",
        "x\" onclick=\"alert(1)",
        "expression(alert(1))",
    ]);
    let quoted = (tag.clone(), attr, value).prop_map(|(t, a, v)| format!("<{t} {a}=\"{v}\">"));
    let unquoted = (
        tag.clone(),
        prop::sample::select(vec!["onerror", "href", "src"]),
    )
        .prop_map(|(t, a)| format!("<{t} {a}=javascript:alert(1)>"));
    prop_oneof![
        plain(),
        any::<String>(),
        quoted,
        unquoted,
        tag.clone().prop_map(|t| format!("<{t}>")),
        tag.prop_map(|t| format!("</{t}>")),
        prop::sample::select(vec![
            "<!-- <script>alert(1)</script> -->",
            "<![CDATA[<script>x</script>]]>",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "&#60;script&#62;",
            "<scr<script>ipt>",
            "<svg><script>alert(1)</script></svg>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<a href=\"https://ok.example\" onclick=alert(1)>",
            "<img/src=x/onerror=alert(1)>",
            "<svg/onload=alert(1)>",
            "<iframe src=\"javascript:alert(1)\"></iframe>",
            "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
            "\u{0}",
            "<",
            ">",
            "\"",
            "'",
            "&",
            "<style>@import 'x';</style>",
            "<p style=\"background:url(javascript:x)\">",
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
        ])
        .prop_map(str::to_string),
    ]
}

/// The sanitised HTML of each answer, as `chat.json` publishes it.
fn published_html(post_html: &str) -> (Vec<String>, String) {
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-02T20:00:00Z")
        .expect("a date")
        .with_timezone(&chrono::Utc);
    let answer = chathost::store::AnswerRecord {
        id: chathost::store::AnswerId(1),
        chat_id: chathost::store::ChatId(1),
        uri: "https://a.example/users/ann/statuses/1".into(),
        acct: "ann@a.example".into(),
        display_name: Some("Ann".into()),
        account_url: Some("https://a.example/@ann".into()),
        quotable: true,
        first_chat_id: Some(chathost::store::ChatId(1)),
        source: "tag".into(),
        remote_id: Some("1".into()),
        in_reply_to_id: None,
        question: Some(1),
        method: Some("prefix".into()),
        via_tag: true,
        via_reply: false,
        visibility: "public".into(),
        language: Some("en".into()),
        created_at: start + chrono::Duration::minutes(5),
        edited_at: None,
        deleted_at: None,
        text: Some("A1: text".into()),
        html: Some(post_html.to_string()),
        url: Some("https://a.example/@ann/1".into()),
        engagement: chathost::store::Engagement::default(),
    };
    let a = archive::ChatArchive {
        chat_id: chathost::store::ChatId(1),
        chat: "wenurses".into(),
        hashtag: "WeNurses".into(),
        topic: "Topic".into(),
        date: start.date_naive(),
        zone: chrono_tz::Europe::London,
        start,
        end: start + chrono::Duration::hours(1),
        instance_url: "https://a.example".into(),
        bot_acct: "bot@a.example".into(),
        questions: vec![archive::ArchiveQuestion {
            number: 1,
            text: "Q?".into(),
            posted_at: Some(start),
            url: None,
        }],
        answers: vec![answer],
        recap_url: None,
        archive_url: None,
        as_of: start + chrono::Duration::hours(2),
    };
    let rendered = archive::render(&a);
    let json: serde_json::Value = serde_json::from_str(&rendered.chat_json).expect("chat.json");
    let mut found = Vec::new();
    collect_html(&json, &mut found);
    (found, rendered.index_html)
}

fn collect_html(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x {
                    serde_json::Value::String(s) if k == "html" => out.push(s.clone()),
                    _ => collect_html(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_html(x, out)),
        _ => {}
    }
}

/// One tag of serialised HTML: its name and its attributes (values with
/// the entities the serialiser writes decoded).
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

/// Scans serialised HTML (every `<` in text is escaped, so each `<` opens
/// a tag): the tags, or why the markup is not well formed.
fn scan_tags(s: &str) -> Result<Vec<Tag>, String> {
    let mut tags = Vec::new();
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        let after = &rest[lt + 1..];
        let body_end = tag_end(after).ok_or_else(|| format!("unclosed tag in {s:?}"))?;
        if after.starts_with('!') {
            // The page's doctype (a comment would be one too).
            rest = &after[body_end + 1..];
            continue;
        }
        let body = after[..body_end].trim_start_matches('/');
        let name_end = body.find([' ', '/']).unwrap_or(body.len());
        let name = body[..name_end].to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("bad tag name {name:?} in {s:?}"));
        }
        let mut attrs = Vec::new();
        let mut a = body[name_end..].trim();
        while let Some(eq) = a.find("=\"") {
            let key = a[..eq].trim().to_ascii_lowercase();
            let val_end = a[eq + 2..].find('"').ok_or("unquoted attribute")?;
            let raw = &a[eq + 2..eq + 2 + val_end];
            let val = raw
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">");
            attrs.push((key, val.replace("&amp;", "&")));
            a = a[eq + 2 + val_end + 1..].trim();
        }
        if !a.trim_end_matches('/').trim().is_empty() {
            return Err(format!("stray attribute text {a:?} in {s:?}"));
        }
        tags.push(Tag { name, attrs });
        rest = &after[body_end + 1..];
    }
    Ok(tags)
}

/// Where the tag starting `s` ends (a `>` outside quoted values).
fn tag_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

const ALLOWED: [&str; 14] = [
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
];

/// A link is to a web page: `http(s)://` and nothing a browser would run.
fn web_link(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !v.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn check_sanitised(out: &str, input: &str) -> Result<(), TestCaseError> {
    let lower = out.to_ascii_lowercase();
    prop_assert!(!lower.contains("<script"), "{out:?} from {input:?}");
    let tags = scan_tags(out).map_err(TestCaseError::fail)?;
    for t in &tags {
        prop_assert!(
            ALLOWED.contains(&t.name.as_str()),
            "<{}> in {out:?}",
            t.name
        );
        for (k, v) in &t.attrs {
            let ok = match (t.name.as_str(), k.as_str()) {
                ("a", "href") => web_link(v),
                ("a", "rel") => v == "nofollow noopener noreferrer ugc",
                ("span", "class") => v.split(' ').all(|c| c == "invisible" || c == "ellipsis"),
                _ => false,
            };
            prop_assert!(ok, "<{} {k}=\"{v}\"> in {out:?} from {input:?}", t.name);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Whatever a server sends, the archive publishes the allowed tags
    /// only, links to web pages only: no script, handler or script URL.
    #[test]
    fn sanitiser_lets_no_markup_out(pieces in prop::collection::vec(hostile_piece(), 0..12)) {
        let input = pieces.concat();
        let (published, page) = published_html(&input);
        prop_assert_eq!(published.len(), 1, "the answer's html is published once");
        check_sanitised(&published[0], &input)?;
        // The page embeds the same: nothing runs there either.
        let page_lower = page.to_ascii_lowercase();
        prop_assert!(!page_lower.contains("<script"));
        prop_assert!(!page_lower.contains("<iframe") && !page_lower.contains("<object"));
        for t in scan_tags(&page).map_err(TestCaseError::fail)? {
            for (k, v) in &t.attrs {
                prop_assert!(!k.starts_with("on"), "<{} {k}> on the page", t.name);
                if k == "href" || k == "src" {
                    let v = v.trim().to_ascii_lowercase();
                    prop_assert!(
                        !v.starts_with("javascript:") && !v.starts_with("data:")
                            && !v.starts_with("vbscript:"),
                        "<{} {k}=\"{v}\"> on the page", t.name
                    );
                }
            }
        }
    }
}

/// The scanner itself catches what the property must reject.
#[test]
fn tag_scan_rejects_markup_the_sanitiser_must_not_let_out() {
    let fails = |s: &str| check_sanitised(s, "").is_err();
    assert!(fails("<script>x</script>"));
    assert!(fails("<p onclick=\"x\">a</p>"));
    assert!(fails("<a href=\"javascript:x\">a</a>"));
    assert!(fails("<a href=\"data:text/html,x\">a</a>"));
    assert!(fails("<img src=\"https://a.example/x\">"));
    assert!(fails("<span class=\"h-card\">x</span>"));
    assert!(fails("<p>unclosed <a"));
    assert!(!fails(
        "<p>ok <a href=\"https://a.example/?a=1&amp;b=2\" rel=\"nofollow noopener noreferrer ugc\">x</a> &lt;b&gt;</p>"
    ));
}
