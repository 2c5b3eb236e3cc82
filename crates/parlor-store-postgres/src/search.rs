//! Renders [`parlor_core::search::Query`] as a PostgreSQL `to_tsquery('simple', …)` string.
//!
//! The query means what SQLite's FTS5 rendering means (`parlor-store-sqlite`'s `search.rs`):
//! a prefix word is `'word':*`, a CJK run is a phrase of single-character words
//! (`'世' <-> '界'`), a clause's alternatives are ORed, and clauses are ANDed for keyword
//! search (ORed for retrieval). Terms hold only letters and digits after normalization, but
//! each is still quoted (quotes doubled, backslashes escaped), so no input can reach
//! `to_tsquery`'s operators.

use parlor_core::search::{Combine, Query, Term};

/// A lexeme quoted for `to_tsquery`: inside single quotes a quote is doubled and a backslash
/// escapes the next character.
fn quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for ch in word.chars() {
        match ch {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn term(t: &Term) -> String {
    match t {
        Term::Word { text, prefix: true } => format!("{}:*", quote(text)),
        Term::Word { text, prefix: false } => quote(text),
        Term::Phrase(words) => {
            format!("({})", words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" <-> "))
        }
    }
}

/// The `to_tsquery('simple', …)` text for `q`; `None` when it has no terms (which would
/// match nothing).
pub(crate) fn tsquery(q: &Query) -> Option<String> {
    let clauses: Vec<String> = q
        .clauses
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| format!("({})", c.iter().map(term).collect::<Vec<_>>().join(" | ")))
        .collect();
    if clauses.is_empty() {
        return None;
    }
    let op = match q.combine {
        Combine::All => " & ",
        Combine::Any => " | ",
    };
    Some(clauses.join(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_keyword_query() {
        let q = Query::keyword("Hello 世界").unwrap();
        assert_eq!(tsquery(&q).unwrap(), "('hello':*) & (('世' <-> '界'))");
    }

    #[test]
    fn renders_single_cjk_character_and_several_words() {
        let q = Query::keyword("foo, BAR 世").unwrap();
        assert_eq!(tsquery(&q).unwrap(), "('foo':*) & ('bar':*) & (('世'))");
    }

    #[test]
    fn renders_alternatives_and_any() {
        let q = Query {
            clauses: vec![
                vec![
                    Term::Word { text: "a".into(), prefix: false },
                    Term::Word { text: "b".into(), prefix: true },
                ],
                vec![],
                vec![Term::Phrase(vec!["x".into(), "y".into()])],
            ],
            combine: Combine::Any,
        };
        assert_eq!(tsquery(&q).unwrap(), "('a' | 'b':*) | (('x' <-> 'y'))");
    }

    #[test]
    fn quotes_what_normalization_would_have_removed() {
        let q = Query {
            clauses: vec![vec![Term::Word { text: "it's\\&|!".into(), prefix: true }]],
            combine: Combine::All,
        };
        assert_eq!(tsquery(&q).unwrap(), "('it''s\\\\&|!':*)");
    }

    #[test]
    fn empty_query_renders_nothing() {
        assert_eq!(tsquery(&Query { clauses: vec![vec![]], combine: Combine::All }), None);
        assert_eq!(tsquery(&Query { clauses: vec![], combine: Combine::Any }), None);
    }
}
