//! Group commit of message creates: concurrent `create_message` calls (and the messages of
//! `begin_reply` and `begin_exchange`) are written by one task, as many as are waiting (up to
//! [`MAX_BATCH`] creates) in one transaction.
//!
//! Why: SQLite has one writer, and a message's own transaction costs far more than its rows.
//! Each commit writes every page it touched to the WAL (the message table, its three
//! indexes, the conversation, and a new segment of the keyword index, which FTS5 flushes at
//! every commit and later merges), while the raw one-row commit it is measured against
//! touches two or three. Sharing one commit among the messages waiting for the writer
//! shares those pages and the `BEGIN`/`COMMIT` round trips.
//!
//! Guarantees:
//! - A caller gets its message only after the commit that contains it; if that commit fails,
//!   every caller of the batch gets the error and none of their messages exists.
//! - A message that fails (an unknown conversation or sender or attachment, or a failed
//!   write) is undone alone, by a savepoint around its writes, and does not fail the others.
//!   Only a failure that leaves the transaction itself unusable fails the whole batch.
//! - A lone create does not wait for company: the writer takes what is queued when it is
//!   free, so under light load every batch is one message, as before.
//! - Bounded: at most [`QUEUE`] creates wait (callers beyond that wait to enqueue) and a
//!   batch holds at most [`MAX_BATCH`], so one transaction never grows without bound.
//! - A caller that gives up (its request was cancelled) before its turn is skipped; once its
//!   batch has started, its message may still be committed, as a request cancelled just
//!   after its commit always could.
//!
//! Ordering is unchanged: `created_at` is still taken under the write lock, in the order the
//! batch writes, and a batch becomes visible at once, so no message is ever committed behind
//! a reader's cursor.

use crate::map_err;
use crate::messages::create_in_batch;
use parlor_core::StoreError;
use parlor_core::error::StoreResult;
use parlor_core::id::OrgId;
use parlor_core::input::NewMessage;
use parlor_core::model::Message;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

/// Most messages committed together.
pub(crate) const MAX_BATCH: usize = 64;

/// Most creates waiting for the writer.
pub(crate) const QUEUE: usize = 1024;

/// One create waiting for the writer: one message, or a question with the reply begun for
/// it, stored together or not at all.
struct Job {
    org: OrgId,
    inputs: Vec<NewMessage>,
    /// The last message starts a bot reply: the conversation is marked as being answered.
    starts_reply: bool,
    reply: oneshot::Sender<StoreResult<Vec<Message>>>,
}

/// The handle callers submit creates through; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Creates {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("org", &self.org).finish_non_exhaustive()
    }
}

impl Creates {
    /// Starts the writer task on the current runtime, writing through `write` (the store's
    /// one-connection write pool, shared with its other writes). It ends when every handle
    /// is dropped.
    pub(crate) fn start(write: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(writer(write, queue));
        Creates { jobs }
    }

    /// Creates the messages (of one conversation, in this order, all or none); returns once
    /// they are committed (or failed).
    pub(crate) async fn create(
        &self,
        org: OrgId,
        inputs: Vec<NewMessage>,
        starts_reply: bool,
    ) -> StoreResult<Vec<Message>> {
        let (reply, done) = oneshot::channel();
        self.jobs
            .send(Job { org, inputs, starts_reply, reply })
            .await
            .map_err(|_| StoreError::Backend("the message writer has stopped".into()))?;
        done.await.map_err(|_| StoreError::Backend("the message writer has stopped".into()))?
    }
}

async fn writer(write: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit_batch(&write, std::mem::take(&mut batch)).await;
    }
}

/// Writes `batch` in one transaction and answers each caller after the commit.
async fn commit_batch(write: &SqlitePool, batch: Vec<Job>) {
    let mut tx = match write.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return fail(batch.into_iter().map(|j| j.reply), &e.to_string()),
    };
    let mut answers = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    while let Some(job) = jobs.next() {
        if job.reply.is_closed() {
            continue;
        }
        match create_in_batch(&mut tx, job.org, job.inputs, job.starts_reply).await {
            Ok(result) => answers.push((job.reply, result)),
            Err(broken) => {
                // The transaction cannot go on: drop it (rolling back) and tell everyone.
                drop(tx);
                let all = answers.into_iter().map(|(r, _)| r).chain([job.reply]).chain(jobs.map(|j| j.reply));
                return fail(all, &broken.to_string());
            }
        }
    }
    match tx.commit().await.map_err(map_err) {
        Ok(()) => {
            for (reply, result) in answers {
                let _ = reply.send(result);
            }
        }
        Err(e) => fail(answers.into_iter().map(|(r, _)| r), &e.to_string()),
    }
}

fn fail(replies: impl Iterator<Item = oneshot::Sender<StoreResult<Vec<Message>>>>, why: &str) {
    tracing::error!(error = why, "a batch of message creates failed");
    for reply in replies {
        let _ = reply.send(Err(StoreError::Backend(why.to_string())));
    }
}
