//! The demo chatbot's knowledge: FAQ entries on how to use Parlor, made on the first start
//! so a new installation can answer questions about itself right away.
//!
//! The texts live in `demo.txt` (one document per `=== Title` block) so they read and diff
//! as prose; [`parse_documents`] reads that format, which the evaluation data uses too.

/// The demo chatbot's documents, as `(title, content)`.
pub fn demo_documents() -> Vec<(String, String)> {
    parse_documents(include_str!("demo.txt"))
}

/// Reads documents written as blocks: a line `=== Title`, then the content up to the next
/// such line. Lines before the first block are comments; content is trimmed; a block with
/// an empty title is skipped.
pub fn parse_documents(text: &str) -> Vec<(String, String)> {
    let mut docs: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    let flush = |current: Option<(String, Vec<&str>)>, docs: &mut Vec<(String, String)>| {
        if let Some((title, lines)) = current
            && !title.is_empty()
        {
            docs.push((title, lines.join("\n").trim().to_string()));
        }
    };
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("===") {
            flush(current.take(), &mut docs);
            current = Some((title.trim().to_string(), Vec::new()));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    flush(current, &mut docs);
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks() {
        let docs = parse_documents("comment\n=== A?\nline 1\n\nline 2\n===  \nskipped\n=== B\n");
        assert_eq!(docs, [("A?".to_string(), "line 1\n\nline 2".to_string()), ("B".into(), String::new())]);
    }

    #[test]
    fn demo_knowledge_is_complete() {
        let docs = demo_documents();
        assert!((15..=25).contains(&docs.len()), "{}", docs.len());
        assert!(docs.iter().all(|(t, c)| !t.is_empty() && !c.is_empty()));
        assert!(docs.iter().any(|(_, c)| c.contains("export-excel")));
    }
}
