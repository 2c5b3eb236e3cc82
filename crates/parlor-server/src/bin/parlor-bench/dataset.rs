//! The large dataset: one organization holding `--messages` messages, 100 to a conversation,
//! for the read, deep-page and keyword benchmarks.
//!
//! Organization, key, chatbot, web chat and conversations are made through the store, as the
//! API would make them. The messages are written straight into the SQLite file, a thousand
//! rows to a transaction, with the same columns, JSON encodings and keyword-index rows that
//! the store writes, and each conversation's derived state (count, last message, title) is
//! set at the end. Through the store, one transaction a message, a million messages would
//! take many minutes; loading time is not what is measured. The schema is the store's, so a
//! migration that changes it makes this loader fail loudly rather than measure the wrong thing.
//!
//! Texts are sentences of 4 to 20 words drawn from a fixed vocabulary with Zipf frequencies
//! (a word's chance falls with its rank, as in real text) by a seeded generator, so every run
//! builds the same data. The dataset is kept in the bench's data dir and reused by a later run
//! with the same `--messages`.

use anyhow::{Context, ensure};
use parlor_core::clock;
use parlor_core::id::{ConversationId, OrgId};
use parlor_core::input::{NewChatbot, NewConversation, NewWebChat};
use parlor_core::model::{AccessType, Sender};
use parlor_core::store::Store;
use parlor_server::keys;
use parlor_store_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::{QueryBuilder, Sqlite};
use std::path::{Path, PathBuf};
use std::time::Instant;
use uuid::Uuid;

/// Messages per conversation.
const PER_CONVERSATION: usize = 100;
/// Rows per load transaction: 17 bound columns a row stays under SQLite's 32,766 variables.
const BATCH: usize = 1000;
/// Microseconds between consecutive messages' `created_at`.
const STEP_US: i64 = 10;
/// Bump when the generator or the schema it writes changes, so kept datasets are rebuilt
/// (2: the keyword index keyed by conversation, migration 0004).
const VERSION: u32 = 2;

/// What a loaded dataset holds, kept beside it as `dataset.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Meta {
    version: u32,
    pub(crate) messages: usize,
    pub(crate) conversations: usize,
    pub(crate) org: Uuid,
    /// A key of the organization (a throwaway bench database, so kept in clear).
    pub(crate) api_key: String,
    /// A conversation with more than a page of messages.
    pub(crate) conversation: Uuid,
    /// `created_at` (µs) and id of the message with 90% of the organization's messages newer
    /// than it: a cursor there asks for a page deep in the history.
    pub(crate) deep_created_at: i64,
    pub(crate) deep_id: Uuid,
    /// How long loading took, for the report.
    pub(crate) load_seconds: f64,
}

/// A loaded dataset: the data dir (`parlor serve --data-dir` accepts it) and its meta.
pub(crate) struct Dataset {
    pub(crate) dir: PathBuf,
    pub(crate) meta: Meta,
}

impl Dataset {
    pub(crate) fn db(&self) -> PathBuf {
        self.dir.join("parlor.db")
    }
}

/// Opens the dataset in `dir` when it has `messages` messages, else builds it there.
pub(crate) async fn open_or_load(dir: &Path, messages: usize) -> anyhow::Result<Dataset> {
    let meta_path = dir.join("dataset.json");
    if let Ok(text) = std::fs::read_to_string(&meta_path)
        && let Ok(meta) = serde_json::from_str::<Meta>(&text)
        && meta.version == VERSION
        && meta.messages == messages
    {
        eprintln!("reusing the dataset of {messages} messages in {}", dir.display());
        return Ok(Dataset { dir: dir.to_path_buf(), meta });
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    eprintln!("loading {messages} messages into {} (once; later runs reuse it)", dir.display());
    let started = Instant::now();
    let mut meta = load(&dir.join("parlor.db"), messages).await?;
    meta.load_seconds = started.elapsed().as_secs_f64();
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)?)?;
    eprintln!("loaded in {:.0} s", meta.load_seconds);
    Ok(Dataset { dir: dir.to_path_buf(), meta })
}

/// A conversation's state while its messages are generated.
struct Conv {
    id: ConversationId,
    /// The conversation's `seq`, the upper half of its messages' keyword-index keys.
    seq: i64,
    contact_json: String,
    count: i64,
    unread: i64,
    title: Option<String>,
    last: Option<(Uuid, i64)>,
}

/// One generated message row.
struct Row {
    seq: i64,
    id: Uuid,
    /// Index into the conversations.
    conv: usize,
    incoming: bool,
    content: String,
    created_at: i64,
}

async fn load(db: &Path, messages: usize) -> anyhow::Result<Meta> {
    ensure!(messages >= PER_CONVERSATION, "--messages must be at least {PER_CONVERSATION}");
    let store = SqliteStore::open(db).await?;
    let org = store.create_org("bench").await?;
    let api_key = keys::generate();
    store.create_api_key(org.id, "bench", &keys::hash(&api_key), &keys::display_prefix(&api_key)).await?;
    let bot = store.create_chatbot(org.id, NewChatbot::named("Bench bot")).await?;
    let web_chat = store
        .create_web_chat(
            org.id,
            NewWebChat {
                name: "Bench web chat".into(),
                chatbot: bot.id,
                access_type: AccessType::Web,
                welcome_message: String::new(),
                allowed_origins: vec![],
                is_active: true,
                enable_file_upload: false,
            },
        )
        .await?;
    let n_conv = messages.div_ceil(PER_CONVERSATION);
    let mut convs = Vec::with_capacity(n_conv);
    for _ in 0..n_conv {
        let c = store
            .create_conversation(
                org.id,
                NewConversation { web_chat: web_chat.id, contact: None, title: None },
            )
            .await?;
        let contact = c.contact.context("a new conversation has a contact")?;
        let sender = Sender { id: Some(contact.id.0), name: contact.name, avatar: None };
        convs.push(Conv {
            id: c.id,
            seq: 0,
            contact_json: serde_json::to_string(&sender)?,
            count: 0,
            unread: 0,
            title: None,
            last: None,
        });
    }
    store.close().await;

    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(parlor_store_sqlite::connect_options(db))
        .await?;
    for c in &mut convs {
        c.seq = sqlx::query_scalar("SELECT seq FROM conversations WHERE id = ?")
            .bind(c.id.0)
            .fetch_one(&pool)
            .await?;
    }
    let bot_json = serde_json::to_string(&Sender { id: Some(bot.id.0), name: bot.name, avatar: None })?;
    let bot_metadata = r#"{"model":null,"finishReason":"stop","usage":null,"latencyMs":850}"#;
    let mut seq: i64 =
        sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM messages").fetch_one(&pool).await?;
    let t0 = clock::now().micros() - messages as i64 * STEP_US - 1_000_000;
    let deep_index = messages / 10;
    let mut deep = (0, Uuid::nil());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let words = Words::new();
    let mut rows = Vec::with_capacity(BATCH);
    for i in 0..messages {
        let conv = &mut convs[i % n_conv];
        // Each conversation alternates: a question from the contact, the bot's answer.
        let incoming = conv.count % 2 == 0;
        let row = Row {
            seq: {
                seq += 1;
                seq
            },
            id: Uuid::now_v7(),
            conv: i % n_conv,
            incoming,
            content: words.sentence(&mut rng),
            created_at: t0 + i as i64 * STEP_US,
        };
        conv.count += 1;
        conv.unread += i64::from(incoming);
        if incoming && conv.title.is_none() {
            conv.title = Some(parlor_core::model::title_from(&row.content));
        }
        conv.last = Some((row.id, row.created_at));
        if i == deep_index {
            deep = (row.created_at, row.id);
        }
        rows.push(row);
        if rows.len() == BATCH || i + 1 == messages {
            insert_batch(&pool, org.id, &convs, &rows, &bot_json, bot_metadata).await?;
            rows.clear();
            if (i + 1).is_multiple_of(100_000) {
                eprintln!("  {} messages", i + 1);
            }
        }
    }
    finish_conversations(&pool, &convs).await?;
    // Leave a small WAL behind, as a server that has been running a while would.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await?;
    pool.close().await;
    Ok(Meta {
        version: VERSION,
        messages,
        conversations: n_conv,
        org: org.id.0,
        api_key,
        conversation: convs[0].id.0,
        deep_created_at: deep.0,
        deep_id: deep.1,
        load_seconds: 0.0,
    })
}

/// Writes one batch of messages and their keyword-index rows in one transaction.
async fn insert_batch(
    pool: &SqlitePool,
    org: OrgId,
    convs: &[Conv],
    rows: &[Row],
    bot_json: &str,
    bot_metadata: &str,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let mut q = QueryBuilder::<Sqlite>::new(
        "INSERT INTO messages (seq, id, org_id, conversation_id, kind, sender_type, sender, content,
            content_payload, query_metadata, attachments, canvas, feedback, citations, citation_nodes,
            metadata, created_at) ",
    );
    q.push_values(rows, |mut b, r| {
        let conv = &convs[r.conv];
        b.push_bind(r.seq)
            .push_bind(r.id)
            .push_bind(org.0)
            .push_bind(conv.id.0)
            .push_bind(if r.incoming { "incoming" } else { "outgoing" })
            .push_bind(if r.incoming { "contact" } else { "bot" })
            .push_bind(if r.incoming { conv.contact_json.clone() } else { bot_json.to_string() })
            .push_bind(r.content.clone())
            .push_bind(None::<String>)
            .push_bind(None::<String>)
            .push_bind("[]")
            .push_bind(None::<String>)
            .push_bind(None::<String>)
            .push_bind("[]")
            .push_bind("[]")
            .push_bind(if r.incoming { "{}" } else { bot_metadata }.to_string())
            .push_bind(r.created_at);
    });
    q.build().execute(&mut *tx).await.context("inserting messages (has the schema changed?)")?;
    // Keyed as the store keys them: (conversation seq << 32) | (message seq & 0xFFFFFFFF).
    let mut f = QueryBuilder::<Sqlite>::new("INSERT INTO message_index (rowid, body) ");
    f.push_values(rows, |mut b, r| {
        let key = (convs[r.conv].seq << 32) | (r.seq & 0xFFFF_FFFF);
        b.push_bind(key).push_bind(parlor_core::search::normalize(&r.content));
    });
    f.build().execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets each conversation's derived state as the store keeps it: count, unread count, last
/// message, and the title taken from its first incoming message (and indexed).
async fn finish_conversations(pool: &SqlitePool, convs: &[Conv]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for c in convs {
        let (last_id, last_at) = c.last.context("every conversation has messages")?;
        let title = c.title.clone().unwrap_or_default();
        let seq: i64 = sqlx::query_scalar(
            "UPDATE conversations SET last_message_id = ?, last_message_at = ?, message_count = ?,
                unread_count = ?, title = ?, updated_at = ? WHERE id = ? RETURNING seq",
        )
        .bind(last_id)
        .bind(last_at)
        .bind(c.count)
        .bind(c.unread)
        .bind(&title)
        .bind(last_at)
        .bind(c.id.0)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO conversation_title_fts (rowid, body) VALUES (?, ?)")
            .bind(seq)
            .bind(parlor_core::search::normalize(&title))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// xorshift64*: small, fast, and the same sequence on every machine.
struct Rng(u64);

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
struct Words {
    cumulative: Vec<f64>,
}

impl Words {
    fn new() -> Self {
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
    fn sentence(&self, rng: &mut Rng) -> String {
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
