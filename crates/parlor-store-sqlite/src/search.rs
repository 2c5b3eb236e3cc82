//! Renders [`parlor_core::search::Query`] as an FTS5 `MATCH` expression.
//!
//! Terms hold only letters and digits after normalization, but each is still quoted, so no
//! input can reach FTS5's query syntax (`NEAR`, `-`, column filters).

use parlor_core::search::{Combine, Query, Term};

fn term(t: &Term) -> String {
    match t {
        Term::Word { text, prefix: true } => format!("\"{text}\"*"),
        Term::Word { text, prefix: false } => format!("\"{text}\""),
        Term::Phrase(words) => format!("\"{}\"", words.join(" ")),
    }
}

/// The MATCH expression for `q`; `None` when it has no terms (which would match nothing).
pub(crate) fn fts5_match(q: &Query) -> Option<String> {
    let clauses: Vec<String> = q
        .clauses
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| format!("({})", c.iter().map(term).collect::<Vec<_>>().join(" OR ")))
        .collect();
    if clauses.is_empty() {
        return None;
    }
    let op = match q.combine {
        Combine::All => " AND ",
        Combine::Any => " OR ",
    };
    Some(clauses.join(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_keyword_query() {
        let q = Query::keyword("hello 世界").unwrap();
        assert_eq!(fts5_match(&q).unwrap(), "(\"hello\"*) AND (\"世 界\")");
    }
}
