//! Full-text search terms, shared by both backends so they match alike.
//!
//! Text is normalized here before either database indexes it: lowercased, accents removed
//! (`é` → `e`, `ñ` → `n`, `ü` → `u`), everything that is not a letter or digit turned into a
//! space, and each CJK character made a word of its own.
//! SQLite's `unicode61` tokenizer and PostgreSQL's `simple` configuration then split the same
//! words, and a query built from [`Query`] means the same on both. Splitting CJK characters
//! is what lets text without spaces between words (Chinese, Japanese) match by substring: a
//! run of characters becomes a phrase of single-character words.

/// The version of [`normalize`]'s output. Text a database indexed is kept normalized (the
/// databases cannot run this code), so when normalizing changes, this goes up and each store
/// re-normalizes what it holds the first time it opens (see `reindex_search_text` in each
/// store): 1 lowercased only, 2 also removes accents.
pub const TEXT_VERSION: i64 = 2;

/// Appends `ch` lowercased and without accents: each character is decomposed (NFD) and its
/// combining marks dropped. Done here rather than by the databases so both fold alike:
/// SQLite's `remove_diacritics` covers Latin letters only and PostgreSQL's `simple`
/// configuration none (its `unaccent` cannot be used in a generated column); a decomposable
/// letter of any script loses its marks here, and what either database would still fold is
/// then already folded.
fn push_folded(out: &mut String, ch: char) {
    for lower in ch.to_lowercase() {
        unicode_normalization::char::decompose_canonical(lower, |c| {
            if !unicode_normalization::char::is_combining_mark(c) {
                out.push(c);
            }
        });
    }
}

/// Normalizes text for the full-text index (and queries for matching it).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for ch in text.chars() {
        if is_cjk(ch) {
            if !last_space {
                out.push(' ');
            }
            out.push(ch);
            out.push(' ');
            last_space = true;
        } else if ch.is_alphanumeric() {
            push_folded(&mut out, ch);
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

/// Characters written without spaces between words: CJK ideographs, kana, Hangul syllables.
pub fn is_cjk(ch: char) -> bool {
    matches!(ch as u32,
        0x3040..=0x30FF        // Hiragana, Katakana
        | 0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // CJK Extensions B–F and supplement
}

/// One term of a query. Its text is already normalized (only letters and digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// A word, matched exactly or as a prefix of an indexed word.
    Word { text: String, prefix: bool },
    /// Consecutive words (a CJK run, one character each): a substring match.
    Phrase(Vec<String>),
}

/// How a query's clauses combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Every clause must match (keyword search).
    All,
    /// Any clause may match, ranked by how well (knowledge retrieval).
    Any,
}

/// A full-text query: clauses, each a set of alternative terms (any one of which matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub clauses: Vec<Vec<Term>>,
    pub combine: Combine,
}

impl Query {
    /// The conversation `keyword` query: terms ANDed, each a word prefix; CJK runs match as
    /// substrings. `None` when the keyword holds no searchable character.
    pub fn keyword(keyword: &str) -> Option<Query> {
        let clauses: Vec<Vec<Term>> = split_terms(keyword).into_iter().map(|t| vec![t]).collect();
        (!clauses.is_empty()).then_some(Query { clauses, combine: Combine::All })
    }

    pub fn is_empty(&self) -> bool {
        self.clauses.iter().all(|c| c.is_empty())
    }
}

/// Splits text into prefix words and CJK phrases, in order, as [`normalize`] splits it. A
/// phrase is a run of CJK characters written next to each other: a space or punctuation ends
/// it, so `记录 导出` is two terms (ANDed), not the one substring `记录导出`.
pub fn split_terms(text: &str) -> Vec<Term> {
    fn flush(terms: &mut Vec<Term>, word: &mut String, phrase: &mut Vec<String>) {
        if !word.is_empty() {
            terms.push(Term::Word { text: std::mem::take(word), prefix: true });
        }
        if !phrase.is_empty() {
            terms.push(Term::Phrase(std::mem::take(phrase)));
        }
    }
    let mut terms = Vec::new();
    let mut word = String::new();
    let mut phrase: Vec<String> = Vec::new();
    for ch in text.chars() {
        if is_cjk(ch) {
            flush(&mut terms, &mut word, &mut vec![]);
            phrase.push(ch.to_string());
        } else if ch.is_alphanumeric() {
            flush(&mut terms, &mut String::new(), &mut phrase);
            push_folded(&mut word, ch);
        } else {
            flush(&mut terms, &mut word, &mut phrase);
        }
    }
    flush(&mut terms, &mut word, &mut phrase);
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_punctuation_case_and_cjk() {
        assert_eq!(normalize("Hello, WORLD! e-mail"), "hello world e mail");
        assert_eq!(normalize("导出记录 now"), "导 出 记 录 now");
        assert_eq!(normalize("  "), "");
    }

    #[test]
    fn removes_accents_of_any_script_but_keeps_letters_without_them() {
        assert_eq!(normalize("Crème BRÛLÉE, naïve café"), "creme brulee naive cafe");
        assert_eq!(normalize("Tiếng Việt Ångström Müller"), "tieng viet angstrom muller");
        assert_eq!(normalize("Άθήνα"), "αθηνα");
        // Already decomposed text (a letter, then its mark) folds the same.
        assert_eq!(normalize("cafe\u{301}"), "cafe");
        // Letters that are not a base letter plus marks stay as they are.
        assert_eq!(normalize("Øre straße"), "øre straße");
        // Hangul syllables decompose into jamo under NFD; they are CJK here and stay whole.
        assert_eq!(normalize("한국"), "한 국");
        assert_eq!(split_terms("Café"), vec![Term::Word { text: "cafe".into(), prefix: true }]);
    }

    #[test]
    fn keyword_terms() {
        let q = Query::keyword("Exp 记录").unwrap();
        assert_eq!(
            q.clauses,
            vec![
                vec![Term::Word { text: "exp".into(), prefix: true }],
                vec![Term::Phrase(vec!["记".into(), "录".into()])]
            ]
        );
        assert!(Query::keyword(" !? ").is_none());
    }

    #[test]
    fn separated_cjk_runs_are_separate_terms() {
        let phrase = |p: &[&str]| vec![Term::Phrase(p.iter().map(|s| s.to_string()).collect())];
        let word = |w: &str| vec![Term::Word { text: w.into(), prefix: true }];
        assert_eq!(
            Query::keyword("记录 导出").unwrap().clauses,
            vec![phrase(&["记", "录"]), phrase(&["导", "出"])]
        );
        assert_eq!(
            Query::keyword("记录，导出").unwrap().clauses,
            vec![phrase(&["记", "录"]), phrase(&["导", "出"])]
        );
        assert_eq!(
            Query::keyword("Export记录now").unwrap().clauses,
            vec![word("export"), phrase(&["记", "录"]), word("now")]
        );
        assert_eq!(Query::keyword("ÉTÉ 世").unwrap().clauses, vec![word("ete"), phrase(&["世"])]);
    }
}
