//! The words a chatbot's knowledge is indexed under, with how many passages hold each.
//!
//! Query building uses it for two things only the indexed text can answer: which spelling a
//! typo most likely meant (a real word of these documents, the more frequent the likelier),
//! and which synonyms are worth adding (only those the documents actually use). The store
//! produces the `(word, document_frequency)` pairs, from SQLite's `fts5vocab` or
//! PostgreSQL's `ts_stat`, or by [`Vocabulary::from_texts`] over the chatbot's passages.

use super::text::{edit_distance, index_words, typo_budget};
use std::collections::BTreeMap;

/// A sorted word list with document frequencies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// Sorted by word, one entry per word, so prefix lookups are a binary search.
    words: Vec<(String, u64)>,
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
        Vocabulary { words: map.into_iter().collect() }
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
        Vocabulary { words: map.into_iter().collect() }
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
