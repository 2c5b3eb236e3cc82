//! A small built-in list of everyday English synonym groups, the words people use for the
//! same thing in support questions ("remove" for "delete", "download" for "export").
//!
//! The list is deliberately generic. It only ever adds a word to a query when the chatbot's
//! own vocabulary holds it, so the documents decide which synonyms exist: a group whose
//! words a knowledge base never uses costs nothing. Single words only, because the index
//! matches words, and a word may sit in several groups.

use super::text::stem;

const GROUPS: &[&[&str]] = &[
    &["delete", "remove", "erase", "clear", "purge"],
    &["create", "make", "add", "generate"],
    &["export", "download", "extract"],
    &["import", "upload"],
    &["cancel", "terminate", "discontinue", "stop", "abort"],
    &["buy", "purchase", "order"],
    &["price", "cost", "fee", "charge", "pricing"],
    &["refund", "reimbursement", "reimburse", "repay"],
    &["login", "signin", "logon"],
    &["password", "passcode", "passphrase"],
    &["error", "problem", "issue", "bug", "fault", "failure", "trouble"],
    &["change", "update", "modify", "edit", "alter", "amend"],
    &["find", "search", "locate", "lookup"],
    &["invoice", "bill", "receipt"],
    &["ship", "shipping", "shipment", "deliver", "delivery", "dispatch", "postage"],
    &["account", "profile"],
    &["help", "support", "assistance", "assist"],
    &["start", "begin", "launch"],
    &["show", "display", "view"],
    &["obtain", "receive", "fetch", "retrieve"],
    &["phone", "telephone", "mobile", "cell"],
    &["email", "mail", "mailbox"],
    &["key", "token", "credential", "credentials"],
    &["conversation", "chat", "thread", "dialogue"],
    &["customer", "client", "visitor", "contact", "user"],
    &["page", "paginate", "pagination", "cursor", "paging"],
    &["spreadsheet", "excel", "xlsx", "workbook"],
    &["notification", "notify", "alert"],
    &["webhook", "callback"],
    &["database", "db"],
    &["configure", "configuration", "config", "setup", "settings", "setting"],
    &["install", "deploy", "host"],
    &["broken", "damaged", "defective", "faulty"],
    &["return", "exchange"],
    &["warranty", "guarantee"],
    &["repair", "fix", "mend"],
    &["size", "fit", "sizing", "measurements"],
    &["discount", "coupon", "promo", "voucher"],
    &["track", "trace", "tracking"],
    &["wrong", "incorrect", "mistake"],
    &["late", "delayed", "overdue", "slow"],
    &["quick", "fast", "rapid", "express", "speedy"],
    &["cheap", "inexpensive", "affordable", "budget"],
    &["store", "shop", "outlet", "branch"],
    &["hours", "opening", "schedule"],
    &["job", "career", "careers", "vacancy", "employment", "hiring", "jobs"],
    &["rent", "rental", "hire", "borrow", "lease"],
    &["clean", "wash", "launder", "care"],
    &["membership", "subscription", "plan"],
    &["subscribe", "signup", "register", "join", "enroll"],
    &["unsubscribe", "optout"],
    &["payment", "pay", "checkout", "billing"],
    &["money", "funds", "cash"],
    &["stream", "streaming", "realtime", "incremental"],
    &["widget", "embed", "snippet"],
    &["bot", "chatbot", "assistant"],
    &["model", "llm", "provider"],
    &["knowledge", "faq", "documents", "articles"],
    &["record", "log", "history", "transcript"],
    &["reply", "answer", "response", "respond"],
    &["question", "query", "ask", "inquiry"],
    &["limit", "quota", "cap", "maximum", "throttle"],
    &["authentication", "auth", "authorization", "authenticate"],
    &["revoke", "disable", "invalidate", "deactivate"],
    &["organization", "org", "tenant", "company", "workspace"],
    &["agent", "operator", "staff", "human"],
    &["lost", "missing", "misplaced"],
    &["reset", "recover", "restore"],
    &["forgot", "forgotten"],
    &["big", "large", "huge"],
    &["small", "little", "tiny"],
    &["trip", "journey", "travel"],
    &["gift", "present"],
    &["picture", "photo", "image"],
    &["file", "attachment", "document"],
];

/// The other words of every group `word` belongs to, compared by stem so that "removing"
/// finds the group of "remove". Sorted and deduplicated, so queries are deterministic.
pub(crate) fn synonyms(word: &str) -> Vec<&'static str> {
    let word_stem = stem(word);
    let mut out: Vec<&'static str> = GROUPS
        .iter()
        .filter(|group| group.iter().any(|m| *m == word || stem(m) == word_stem))
        .flat_map(|group| group.iter().copied())
        .filter(|m| *m != word && stem(m) != word_stem)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_groups_by_stem() {
        let s = synonyms("removing");
        assert!(s.contains(&"delete") && s.contains(&"erase"));
        assert!(!s.contains(&"remove"));
        assert!(synonyms("zebra").is_empty());
    }
}
