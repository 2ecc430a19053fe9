//! The archive's rendering, against the fixture's realistic chat date.

use std::collections::BTreeMap;

use super::fixture::{self, chat};
use super::*;

/// Every tag in `markup`: its lower-cased name and attribute text.
fn tags(markup: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = markup;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!' || *c == '?')
            .collect();
        out.push((name.to_ascii_lowercase(), tag.to_ascii_lowercase()));
    }
    out
}

/// No markup that runs code, loads anything or restyles the page.
fn assert_inert(markup: &str, allowed: &[&str]) {
    for (name, tag) in tags(markup) {
        assert!(
            allowed.contains(&name.as_str()),
            "<{name}> in output: <{tag}>"
        );
        let attrs: Vec<&str> = tag.split_whitespace().skip(1).collect();
        for a in attrs {
            assert!(!a.starts_with("on"), "event handler in <{tag}>");
            assert!(!a.starts_with("src="), "a fetch in <{tag}>");
            assert!(!a.starts_with("style="), "a style attribute in <{tag}>");
        }
        assert!(!tag.contains("javascript:"), "a script URL in <{tag}>");
    }
}

const PAGE_TAGS: &[&str] = &[
    "!doctype",
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "h3",
    "nav",
    "p",
    "a",
    "main",
    "section",
    "ol",
    "li",
    "span",
    "time",
    "div",
    "em",
    "strong",
    "b",
    "i",
    "code",
    "pre",
    "blockquote",
    "ul",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "footer",
    "svg",
    "desc",
    "g",
    "line",
    "text",
    "rect",
    "br",
];

#[test]
fn stats_count_everyone_name_only_the_quotable() {
    let s = stats(&chat());
    assert_eq!((s.participants, s.answers, s.first_timers), (6, 7, 1));
    assert_eq!(s.per_question, BTreeMap::from([(1, 2), (2, 2), (3, 2)]));
    assert_eq!(s.before_first_question, 1);
    let top: Vec<(&str, usize)> = s
        .top_contributors
        .iter()
        .map(|c| (c.name.as_str(), c.answers))
        .collect();
    assert_eq!(
        top,
        [
            ("ann RN", 2),
            ("bob RN", 1),
            ("dee RN", 1),
            ("eve RN", 1),
            ("<b onmouseover=alert(3)>Mal</b>", 1)
        ]
    );
    assert!(s.top_contributors.iter().all(|c| !c.acct.contains("zelda")));
    assert_eq!(
        s.top_contributors[4].url, None,
        "a javascript: profile is no link"
    );
    assert_eq!((s.not_quoted.participants, s.not_quoted.answers), (1, 1));
    assert_eq!(
        s.links,
        [(
            "https://guidelines.example/handover/2026/long-path".to_string(),
            1
        )]
    );
    assert_eq!(
        s.hashtags,
        [("sleep".to_string(), 2), ("handover".to_string(), 1)]
    );
    let busiest = s
        .busiest_minute
        .as_ref()
        .map(|b| (b.local.as_str(), b.answers));
    assert_eq!(busiest, Some(("20:15", 2)));
    let servers: Vec<(&str, usize)> = s.servers.iter().map(|(d, n)| (d.as_str(), *n)).collect();
    // Only named participants: the counted-only account's one-person
    // server would name it.
    assert_eq!(
        servers,
        [
            ("nurses.example", 3),
            ("bot.example", 1),
            ("evil.example", 1)
        ]
    );
}

#[test]
fn counted_only_answers_add_no_hashtag_or_server() {
    let mut a = chat();
    let mut hidden = fixture::answer("hid", 21, Some(1), 8, "A1: #SecretWard #sleep");
    hidden.quotable = false;
    hidden.acct = "hid@hidden.example".into();
    a.answers.push(hidden);
    let s = stats(&a);
    assert_eq!(
        s.hashtags,
        [("sleep".to_string(), 2), ("handover".to_string(), 1)],
        "a counted-only answer's hashtags are not listed"
    );
    assert!(s.servers.iter().all(|(d, _)| d != "hidden.example"));
    assert_eq!((s.not_quoted.participants, s.not_quoted.answers), (2, 2));
    assert_eq!((s.participants, s.answers), (7, 8), "still counted");
}

#[test]
fn shared_links_skip_mentions_tags_deleted_and_counted_only() {
    let mut a = chat();
    let mut again = fixture::answer("fay", 20, Some(1), 7, "");
    again.html = Some(format!(
        "{}{}",
        fixture::LINKED_HTML,
        r#"<a href="https://b.example/x">b</a><a href="https://b.example/x">b</a>"#
    ));
    let mut gone = again.clone();
    gone.deleted_at = Some(fixture::at(30));
    let mut hidden = again.clone();
    hidden.quotable = false;
    a.answers.extend([again, gone, hidden]);
    let links = shared_links(&a.answers);
    assert_eq!(
        links,
        [
            (
                "https://guidelines.example/handover/2026/long-path".to_string(),
                2
            ),
            ("https://b.example/x".to_string(), 1),
        ]
    );
}

#[test]
fn hostile_content_stays_text_in_the_page() {
    let r = render(&chat());
    assert_inert(&r.index_html, PAGE_TAGS);
    let page = &r.index_html;
    // The markup went, its text stayed.
    assert!(page.contains("Look "), "the hostile post's text is shown");
    assert!(
        page.contains("&lt;script&gt;typed&lt;/script&gt;"),
        "typed markup shows as text"
    );
    assert!(
        page.contains("&lt;b onmouseover=alert(3)&gt;Mal&lt;/b&gt;"),
        "the name shows as text"
    );
    assert!(page.contains("Handover &amp; &lt;rest&gt;") && page.contains("One &lt;tip&gt;?"));
    assert!(!page.contains("alert(1)") && !page.contains("body{display:none}"));
    // Only our own stylesheet: one <style>, in the head.
    assert_eq!(page.matches("<style>").count(), 1);
    // The plain-text answer is escaped, its lines kept.
    assert!(page.contains("A3: [click](javascript:x) &lt;i&gt;hi&lt;/i&gt;<br>second line"));
}

#[test]
fn the_page_requests_nothing() {
    let r = render(&chat());
    let page = &r.index_html;
    assert!(page.contains(r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">"#));
    assert!(
        page.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#)
    );
    assert!(page.contains("@media print") && page.contains("@media (max-width"));
    for fetch in [
        "<link",
        "<script",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "@import",
        "url(",
        "@font-face",
        "src=",
    ] {
        assert!(!page.contains(fetch), "{fetch} in the page");
    }
    assert!(
        page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "the chart is inline"
    );
    assert!(
        page.contains(r#"href="https://bot.example/@chat/99""#),
        "the recap thread is linked"
    );
}

#[test]
fn consent_and_deletions_hold_in_all_four_files() {
    let mut a = chat();
    // The counted-only answer's exact second and edit would match it to
    // its post.
    let second = chrono::Duration::seconds(37);
    for x in a.answers.iter_mut().filter(|x| !x.quotable) {
        x.created_at = fixture::at(15) + second;
        x.edited_at = Some(fixture::at(17) + second);
    }
    let r = render(&a);
    for (name, text) in [
        ("index", &r.index_html),
        ("md", &r.transcript_md),
        ("json", &r.chat_json),
        ("svg", &r.activity_svg),
    ] {
        for secret in [
            "zelda_private",
            "quiet.example",
            ":37",
            "DELETED-SECRET",
            "cat RN",
            "cat@nurses",
            "/@cat",
        ] {
            assert!(!text.contains(secret), "{secret} in {name}");
        }
    }
    assert!(
        r.index_html
            .contains("And 1 answer from people who asked not to be quoted.")
    );
    assert!(
        r.transcript_md
            .contains("1 answer from people who asked not to be quoted")
    );
    // Counted-only is kept in the data, without anything that names it.
    let doc: serde_json::Value = serde_json::from_str(&r.chat_json).unwrap_or_default();
    let answers = doc["answers"].as_array().cloned().unwrap_or_default();
    assert_eq!(answers.len(), 7, "every visible answer, none deleted");
    let hidden: Vec<&serde_json::Value> =
        answers.iter().filter(|x| x["account"].is_null()).collect();
    assert_eq!(hidden.len(), 1);
    for field in ["uri", "url", "text", "html", "edited_at"] {
        assert!(
            hidden[0][field].is_null(),
            "{field} of a counted-only answer"
        );
    }
    assert_eq!(
        hidden[0]["created_at"], "2026-12-02T20:15:00Z",
        "the minute"
    );
    let quoted = answers.iter().find(|x| !x["account"].is_null());
    assert!(
        quoted.is_some_and(|x| x["created_at"].is_string()),
        "a quotable answer keeps its time"
    );
    assert_eq!(doc["stats"]["answers"], 7);
}

#[test]
fn answers_sit_under_their_question_in_time_order_with_edits_marked() {
    let r = render(&chat());
    let page = &r.index_html;
    let pos = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(pos("Before the first question") < pos("Hello all"));
    assert!(pos("Hello all") < pos("id=\"q1\""));
    let q1 = pos("id=\"q1\"");
    let after = |s: &str| q1 + page[q1..].find(s).unwrap_or(page.len());
    assert!(after("ann RN</a>") < after("bob RN</a>"), "time order");
    assert!(pos("bob RN</a>") < pos("id=\"q2\""));
    assert_eq!(
        page.matches("class=\"edited\"").count(),
        1,
        "bob's answer, once"
    );
    assert!(page.contains("title=\"edited at 20:09\">edited</span>"));
    assert!(
        r.transcript_md
            .contains("- **bob RN** (20:06, edited): A1\\: a \\*kind\\* word")
    );
    assert!(
        !r.transcript_md.contains("(20:05, edited)"),
        "only the edited answer"
    );
    let doc: serde_json::Value = serde_json::from_str(&r.chat_json).unwrap_or_default();
    assert_eq!(doc["answers"][2]["edited_at"], "2026-12-02T20:09:00Z");
    // Mastodon's shortened link keeps its spans (styled by the page).
    assert!(page.contains("<span class=\"ellipsis\">guidelines.example/handover/20</span>"));
    // A javascript: link never becomes a link, as account or question.
    assert!(!page.contains("href=\"javascript") && page.contains("<span class=\"who\">"));
}

#[test]
fn the_transcript_cannot_be_injected() {
    let md = render(&chat()).transcript_md;
    assert!(md.contains("\\[click\\]\\(javascript\\:x\\) \\<i\\>hi\\</i\\>\\\n  second line"));
    assert!(md.contains("\\<b onmouseover\\=alert\\(3\\)\\>Mal\\</b\\>"));
    assert!(md.contains("[link](https://nurses.example/@ann/1)"));
    // Every '<' is escaped or opens one of our own autolinks.
    for (i, _) in md.match_indices('<') {
        let escaped = i > 0 && md.as_bytes()[i - 1] == b'\\';
        assert!(
            escaped || md[i..].starts_with("<https://"),
            "raw < at {}",
            &md[i..md.len().min(i + 20)]
        );
    }
    assert!(md.starts_with("# \\#WeNurses\\: Handover \\& \\<rest\\>"));
}

#[test]
fn the_chart_marks_questions_and_minutes() {
    let svg = render(&chat()).activity_svg;
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains(
        "<title id=\"activity-title\">#WeNurses on 2026-12-02: answers per minute</title>"
    ));
    assert!(svg.contains("<desc id=\"activity-desc\">7 answers from 20:00 to 20:56"));
    for q in ["Q1", "Q2", "Q3"] {
        assert!(svg.contains(&format!(">{q}</text>")), "{q} marked");
    }
    assert_eq!(
        svg.matches("<rect").count(),
        6,
        "one bar per minute with answers"
    );
    assert!(svg.contains("<title>20:15 2</title>"));
    assert!(svg.contains(">20:30</text>"), "local time on the axis");
    assert_inert(&svg, &["svg", "title", "desc", "g", "line", "text", "rect"]);
    assert!(!svg.contains("href") && !svg.contains("<script"));
}

#[test]
fn output_depends_on_the_input_alone() {
    let a = chat();
    let mut shuffled = a.clone();
    shuffled.answers.reverse();
    assert_eq!(render(&a), render(&shuffled));
    let mut later = a.clone();
    later.as_of = fixture::at(58);
    assert_ne!(
        render(&a).chat_json,
        render(&later).chat_json,
        "as_of is in the output"
    );
}

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let raw: serde_json::Value =
        serde_json::from_str(include_str!("chat.schema.json")).expect("the schema is JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    compiler
        .add_resource("urn:chathost:chat.schema.json", raw)
        .expect("schema added");
    let index = compiler
        .compile("urn:chathost:chat.schema.json", &mut schemas)
        .expect("schema compiles");
    (schemas, index)
}

#[test]
fn chat_json_is_valid_against_its_schema() {
    let (schemas, index) = schema();
    let mut a = chat();
    a.archive_url = Some("https://nurses.example/archive/wenurses/2026-12-02/".into());
    // URLs a server may send that `"format": "uri"` rejects as they are.
    a.answers[0].url = Some("https://bücher.example/@a/1".into());
    a.answers[0].account_url = Some("https://nurses.example/@a|b".into());
    a.questions[1].url = Some("https://bot.example/@a\"b".into());
    a.recap_url = Some("https://bot.example/%zz".into());
    let json = render(&a).chat_json;
    let doc: serde_json::Value = serde_json::from_str(&json).expect("chat.json is JSON");
    if let Err(e) = schemas.validate(&doc, index) {
        panic!("chat.json invalid: {e:#}");
    }
    // Kept, normalised, not dropped.
    for url in [
        "https://xn--bcher-kva.example/@a/1",
        "https://nurses.example/@a%7Cb",
        "https://bot.example/@a%22b",
        "https://bot.example/%25zz",
    ] {
        assert!(json.contains(&format!("\"{url}\"")), "{url} in chat.json");
    }
    // An empty chat is valid too (no busiest minute, no answers).
    let mut empty = chat();
    empty.answers.clear();
    empty.recap_url = None;
    let doc: serde_json::Value = serde_json::from_str(&render(&empty).chat_json).expect("JSON");
    assert!(doc["stats"]["busiest_minute"].is_null());
    assert!(schemas.validate(&doc, index).is_ok());
}

#[test]
fn the_schema_rejects_a_broken_document() {
    let (schemas, index) = schema();
    let good: serde_json::Value = serde_json::from_str(&render(&chat()).chat_json).expect("JSON");
    type Breakage = fn(&mut serde_json::Value);
    let breakages: [(&str, Breakage); 6] = [
        ("no stats", |d| {
            drop(d.as_object_mut().map(|o| o.remove("stats")))
        }),
        ("an extra field", |d| d["surprise"] = true.into()),
        ("another version", |d| d["schema_version"] = 2.into()),
        ("a bad date", |d| d["date"] = "2 Dec".into()),
        ("a count as text", |d| {
            d["answers"][0]["engagement"]["favourites"] = "1".into()
        }),
        ("a script URL", |d| {
            d["recap_url"] = "javascript:alert(1)".into()
        }),
    ];
    for (what, breakage) in breakages {
        let mut doc = good.clone();
        breakage(&mut doc);
        assert!(
            schemas.validate(&doc, index).is_err(),
            "{what} was accepted"
        );
    }
}

#[test]
fn the_schema_describes_every_property() {
    fn walk(v: &serde_json::Value, path: &str) {
        if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
            let required: Vec<&str> = v["required"]
                .as_array()
                .map(|r| r.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            assert_eq!(v["additionalProperties"], false, "{path} is closed");
            for (name, p) in props {
                assert!(
                    p.get("description").is_some_and(|d| d.is_string()),
                    "{path}.{name} undescribed"
                );
                assert!(required.contains(&name.as_str()), "{path}.{name} required");
                walk(p, &format!("{path}.{name}"));
            }
        }
        for key in ["items"] {
            if let Some(x) = v.get(key) {
                walk(x, path);
            }
        }
        for x in v
            .get("oneOf")
            .and_then(|o| o.as_array())
            .into_iter()
            .flatten()
        {
            walk(x, path);
        }
    }
    let raw: serde_json::Value =
        serde_json::from_str(include_str!("chat.schema.json")).expect("JSON");
    walk(&raw, "$");
}
