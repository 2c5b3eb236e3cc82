//! Webhooks: each bot reply to an incoming message, POSTed to the chatbot's `webhookUrl` as
//! the Message JSON, signed, and retried until the receiver takes it (or the schedule runs
//! out).
//!
//! The reply and its delivery are stored in one transaction (the outbox, see
//! [`parlor_core::store::Store::finish_reply`]); [`worker`] sends what is due. Nothing is kept
//! only in memory, so a restart or a crash loses no delivery, and a delivery recorded as
//! delivered (a 2xx) is never sent again. Delivery is at least once: a crash between the
//! receiver's 2xx and its record sends that one again after the lease, so each request
//! carries `X-Parlor-Delivery` (the same on every try) for receivers to drop repeats.

pub mod guard;
pub mod worker;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use parlor_core::model::WebhookSecret;
use rand::{Rng, RngCore};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The header carrying a body's signature: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-parlor-signature";
/// The delivery's id, the same on every try of it: receivers drop repeats by it.
pub const DELIVERY_HEADER: &str = "x-parlor-delivery";
/// Webhook secrets start with this, so people and secret scanners recognise them.
pub const SECRET_PREFIX: &str = "whsec_";

/// How deliveries are sent and retried; each setting is configurable (`parlor serve
/// --webhook-…`), and tests shrink the schedule to milliseconds.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// How long one try may take, response body included.
    pub timeout: Duration,
    /// The wait before the first retry; each next one doubles it (with ±20 % jitter, so
    /// receivers coming back from an outage are not hit by every delivery at once).
    pub first_retry: Duration,
    /// Tries in all, the first included. The defaults (7 tries from 10 s) spread the retries
    /// over about 10½ minutes: 10 + 20 + 40 + 80 + 160 + 320 s.
    pub max_attempts: i64,
    /// The worker checks for due deliveries at least this often, also when nothing woke it
    /// (deliveries written by another instance on a shared database).
    pub poll: Duration,
    /// Tries in flight at once, so one slow receiver does not hold up the others.
    pub concurrency: usize,
    /// The most of the receiver's response body kept in a record, in bytes.
    pub max_response_bytes: usize,
    /// Whether deliveries may go to loopback, private and link-local addresses (see
    /// [`guard`]); off by default, so a tenant cannot reach the server's own network.
    pub allow_local_network: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(10),
            max_attempts: 7,
            poll: Duration::from_secs(5),
            concurrency: 32,
            max_response_bytes: 4096,
            allow_local_network: false,
        }
    }
}

impl WebhookConfig {
    /// How long after its `attempt`-th failed try (1-based) a delivery is tried again.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let doublings = attempt.clamp(1, 30) - 1;
        let base = self.first_retry.saturating_mul(1u32 << doublings);
        base.mul_f64(rand::rng().random_range(0.8..1.2))
    }

    /// How long a claimed delivery is kept from other workers: the try's timeout and a margin
    /// for recording it. A worker that dies lets it come due again after this.
    pub fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}

/// The delivery side of the app state: its settings, the HTTP client, and the bell that
/// wakes the worker when a reply completes.
#[derive(Clone)]
pub struct Webhooks {
    pub config: Arc<WebhookConfig>,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl Webhooks {
    pub fn new(config: WebhookConfig) -> Self {
        let mut builder = reqwest::Client::builder()
            // A receiver's redirect is not followed: the URL the integrator set is where
            // replies go, and a 3xx is retried like any other non-2xx.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Parlor-Webhooks/", env!("CARGO_PKG_VERSION")))
            // HTTP/2 is built in for providers that ask for it (`http2`); webhooks stay on
            // HTTP/1.1, as before.
            .http1_only();
        if !config.allow_local_network {
            builder = builder.dns_resolver(guard::PublicOnly);
        }
        let client = builder.build().unwrap_or_default();
        Webhooks { config: Arc::new(config), client, wake: Arc::new(Notify::new()) }
    }

    /// Tells the worker a delivery may be due now (a reply of a chatbot with a webhook just
    /// completed). A wake with no worker waiting is kept for its next wait, so none is lost.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks::new(WebhookConfig::default())
    }
}

/// A new random signing key: 256 bits.
pub fn new_secret() -> WebhookSecret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    WebhookSecret(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The signing key to store with a change of `webhookUrl` (`None`: leave it). A URL set to a
/// new value gets a new key (shown once, in that response), so a key never outlives the
/// receiver it was given to; a cleared URL drops its key; the same URL keeps it.
pub fn secret_for(current: Option<&str>, new_url: &Option<Option<String>>) -> Option<Option<WebhookSecret>> {
    match new_url {
        None => None,
        Some(None) => current.map(|_| None),
        Some(Some(url)) if current == Some(url.as_str()) => None,
        Some(Some(_)) => Some(Some(new_secret())),
    }
}

/// The signature header's value for `body`: `sha256=<hex HMAC-SHA256>` keyed with `secret`.
pub fn sign(secret: &WebhookSecret, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.0.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_reference_hmac() {
        // RFC 4231 test case 2: key "Jefe".
        let s = sign(&WebhookSecret("Jefe".into()), b"what do ya want for nothing?");
        assert_eq!(s, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_new_url_gets_a_new_secret_and_the_same_url_keeps_its_own() {
        let url = |u: &str| Some(Some(u.to_string()));
        assert!(matches!(secret_for(None, &url("https://a")), Some(Some(_))));
        assert!(matches!(secret_for(Some("https://a"), &url("https://b")), Some(Some(_))));
        assert!(secret_for(Some("https://a"), &url("https://a")).is_none());
        assert!(matches!(secret_for(Some("https://a"), &Some(None)), Some(None)));
        assert!(secret_for(None, &Some(None)).is_none());
        assert!(secret_for(Some("https://a"), &None).is_none());
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.0.starts_with(SECRET_PREFIX));
    }

    #[test]
    fn backoff_doubles_with_jitter_over_about_ten_minutes() {
        let c = WebhookConfig::default();
        let total: Duration = (1..c.max_attempts).map(|a| c.backoff(a)).sum();
        assert!(total > Duration::from_secs(500) && total < Duration::from_secs(760), "{total:?}");
        let first = c.backoff(1);
        assert!(first >= Duration::from_secs(8) && first <= Duration::from_secs(12), "{first:?}");
        assert!(c.max_attempts >= 5);
    }
}
