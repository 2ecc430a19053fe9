//! `activity.svg`: answers per minute as bars over the chat's hour (and
//! any late answers up to an hour after), each question's moment marked
//! `Q1`…`Qn`, local times on the axis. Standalone (xmlns), no external
//! references, no script; titled and described for screen readers.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Duration, Timelike, Utc};

use super::escape;
use super::json::in_order;
use super::model::ChatArchive;

const WIDTH: i64 = 720;
const HEIGHT: i64 = 260;
const LEFT: i64 = 40;
const RIGHT: i64 = 10;
const TOP: i64 = 24;
const BOTTOM: i64 = 36;

/// How far before the start and after the wrap-up the chart reaches to
/// show early and late answers.
const EARLY: Duration = Duration::minutes(30);
const LATE: Duration = Duration::minutes(60);

/// The minute of `t` since the epoch.
fn minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

/// The chart's first minute and its number of minutes.
fn span(a: &ChatArchive) -> (i64, i64) {
    let answers = in_order(a);
    let first = answers.first().map_or(a.start, |x| x.created_at);
    let last = answers.last().map_or(a.end, |x| x.created_at);
    let lo = minute(first.max(a.start - EARLY).min(a.start));
    let hi = minute(last.min(a.end + LATE).max(a.end)) + 1;
    (lo, (hi - lo).max(1))
}

/// The local `HH:MM` of an epoch minute.
fn local(a: &ChatArchive, m: i64) -> String {
    match DateTime::from_timestamp(m * 60, 0) {
        Some(t) => {
            let t = t.with_timezone(&a.zone);
            format!("{:02}:{:02}", t.hour(), t.minute())
        }
        None => String::new(),
    }
}

/// The activity chart of `a`.
pub fn render(a: &ChatArchive) -> String {
    let (lo, n) = span(a);
    let mut per: BTreeMap<i64, usize> = BTreeMap::new();
    for x in in_order(a) {
        let m = minute(x.created_at);
        if (lo..lo + n).contains(&m) {
            *per.entry(m).or_insert(0) += 1;
        }
    }
    let drawn: usize = per.values().sum();
    let max = per.values().copied().max().unwrap_or(0).max(1) as i64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_of = |m: i64| LEFT + (m - lo) * plot_w / n;
    let title = format!(
        "#{} on {}: answers per minute",
        a.hashtag,
        a.date.format("%Y-%m-%d")
    );
    let desc = format!(
        "{drawn} answers from {} to {} ({}), busiest minute {} answers; {} questions marked.",
        local(a, lo),
        local(a, lo + n),
        a.zone.name(),
        per.values().max().unwrap_or(&0),
        a.questions.len()
    );
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-labelledby=\"activity-title activity-desc\" class=\"activity\">\n<title id=\"activity-title\">{}</title>\n<desc id=\"activity-desc\">{}</desc>\n",
        escape::xml(&title),
        escape::xml(&desc)
    );
    let base = TOP + plot_h;
    let _ = writeln!(
        s,
        "<g font-family=\"sans-serif\" font-size=\"11\" fill=\"#333\">\n<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#555\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{max}</text>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
        WIDTH - RIGHT,
        LEFT - 4,
        TOP + 8,
        LEFT - 4,
        base
    );
    let bar_w = (plot_w / n - 1).max(1);
    for (m, count) in &per {
        let h = (*count as i64) * plot_h / max;
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{bar_w}\" height=\"{h}\" fill=\"#2a6f97\"><title>{} {count}</title></rect>",
            x_of(*m),
            base - h,
            local(a, *m)
        );
    }
    axis(&mut s, a, lo, n, &x_of, base);
    for q in &a.questions {
        let Some(at) = q.posted_at else { continue };
        let m = minute(at);
        if !(lo..lo + n).contains(&m) {
            continue;
        }
        let x = x_of(m);
        let _ = writeln!(
            s,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{base}\" stroke=\"#c0392b\" stroke-dasharray=\"3 3\"/>\n<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" fill=\"#c0392b\">Q{}</text>",
            TOP - 2,
            TOP - 6,
            q.number
        );
    }
    s.push_str("</g>\n</svg>\n");
    s
}

/// Ticks and local-time labels every 10 minutes (15 or 30 when long).
fn axis(s: &mut String, a: &ChatArchive, lo: i64, n: i64, x_of: &dyn Fn(i64) -> i64, base: i64) {
    let step = match n {
        0..=90 => 10,
        91..=180 => 15,
        _ => 30,
    };
    let first = lo + (step - lo.rem_euclid(step)) % step;
    let mut m = first;
    while m <= lo + n {
        let x = x_of(m);
        let _ = writeln!(
            s,
            "<line x1=\"{x}\" y1=\"{base}\" x2=\"{x}\" y2=\"{}\" stroke=\"#555\"/>\n<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            base + 4,
            base + 16,
            local(a, m)
        );
        m += step;
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">local time ({})</text>",
        LEFT + (WIDTH - LEFT - RIGHT) / 2,
        HEIGHT - 4,
        escape::xml(a.zone.name())
    );
}
