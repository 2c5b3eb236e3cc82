//! An in-memory full-text index that mimics SQLite FTS5 closely enough to iterate on the
//! knowledge engine without a database: the same normalized words, exact and prefix terms,
//! phrases, `Combine::Any`/`All`, and FTS5's own `bm25()` formula over two columns (the
//! document title, weighted [`TITLE_WEIGHT`], and the passage text). It is an
//! approximation: figures measured on it are labelled so, and the real stores run the same
//! evaluation through `SearchBackend`.

use async_trait::async_trait;
use parlor_core::clock::now;
use parlor_core::knowledge::eval::SearchBackend;
use parlor_core::knowledge::{Vocabulary, split_passages};
use parlor_core::model::PassageHit;
use parlor_core::search::{Combine, Query, Term, normalize};
use parlor_core::{DocumentId, PassageId, StoreError};

/// FTS5 `bm25(passages_fts, 2.0, 1.0)`: a title word counts twice a text word.
pub(crate) const TITLE_WEIGHT: f64 = 2.0;
const K1: f64 = 1.2;
const B: f64 = 0.75;

struct Row {
    hit: PassageHit,
    title: Vec<String>,
    text: Vec<String>,
}

pub(crate) struct MemoryFts {
    rows: Vec<Row>,
    avg_len: f64,
}

fn words(text: &str) -> Vec<String> {
    normalize(text).split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

impl MemoryFts {
    /// Indexes `documents` as a store would: each split into passages, each passage beside
    /// its document's title.
    pub(crate) fn new(documents: &[(String, String)]) -> Self {
        let mut rows = Vec::new();
        for (title, content) in documents {
            let document = DocumentId::new();
            for (position, text) in split_passages(title, content).into_iter().enumerate() {
                rows.push(Row {
                    title: words(title),
                    text: words(&text),
                    hit: PassageHit {
                        id: PassageId::new(),
                        document,
                        document_title: title.clone(),
                        document_size: content.chars().count() as i64,
                        document_created_at: now(),
                        position: position as i64,
                        text,
                        updated_at: now(),
                        rank: 0.0,
                    },
                });
            }
        }
        let total: usize = rows.iter().map(|r| r.title.len() + r.text.len()).sum();
        let avg_len = total as f64 / rows.len().max(1) as f64;
        MemoryFts { rows, avg_len }
    }

    /// The index's vocabulary, as `fts5vocab` (row) would list it.
    pub(crate) fn vocabulary(&self) -> Vocabulary {
        let texts: Vec<String> =
            self.rows.iter().map(|r| format!("{} {}", r.hit.document_title, r.hit.text)).collect();
        Vocabulary::from_texts(texts.iter().map(String::as_str))
    }

    pub(crate) fn passage_count(&self) -> usize {
        self.rows.len()
    }

    fn run(&self, query: &Query, limit: usize) -> Vec<PassageHit> {
        let phrases: Vec<(usize, &Term)> = query
            .clauses
            .iter()
            .enumerate()
            .flat_map(|(c, terms)| terms.iter().map(move |t| (c, t)))
            .collect();
        // Per row, per phrase: (hits in title, hits in text).
        let counts: Vec<Vec<(usize, usize)>> = self
            .rows
            .iter()
            .map(|r| {
                phrases.iter().map(|(_, t)| (occurrences(&r.title, t), occurrences(&r.text, t))).collect()
            })
            .collect();
        let n = self.rows.len() as f64;
        let idf: Vec<f64> = (0..phrases.len())
            .map(|i| {
                let n_hit = counts.iter().filter(|c| c[i].0 + c[i].1 > 0).count() as f64;
                let idf = ((n - n_hit + 0.5) / (n_hit + 0.5)).ln();
                if idf <= 0.0 { 1e-6 } else { idf }
            })
            .collect();
        let mut hits: Vec<PassageHit> = Vec::new();
        for (row, c) in self.rows.iter().zip(&counts) {
            let clause_hit =
                |clause: usize| phrases.iter().zip(c).any(|((k, _), (a, b))| *k == clause && a + b > 0);
            let matches = match query.combine {
                Combine::Any => (0..query.clauses.len()).any(clause_hit),
                Combine::All => (0..query.clauses.len()).all(clause_hit),
            };
            if !matches {
                continue;
            }
            let len = (row.title.len() + row.text.len()) as f64;
            let score: f64 = c
                .iter()
                .zip(&idf)
                .map(|((a, b), idf)| {
                    let freq = TITLE_WEIGHT * *a as f64 + *b as f64;
                    idf * freq * (K1 + 1.0) / (freq + K1 * (1.0 - B + B * len / self.avg_len))
                })
                .sum();
            hits.push(PassageHit { rank: score, ..row.hit.clone() });
        }
        hits.sort_by(|a, b| b.rank.total_cmp(&a.rank));
        hits.truncate(limit);
        hits
    }
}

/// How often `term` occurs in `words`: FTS5's exact (`"word"`), prefix (`"word"*`) and
/// phrase semantics.
fn occurrences(words: &[String], term: &Term) -> usize {
    match term {
        Term::Word { text, prefix: false } => words.iter().filter(|w| *w == text).count(),
        Term::Word { text, prefix: true } => words.iter().filter(|w| w.starts_with(text.as_str())).count(),
        Term::Phrase(parts) if parts.is_empty() => 0,
        Term::Phrase(parts) => words.windows(parts.len()).filter(|w| *w == parts.as_slice()).count(),
    }
}

#[async_trait]
impl SearchBackend for MemoryFts {
    async fn search(&self, query: &Query, limit: usize) -> Result<Vec<PassageHit>, StoreError> {
        Ok(self.run(query, limit))
    }
}

#[test]
fn matches_like_fts5() {
    let docs = vec![
        ("Exports".to_string(), "Exporting records to Excel.".to_string()),
        ("Keys".to_string(), "Create an API key.".to_string()),
    ];
    let fts = MemoryFts::new(&docs);
    let any = |terms: Vec<Term>| Query {
        clauses: terms.into_iter().map(|t| vec![t]).collect(),
        combine: Combine::Any,
    };
    let exact = Term::Word { text: "export".into(), prefix: false };
    assert!(fts.run(&any(vec![exact]), 10).is_empty(), "exact terms match whole words");
    let prefix = Term::Word { text: "export".into(), prefix: true };
    let hits = fts.run(&any(vec![prefix.clone()]), 10);
    assert_eq!(hits.len(), 1);
    assert!(hits[0].rank > 0.0);
    let all = Query {
        clauses: vec![vec![prefix], vec![Term::Word { text: "key".into(), prefix: false }]],
        combine: Combine::All,
    };
    assert!(fts.run(&all, 10).is_empty());
}
