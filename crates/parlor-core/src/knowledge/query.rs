//! From a question to the full-text query the database runs (`Combine::Any`).
//!
//! The database only knows exact and prefix word matches ORed together, ranked by BM25 (or
//! `ts_rank`). Everything that makes retrieval forgiving happens here, before the query is
//! sent: stopwords are dropped, words become stem prefixes ("exporting" → `export*`), words
//! the index does not hold are corrected to the closest indexed word, and synonyms the
//! documents use are added as alternatives of the same clause. CJK runs become phrases: the
//! whole run and its overlapping two-character pieces, so a question that is longer than
//! the indexed phrase still matches part of it.

use super::synonyms::synonyms;
use super::text::{is_number, is_stopword, stem};
use super::vocabulary::Vocabulary;
use crate::search::{Combine, Query, Term, split_terms};

/// One content word or CJK piece of a question, as the later stages match it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum KeyTerm {
    Word {
        /// The normalized question word.
        word: String,
        /// Matched as a prefix of an indexed word, unless `exact`.
        stem: String,
        /// Numbers and one- or two-letter words match whole words only.
        exact: bool,
    },
    /// Consecutive CJK characters, matched as a phrase.
    Cjk(Vec<String>),
}

impl KeyTerm {
    /// The term the index matches for this key term's own spelling.
    fn index_term(&self) -> Term {
        match self {
            KeyTerm::Word { stem, exact, .. } => Term::Word { text: stem.clone(), prefix: !exact },
            KeyTerm::Cjk(chars) => Term::Phrase(chars.clone()),
        }
    }
}

/// The question's content words and CJK pieces, in order, without duplicates.
pub(crate) fn key_terms(question: &str) -> Vec<KeyTerm> {
    let mut out: Vec<KeyTerm> = Vec::new();
    for term in split_terms(question) {
        match term {
            Term::Word { text, .. } => {
                if is_stopword(&text) || (text.chars().count() < 2 && !is_number(&text)) {
                    continue;
                }
                let exact = is_number(&text) || text.chars().count() < 3;
                let stem = if exact { text.clone() } else { stem(&text) };
                let key = KeyTerm::Word { word: text, stem, exact };
                if !out.iter().any(|k| same_stem(k, &key)) {
                    out.push(key);
                }
            }
            Term::Phrase(chars) => {
                let mut pieces: Vec<Vec<String>> = Vec::new();
                if chars.len() > 2 {
                    pieces.extend(chars.windows(2).map(<[String]>::to_vec));
                }
                pieces.push(chars);
                for piece in pieces {
                    let key = KeyTerm::Cjk(piece);
                    if !out.contains(&key) {
                        out.push(key);
                    }
                }
            }
        }
    }
    out
}

fn same_stem(a: &KeyTerm, b: &KeyTerm) -> bool {
    match (a, b) {
        (KeyTerm::Word { stem: x, exact: ex, .. }, KeyTerm::Word { stem: y, exact: ey, .. }) => {
            x == y && ex == ey
        }
        _ => false,
    }
}

/// The knowledge-retrieval query for `question` against a chatbot whose index holds
/// `vocabulary`: one clause per content word (its stem prefix, its typo correction when the
/// index lacks it, its synonyms the index holds), one per CJK piece, all ORed
/// (`Combine::Any`) for the database to rank. Empty when the question has no content word;
/// the caller then skips the search and the engine answers the fallback message.
pub fn retrieval_query(question: &str, vocabulary: &Vocabulary) -> Query {
    let mut clauses: Vec<Vec<Term>> = Vec::new();
    for key in key_terms(question) {
        let mut clause = vec![key.index_term()];
        if let KeyTerm::Word { word, stem: word_stem, exact: false } = &key {
            let mut spellings = vec![word.as_str()];
            if !vocabulary.is_empty() && !vocabulary.knows(word) {
                // The whole word first; then its stem, for a typo in a word whose suffix
                // differs from every indexed form ("exproting" → "export"); then two words
                // run together.
                let corrected = vocabulary.correct(word).or_else(|| vocabulary.correct(word_stem));
                if let Some(corrected) = corrected {
                    push_unique(&mut clause, Term::Word { text: stem(corrected), prefix: true });
                    spellings.push(corrected);
                } else if let Some((left, right)) = vocabulary.split_compound(word) {
                    for part in [left, right] {
                        push_unique(&mut clause, Term::Word { text: stem(part), prefix: true });
                        spellings.push(part);
                    }
                }
            }
            for synonym in spellings.iter().flat_map(|w| synonyms(w)) {
                let s = stem(synonym);
                if vocabulary.has_prefix(&s) {
                    let prefix = synonym.chars().count() >= 3;
                    let text = if prefix { s } else { synonym.to_string() };
                    push_unique(&mut clause, Term::Word { text, prefix });
                }
            }
        }
        clauses.push(clause);
    }
    Query { clauses, combine: Combine::Any }
}

fn push_unique(clause: &mut Vec<Term>, term: Term) {
    if !clause.contains(&term) {
        clause.push(term);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str) -> Term {
        Term::Word { text: text.into(), prefix: true }
    }

    #[test]
    fn drops_stopwords_and_stems_to_prefixes() {
        let q = retrieval_query("How do I export my records?", &Vocabulary::default());
        assert_eq!(q.combine, Combine::Any);
        assert_eq!(q.clauses, vec![vec![word("export")], vec![word("record")]]);
        assert!(retrieval_query("how do I?", &Vocabulary::default()).is_empty());
    }

    #[test]
    fn corrects_typos_and_adds_indexed_synonyms() {
        let vocab = Vocabulary::from_texts(["export records to excel", "download the password"]);
        let q = retrieval_query("exproting recods", &vocab);
        assert_eq!(q.clauses[0], vec![word("exprot"), word("export"), word("download")]);
        assert_eq!(q.clauses[1], vec![word("recod"), word("record")]);
        // "remove" has synonyms, but none of them is indexed.
        assert_eq!(retrieval_query("remove", &vocab).clauses, vec![vec![word("remov")]]);
    }

    #[test]
    fn numbers_and_short_words_are_exact_and_cjk_runs_are_phrases() {
        let q = retrieval_query("导出记录 v2 in 2024", &Vocabulary::default());
        let phrase = |s: &[&str]| Term::Phrase(s.iter().map(|c| c.to_string()).collect());
        assert_eq!(
            q.clauses,
            vec![
                vec![phrase(&["导", "出"])],
                vec![phrase(&["出", "记"])],
                vec![phrase(&["记", "录"])],
                vec![phrase(&["导", "出", "记", "录"])],
                vec![Term::Word { text: "v2".into(), prefix: false }],
                vec![Term::Word { text: "2024".into(), prefix: false }],
            ]
        );
    }
}
