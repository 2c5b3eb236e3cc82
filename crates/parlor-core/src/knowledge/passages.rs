//! Splitting a document into the passages the full-text index holds.
//!
//! Retrieval ranks passages, not documents, so that a long guide can answer a question its
//! fifth paragraph is about, and BM25's length normalization compares like with like.
//! Passages follow paragraphs: a paragraph is kept whole when it fits, packed with its
//! neighbours up to [`MAX_PASSAGE_CHARS`], and only a paragraph longer than that is cut, at
//! sentence ends, or at spaces for a sentence that is itself too long. Never inside a word.

/// A passage grows to about this many characters before it is closed.
pub const MAX_PASSAGE_CHARS: usize = 1000;

/// A last passage shorter than this joins the one before when the two stay under 1.25×
/// the maximum, so a document does not end in a stub passage with little to match.
const MIN_PASSAGE_CHARS: usize = 300;

/// The passages of a document, in order. A document of up to [`MAX_PASSAGE_CHARS`] is one
/// passage (FAQ entries, mostly); longer ones are split along paragraphs into passages of
/// roughly 500–1000 characters. The title is not part of the passages (the store indexes
/// it beside each passage's text); a first line that only repeats it, as Markdown documents
/// often start, is dropped. Blank content gives no passage.
pub fn split_passages(title: &str, content: &str) -> Vec<String> {
    let content = content.replace("\r\n", "\n");
    let mut paragraphs: Vec<String> = paragraphs(&content);
    if let Some(first) = paragraphs.first() {
        let heading = first.trim_start_matches('#').trim();
        if !title.trim().is_empty() && heading.eq_ignore_ascii_case(title.trim()) && paragraphs.len() > 1 {
            paragraphs.remove(0);
        }
    }
    let whole = paragraphs.join("\n\n");
    if whole.is_empty() {
        return Vec::new();
    }
    if chars(&whole) <= MAX_PASSAGE_CHARS {
        return vec![whole];
    }

    let pieces: Vec<String> = paragraphs.iter().flat_map(|p| cut_paragraph(p)).collect();
    let mut passages: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut current_len = 0;
    for piece in pieces {
        let len = chars(&piece);
        if !current.is_empty() && current_len + 2 + len > MAX_PASSAGE_CHARS {
            // A heading closing a passage belongs to the text after it.
            let carried = match current.last() {
                Some(last) if current.len() > 1 && is_heading(last) => current.pop(),
                _ => None,
            };
            passages.push(current.join("\n\n"));
            current = carried.into_iter().collect();
            current_len = current.iter().map(|p| chars(p)).sum();
        }
        current_len += if current.is_empty() { len } else { len + 2 };
        current.push(piece);
    }
    if !current.is_empty() {
        let last = current.join("\n\n");
        match passages.last_mut() {
            Some(prev)
                if chars(&last) < MIN_PASSAGE_CHARS
                    && chars(prev) + 2 + chars(&last) <= MAX_PASSAGE_CHARS * 5 / 4 =>
            {
                prev.push_str("\n\n");
                prev.push_str(&last);
            }
            _ => passages.push(last),
        }
    }
    passages
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Paragraphs are separated by blank lines; lines inside one keep their breaks (lists).
fn paragraphs(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    for line in content.lines() {
        if line.trim().is_empty() {
            if !lines.is_empty() {
                out.push(lines.join("\n"));
                lines.clear();
            }
        } else {
            lines.push(line.trim_end());
        }
    }
    if !lines.is_empty() {
        out.push(lines.join("\n"));
    }
    out
}

/// A short line without closing punctuation, like "## Returns" or "Shipping times".
fn is_heading(paragraph: &str) -> bool {
    !paragraph.contains('\n')
        && chars(paragraph) <= 80
        && !paragraph.ends_with(['.', '!', '?', ':', ';', ','])
}

/// A paragraph longer than a passage, cut into pieces that fit: at sentence ends where
/// possible, else at spaces. A single word longer than a passage stays whole.
fn cut_paragraph(paragraph: &str) -> Vec<String> {
    if chars(paragraph) <= MAX_PASSAGE_CHARS {
        return vec![paragraph.to_string()];
    }
    let mut units: Vec<&str> = Vec::new();
    for sentence in sentence_spans(paragraph).into_iter().map(|(a, b)| &paragraph[a..b]) {
        if chars(sentence) <= MAX_PASSAGE_CHARS {
            units.push(sentence);
        } else {
            units.extend(sentence.split_inclusive(char::is_whitespace));
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for unit in units {
        if !current.is_empty() && chars(&current) + chars(unit) > MAX_PASSAGE_CHARS {
            out.push(current.trim().to_string());
            current.clear();
        }
        current.push_str(unit);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Byte spans of the sentences of `text`, covering it completely and in order. A sentence
/// ends after `.`, `!`, `?` (or their CJK forms) followed by whitespace, and at line
/// breaks; abbreviations like "e.g." do not end one.
pub(crate) fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut iter = text.char_indices().peekable();
    while let Some((i, ch)) = iter.next() {
        let end = i + ch.len_utf8();
        let boundary = match ch {
            '\n' => true,
            '。' | '！' | '？' => true,
            '.' | '!' | '?' => {
                iter.peek().is_none_or(|(_, next)| next.is_whitespace()) && !is_abbreviation(&text[start..i])
            }
            _ => false,
        };
        if boundary {
            // Take the whitespace after the mark into this sentence.
            let mut stop = end;
            while let Some(&(j, next)) = iter.peek() {
                if next.is_whitespace() {
                    stop = j + next.len_utf8();
                    iter.next();
                } else {
                    break;
                }
            }
            spans.push((start, stop));
            start = stop;
        }
    }
    if start < text.len() {
        spans.push((start, text.len()));
    }
    spans
}

fn is_abbreviation(before: &str) -> bool {
    let last = before.rsplit(char::is_whitespace).next().unwrap_or("").to_ascii_lowercase();
    matches!(last.as_str(), "e.g" | "i.e" | "etc" | "vs" | "approx" | "no" | "mr" | "mrs" | "dr")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize, word: &str) -> String {
        vec![word; n].join(" ")
    }

    #[test]
    fn short_document_is_one_passage() {
        assert_eq!(split_passages("Q?", "Short answer.\n\nSecond line."), ["Short answer.\n\nSecond line."]);
        assert!(split_passages("Q?", " \n ").is_empty());
    }

    #[test]
    fn repeated_title_line_is_dropped() {
        let p = split_passages("Returns", "# Returns\n\nSend it back within 30 days.");
        assert_eq!(p, ["Send it back within 30 days."]);
    }

    #[test]
    fn long_documents_split_at_paragraphs_within_bounds() {
        let para = format!("{}.", words(60, "alpha")); // 359 chars
        let content = vec![para.clone(); 8].join("\n\n");
        let passages = split_passages("T", &content);
        assert!(passages.len() >= 3, "{}", passages.len());
        for p in &passages {
            assert!(chars(p) <= MAX_PASSAGE_CHARS * 5 / 4, "{}", chars(p));
            assert!(chars(p) >= MIN_PASSAGE_CHARS);
            assert!(p.split("\n\n").all(|x| x == para), "paragraphs stay whole");
        }
        assert_eq!(passages.join("\n\n"), content, "nothing lost");
    }

    #[test]
    fn huge_paragraphs_are_cut_at_sentences_then_words() {
        let sentence = format!("{}. ", words(30, "beta")); // 151 chars
        let paragraph = sentence.repeat(20);
        let passages = split_passages("T", &paragraph);
        assert!(passages.len() >= 3);
        for p in &passages {
            assert!(chars(p) <= MAX_PASSAGE_CHARS * 5 / 4);
            assert!(p.ends_with('.'), "cut at a sentence end");
        }
        let run_on = words(500, "gamma");
        for p in split_passages("T", &run_on) {
            assert!(chars(&p) <= MAX_PASSAGE_CHARS * 5 / 4);
            assert!(p.split_whitespace().all(|w| w == "gamma"), "never mid-word");
        }
    }

    #[test]
    fn headings_move_to_the_next_passage() {
        let body = format!("{}.", words(80, "delta")); // 479 chars
        let content = format!("{body}\n\n{body}\n\nNext section\n\n{body}");
        let passages = split_passages("T", &content);
        assert!(passages[1].starts_with("Next section"), "{passages:?}");
    }

    #[test]
    fn sentences() {
        let text = "One, e.g. this. Two!\nThree? 四。五";
        let got: Vec<&str> = sentence_spans(text).into_iter().map(|(a, b)| &text[a..b]).collect();
        assert_eq!(got, ["One, e.g. this. ", "Two!\n", "Three? ", "四。", "五"]);
    }
}
