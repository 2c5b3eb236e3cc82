//! Measuring answer quality: the full pipeline against a plain BM25 baseline, on any
//! retrieval backend.
//!
//! The backend is whatever runs a [`Query`] over indexed passages ([`SearchBackend`]): the
//! SQLite and PostgreSQL stores in their integration tests, or the in-memory FTS5 stand-in
//! of this crate's tests. The caller loads the set's documents into it first (split with
//! [`split_passages`](super::split_passages), title beside each passage). Both methods see
//! the same index; only what they ask and what they do with the answer differ:
//!
//! - **pipeline**: [`retrieval_query`], [`rerank`], the engine's answer at
//!   [`ANSWER_THRESHOLD`];
//! - **baseline**: every question word as an exact term, ORed, the database's rank only,
//!   falling back below a rank threshold. BM25 numbers have no fixed scale, so the
//!   baseline's threshold is the best one for this very set (an oracle): the comparison
//!   flatters the baseline, never the pipeline.

use super::CANDIDATES;
use super::answer::{ANSWER_THRESHOLD, compose_answer};
use super::demo::parse_documents;
use super::query::retrieval_query;
use super::rerank::{ranked_passages, rerank};
use super::vocabulary::Vocabulary;
use crate::error::StoreError;
use crate::model::PassageHit;
use crate::search::{Combine, Query, Term};
use async_trait::async_trait;
use std::fmt;

/// Runs full-text queries over the evaluation documents' passages.
#[async_trait]
pub trait SearchBackend: Send + Sync {
    /// Up to `limit` passages matching `query`, best first, `rank` higher is better.
    async fn search(&self, query: &Query, limit: usize) -> Result<Vec<PassageHit>, StoreError>;
}

/// What kind of question a test question is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// The question is (nearly) an FAQ entry's title.
    ExactTitle,
    /// The same question in other words.
    Paraphrase,
    /// A question with spelling mistakes.
    Typo,
    /// The answer is a detail inside a long, multi-passage document.
    LongPassage,
    /// Nothing in the knowledge answers it: the fallback message is right.
    Unanswerable,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::ExactTitle,
        Category::Paraphrase,
        Category::Typo,
        Category::LongPassage,
        Category::Unanswerable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::ExactTitle => "exact",
            Category::Paraphrase => "paraphrase",
            Category::Typo => "typo",
            Category::LongPassage => "long",
            Category::Unanswerable => "unanswerable",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A labelled question.
#[derive(Clone, Debug)]
pub struct EvalQuestion {
    pub category: Category,
    /// The title of the document that answers it; `None` for unanswerable questions.
    pub expected: Option<String>,
    pub question: String,
}

/// Documents and the questions about them.
#[derive(Clone, Debug)]
pub struct EvalSet {
    pub documents: Vec<(String, String)>,
    pub questions: Vec<EvalQuestion>,
}

impl EvalSet {
    /// Reads documents in [`parse_documents`]' format and questions as lines of
    /// `category | expected title (or -) | question`; blank lines and `#` comments are
    /// skipped. Fails on an unknown category or a title no document has.
    pub fn parse(documents: &str, questions: &str) -> Result<EvalSet, String> {
        let documents = parse_documents(documents);
        let mut parsed = Vec::new();
        for (n, line) in questions.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(3, '|').map(str::trim);
            let (Some(cat), Some(expected), Some(question)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("line {}: expected `category | title | question`", n + 1));
            };
            let category =
                Category::parse(cat).ok_or_else(|| format!("line {}: unknown category {cat}", n + 1))?;
            let expected = (expected != "-").then(|| expected.to_string());
            if let Some(title) = &expected
                && !documents.iter().any(|(t, _)| t == title)
            {
                return Err(format!("line {}: no document titled {title:?}", n + 1));
            }
            if expected.is_none() != (category == Category::Unanswerable) {
                return Err(format!("line {}: only unanswerable questions have no title", n + 1));
            }
            parsed.push(EvalQuestion { category, expected, question: question.to_string() });
        }
        Ok(EvalSet { documents, questions: parsed })
    }
}

/// The plain BM25 baseline's query: every word of the question, exact, ORed.
pub fn baseline_query(question: &str) -> Query {
    let mut clauses: Vec<Vec<Term>> = Vec::new();
    for word in crate::search::normalize(question).split(' ').filter(|w| !w.is_empty()) {
        let term = Term::Word { text: word.to_string(), prefix: false };
        if !clauses.iter().any(|c| c[0] == term) {
            clauses.push(vec![term]);
        }
    }
    Query { clauses, combine: Combine::Any }
}

/// Counts for one category and method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub total: usize,
    /// Answered with the expected document (answerable) or fell back (unanswerable).
    pub correct: usize,
    /// The best passage came from the expected document, whatever the threshold said.
    pub top1_retrieved: usize,
    /// Answered the fallback message.
    pub fell_back: usize,
}

/// One method's results, per category in [`Category::ALL`] order.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodReport {
    pub name: &'static str,
    pub threshold: f64,
    pub categories: Vec<(Category, Tally)>,
    /// Every question's outcome, in the set's order, for looking into.
    pub questions: Vec<QuestionResult>,
}

/// What a method did with one question.
#[derive(Clone, Debug, PartialEq)]
pub struct QuestionResult {
    pub correct: bool,
    pub category: Category,
    pub question: String,
    pub expected: Option<String>,
    /// The answering document; `None` for the fallback message.
    pub answered: Option<String>,
    /// The best passage's document and score (pipeline) or rank (baseline).
    pub top: Option<(String, f64)>,
}

impl MethodReport {
    /// The questions it got wrong.
    pub fn misses(&self) -> impl Iterator<Item = &QuestionResult> {
        self.questions.iter().filter(|q| !q.correct)
    }

    pub fn tally(&self, category: Category) -> Tally {
        self.categories.iter().find(|(c, _)| *c == category).map(|(_, t)| *t).unwrap_or_default()
    }

    /// Share of correct answers in a category, 0 when it has no question.
    pub fn accuracy(&self, category: Category) -> f64 {
        let t = self.tally(category);
        if t.total == 0 { 0.0 } else { t.correct as f64 / t.total as f64 }
    }

    /// Top-1 accuracy over all answerable questions.
    pub fn answerable_accuracy(&self) -> f64 {
        let (c, n) = self
            .categories
            .iter()
            .filter(|(c, _)| *c != Category::Unanswerable)
            .fold((0, 0), |(c, n), (_, t)| (c + t.correct, n + t.total));
        if n == 0 { 0.0 } else { c as f64 / n as f64 }
    }
}

/// Both methods' results on one backend.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalReport {
    pub backend: String,
    pub pipeline: MethodReport,
    pub baseline: MethodReport,
}

/// One question's outcome: the answering document (or `None` for the fallback) and the
/// best passage's document and rank.
struct Outcome {
    answered: Option<String>,
    top: Option<(String, f64)>,
}

/// Runs every question of `set` through the pipeline and the baseline on `backend`.
/// `vocabulary` is the index's (the store's list, or [`Vocabulary::from_texts`] over the
/// passages); `backend_name` labels the report.
pub async fn evaluate(
    set: &EvalSet,
    vocabulary: &Vocabulary,
    backend: &dyn SearchBackend,
    backend_name: &str,
) -> Result<EvalReport, StoreError> {
    let mut pipeline = Vec::new();
    let mut baseline = Vec::new();
    for q in &set.questions {
        let query = retrieval_query(&q.question, vocabulary);
        let hits = if query.is_empty() { Vec::new() } else { backend.search(&query, CANDIDATES).await? };
        let passages = ranked_passages(rerank(&q.question, hits));
        let answer = compose_answer(&q.question, &passages, ANSWER_THRESHOLD, "");
        let answered = answer.cited.first().and_then(|&i| passages.get(i)).map(|p| p.document_title.clone());
        let top = passages.first().map(|p| (p.document_title.clone(), p.rank));
        pipeline.push(Outcome { answered, top });

        let query = baseline_query(&q.question);
        let hits = if query.is_empty() { Vec::new() } else { backend.search(&query, CANDIDATES).await? };
        let top = hits.first().map(|p| (p.document_title.clone(), p.rank));
        baseline.push(Outcome { answered: top.as_ref().map(|(t, _)| t.clone()), top });
    }
    let threshold = best_threshold(&set.questions, &baseline);
    for o in &mut baseline {
        if o.top.as_ref().is_none_or(|(_, rank)| *rank < threshold) {
            o.answered = None;
        }
    }
    Ok(EvalReport {
        backend: backend_name.to_string(),
        pipeline: tally("pipeline", ANSWER_THRESHOLD, &set.questions, &pipeline),
        baseline: tally("bm25 baseline", threshold, &set.questions, &baseline),
    })
}

/// The rank threshold under which the baseline does best on this set: the midpoints
/// between the top ranks seen, plus "never fall back"; the lowest of equal ones.
fn best_threshold(questions: &[EvalQuestion], outcomes: &[Outcome]) -> f64 {
    let mut ranks: Vec<f64> = outcomes.iter().filter_map(|o| o.top.as_ref().map(|t| t.1)).collect();
    ranks.sort_by(f64::total_cmp);
    ranks.dedup();
    let mut candidates = vec![f64::NEG_INFINITY];
    candidates.extend(ranks.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    candidates.extend(ranks.last().map(|r| r + 1.0));
    let correct = |t: f64| {
        questions
            .iter()
            .zip(outcomes)
            .filter(|(q, o)| match (&q.expected, &o.top) {
                (None, None) => true,
                (None, Some((_, rank))) => *rank < t,
                (Some(_), None) => false,
                (Some(want), Some((got, rank))) => got == want && *rank >= t,
            })
            .count()
    };
    let mut best = (0, f64::NEG_INFINITY);
    for t in candidates {
        let c = correct(t);
        if c > best.0 {
            best = (c, t);
        }
    }
    best.1
}

fn tally(
    name: &'static str,
    threshold: f64,
    questions: &[EvalQuestion],
    outcomes: &[Outcome],
) -> MethodReport {
    let categories = Category::ALL
        .into_iter()
        .map(|cat| {
            let mut t = Tally::default();
            for (q, o) in questions.iter().zip(outcomes).filter(|(q, _)| q.category == cat) {
                t.total += 1;
                t.fell_back += usize::from(o.answered.is_none());
                t.correct += usize::from(o.answered == q.expected);
                t.top1_retrieved += usize::from(
                    q.expected.is_some() && o.top.as_ref().map(|(d, _)| d) == q.expected.as_ref(),
                );
            }
            (cat, t)
        })
        .collect();
    let results = questions
        .iter()
        .zip(outcomes)
        .map(|(q, o)| QuestionResult {
            correct: o.answered == q.expected,
            category: q.category,
            question: q.question.clone(),
            expected: q.expected.clone(),
            answered: o.answered.clone(),
            top: o.top.clone(),
        })
        .collect();
    MethodReport { name, threshold, categories, questions: results }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "knowledge evaluation on {}", self.backend)?;
        writeln!(f, "{:<14} {:>4}  {:>22}  {:>22}", "category", "n", self.pipeline.name, self.baseline.name)?;
        for cat in Category::ALL {
            let cell = |m: &MethodReport| {
                let t = m.tally(cat);
                let pct = 100.0 * m.accuracy(cat);
                if cat == Category::Unanswerable {
                    format!("{pct:5.1}% fallback")
                } else {
                    format!("{pct:5.1}% (top1 {:>3})", t.top1_retrieved)
                }
            };
            let n = self.pipeline.tally(cat).total;
            writeln!(
                f,
                "{:<14} {:>4}  {:>22}  {:>22}",
                cat.as_str(),
                n,
                cell(&self.pipeline),
                cell(&self.baseline)
            )?;
        }
        writeln!(
            f,
            "{:<14} {:>4}  {:>21.1}%  {:>21.1}%",
            "answerable",
            "",
            100.0 * self.pipeline.answerable_accuracy(),
            100.0 * self.baseline.answerable_accuracy()
        )?;
        write!(
            f,
            "thresholds: pipeline score {:.2}; baseline rank {:.3} (best for this set)",
            self.pipeline.threshold, self.baseline.threshold
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_questions_and_checks_titles() {
        let docs = "=== Returns\nWithin 30 days.\n";
        let set = EvalSet::parse(
            docs,
            "# c\nexact | Returns | How do returns work?\nunanswerable | - | Weather?\n",
        )
        .unwrap();
        assert_eq!(set.questions.len(), 2);
        assert_eq!(set.questions[0].expected.as_deref(), Some("Returns"));
        assert!(EvalSet::parse(docs, "exact | Nope | q").is_err());
        assert!(EvalSet::parse(docs, "weird | Returns | q").is_err());
        assert!(EvalSet::parse(docs, "typo | - | q").is_err());
    }

    #[test]
    fn baseline_query_is_exact_words() {
        let q = baseline_query("How do I do it?");
        assert_eq!(q.clauses.len(), 4);
        assert!(q.clauses.iter().all(|c| matches!(&c[0], Term::Word { prefix: false, .. })));
    }
}
