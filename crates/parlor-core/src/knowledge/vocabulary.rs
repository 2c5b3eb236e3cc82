//! The words a chatbot's knowledge is indexed under, with how many passages hold each.
//!
//! Query building uses it for two things only the indexed text can answer: which spelling a
//! typo most likely meant (a real word of these documents, the more frequent the likelier),
//! and which synonyms are worth adding (only those the documents actually use). The store
//! produces the `(word, document_frequency)` pairs, from SQLite's `fts5vocab` or
//! PostgreSQL's `ts_stat`, or by [`Vocabulary::from_texts`] over the chatbot's passages.

use super::text::{PREFIX_MIN, edit_distance, index_words, stem, typo_budget};
use std::collections::BTreeMap;

/// A sorted word list with document frequencies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// Sorted by word, one entry per word, so prefix lookups are a binary search.
    words: Vec<(String, u64)>,
    /// The stems of those words, sorted: which word families the index holds.
    stems: Vec<String>,
}

impl Vocabulary {
    /// From `(word, document_frequency)` pairs as the store returns them. Words are
    /// normalized like the index's (so a backend's raw tokens are fine); duplicates add up.
    pub fn new(pairs: impl IntoIterator<Item = (String, u64)>) -> Self {
        let mut map: BTreeMap<String, u64> = BTreeMap::new();
        for (word, df) in pairs {
            for w in index_words(&word) {
                *map.entry(w).or_default() += df;
            }
        }
        Vocabulary::from_map(map)
    }

    fn from_map(map: BTreeMap<String, u64>) -> Self {
        let mut stems: Vec<String> = map.keys().map(|w| stem(w)).collect();
        stems.sort();
        stems.dedup();
        Vocabulary { words: map.into_iter().collect(), stems }
    }

    /// Counts the words of each text (a passage with its title) once per text: the
    /// fallback for a store that cannot list its index's terms for one chatbot.
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut map: BTreeMap<String, u64> = BTreeMap::new();
        for text in texts {
            let mut seen = index_words(text);
            seen.sort();
            seen.dedup();
            for w in seen {
                *map.entry(w).or_default() += 1;
            }
        }
        Vocabulary::from_map(map)
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// How many passages hold `word` (0 when none).
    pub fn document_frequency(&self, word: &str) -> u64 {
        self.words.binary_search_by(|(w, _)| w.as_str().cmp(word)).map_or(0, |i| self.words[i].1)
    }

    /// Whether some indexed word starts with `prefix`: would the prefix term find anything?
    pub fn has_prefix(&self, prefix: &str) -> bool {
        let i = self.words.partition_point(|(w, _)| w.as_str() < prefix);
        self.words.get(i).is_some_and(|(w, _)| w.starts_with(prefix))
    }

    /// Whether the index holds `word` or a word of its family ("exporting" for "exports"),
    /// or, for a long enough stem, a word starting with it. Unknown words are the ones worth
    /// correcting.
    pub fn knows(&self, word: &str) -> bool {
        let s = stem(word);
        self.document_frequency(word) > 0
            || self.stems.binary_search(&s).is_ok()
            || (s.len() >= PREFIX_MIN && self.has_prefix(&s))
    }

    /// `word` read as two indexed words run together ("giftcards" → "gift", "cards"), each
    /// at least three letters; of several ways, the one whose rarer half is most frequent.
    pub fn split_compound<'w>(&self, word: &'w str) -> Option<(&'w str, &'w str)> {
        if !word.is_ascii() || word.len() < 6 || self.document_frequency(word) > 0 {
            return None;
        }
        let mut best: Option<(u64, &str, &str)> = None;
        for i in 3..=word.len() - 3 {
            let (left, right) = word.split_at(i);
            let df = self.document_frequency(left).min(self.document_frequency(right));
            if df > 0 && best.is_none_or(|(b, _, _)| df > b) {
                best = Some((df, left, right));
            }
        }
        best.map(|(_, l, r)| (l, r))
    }

    /// The indexed word `word` most likely is a typo of: the closest within the length's
    /// budget (none below four letters), then the most frequent, then the first
    /// alphabetically so the choice is deterministic. `None` when the word is indexed
    /// itself or nothing is close enough.
    pub fn correct(&self, word: &str) -> Option<&str> {
        let budget = typo_budget(word.chars().count());
        if budget == 0 || self.document_frequency(word) > 0 {
            return None;
        }
        let mut best: Option<(usize, u64, &str)> = None;
        for (candidate, df) in &self.words {
            // Words of three letters or fewer are too easy to reach by accident.
            if candidate.len() < 4 {
                continue;
            }
            let Some(d) = edit_distance(word, candidate, budget) else { continue };
            let better = match best {
                None => true,
                Some((bd, bdf, _)) => d < bd || (d == bd && *df > bdf),
            };
            if better {
                best = Some((d, *df, candidate));
            }
        }
        best.map(|(_, _, w)| w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary::new([
            ("password".to_string(), 5),
            ("passport".to_string(), 1),
            ("export".to_string(), 3),
            ("exports".to_string(), 1),
            ("Records".to_string(), 4),
            ("records".to_string(), 1),
        ])
    }

    #[test]
    fn lookups() {
        let v = vocab();
        assert_eq!(v.len(), 5);
        assert_eq!(v.document_frequency("records"), 5);
        assert!(v.has_prefix("expo") && !v.has_prefix("imp"));
        assert!(v.knows("exporting") && v.knows("record") && !v.knows("pasword"));
    }

    #[test]
    fn splits_compounds_into_indexed_words() {
        let v = Vocabulary::from_texts(["gift cards", "gift wrap"]);
        assert_eq!(v.split_compound("giftcards"), Some(("gift", "cards")));
        assert_eq!(v.split_compound("giftbox"), None);
    }

    #[test]
    fn corrects_typos_to_frequent_indexed_words() {
        let v = vocab();
        assert_eq!(v.correct("pasword"), Some("password"));
        assert_eq!(v.correct("recods"), Some("records"));
        assert_eq!(v.correct("export"), None, "an indexed word is not a typo");
        assert_eq!(v.correct("exp"), None, "too short to correct");
        assert_eq!(v.correct("zzzzzz"), None);
    }

    #[test]
    fn from_texts_counts_each_text_once() {
        let v = Vocabulary::from_texts(["Export export", "export records"]);
        assert_eq!(v.document_frequency("export"), 2);
        assert_eq!(v.document_frequency("records"), 1);
    }
}
