//! `/chatbots/{id}/records/`: a chatbot's question/answer records, as a page-number list and
//! as an `.xlsx` download (`records/export-excel/`).
//!
//! Both take the same filters. `startDate` and `endDate` are days (`YYYY-MM-DD`) in the
//! server's configured zone, both included: the range runs from the local midnight that
//! starts `startDate` to the local midnight that starts the day after `endDate`, so a day
//! is 23 or 25 hours long across a DST change, as it is on the wall clock.
//!
//! Errors are DRF's, all fields together: a missing or empty date is `This field is
//! required.`, one that is not `YYYY-MM-DD` (or does not exist, like `2026-02-30`) is `Date
//! has wrong format. Use one of these formats instead: YYYY-MM-DD.`, and an `endDate` before
//! `startDate` is `{"endDate": ["Ensure this value is greater than or equal to <startDate>."]}`,
//! the wording of DRF's `MinValueValidator`, which the contract leaves to us. Empty text
//! filters filter nothing, as django-filter ignores empty values.
//!
//! The export streams: [`parlor_export::stream_records`] writes the workbook on a blocking
//! thread while a task reads keyset batches of [`EXPORT_BATCH`] records from the store (on
//! one connection, see [`Store::record_batches`]), one batch ahead of the writer, so reading
//! and writing overlap and memory stays flat whatever the row count. The response waits for
//! the first byte of the file (which the writer produces after the last row), so a database
//! failure while reading is still an ordinary error response rather than a broken download.
//!
//! [`Store::record_batches`]: parlor_core::store::Store::record_batches

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id};
use super::openapi::ListErrors;
use super::pagination::PageParams;
use super::pagination::{NumberBody, RequestUrl};
use super::validate::REQUIRED;
use crate::app::AppState;
use axum::Json;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, NaiveTime, TimeDelta, TimeZone};
use chrono_tz::Tz;
use futures::{Stream, StreamExt};
use parlor_core::clock::{self, Timestamp};
use parlor_core::id::ChatbotId;
use parlor_core::input::RecordFilter;
use parlor_core::model::Record;
use parlor_export::{ExportOptions, content_disposition, stream_records};
use serde_json::{Map, json};
use std::io;
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Records read from the store per batch while exporting: large enough that per-query costs
/// vanish, small enough that a batch of long records stays a few MiB.
pub const EXPORT_BATCH: usize = 1000;

/// The export's media type.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// DRF's message for a date it cannot parse.
const DATE_FORMAT: &str = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(export_excel))
}

/// The record filters (query parameters). Documentation only; [`filters`] validates them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct RecordParams {
    /// First day (`YYYY-MM-DD`, in the server's time zone), included. Required.
    #[param(rename = "startDate")]
    start_date: String,
    /// Last day (`YYYY-MM-DD`), included; not before `startDate`. Required.
    #[param(rename = "endDate")]
    end_date: String,
    /// Only questions containing this text (case-insensitive).
    #[param(rename = "userMessage")]
    user_message: Option<String>,
    /// Only answers containing this text (case-insensitive).
    #[param(rename = "botMessage")]
    bot_message: Option<String>,
}

/// The validated filters, with the days they were given as (for the file name).
struct Filters {
    filter: RecordFilter,
    start: NaiveDate,
    end: NaiveDate,
}

/// The chatbot's question/answer records, newest first, page-numbered.
#[utoipa::path(get, path = "/chatbots/{chatbot}/records", tag = "records", operation_id = "records_list",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id."), RecordParams, PageParams),
    security(("Api-Key" = [])),
    responses((status = 200, description = "A page of records.", body = NumberBody<Record>), ListErrors))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Id(chatbot): Id<ChatbotId>,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<Record>>> {
    // Filters before the page, as DRF validates the filter set before paginating.
    let f = filters(&url, state.time_zone)?;
    let req = url.page_request()?;
    let page = state.store.list_records(auth.org, chatbot, &f.filter, req).await?;
    Ok(Json(url.number_body(req, page)?))
}

/// The same records as an Excel workbook, streamed as it is written.
#[utoipa::path(get, path = "/chatbots/{chatbot}/records/export-excel", tag = "records", operation_id = "records_export_excel",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id."), RecordParams),
    security(("Api-Key" = [])),
    responses((status = 200, description = "The workbook (`Content-Disposition: attachment`).",
        content((Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), ListErrors))]
async fn export_excel(
    State(state): State<AppState>,
    auth: Auth,
    Id(chatbot): Id<ChatbotId>,
    url: RequestUrl,
) -> ApiResult<Response> {
    let Filters { filter, start, end } = filters(&url, state.time_zone)?;
    let bot = state.store.get_chatbot(auth.org, chatbot).await?;
    let opts = ExportOptions::new(state.time_zone, bot.name.clone(), clock::now());

    // The reader runs one batch ahead of the writer: while a batch is written, the next is
    // read (the channel holds one). It stops when the batches end, at the first error (which
    // it passes on), or when the writer stops and drops the receiver.
    let mut batches = state.store.record_batches(auth.org, chatbot, filter, EXPORT_BATCH);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        while let Some(batch) = batches.next().await {
            let failed = batch.is_err();
            if tx.send(batch).await.is_err() || failed {
                break;
            }
        }
    });
    // Runs on the writer's blocking thread, where waiting on the channel is allowed.
    let next_batch = move || rx.blocking_recv().transpose();
    let mut file = stream_records(opts, next_batch);

    // Wait for the first chunk: until then an error (the database failing mid-read) can
    // still be an error status. A shutdown meanwhile drops the stream, which stops the writer.
    let first = tokio::select! {
        first = file.next() => first,
        _ = state.shutdown.cancelled() => {
            return Err(ApiError::Unavailable("shutting down before the export started".into()));
        }
    };
    let first = match first {
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => return Err(ApiError::Internal(format!("records export failed: {e}"))),
        None => return Err(ApiError::Internal("records export produced no bytes".into())),
    };
    let body = futures::stream::iter([Ok(first)]).chain(file);
    let body = Body::from_stream(until_shutdown(body, state.shutdown.clone()));
    Ok((
        [
            (header::CONTENT_TYPE, XLSX.to_string()),
            (header::CONTENT_DISPOSITION, content_disposition(&bot.name, start, end)),
        ],
        body,
    )
        .into_response())
}

/// The download's bytes until the server shuts down; then one error, so the connection is
/// cut and the client sees a failed download instead of a truncated file that looks whole.
/// (Graceful shutdown waits for open responses, so an export must not run on regardless.)
fn until_shutdown(
    body: impl Stream<Item = io::Result<Bytes>> + Send + Unpin + 'static,
    shutdown: CancellationToken,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold(Some((body, shutdown)), |state| async move {
        let (mut body, shutdown) = state?;
        tokio::select! {
            item = body.next() => item.map(|item| (item, Some((body, shutdown)))),
            _ = shutdown.cancelled() => Some((Err(io::Error::other("the server is shutting down")), None)),
        }
    })
}

/// Reads and checks `startDate`, `endDate`, `userMessage` and `botMessage`, reporting every
/// field's error together as DRF does.
fn filters(url: &RequestUrl, tz: Tz) -> Result<Filters, ApiError> {
    let mut errors = Map::new();
    let mut date = |name: &str| match url.get(name).map(str::trim) {
        None | Some("") => {
            errors.insert(name.into(), json!([REQUIRED]));
            None
        }
        Some(text) => {
            let parsed = parse_date(text);
            if parsed.is_none() {
                errors.insert(name.into(), json!([DATE_FORMAT]));
            }
            parsed
        }
    };
    let (start, end) = (date("startDate"), date("endDate"));
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        // DRF's wording for a value under its minimum (MinValueValidator).
        let message = format!("Ensure this value is greater than or equal to {start}.");
        errors.insert("endDate".into(), json!([message]));
    }
    let (Some(start), Some(end), true) = (start, end, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let day_after_end = end.succ_opt().ok_or_else(|| ApiError::field("endDate", DATE_FORMAT))?;
    let text = |name: &str| url.get(name).filter(|t| !t.is_empty()).map(str::to_string);
    Ok(Filters {
        filter: RecordFilter {
            from: day_start(tz, start),
            until: day_start(tz, day_after_end),
            user_message: text("userMessage"),
            bot_message: text("botMessage"),
        },
        start,
        end,
    })
}

/// A `YYYY-MM-DD` day, as Django's `parse_date` reads it: a four-digit year, a month and a
/// day of one or two digits, and a date that exists (`2026-02-30` does not).
fn parse_date(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, lens: std::ops::RangeInclusive<usize>| {
        lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.next().is_some() || !digits(y, 4..=4) || !digits(m, 1..=2) || !digits(d, 1..=2) {
        return None;
    }
    // Python's dates start at year 1.
    let year: i32 = y.parse().ok().filter(|y| *y >= 1)?;
    NaiveDate::from_ymd_opt(year, m.parse().ok()?, d.parse().ok()?)
}

/// The instant `day` starts in `tz`: its local midnight, or, where a DST change skips
/// midnight (clocks jumping from 23:59 to 01:00, or a whole day skipped), the first local
/// time that exists that day; the earlier of two midnights when one repeats.
pub(crate) fn day_start(tz: Tz, day: NaiveDate) -> Timestamp {
    let midnight = day.and_time(NaiveTime::MIN);
    // Gaps are at most a day (Samoa skipped 2011-12-30); step through in quarter hours,
    // the finest offset granularity in use.
    for quarter in 0..=4 * 24 {
        let local = midnight + TimeDelta::minutes(15 * quarter);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&chrono::Utc).into();
        }
    }
    // Unreachable with real zone data; the UTC reading is a sane answer all the same.
    midnight.and_utc().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn parses_dates_as_django_does() {
        assert_eq!(parse_date("2026-03-05"), Some(d("2026-03-05")));
        assert_eq!(parse_date("2026-3-5"), Some(d("2026-03-05")));
        for bad in
            ["2026-02-30", "26-03-05", "2026/03/05", "2026-03-05T00:00", "0000-01-01", "", "x", "2026-03"]
        {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_start_at_local_midnight_across_dst() {
        let paris = chrono_tz::Europe::Paris;
        // Winter: UTC+1; summer: UTC+2. 2026-03-29 is 23 hours long.
        assert_eq!(day_start(paris, d("2026-03-29")).0.to_rfc3339(), "2026-03-28T23:00:00+00:00");
        assert_eq!(day_start(paris, d("2026-03-30")).0.to_rfc3339(), "2026-03-29T22:00:00+00:00");
        // A zone whose clocks skipped midnight: Sao Paulo, 2018-11-04 started at 01:00 (-02).
        let sp = chrono_tz::America::Sao_Paulo;
        assert_eq!(day_start(sp, d("2018-11-04")).0.to_rfc3339(), "2018-11-04T03:00:00+00:00");
        // A day that did not exist: Samoa went from 2011-12-29 to 2011-12-31.
        let samoa = chrono_tz::Pacific::Apia;
        assert_eq!(day_start(samoa, d("2011-12-30")), day_start(samoa, d("2011-12-31")));
        assert_eq!(day_start(chrono_tz::UTC, d("2026-01-01")).0.to_rfc3339(), "2026-01-01T00:00:00+00:00");
    }
}
