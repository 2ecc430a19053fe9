//! The JSON a client sees: instance info, accounts, statuses, edit history,
//! tags and notifications, with the fields and shapes of each flavour's
//! recorded answers (`shared/samples/`), and what megalodon 1.3 needs to
//! decode them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::flavour::Flavour;
use super::notify::Notification;
use super::state::{State, Status, Version};

/// Timestamps as both servers write them: milliseconds, `Z`.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn streaming_url(state: &State) -> String {
    let scheme = if state.flavour.advertises_wss() {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{}", state.domain)
}

fn statuses_config(state: &State, max_media: u32) -> Value {
    let mut v = json!({
        "max_characters": state.max_characters,
        "max_media_attachments": max_media,
        "characters_reserved_per_url": state.flavour.characters_reserved_per_url(),
    });
    if state.flavour == Flavour::GoToSocial {
        v["supported_mime_types"] = json!(["text/plain", "text/markdown"]);
    }
    v
}

fn media_config() -> Value {
    json!({
        "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
        "image_size_limit": 16777216,
        "image_matrix_limit": 33177600,
        "video_size_limit": 103809024,
        "video_frame_rate_limit": 120,
        "video_matrix_limit": 8294400
    })
}

fn polls_config() -> Value {
    json!({
        "max_options": 4,
        "max_characters_per_option": 50,
        "min_expiration": 300,
        "max_expiration": 2629746
    })
}

/// `GET /api/v1/instance`. GoToSocial's has no `contact_account`, which is
/// why megalodon's `SNS::Mastodon` cannot decode it (a recorded fact).
pub fn instance_v1(state: &State) -> Value {
    let status_count = state
        .statuses
        .values()
        .filter(|s| s.deleted_at.is_none())
        .count();
    let stats = json!({
        "user_count": state.accounts.len(),
        "status_count": status_count,
        "domain_count": 0
    });
    match state.flavour {
        Flavour::Mastodon => json!({
            "uri": state.domain,
            "title": "chathost sandbox",
            "short_description": "A chathost sandbox imitating Mastodon.",
            "description": "A chathost sandbox imitating Mastodon.",
            "email": "",
            "version": state.flavour.version(),
            "urls": { "streaming_api": streaming_url(state) },
            "stats": stats,
            "thumbnail": format!("{}/packs/media/images/preview.png", state.base_url),
            "languages": ["en"],
            "registrations": false,
            "approval_required": false,
            "invites_enabled": false,
            "configuration": {
                "accounts": { "max_featured_tags": 10, "max_pinned_statuses": 5 },
                "statuses": statuses_config(state, 4),
                "media_attachments": media_config(),
                "polls": polls_config()
            },
            "contact_account": account(state, 0, false),
            "rules": []
        }),
        Flavour::GoToSocial => json!({
            "uri": state.domain,
            "account_domain": state.domain,
            "title": state.domain,
            "description": "",
            "short_description": "",
            "email": "",
            "version": state.flavour.version(),
            "languages": [],
            "registrations": false,
            "approval_required": true,
            "invites_enabled": false,
            "configuration": {
                "statuses": statuses_config(state, 6),
                "media_attachments": media_config(),
                "polls": polls_config(),
                "accounts": { "allow_custom_css": false, "max_featured_tags": 10, "max_profile_fields": 6 },
                "emojis": { "emoji_size_limit": 51200 }
            },
            "urls": { "streaming_api": streaming_url(state) },
            "stats": stats,
            "thumbnail": format!("{}/assets/logo.webp", state.base_url),
            "max_toot_chars": state.max_characters,
            "rules": []
        }),
    }
}

/// `GET /api/v2/instance`.
pub fn instance_v2(state: &State) -> Value {
    match state.flavour {
        Flavour::Mastodon => json!({
            "domain": state.domain,
            "title": "chathost sandbox",
            "version": state.flavour.version(),
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A chathost sandbox imitating Mastodon.",
            "usage": { "users": { "active_month": state.accounts.len() } },
            "thumbnail": { "url": format!("{}/packs/media/images/preview.png", state.base_url) },
            "languages": ["en"],
            "configuration": {
                "urls": { "streaming": streaming_url(state) },
                "accounts": { "max_featured_tags": 10, "max_pinned_statuses": 5 },
                "statuses": statuses_config(state, 4),
                "media_attachments": media_config(),
                "polls": polls_config(),
                "translation": { "enabled": false }
            },
            "registrations": { "enabled": false, "approval_required": false, "message": null },
            "api_versions": { "mastodon": 2 },
            "contact": { "email": "", "account": account(state, 0, false) },
            "rules": []
        }),
        Flavour::GoToSocial => json!({
            "domain": state.domain,
            "account_domain": state.domain,
            "title": state.domain,
            "version": state.flavour.version(),
            "source_url": "https://codeberg.org/superseriousbusiness/gotosocial",
            "description": "",
            "usage": { "users": { "active_month": 0 } },
            "thumbnail": { "url": format!("{}/assets/logo.webp", state.base_url) },
            "languages": [],
            "configuration": {
                "urls": { "streaming": streaming_url(state) },
                "accounts": { "allow_custom_css": false, "max_featured_tags": 10, "max_profile_fields": 6 },
                "statuses": statuses_config(state, 6),
                "media_attachments": media_config(),
                "polls": polls_config(),
                "translation": { "enabled": false },
                "emojis": { "emoji_size_limit": 51200 }
            },
            "registrations": { "enabled": false, "approval_required": true, "message": null },
            "contact": { "email": "" },
            "rules": []
        }),
    }
}

/// `/.well-known/nodeinfo`, so `megalodon::detector` can tell the flavour.
pub fn nodeinfo_links(state: &State) -> Value {
    json!({ "links": [{
        "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
        "href": format!("{}/nodeinfo/2.0", state.base_url)
    }]})
}

/// `/nodeinfo/2.0`.
pub fn nodeinfo(state: &State) -> Value {
    json!({
        "version": "2.0",
        "software": { "name": state.flavour.software(), "version": state.flavour.version() },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": [] },
        "openRegistrations": false,
        "usage": { "users": { "total": state.accounts.len() }, "localPosts": state.statuses.len() },
        "metadata": {}
    })
}

/// An account; `credentials` adds `source` and `role` as
/// `verify_credentials` and `update_credentials` do.
pub fn account(state: &State, index: usize, credentials: bool) -> Value {
    let a = &state.accounts[index];
    let base = &state.base_url;
    let last_status_at = a.last_status_at.map(|t| t.format("%Y-%m-%d").to_string());
    let note = if a.note.is_empty() {
        String::new()
    } else {
        super::content::render_html(state.flavour, base, &a.note, |_| None)
    };
    let mut v = match state.flavour {
        Flavour::Mastodon => json!({
            "id": a.id.as_str(),
            "username": a.username,
            "acct": a.username,
            "display_name": a.display_name,
            "locked": false,
            "bot": a.bot,
            "discoverable": a.discoverable,
            "indexable": false,
            "group": false,
            // Mastodon rounds account creation to the day.
            "created_at": time(a.created_at.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
            "note": note,
            "url": format!("{base}/@{}", a.username),
            "uri": format!("{base}/users/{}", a.username),
            "avatar": format!("{base}/avatars/original/missing.png"),
            "avatar_static": format!("{base}/avatars/original/missing.png"),
            "header": format!("{base}/headers/original/missing.png"),
            "header_static": format!("{base}/headers/original/missing.png"),
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": a.statuses_count,
            "last_status_at": last_status_at,
            "hide_collections": null,
            "noindex": a.noindex,
            "emojis": [],
            "roles": [],
            "fields": []
        }),
        Flavour::GoToSocial => json!({
            "id": a.id.as_str(),
            "username": a.username,
            "acct": a.username,
            "display_name": a.display_name,
            "locked": true,
            // GoToSocial 0.19 sends no `noindex` (gotosocial/04..06_*); an
            // opted-out account shows only as `discoverable: false`.
            "discoverable": a.discoverable,
            "bot": a.bot,
            "created_at": time(a.created_at),
            "note": note,
            "url": format!("{base}/@{}", a.username),
            "avatar": format!("{base}/assets/default_avatars/GoToSocial_icon{}.webp", 1 + index % 6),
            "avatar_static": format!("{base}/assets/default_avatars/GoToSocial_icon{}.webp", 1 + index % 6),
            "avatar_description": "Grayed-out line drawing of a cute sloth (default avatar).",
            "header": format!("{base}/assets/default_header.webp"),
            "header_static": format!("{base}/assets/default_header.webp"),
            "header_description": "Flat gray background (default header).",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": a.statuses_count,
            "last_status_at": last_status_at,
            "emojis": [],
            "fields": [],
            "group": false
        }),
    };
    if credentials {
        let (source, role) = match state.flavour {
            Flavour::Mastodon => (
                json!({
                    "privacy": "public", "sensitive": false, "language": null,
                    "note": a.note, "fields": [], "follow_requests_count": 0,
                    "hide_collections": false, "discoverable": a.discoverable, "indexable": false,
                    "attribution_domains": []
                }),
                json!({ "id": "-99", "name": "", "permissions": "65536", "color": "", "highlighted": false }),
            ),
            Flavour::GoToSocial => (
                json!({
                    "privacy": "public", "web_visibility": "unlisted", "web_layout": "microblog",
                    "sensitive": false, "language": "en", "status_content_type": "text/plain",
                    "note": a.note, "fields": [], "follow_requests_count": 0
                }),
                json!({ "id": "user", "name": "user", "color": "", "permissions": "0", "highlighted": false }),
            ),
        };
        v["source"] = source;
        v["role"] = role;
    }
    v
}

/// A status's `uri` (ActivityPub id): unique across sandboxes, since the
/// base URL holds the port. A Mastodon boost's ends in `/activity`.
pub fn status_uri(state: &State, s: &Status) -> String {
    let username = &state.accounts[s.author].username;
    let uri = format!("{}/users/{username}/statuses/{}", state.base_url, s.id);
    match (&s.reblog_of, state.flavour) {
        (Some(_), Flavour::Mastodon) => format!("{uri}/activity"),
        _ => uri,
    }
}

/// A status as the API shows it to nobody in particular.
pub fn status(state: &State, s: &Status) -> Value {
    status_for(state, s, None)
}

/// A status as `viewer` sees it (`favourited` and `reblogged` are theirs);
/// a boost wraps the boosted status in `reblog`.
pub fn status_for(state: &State, s: &Status, viewer: Option<usize>) -> Value {
    let a = &state.accounts[s.author];
    let base = &state.base_url;
    let v = s.current();
    let mentions: Vec<Value> = s
        .mentions
        .iter()
        .map(|&m| {
            let ma = &state.accounts[m];
            json!({
                "id": ma.id.as_str(),
                "username": ma.username,
                "url": format!("{base}/@{}", ma.username),
                "acct": ma.username
            })
        })
        .collect();
    let tags: Vec<Value> = s
        .tags
        .iter()
        .map(|t| json!({ "name": t, "url": format!("{base}/tags/{t}") }))
        .collect();
    let in_reply_to_account_id = s
        .in_reply_to_account
        .map(|i| state.accounts[i].id.as_str().to_string());
    let uri = status_uri(state, s);
    let url = match state.flavour {
        Flavour::Mastodon => format!("{base}/@{}/{}", a.username, s.id),
        Flavour::GoToSocial => format!("{base}/@{}/statuses/{}", a.username, s.id),
    };
    let reblog = s
        .reblog_of
        .as_ref()
        .and_then(|o| state.statuses.get(o))
        .map_or(Value::Null, |o| status_for(state, o, viewer));
    let reblogged = viewer.is_some_and(|v| {
        s.boosts
            .iter()
            .any(|b| state.statuses.get(b).is_some_and(|b| b.author == v))
    });
    let mut out = json!({
        "id": s.id.as_str(),
        "created_at": time(s.created_at),
        "edited_at": s.edited_at.map(time),
        "in_reply_to_id": s.in_reply_to.as_ref().map(|i| i.as_str().to_string()),
        "in_reply_to_account_id": in_reply_to_account_id,
        "sensitive": v.sensitive,
        "spoiler_text": v.spoiler_text,
        "visibility": s.visibility.as_str(),
        "language": s.language,
        "uri": uri,
        "url": url,
        "replies_count": state.replies_count(&s.id),
        "reblogs_count": s.boosts.len(),
        "favourites_count": s.favourited_by.len(),
        "favourited": viewer.is_some_and(|v| s.favourited_by.contains(&v)),
        "reblogged": reblogged,
        "muted": false,
        "bookmarked": false,
        "pinned": s.pinned,
        "content": v.content,
        "reblog": reblog,
        "application": { "name": "chathost sandbox", "website": null },
        "account": account(state, s.author, false),
        "media_attachments": [],
        "mentions": mentions,
        "tags": tags,
        "emojis": [],
        "card": null,
        "poll": null
    });
    match state.flavour {
        Flavour::Mastodon => {
            out["filtered"] = json!([]);
        }
        Flavour::GoToSocial => {
            // GoToSocial always shows the source text and its policy.
            out["text"] = json!(v.text);
            out["content_type"] = json!("text/plain");
            let always = json!({ "always": ["public", "me"], "with_approval": [] });
            out["interaction_policy"] = json!({
                "can_favourite": always, "can_reply": always, "can_reblog": always
            });
        }
    }
    out
}

/// `GET /api/v1/statuses/:id/history`: Mastodon oldest first, GoToSocial
/// newest first (`gotosocial/23_*`).
pub fn history(state: &State, s: &Status) -> Value {
    let entry = |v: &Version| {
        json!({
            "content": v.content,
            "spoiler_text": v.spoiler_text,
            "sensitive": v.sensitive,
            "created_at": time(v.at),
            "account": account(state, s.author, false),
            "poll": null,
            "media_attachments": [],
            "emojis": []
        })
    };
    let mut entries: Vec<Value> = s.versions.iter().map(entry).collect();
    if state.flavour.history_newest_first() {
        entries.reverse();
    }
    Value::Array(entries)
}

/// A followed (or not) hashtag. Mastodon adds a week of daily use counts
/// (numbers as strings, newest day first); GoToSocial sends `[]`.
pub fn tag(state: &State, name: &str, following: bool) -> Value {
    let name = name.to_lowercase();
    let history: Vec<Value> = match state.flavour {
        Flavour::GoToSocial => Vec::new(),
        Flavour::Mastodon => {
            let today = state.now().date_naive();
            (0..7)
                .map(|back| {
                    let day = today - chrono::Days::new(back);
                    let used: Vec<&Status> = state
                        .statuses
                        .values()
                        .filter(|s| s.deleted_at.is_none() && s.tags.contains(&name))
                        .filter(|s| s.created_at.date_naive() == day)
                        .collect();
                    let mut authors: Vec<usize> = used.iter().map(|s| s.author).collect();
                    authors.sort_unstable();
                    authors.dedup();
                    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
                    json!({
                        "day": midnight.timestamp().to_string(),
                        "uses": used.len().to_string(),
                        "accounts": authors.len().to_string()
                    })
                })
                .collect()
        }
    };
    json!({
        "name": name,
        "url": format!("{}/tags/{name}", state.base_url),
        "history": history,
        "following": following
    })
}

/// A notification.
pub fn notification(state: &State, n: &Notification) -> Value {
    let mut v = json!({
        "id": n.id.as_str(),
        "type": n.kind.as_str(),
        "created_at": time(n.at),
        "account": account(state, n.from, false),
        "status": status_for(state, &state.statuses[&n.status], Some(n.to)),
    });
    if state.flavour == Flavour::Mastodon {
        v["group_key"] = json!(format!("ungrouped-{}", n.id));
    }
    v
}
