//! Who may be quoted. Accounts with `#nobot` or `#noindex` in their profile
//! (note or metadata fields), or with `noindex: true` (Mastodon's "exclude
//! my posts from search engines") are counted in the totals, but their
//! words, names and links are never stored for display. Automated accounts
//! (`bot: true`) are not participants at all.
//!
//! `discoverable: false` is not an opt-out here: it only keeps a profile
//! out of directories, and it is GoToSocial's default, so reading it as one
//! would silence every GoToSocial participant.

use super::text;

/// What chathost may do with an account's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Quote, name and link them.
    Quote,
    /// Count them only; the reason, as stored.
    CountOnly(&'static str),
    /// An automated account: not a participant, nothing stored.
    NotParticipant,
}

/// What consent needs of an account.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    /// Profile note, HTML.
    pub note: &'a str,
    /// Metadata fields, name and value, HTML.
    pub fields: &'a [(String, String)],
    /// `bot: true`.
    pub bot: bool,
    /// `noindex: true`.
    pub noindex: bool,
}

/// The account's consent, from its profile.
pub fn consent(profile: Profile<'_>) -> Consent {
    if profile.bot {
        return Consent::NotParticipant;
    }
    let texts = std::iter::once(profile.note).chain(
        profile
            .fields
            .iter()
            .flat_map(|(n, v)| [n.as_str(), v.as_str()]),
    );
    for html in texts {
        let plain = text::clean(html);
        if has_tag(&plain, "nobot") {
            return Consent::CountOnly("#nobot in profile");
        }
        if has_tag(&plain, "noindex") {
            return Consent::CountOnly("#noindex in profile");
        }
    }
    if profile.noindex {
        return Consent::CountOnly("excluded from search engines (noindex)");
    }
    Consent::Quote
}

/// Whether `text` holds the hashtag `#tag` as a whole word, any case:
/// `#NoBot.` yes, `#nobotics` no.
fn has_tag(text: &str, tag: &str) -> bool {
    let lower = text.to_lowercase();
    let needle = format!("#{tag}");
    lower.match_indices(&needle).any(|(at, _)| {
        let after = lower[at + needle.len()..].chars().next();
        let before = lower[..at].chars().next_back();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(note: &str) -> Profile<'_> {
        Profile {
            note,
            fields: &[],
            bot: false,
            noindex: false,
        }
    }

    #[test]
    fn nobot_and_noindex_in_the_note_count_only() {
        // As GoToSocial renders a hashtag in a note.
        let html = r#"<p>Nurse. <a href="https://gts.example/tags/nobot" class="mention hashtag" rel="tag nofollow noreferrer noopener" target="_blank">#<span>NoBot</span></a></p>"#;
        assert_eq!(
            consent(profile(html)),
            Consent::CountOnly("#nobot in profile")
        );
        assert_eq!(
            consent(profile("<p>please #noindex.</p>")),
            Consent::CountOnly("#noindex in profile")
        );
        assert_eq!(consent(profile("<p>#nobotics fan</p>")), Consent::Quote);
        assert_eq!(consent(profile("<p>mail#nobot</p>")), Consent::Quote);
    }

    #[test]
    fn fields_flags_and_bots() {
        let fields = vec![("Archive".to_string(), "#nobot".to_string())];
        let mut p = profile("hi");
        p.fields = &fields;
        assert_eq!(consent(p), Consent::CountOnly("#nobot in profile"));
        let mut p = profile("hi");
        p.noindex = true;
        assert!(matches!(consent(p), Consent::CountOnly(_)));
        let mut p = profile("#nobot");
        p.bot = true;
        assert_eq!(consent(p), Consent::NotParticipant);
    }
}
