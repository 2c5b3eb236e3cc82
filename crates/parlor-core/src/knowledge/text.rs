//! Word-level text tools shared by query building, re-ranking and answer writing: splitting
//! into index words, stopwords, a light stemmer and a bounded edit distance.
//!
//! They live together because the three stages must agree on what "the same word" means:
//! a question word that the query turned into `export*` has to count as matched by the
//! re-ranker for exactly the passages the index returned for it.

use crate::search::normalize;

/// The words of `text` as the full-text index sees them (normalized, CJK one per character).
pub(crate) fn index_words(text: &str) -> Vec<String> {
    normalize(text).split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Function words that carry no topic. Questions are full of them ("how do I ...") and
/// documents too, so matching them only adds noise to both retrieval and scoring.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "are",
    "as",
    "at",
    "be",
    "been",
    "being",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "either",
    "else",
    "etc",
    "ever",
    "for",
    "from",
    "get",
    "gets",
    "getting",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "hello",
    "her",
    "here",
    "hers",
    "hi",
    "him",
    "his",
    "how",
    "i",
    "if",
    "im",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "know",
    "let",
    "like",
    "may",
    "me",
    "might",
    "mine",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "need",
    "needs",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "ok",
    "okay",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "please",
    "possible",
    "really",
    "s",
    "same",
    "shall",
    "she",
    "should",
    "so",
    "some",
    "someone",
    "something",
    "still",
    "such",
    "t",
    "tell",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "things",
    "this",
    "those",
    "to",
    "too",
    "try",
    "trying",
    "us",
    "very",
    "want",
    "wanted",
    "wants",
    "was",
    "way",
    "we",
    "were",
    "what",
    "whats",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "yes",
    "yet",
    "you",
    "your",
    "yours",
];

/// Whether `word` (normalized) is a stopword.
pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// Whether `word` is made of digits only (matched exactly: `2` must not find `2024`).
pub(crate) fn is_number(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_ascii_digit())
}

/// Cuts common English inflections so that the result is a prefix shared by the word's
/// family: "exporting", "exports", "exported" → "export"; "deleting" → "delet" (matching
/// "delete", "deletion"); "deliveries" → "deliver". The index matches it as a prefix term,
/// so a stem that is a little too short costs some precision, one that is too long loses
/// the family: the rules err on the short side but never go below three letters.
///
/// Not a Porter stemmer on purpose: Porter's output is meant to equal other stems, not to
/// be a prefix of the words it came from, and a prefix is what both databases can match.
pub(crate) fn stem(word: &str) -> String {
    let n = word.chars().count();
    if n <= 3 || !word.chars().all(|c| c.is_ascii_lowercase()) {
        return word.to_string();
    }
    let w = word;
    let cut =
        |suffix: &str, min: usize| -> Option<&str> { w.strip_suffix(suffix).filter(|s| s.len() >= min) };
    let mut dropped_e_ok = false;
    let base: String = if let Some(s) = cut("ies", 3).or_else(|| cut("ied", 3)) {
        s.to_string()
    } else if let Some(s) = cut("ations", 5).or_else(|| cut("ation", 5)) {
        undouble(s)
    } else if let Some(s) = cut("tions", 4).or_else(|| cut("tion", 4)) {
        // "deletion" → "delet", "connection" → "connect".
        format!("{s}t")
    } else if let Some(s) = cut("ings", 3).or_else(|| cut("ing", 3)) {
        undouble(s)
    } else if let Some(s) = cut("ed", 3) {
        undouble(s)
    } else if let Some(s) = cut("ly", 4) {
        s.to_string()
    } else if w.ends_with("ss") || w.ends_with("us") || w.ends_with("is") {
        w.to_string()
    } else if let Some(s) = ["sses", "xes", "zes", "ches", "shes"].iter().find_map(|suf| {
        w.strip_suffix(suf).filter(|s| s.len() >= 2).map(|s| format!("{s}{}", &suf[..suf.len() - 2]))
    }) {
        s
    } else if let Some(s) = cut("s", 3) {
        dropped_e_ok = true;
        s.to_string()
    } else {
        dropped_e_ok = true;
        w.to_string()
    };
    let mut base = base;
    // A final "e" is dropped so "create" shares "creat" with "creating" and "creation".
    if dropped_e_ok && base.ends_with('e') && base.len() >= 5 {
        base.pop();
    }
    // "delivery" → "deliver", "company" → "compan" (which "companies" shares).
    if base.len() >= 5 && base.ends_with('y') && !ends_with_vowel_y(&base) {
        base.pop();
    }
    base
}

/// A stem at least this long also matches words it merely starts ("member" finds
/// "membership"); a shorter one only words of its own family, since "car" must not find
/// "card". The database matches every prefix; the re-ranker is the stricter judge.
pub(crate) const PREFIX_MIN: usize = 5;

/// Whether an indexed word (`token`, with its stem) belongs to the family of `stem`.
pub(crate) fn stem_matches(token: &str, token_stem: &str, stem: &str) -> bool {
    token_stem == stem || (stem.len() >= PREFIX_MIN && token.starts_with(stem))
}

/// "shipp" → "ship", but "bill" and "pass" stay (Porter's exceptions: l, s, z).
fn undouble(s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 4 && b[n - 1] == b[n - 2] && !matches!(b[n - 1], b'l' | b's' | b'z') && !is_vowel(b[n - 1]) {
        s[..n - 1].to_string()
    } else {
        s.to_string()
    }
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

fn ends_with_vowel_y(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_vowel(b[b.len() - 2])
}

/// The edit distance up to which a word of this length counts as a typo of another: none
/// for short words (too many real words sit one edit apart), one from four letters, two
/// from eight.
pub(crate) fn typo_budget(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Optimal-string-alignment distance (insertions, deletions, substitutions and adjacent
/// transpositions, the four common typing slips), or `None` when it exceeds `max`. Bounded
/// so that scanning a whole vocabulary stays cheap.
pub(crate) fn edit_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_prefixes_of_the_family() {
        for (word, want) in [
            ("exporting", "export"),
            ("exports", "export"),
            ("exported", "export"),
            ("export", "export"),
            ("deleting", "delet"),
            ("delete", "delet"),
            ("deletion", "delet"),
            ("deliveries", "deliver"),
            ("delivery", "deliver"),
            ("shipping", "ship"),
            ("billing", "bill"),
            ("creating", "creat"),
            ("configuration", "configur"),
            ("addresses", "address"),
            ("status", "status"),
            ("keys", "key"),
            ("api", "api"),
            ("using", "using"),
            ("quickly", "quick"),
        ] {
            assert_eq!(stem(word), want, "{word}");
            assert!(word.starts_with(&stem(word)));
        }
    }

    #[test]
    fn edit_distance_is_bounded_and_counts_transpositions() {
        assert_eq!(edit_distance("pasword", "password", 1), Some(1));
        assert_eq!(edit_distance("recieve", "receive", 1), Some(1));
        assert_eq!(edit_distance("cancle", "cancel", 1), Some(1));
        assert_eq!(edit_distance("export", "import", 1), None);
        assert_eq!(edit_distance("abc", "abcdef", 2), None);
        assert_eq!(edit_distance("", "", 0), Some(0));
    }

    #[test]
    fn stopwords_and_numbers() {
        assert!(is_stopword("how") && !is_stopword("export"));
        assert!(is_number("2024") && !is_number("2fa") && !is_number(""));
        assert_eq!(index_words("How do I export?"), ["how", "do", "i", "export"]);
    }
}
