//! The large dataset: one organization holding `--messages` messages, 100 to a conversation,
//! for the read, deep-page and keyword benchmarks, in a SQLite data dir ([`sqlite`]) or a
//! PostgreSQL database ([`postgres`]).
//!
//! Organization, key, chatbot, web chat and conversations are made through the store, as the
//! API would make them. The messages are written straight into the database in large
//! transactions, with the same columns, JSON encodings and keyword-index data that the store
//! writes, and each conversation's derived state (count, last message, title) is set at the
//! end. Through the store, one transaction a message, a million messages would take many
//! minutes; loading time is not what is measured. The schema is the store's (its migrations
//! run first), so a migration that changes it makes a loader fail loudly rather than measure
//! the wrong thing.
//!
//! Both databases get the same texts ([`text`]) in the same conversations and order; only the
//! ids (UUID v7, made at load) and times differ. A dataset is kept and reused by a later run
//! with the same `--messages`.

pub(crate) mod postgres;
pub(crate) mod sqlite;
mod text;

use anyhow::{Context, ensure};
use futures::{StreamExt, TryStreamExt};
use parlor_core::clock;
use parlor_core::id::{ConversationId, OrgId, WebChatId};
use parlor_core::input::{NewChatbot, NewConversation, NewWebChat};
use parlor_core::model::{AccessType, Chatbot, Sender};
use parlor_core::page::{Cursor, Position};
use parlor_core::store::Store;
use parlor_server::keys;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use text::{Rng, Words};
use uuid::Uuid;

/// Messages per conversation.
const PER_CONVERSATION: usize = 100;
/// Microseconds between consecutive messages' `created_at`.
const STEP_US: i64 = 10;
/// Bump when the generator or the schema it writes changes, so kept datasets are rebuilt
/// (2: the keyword index keyed by conversation, migration 0004; 3: search text without
/// accents, migration 0010, which a kept dataset would otherwise re-normalize as a server
/// starts on it).
const VERSION: u32 = 3;
/// The metadata of every bot message.
const BOT_METADATA: &str = r#"{"model":null,"finishReason":"stop","usage":null,"latencyMs":850}"#;

/// What a loaded dataset holds, kept beside it (SQLite: `dataset.json`; PostgreSQL: a table
/// of the bench's).
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

impl Meta {
    /// Whether a kept dataset is the one asked for.
    fn fits(&self, messages: usize) -> bool {
        self.version == VERSION && self.messages == messages
    }

    /// The keyset cursor of the page behind the deep message (`?cursor=`).
    pub(crate) fn deep_cursor(&self) -> anyhow::Result<String> {
        let created_at = clock::Timestamp::from_micros(self.deep_created_at).context("deep cursor time")?;
        let position = Position { created_at, id: self.deep_id };
        Ok(Cursor { position, reverse: false }.encode())
    }

    /// How many of the organization's messages are newer than the deep message.
    pub(crate) fn deep_newer(&self) -> usize {
        self.messages - self.messages / 10 - 1
    }
}

/// A loaded SQLite dataset: the data dir (`parlor serve --data-dir` accepts it) and its meta.
pub(crate) struct Dataset {
    pub(crate) dir: PathBuf,
    pub(crate) meta: Meta,
}

impl Dataset {
    pub(crate) fn db(&self) -> PathBuf {
        self.dir.join("parlor.db")
    }
}

/// A conversation's state while its messages are generated.
struct Conv {
    id: ConversationId,
    /// SQLite: the conversation's `seq`, the upper half of its messages' keyword-index keys.
    seq: i64,
    contact_json: String,
    count: i64,
    unread: i64,
    title: Option<String>,
    last: Option<(Uuid, i64)>,
}

/// One generated message row.
struct Row {
    /// SQLite: the message's `seq` (the row id).
    seq: i64,
    id: Uuid,
    /// Index into the conversations.
    conv: usize,
    incoming: bool,
    content: String,
    created_at: i64,
}

/// What the store made before the messages: the organization, its key, and the
/// conversations (in creation order).
struct Setup {
    org: OrgId,
    api_key: String,
    /// The bot as a message's `sender`, as JSON.
    bot_json: String,
    convs: Vec<Conv>,
}

/// A bench organization as the API would make it: the organization, a key of it (kept in
/// clear: bench databases are throwaway), a chatbot and a web chat for it.
pub(crate) struct BenchOrg {
    pub(crate) org: OrgId,
    pub(crate) key: String,
    pub(crate) bot: Chatbot,
    pub(crate) web_chat: WebChatId,
}

/// Makes a [`BenchOrg`] through `store`.
pub(crate) async fn bench_org(store: &dyn Store) -> anyhow::Result<BenchOrg> {
    let org = store.create_org("bench").await?;
    let key = keys::generate();
    store.create_api_key(org.id, "bench", &keys::hash(&key), &keys::display_prefix(&key)).await?;
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
    Ok(BenchOrg { org: org.id, key, bot, web_chat: web_chat.id })
}

/// Makes a [`BenchOrg`] and the conversations (each with a new visitor contact) through
/// `store`.
async fn setup(store: &dyn Store, messages: usize) -> anyhow::Result<Setup> {
    ensure!(messages >= PER_CONVERSATION, "--messages must be at least {PER_CONVERSATION}");
    let BenchOrg { org, key: api_key, bot, web_chat } = bench_org(store).await?;
    // A few at a time: on PostgreSQL each is a commit of its own, waiting for its WAL flush.
    let convs = futures::stream::iter(0..messages.div_ceil(PER_CONVERSATION))
        .map(|_| async {
            let new = NewConversation { web_chat, contact: None, title: None };
            let c = store.create_conversation(org, new).await?;
            let contact = c.contact.context("a new conversation has a contact")?;
            let sender = Sender { id: Some(contact.id.0), name: contact.name, avatar: None };
            anyhow::Ok(Conv {
                id: c.id,
                seq: 0,
                contact_json: serde_json::to_string(&sender)?,
                count: 0,
                unread: 0,
                title: None,
                last: None,
            })
        })
        .buffered(8)
        .try_collect()
        .await?;
    let bot_json = serde_json::to_string(&Sender { id: Some(bot.id.0), name: bot.name, avatar: None })?;
    Ok(Setup { org, api_key, bot_json, convs })
}

/// The messages in order: message `i` goes to conversation `i % n`, each conversation
/// alternating a question from its contact and the bot's answer, 10 µs apart, the last a
/// second before the load began.
struct Generator {
    next: usize,
    messages: usize,
    seq: i64,
    t0: i64,
    rng: Rng,
    words: Words,
    /// The message 90% of the way from the newest to the oldest.
    deep: (i64, Uuid),
}

impl Generator {
    /// `seq`: the last message `seq` already in the database (SQLite).
    fn new(messages: usize, seq: i64) -> Generator {
        Generator {
            next: 0,
            messages,
            seq,
            t0: clock::now().micros() - messages as i64 * STEP_US - 1_000_000,
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            words: Words::new(),
            deep: (0, Uuid::nil()),
        }
    }

    /// The next `n` messages (fewer at the end, none once all are out), with their
    /// conversations' state brought up to date.
    fn batch(&mut self, convs: &mut [Conv], n: usize) -> Vec<Row> {
        let end = self.messages.min(self.next + n);
        let mut rows = Vec::with_capacity(end - self.next);
        for i in self.next..end {
            let index = i % convs.len();
            let conv = &mut convs[index];
            let incoming = conv.count % 2 == 0;
            self.seq += 1;
            let row = Row {
                seq: self.seq,
                id: Uuid::now_v7(),
                conv: index,
                incoming,
                content: self.words.sentence(&mut self.rng),
                created_at: self.t0 + i as i64 * STEP_US,
            };
            conv.count += 1;
            conv.unread += i64::from(incoming);
            if incoming && conv.title.is_none() {
                conv.title = Some(parlor_core::model::title_from(&row.content));
            }
            conv.last = Some((row.id, row.created_at));
            if i == self.messages / 10 {
                self.deep = (row.created_at, row.id);
            }
            rows.push(row);
        }
        self.next = end;
        if self.next.is_multiple_of(100_000) && !rows.is_empty() {
            eprintln!("  {} messages", self.next);
        }
        rows
    }

    /// The meta of a dataset generated to its end (`load_seconds` is set by the caller).
    fn meta(&self, setup: &Setup) -> Meta {
        Meta {
            version: VERSION,
            messages: self.messages,
            conversations: setup.convs.len(),
            org: setup.org.0,
            api_key: setup.api_key.clone(),
            conversation: setup.convs[0].id.0,
            deep_created_at: self.deep.0,
            deep_id: self.deep.1,
            load_seconds: 0.0,
        }
    }
}

impl Row {
    /// The sender (as JSON) and metadata of this message.
    fn sender_and_metadata<'a>(&self, setup: &'a Setup) -> (&'a str, &'static str) {
        if self.incoming {
            (&setup.convs[self.conv].contact_json, "{}")
        } else {
            (&setup.bot_json, BOT_METADATA)
        }
    }
}
