//! A post too long for the instance, split into several that each fit as
//! the instance counts them (a link as a fixed length): at paragraph
//! breaks first, then between words; never inside a word, unless one word
//! alone is longer than a post.

use crate::length::post_length;

/// `text` as posts of at most `max` counted characters each, `url_length`
/// per link. Leading and trailing blank space of each part is trimmed.
pub fn split(text: &str, max: usize, url_length: usize) -> Vec<String> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    if post_length(text, url_length) <= max {
        return vec![text.to_string()];
    }
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let joined = if current.is_empty() {
            paragraph.to_string()
        } else {
            format!("{current}\n\n{paragraph}")
        };
        if post_length(&joined, url_length) <= max {
            current = joined;
            continue;
        }
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        if post_length(paragraph, url_length) <= max {
            current = paragraph.to_string();
        } else {
            let mut words = by_words(paragraph, max, url_length);
            current = words.pop().unwrap_or_default();
            parts.extend(words);
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// A paragraph longer than a post, between words.
fn by_words(paragraph: &str, max: usize, url_length: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for word in paragraph.split_whitespace() {
        let joined = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if post_length(&joined, url_length) <= max {
            current = joined;
            continue;
        }
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        if post_length(word, url_length) <= max {
            current = word.to_string();
        } else {
            // One word longer than a post: the only cut inside a word,
            // by counted length (a piece may look like a link).
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if post_length(&piece, url_length) > max && piece.chars().count() > 1 {
                    piece.pop();
                    parts.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            if !piece.is_empty() {
                parts.push(piece);
            }
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(parts: &[String]) -> Vec<String> {
        parts
            .iter()
            .flat_map(|p| p.split_whitespace().map(str::to_string))
            .collect()
    }

    #[test]
    fn a_short_post_stays_whole() {
        assert_eq!(split("  Q1: hello  ", 500, 23), ["Q1: hello"]);
    }

    #[test]
    fn long_posts_split_between_words_and_fit_500_and_5000() {
        let sentence = "Handover matters because tired people miss things. ";
        let text = format!(
            "{}https://example.org/a/very/long/link/that/counts/as/23 end",
            sentence.repeat(40)
        );
        for max in [500, 5000] {
            let parts = split(&text, max, 23);
            assert!(parts.iter().all(|p| post_length(p, 23) <= max), "{parts:?}");
            // Nothing lost, nothing cut: the same words in the same order.
            assert_eq!(words_of(&parts), words_of(std::slice::from_ref(&text)));
            if max == 500 {
                assert!(parts.len() >= 4, "{}", parts.len());
            } else {
                assert_eq!(parts.len(), 1);
            }
        }
    }

    #[test]
    fn paragraphs_are_kept_together_when_they_fit() {
        let a = "a ".repeat(200);
        let b = "b ".repeat(200);
        let parts = split(&format!("{a}\n\n{b}"), 500, 23);
        assert_eq!(parts, [a.trim(), b.trim()]);
    }

    #[test]
    fn a_giant_word_is_the_only_cut_inside_a_word() {
        let parts = split(&format!("start {} end", "x".repeat(1200)), 500, 23);
        assert!(parts.iter().all(|p| post_length(p, 23) <= 500));
        assert_eq!(parts.concat().matches('x').count(), 1200);
        // A piece that ends like a link is counted as the server counts it.
        let tricky = format!("{}https://a{}", "x".repeat(491), "y".repeat(600));
        let parts = split(&tricky, 500, 23);
        assert!(parts.iter().all(|p| post_length(p, 23) <= 500), "{parts:?}");
        assert_eq!(parts.concat(), tricky);
        assert!(split("  ", 500, 23).is_empty());
    }
}
