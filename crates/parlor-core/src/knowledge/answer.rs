//! Writing the reply from the re-ranked passages: which passage answers, which part of it
//! to say, and which passages to cite.
//!
//! An FAQ entry whose title matches the question answers with its whole content: someone
//! wrote that answer for exactly this question. Otherwise the best passage answers; when it
//! is long, only the sentences around the best-matching one, so the reply stays readable
//! instead of pasting a kilobyte of a guide. Nothing scoring at least the threshold means
//! the knowledge does not cover the question, and the chatbot's fallback message answers.

use super::passages::sentence_spans;
use super::rerank::Analysis;
use crate::model::PassageHit;

/// The score (`PassageHit::rank` after re-ranking) a passage needs to answer; below it the
/// fallback message answers. 0.45 is what the best candidate scores when it covers half of
/// the question's weighted content words and its title nothing (0.60 × ½ + 0.15 for the
/// best database rank): "the knowledge speaks to at least half of what was asked". On the
/// evaluation set it separates the unanswerable questions (mostly 0.25–0.40) from
/// paraphrases (0.45 and up when found) best; see `knowledge::eval`.
pub const ANSWER_THRESHOLD: f64 = 0.45;

/// A passage up to this many characters is said whole.
const WHOLE_PASSAGE_CHARS: usize = 600;
/// An excerpt of a longer passage grows to about this many characters.
const EXCERPT_CHARS: usize = 450;

/// The reply the knowledge engine gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub text: String,
    /// Indexes into the passages given, of those the text came from; empty for the
    /// fallback message.
    pub cited: Vec<usize>,
}

/// Answers `question` from `passages` (re-ranked, best first, `rank` the normalized score),
/// or with `fallback` when none scores at least `threshold`.
pub fn compose_answer(question: &str, passages: &[PassageHit], threshold: f64, fallback: &str) -> Answer {
    let fallback = || Answer { text: fallback.to_string(), cited: Vec::new() };
    let Some(best) = passages.first() else { return fallback() };
    // A NaN rank (a broken score) falls back rather than answering.
    if best.rank.is_nan() || best.rank < threshold {
        return fallback();
    }
    let analysis = Analysis::new(question, passages);
    if analysis.is_empty() {
        return fallback();
    }
    let score = analysis.score(best, 0.0);
    if score.title_match {
        // The FAQ entry: its content, from every passage of it that was retrieved.
        let mut parts: Vec<(i64, usize)> = passages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.document == best.document)
            .map(|(i, p)| (p.position, i))
            .collect();
        parts.sort();
        parts.dedup_by_key(|(pos, _)| *pos);
        let text = parts.iter().map(|&(_, i)| passages[i].text.trim()).collect::<Vec<_>>().join("\n\n");
        let mut cited: Vec<usize> = parts.into_iter().map(|(_, i)| i).collect();
        cited.sort_unstable();
        return Answer { text, cited };
    }
    Answer { text: excerpt(&analysis, &best.text), cited: vec![0] }
}

/// The best-matching sentence of `text` with its neighbours, up to about
/// [`EXCERPT_CHARS`]; the whole text when it is short.
fn excerpt(analysis: &Analysis, text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= WHOLE_PASSAGE_CHARS {
        return text.to_string();
    }
    let spans = sentence_spans(text);
    let Some(best) = spans
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| (i, analysis.coverage_of(&text[a..b])))
        .fold(None::<(usize, f64)>, |acc, (i, c)| match acc {
            Some((_, bc)) if bc >= c => acc,
            _ => Some((i, c)),
        })
        .map(|(i, _)| i)
    else {
        return text.to_string();
    };
    let len = |a: usize, b: usize| text[spans[a].0..spans[b].1].chars().count();
    let (mut first, mut last) = (best, best);
    // A heading or a lead-in ("To export records:") introduces what follows: keep going.
    while last + 1 < spans.len() && len(first, last + 1) <= EXCERPT_CHARS {
        last += 1;
    }
    while first > 0 && len(first - 1, last) <= EXCERPT_CHARS / 2 {
        first -= 1;
    }
    text[spans[first].0..spans[last].1].trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::rerank::tests::hit;

    #[test]
    fn falls_back_below_the_threshold_or_without_passages() {
        let fb = "Sorry, I don't know.";
        let want = Answer { text: fb.into(), cited: vec![] };
        assert_eq!(compose_answer("refund", &[], 0.5, fb), want);
        assert_eq!(compose_answer("refund", &[hit("Refunds", "Yes.", 0.2)], 0.5, fb), want);
        assert_eq!(compose_answer("refund", &[hit("Refunds", "Yes.", f64::NAN)], 0.5, fb), want);
    }

    #[test]
    fn faq_title_match_answers_with_all_its_retrieved_passages_in_order() {
        let mut a = hit("How do I export records?", "Part two.", 0.9);
        let mut b = hit("Other", "Unrelated.", 0.5);
        let mut c = hit("How do I export records?", "Part one.", 0.9);
        c.document = a.document;
        a.position = 1;
        c.position = 0;
        b.position = 0;
        let got = compose_answer("how do i export records", &[a, b, c], 0.5, "fb");
        assert_eq!(got, Answer { text: "Part one.\n\nPart two.".into(), cited: vec![0, 2] });
    }

    #[test]
    fn long_passages_answer_with_the_sentences_around_the_match() {
        let filler = "This sentence talks about tents and poles and weather. ".repeat(8);
        let text = format!(
            "{filler}Gift cards never expire and can be used online. They work in stores too. {filler}"
        );
        let got = compose_answer("do gift cards expire", &[hit("Guide", &text, 0.8)], 0.5, "fb");
        assert!(got.text.starts_with("Gift cards never expire"), "{}", got.text);
        assert!(got.text.chars().count() <= EXCERPT_CHARS);
        assert_eq!(got.cited, vec![0]);
    }
}
