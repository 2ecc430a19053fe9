//! How long a post is, as the server counts it: a link counts as a fixed
//! number of characters (23 on Mastodon), a mention of a remote account
//! counts only its `@user` part, and the rest counts by character. Counting
//! Unicode scalar values (not grapheme clusters, as Mastodon does) can only
//! over-count, so a post that passes here also passes on the server.

/// How long a post may be on an instance, as it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostLimit {
    /// `max_characters`.
    pub max: usize,
    /// What a link counts, whatever its length.
    pub per_url: usize,
}

/// The counted length of `text` when every URL counts as `url_length`.
pub fn post_length(text: &str, url_length: usize) -> usize {
    let mut total = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        total += word_length(word, url_length);
        rest = &rest[word_end..];
        let space_end = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        total += rest[..space_end].chars().count();
        rest = &rest[space_end..];
    }
    total
}

fn word_length(word: &str, url_length: usize) -> usize {
    // A URL may be wrapped in punctuation: "(https://x.org/a)."
    if let Some(i) = word.find("https://").or_else(|| word.find("http://")) {
        let url_end = word[i..]
            .rfind(|c: char| c.is_alphanumeric() || c == '/')
            .map_or(word.len(), |j| i + j + 1);
        return word[..i].chars().count() + url_length + word[url_end..].chars().count();
    }
    // "@user@example.social" counts as "@user".
    if let Some(user) = word.strip_prefix('@')
        && let Some((name, rest)) = user.split_once('@')
        && !name.is_empty()
    {
        let domain_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        let domain = rest[..domain_end].trim_end_matches('.');
        if domain.contains('.') {
            return 1 + name.chars().count() + rest[domain.len()..].chars().count();
        }
    }
    word.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_counts_characters() {
        assert_eq!(post_length("Q1: Café?", 23), 9);
        assert_eq!(post_length("a\n\nb", 23), 4);
    }

    #[test]
    fn a_link_counts_as_23() {
        let long = "See https://example.org/a/very/long/path/that/goes/on/and/on?x=1 now";
        assert_eq!(post_length(long, 23), 4 + 23 + 4);
        assert_eq!(post_length("(https://example.org/a).", 23), 1 + 23 + 2);
    }

    #[test]
    fn a_remote_mention_counts_its_user_part() {
        assert_eq!(post_length("with @jane@nurses.social!", 23), 4 + 1 + 5 + 1);
        assert_eq!(post_length("@jane", 23), 5);
    }
}
