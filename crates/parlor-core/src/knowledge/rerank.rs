//! Re-ranking the database's candidate passages into a score in [0, 1].
//!
//! BM25 (or `ts_rank`) is good at finding candidates but its numbers mean nothing outside
//! one search, so they cannot decide "nothing here answers the question". The score here
//! can: it is mostly the share of the question's content words a passage covers (each
//! weighted by how rare it is among the candidates, so the word that tells candidates apart
//! counts most), plus how well the document's title matches the question (an FAQ entry is
//! a document whose title *is* a question), plus a little of the database's own rank to
//! break ties the way BM25 would. Typos are corrected against the candidates' own words and
//! synonyms count a little less than the word itself, as in the query.

use super::query::{KeyTerm, key_terms};
use super::synonyms::synonyms;
use super::text::{index_words, stem, stem_matches};
use super::vocabulary::Vocabulary;
use crate::model::PassageHit;
use std::cmp::Ordering;

/// Weight of query-term coverage (title and text) in the score.
const W_COVERAGE: f64 = 0.60;
/// Weight of the title's match with the question, both ways (F1).
const W_TITLE: f64 = 0.25;
/// Weight of the database rank relative to the best candidate's.
const W_DB: f64 = 0.15;

/// How much a match counts, by how it was made: the word's own stem, a typo correction, a
/// synonym. Corrections and synonyms are guesses, so they count less.
const MATCH_OWN: f64 = 1.0;
const MATCH_TYPO: f64 = 0.85;
const MATCH_SYNONYM: f64 = 0.6;

/// An FAQ title covering at least this share of the question (and the question at least
/// [`TITLE_SHARE`] of the title's words) makes the document the answer.
const TITLE_COVERAGE: f64 = 0.75;
const TITLE_SHARE: f64 = 0.6;

/// A candidate passage with its score.
#[derive(Clone, Debug)]
pub struct ScoredPassage {
    pub hit: PassageHit,
    /// In [0, 1]: the fallback threshold applies to it and citations show it.
    pub score: f64,
    /// The document's title matches the question: it is the FAQ entry asked for, and its
    /// whole content is the answer.
    pub title_match: bool,
}

/// Scores `hits` (the database's candidates for `question`) and sorts them best first. Ties
/// keep the database's order; the result does not depend on anything but the inputs.
pub fn rerank(question: &str, hits: Vec<PassageHit>) -> Vec<ScoredPassage> {
    let analysis = Analysis::new(question, &hits);
    let max_rank = hits.iter().map(|h| h.rank).fold(0.0_f64, f64::max);
    let mut scored: Vec<(usize, ScoredPassage)> = hits
        .into_iter()
        .enumerate()
        .map(|(i, hit)| {
            let s = analysis.score(&hit, max_rank);
            (i, ScoredPassage { hit, score: s.score, title_match: s.title_match })
        })
        .collect();
    scored.sort_by(|(ia, a), (ib, b)| {
        b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal).then(ia.cmp(ib))
    });
    scored.into_iter().map(|(_, s)| s).collect()
}

/// The passages as the engine takes them (`GenerateRequest::passages`): best first, with
/// `rank` replaced by the normalized score.
pub fn ranked_passages(scored: Vec<ScoredPassage>) -> Vec<PassageHit> {
    scored.into_iter().map(|s| PassageHit { rank: s.score, ..s.hit }).collect()
}

/// A question's content words, ready to match candidate passages.
pub(crate) struct Analysis {
    matchers: Vec<Matcher>,
    /// Per matcher, its weight among these candidates.
    weights: Vec<f64>,
}

/// The parts of a passage's score.
pub(crate) struct Score {
    pub(crate) score: f64,
    pub(crate) title_match: bool,
}

struct Matcher {
    key: KeyTerm,
    /// The stems of the word(s) the question's word most likely misspells, among the
    /// candidates' words, when no candidate holds the word itself: a typo correction, or
    /// the two halves of words run together.
    corrected: Vec<String>,
    /// Stems of the word's synonyms.
    synonyms: Vec<String>,
}

/// A text's index words with their stems, computed once per passage.
pub(crate) struct Words {
    words: Vec<String>,
    stems: Vec<String>,
}

impl Words {
    pub(crate) fn new(text: &str) -> Self {
        let words = index_words(text);
        let stems = words.iter().map(|w| stem(w)).collect();
        Words { words, stems }
    }
}

impl Matcher {
    /// How well one indexed word (with its stem) matches this question word (0: not).
    fn token(&self, token: &str, token_stem: &str) -> f64 {
        let KeyTerm::Word { word, stem, exact } = &self.key else { return 0.0 };
        let own = if *exact { token == word } else { stem_matches(token, token_stem, stem) };
        if own {
            MATCH_OWN
        } else if self.corrected.iter().any(|c| stem_matches(token, token_stem, c)) {
            MATCH_TYPO
        } else if self.synonyms.iter().any(|s| stem_matches(token, token_stem, s)) {
            MATCH_SYNONYM
        } else {
            0.0
        }
    }

    /// The best match in a text.
    fn tokens(&self, text: &Words) -> f64 {
        match &self.key {
            KeyTerm::Cjk(chars) => {
                let found =
                    !chars.is_empty() && text.words.windows(chars.len()).any(|w| w == chars.as_slice());
                if found { MATCH_OWN } else { 0.0 }
            }
            KeyTerm::Word { .. } => {
                let mut best: f64 = 0.0;
                for (t, s) in text.words.iter().zip(&text.stems) {
                    best = best.max(self.token(t, s));
                    if best >= MATCH_OWN {
                        break;
                    }
                }
                best
            }
        }
    }
}

impl Analysis {
    /// Prepares `question` for scoring `hits`: typo corrections come from the candidates'
    /// words, and each word's weight from how many candidates hold it.
    pub(crate) fn new(question: &str, hits: &[PassageHit]) -> Self {
        let local = Vocabulary::from_texts(hits.iter().flat_map(|h| [h.document_title.as_str(), &h.text]));
        let matchers: Vec<Matcher> = key_terms(question)
            .into_iter()
            .map(|key| {
                let (corrected, synonyms) = match &key {
                    KeyTerm::Word { word, stem: s, exact: false } if !local.knows(word) => {
                        let mut corrected: Vec<&str> =
                            local.correct(word).or_else(|| local.correct(s)).into_iter().collect();
                        if corrected.is_empty() {
                            corrected.extend(
                                local.split_compound(word).map(|(l, r)| [l, r]).into_iter().flatten(),
                            );
                        }
                        let mut syn: Vec<String> = synonyms(word)
                            .into_iter()
                            .chain(corrected.iter().flat_map(|c| synonyms(c)))
                            .map(stem)
                            .collect();
                        syn.sort();
                        syn.dedup();
                        (corrected.into_iter().map(stem).collect(), syn)
                    }
                    KeyTerm::Word { word, exact: false, .. } => {
                        (Vec::new(), synonyms(word).into_iter().map(stem).collect())
                    }
                    _ => (Vec::new(), Vec::new()),
                };
                Matcher { key, corrected, synonyms }
            })
            .collect();
        let n = hits.len() as f64;
        let texts: Vec<(Words, Words)> =
            hits.iter().map(|h| (Words::new(&h.document_title), Words::new(&h.text))).collect();
        let weights = matchers
            .iter()
            .map(|m| {
                let df = texts.iter().filter(|(t, x)| m.tokens(t).max(m.tokens(x)) >= MATCH_SYNONYM).count()
                    as f64;
                1.0 + ((n + 1.0) / (df + 1.0)).ln()
            })
            .collect();
        Analysis { matchers, weights }
    }

    /// Whether the question has anything to match at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.matchers.is_empty()
    }

    /// Scores one candidate; `max_rank` is the best database rank among the candidates.
    pub(crate) fn score(&self, hit: &PassageHit, max_rank: f64) -> Score {
        if self.matchers.is_empty() {
            return Score { score: 0.0, title_match: false };
        }
        let title_tokens = Words::new(&hit.document_title);
        let text_tokens = Words::new(&hit.text);
        let total: f64 = self.weights.iter().sum();
        let mut covered = 0.0;
        let mut in_title = 0.0;
        for (m, w) in self.matchers.iter().zip(&self.weights) {
            let t = m.tokens(&title_tokens);
            let all = t.max(m.tokens(&text_tokens));
            covered += w * all;
            in_title += w * t;
        }
        let coverage = covered / total;
        let title_coverage = in_title / total;
        let title_share = self.title_share(&hit.document_title);
        let title_f1 = if title_coverage + title_share > 0.0 {
            2.0 * title_coverage * title_share / (title_coverage + title_share)
        } else {
            0.0
        };
        let db = if max_rank > 0.0 { (hit.rank / max_rank).clamp(0.0, 1.0) } else { 0.0 };
        let mut score = W_COVERAGE * coverage + W_TITLE * title_f1 + W_DB * db;
        let title_match = title_coverage >= TITLE_COVERAGE && title_share >= TITLE_SHARE;
        if title_match {
            // The FAQ entry asked for outranks a passage that merely mentions the words.
            score = score.max(0.6 + 0.4 * title_f1);
        }
        Score { score: score.clamp(0.0, 1.0), title_match }
    }

    /// The share of the title's content words the question matches.
    pub(crate) fn title_share(&self, title: &str) -> f64 {
        let title_terms = key_terms(title);
        if title_terms.is_empty() {
            return 0.0;
        }
        let matched: f64 = title_terms
            .iter()
            .map(|t| match t {
                KeyTerm::Word { word, stem, .. } => {
                    self.matchers.iter().map(|m| m.token(word, stem)).fold(0.0, f64::max)
                }
                KeyTerm::Cjk(_) => {
                    if self.matchers.iter().any(|m| m.key == *t) {
                        MATCH_OWN
                    } else {
                        0.0
                    }
                }
            })
            .sum();
        matched / title_terms.len() as f64
    }

    /// Per sentence-sized text, the weighted share of the question it covers: used to pick
    /// the part of a long passage to answer with.
    pub(crate) fn coverage_of(&self, text: &str) -> f64 {
        if self.matchers.is_empty() {
            return 0.0;
        }
        let tokens = Words::new(text);
        let total: f64 = self.weights.iter().sum();
        self.matchers.iter().zip(&self.weights).map(|(m, w)| w * m.tokens(&tokens)).sum::<f64>() / total
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::clock::now;
    use crate::id::{DocumentId, PassageId};

    pub(crate) fn hit(title: &str, text: &str, rank: f64) -> PassageHit {
        PassageHit {
            id: PassageId::new(),
            document: DocumentId::new(),
            document_title: title.into(),
            document_size: text.len() as i64,
            document_created_at: now(),
            position: 0,
            text: text.into(),
            updated_at: now(),
            rank,
        }
    }

    #[test]
    fn faq_title_match_wins_over_a_higher_db_rank() {
        let hits = vec![
            hit("Records", "Records list question and answer pairs. Export them from the records page.", 9.0),
            hit("How do I export records?", "Call the export-excel endpoint.", 5.0),
        ];
        let ranked = rerank("how do I export records", hits);
        assert_eq!(ranked[0].hit.document_title, "How do I export records?");
        assert!(ranked[0].title_match && !ranked[1].title_match);
        assert!(ranked[0].score > 0.9 && ranked[0].score <= 1.0);
    }

    #[test]
    fn coverage_typos_and_synonyms_count() {
        let hits = vec![
            hit("Billing", "Invoices are emailed monthly.", 3.0),
            hit("Accounts", "To remove your account, open settings and choose delete account.", 2.0),
        ];
        let ranked = rerank("how can I erase my acount", hits);
        assert_eq!(ranked[0].hit.document_title, "Accounts");
        assert!(ranked[0].score > 0.5, "{}", ranked[0].score);
        assert!(ranked[1].score < 0.3, "{}", ranked[1].score);
    }

    #[test]
    fn nothing_to_match_scores_zero() {
        let ranked = rerank("how do I?", vec![hit("A", "b", 1.0)]);
        assert_eq!(ranked[0].score, 0.0);
        assert!(rerank("anything", Vec::new()).is_empty());
    }
}
