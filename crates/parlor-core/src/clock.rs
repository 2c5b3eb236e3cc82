//! The one clock, and the API's timestamp format.
//!
//! Time is truncated to microseconds when taken, because PostgreSQL keeps microseconds: a
//! value read back must compare equal to the one written, or keyset cursors built from it
//! would skip or repeat rows. The API shows milliseconds as a 13-digit string, as the
//! original platform does (`"1728181396000"`).

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, microsecond precision, serialized as a millisecond string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(pub DateTime<Utc>);

/// Now, truncated to microseconds. Everything that stamps a row goes through here.
pub fn now() -> Timestamp {
    #[allow(clippy::disallowed_methods)]
    Timestamp(Utc::now().trunc_subsecs(6))
}

impl Timestamp {
    /// Microseconds since the Unix epoch: the unit stored in SQLite and put into cursors.
    pub fn micros(self) -> i64 {
        self.0.timestamp_micros()
    }

    /// The inverse of [`Timestamp::micros`]; `None` out of chrono's range.
    pub fn from_micros(us: i64) -> Option<Self> {
        Utc.timestamp_micros(us).single().map(Timestamp)
    }

    /// Milliseconds since the Unix epoch, as the API shows them.
    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// This instant plus `d`, for deadlines and retry schedules.
    pub fn plus(self, d: std::time::Duration) -> Self {
        Timestamp(self.0 + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(d: DateTime<Utc>) -> Self {
        Timestamp(d.trunc_subsecs(6))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.millis())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ms: i64 = s.parse().map_err(serde::de::Error::custom)?;
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(Timestamp)
            .ok_or_else(|| serde::de::Error::custom("timestamp out of range"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9]{13}$"))
            .description(Some("Milliseconds since the Unix epoch, as a string of 13 digits."))
            .examples([serde_json::json!("1728181396000")])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_millisecond_string() {
        let t = Timestamp::from_micros(1_728_181_396_000_123).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"1728181396000\"");
    }

    #[test]
    fn now_has_no_nanoseconds() {
        let t = now();
        assert_eq!(t.0.timestamp_subsec_nanos() % 1000, 0);
        assert_eq!(Timestamp::from_micros(t.micros()), Some(t));
    }
}
