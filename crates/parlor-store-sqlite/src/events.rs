//! The in-process event bus: one SQLite database has one Parlor process, so fan-out is a
//! `tokio::sync::broadcast` channel. A subscriber that falls more than [`CAPACITY`] events
//! behind gets `Lagged` and resynchronizes from the store.

use futures::StreamExt;
use futures::stream::BoxStream;
use parlor_core::events::{Envelope, EventBus, Lagged};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Events a subscriber may fall behind before it must resynchronize.
pub(crate) const CAPACITY: usize = 4096;

/// Broadcast to every subscriber of this process.
#[derive(Debug)]
pub(crate) struct LocalBus {
    tx: broadcast::Sender<Envelope>,
}

impl Default for LocalBus {
    fn default() -> Self {
        LocalBus { tx: broadcast::channel(CAPACITY).0 }
    }
}

#[async_trait::async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, event: Envelope) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.tx.send(event);
    }

    fn subscribe(&self) -> BoxStream<'static, Result<Envelope, Lagged>> {
        BroadcastStream::new(self.tx.subscribe()).map(|r| r.map_err(|_| Lagged)).boxed()
    }
}
