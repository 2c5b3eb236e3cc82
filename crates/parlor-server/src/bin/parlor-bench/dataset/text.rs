//! The messages' texts: sentences of 4 to 20 words drawn from a fixed vocabulary with Zipf
//! frequencies (a word's chance falls with its rank, as in real text) by a seeded generator,
//! so every run, on either database, builds the same texts.

/// xorshift64*: small, fast, and the same sequence on every machine.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The vocabulary, most frequent first. Rank decides frequency (Zipf, exponent 1): with
/// about 12 words a message, the word at rank r is in roughly 2/r of all messages, so
/// `refund` (rank 100) is in about 2% of them: a realistic keyword, in many conversations
/// but far from every message.
const VOCABULARY: &[&str] = &[
    "the",
    "i",
    "to",
    "you",
    "a",
    "my",
    "and",
    "is",
    "it",
    "for",
    "can",
    "of",
    "in",
    "have",
    "this",
    "me",
    "please",
    "what",
    "how",
    "do",
    "on",
    "with",
    "not",
    "be",
    "we",
    "your",
    "that",
    "thanks",
    "order",
    "help",
    "are",
    "hi",
    "account",
    "get",
    "will",
    "was",
    "there",
    "at",
    "an",
    "hello",
    "need",
    "when",
    "if",
    "just",
    "so",
    "but",
    "from",
    "our",
    "want",
    "would",
    "know",
    "time",
    "still",
    "yes",
    "no",
    "now",
    "any",
    "use",
    "email",
    "one",
    "about",
    "could",
    "here",
    "today",
    "check",
    "sure",
    "like",
    "work",
    "app",
    "price",
    "password",
    "change",
    "day",
    "again",
    "问题",
    "payment",
    "plan",
    "thank",
    "service",
    "delivery",
    "update",
    "new",
    "see",
    "after",
    "login",
    "card",
    "back",
    "support",
    "issue",
    "phone",
    "address",
    "send",
    "number",
    "week",
    "cancel",
    "問題ない",
    "link",
    "product",
    "shipping",
    "refund",
    "invoice",
    "subscription",
    "error",
    "page",
    "store",
    "return",
    "size",
    "color",
    "available",
    "tomorrow",
    "morning",
    "receipt",
    "package",
    "tracking",
    "status",
    "discount",
    "code",
    "coupon",
    "free",
    "trial",
    "upgrade",
    "downgrade",
    "billing",
    "charge",
    "twice",
    "wrong",
    "item",
    "missing",
    "damaged",
    "broken",
    "replace",
    "exchange",
    "warranty",
    "manual",
    "install",
    "setup",
    "download",
    "version",
    "browser",
    "mobile",
    "desktop",
    "screen",
    "button",
    "click",
    "message",
    "notification",
    "settings",
    "profile",
    "photo",
    "upload",
    "file",
    "export",
    "import",
    "report",
    "dashboard",
    "team",
    "member",
    "invite",
    "role",
    "admin",
    "access",
    "permission",
    "delete",
    "remove",
    "add",
    "create",
    "edit",
    "save",
    "sync",
    "calendar",
    "meeting",
    "schedule",
    "appointment",
    "booking",
    "reservation",
    "hotel",
    "flight",
    "ticket",
    "seat",
    "luggage",
    "weather",
    "menu",
    "allergy",
    "vegan",
    "gluten",
    "recipe",
    "ingredient",
    "kitchen",
    "table",
    "reception",
    "parking",
    "garden",
    "holiday",
    "weekend",
    "evening",
    "midnight",
];

/// Zipf sampling over [`VOCABULARY`].
pub(super) struct Words {
    cumulative: Vec<f64>,
}

impl Words {
    pub(super) fn new() -> Self {
        let mut total = 0.0;
        let cumulative = (1..=VOCABULARY.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect::<Vec<_>>();
        let cumulative = cumulative.into_iter().map(|c| c / total).collect();
        Words { cumulative }
    }

    fn word(&self, rng: &mut Rng) -> &'static str {
        let u = rng.unit();
        let i = self.cumulative.partition_point(|&c| c < u).min(VOCABULARY.len() - 1);
        VOCABULARY[i]
    }

    /// A sentence of 4 to 20 words, capitalized, ending in `.` or `?`.
    pub(super) fn sentence(&self, rng: &mut Rng) -> String {
        let n = 4 + (rng.next() % 17) as usize;
        let mut s = String::with_capacity(n * 7);
        for k in 0..n {
            let w = self.word(rng);
            if k == 0 {
                let mut chars = w.chars();
                if let Some(c) = chars.next() {
                    s.extend(c.to_uppercase());
                    s.push_str(chars.as_str());
                }
            } else {
                s.push(' ');
                s.push_str(w);
            }
        }
        s.push(if rng.next().is_multiple_of(4) { '?' } else { '.' });
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_is_in_about_two_percent_of_messages() {
        let (words, mut rng) = (Words::new(), Rng(1));
        let n = 50_000;
        let hits = (0..n).filter(|_| words.sentence(&mut rng).contains("refund")).count();
        let share = hits as f64 / n as f64;
        assert!((0.01..0.04).contains(&share), "refund in {share} of messages");
    }
}
