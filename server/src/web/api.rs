//! `GET /v1/admin/reports/{name}`: the reports of `fieldvisit-server report` over HTTP, as
//! CSV, JSON or xlsx, for a logged-in admin (either role): the request carries the
//! dashboard's session cookie (`fv_session`, also set for this path at login). Without a live
//! session the answer is 401; an unknown report 404; a bad parameter 400 naming it.
//!
//! Parameters mirror the CLI's: `format` (csv, json, xlsx; default csv), `from`+`to` or
//! `to`+`days` (default the 30 days ending today, China Standard Time), `required`, `limit`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;

use crate::error::{Error, Refusal, Result};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::report::{self, Format, Period, Report, ReportOptions};
use crate::web::WebState;

const MAX_DAYS: u32 = 3660;
const MAX_LIMIT: usize = 1_000_000;

fn number<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    key: &str,
    default: T,
    valid: impl Fn(&T) -> bool,
    what: &str,
) -> Result<T> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => {
            v.trim().parse().ok().filter(|n| valid(n)).ok_or_else(|| {
                Refusal::BadRequest(format!("{key} must be {what}, not {v:?}")).into()
            })
        }
    }
}

/// A date of the years 2000 to 2100 (a report outside them is a mistake, and a period of
/// centuries would only burn the server's time).
fn date(q: &HashMap<String, String>, key: &str) -> Result<Option<NaiveDate>> {
    use chrono::Datelike;
    q.get(key)
        .map(|v| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .ok()
                .filter(|d| (2000..=2100).contains(&d.year()))
                .ok_or_else(|| {
                    Refusal::BadRequest(format!(
                        "{key} must be a date of 2000 to 2100 like 2026-03-01, not {v:?}"
                    ))
                    .into()
                })
        })
        .transpose()
}

/// The report options a query asks for, as the CLI would build them.
fn options(q: &HashMap<String, String>, today: NaiveDate) -> Result<ReportOptions> {
    let days = number(
        q,
        "days",
        30u32,
        |d| (1..=MAX_DAYS).contains(d),
        "a whole number of days from 1 to 3660",
    )?;
    let to = date(q, "to")?.unwrap_or(today);
    let period = match date(q, "from")? {
        Some(from) if from > to => {
            return Err(Refusal::BadRequest(format!("from ({from}) is after to ({to})")).into());
        }
        Some(from) if (to - from).num_days() >= i64::from(MAX_DAYS) => {
            return Err(Refusal::BadRequest(format!(
                "the period from {from} to {to} is longer than {MAX_DAYS} days"
            ))
            .into());
        }
        Some(from) => Period { from, to },
        None => Period::last_days(to, days),
    };
    Ok(ReportOptions {
        period,
        required_per_month: number(q, "required", 4u32, |r| *r <= 1000, "from 0 to 1000")?,
        limit: number(
            q,
            "limit",
            10_000usize,
            |l| (1..=MAX_LIMIT).contains(l),
            "from 1 to 1000000",
        )?,
    })
}

/// `GET /v1/admin/reports/{name}`.
pub async fn report(
    State(state): State<WebState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if super::pages::session(&state, &headers).await?.is_none() {
        return Err(Refusal::NotLoggedIn.into());
    }
    let chosen: Report = name
        .parse()
        .map_err(|e: report::UnknownReport| Error::NotFound(e.to_string()))?;
    let format: Format = q
        .get("format")
        .map_or(Ok(Format::Csv), |f| f.parse())
        .map_err(Refusal::BadRequest)?;
    let opts = options(&q, state.clock.now().local_date())?;
    let storage = state.storage.clone();
    let bytes = blocking(move || {
        let table = report::run(&mut *storage.read()?, chosen, &opts)?;
        table.render(format, chosen.name())
    })
    .await?;
    let disposition = format!("attachment; filename=\"{chosen}.{}\"", format.extension());
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The OpenAPI document `doc` with the `{name}` parameter of this endpoint listing exactly the
/// reports of [`Report`], in its order, so that the served document takes the names from the
/// enum rather than from a hand-kept list. Everything else in `doc` is kept as it is.
pub fn openapi_with_report_names(doc: &str) -> serde_json::Result<String> {
    let mut doc: serde_json::Value = serde_json::from_str(doc)?;
    let parameters = doc
        .pointer_mut("/paths/~1v1~1admin~1reports~1{name}/get/parameters")
        .and_then(serde_json::Value::as_array_mut);
    for p in parameters.into_iter().flatten() {
        if p["name"] == "name" && p["in"] == "path" {
            p["schema"]["enum"] = serde_json::json!(Report::names());
        }
    }
    serde_json::to_string_pretty(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_report_names_come_from_the_enum() {
        let served = include_str!("../http/openapi.json");
        let doc: serde_json::Value =
            serde_json::from_str(&openapi_with_report_names(served).unwrap()).unwrap();
        let name = &doc["paths"]["/v1/admin/reports/{name}"]["get"]["parameters"][0];
        assert_eq!(name["name"], "name");
        assert_eq!(name["schema"]["enum"], serde_json::json!(Report::names()));
        // Nothing else changes.
        let mut before: serde_json::Value = serde_json::from_str(served).unwrap();
        let mut after = doc.clone();
        for d in [&mut before, &mut after] {
            d["paths"]["/v1/admin/reports/{name}"]["get"]["parameters"][0]["schema"]["enum"] =
                serde_json::Value::Null;
        }
        assert_eq!(before, after);
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn the_period_is_built_as_the_cli_builds_it() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let o = options(&q(&[]), today).unwrap();
        assert_eq!(o.period, Period::last_days(today, 30));
        let o = options(&q(&[("from", "2026-03-01"), ("to", "2026-03-10")]), today).unwrap();
        assert_eq!(o.period.from, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(o.period.to, NaiveDate::from_ymd_opt(2026, 3, 10).unwrap());
    }

    #[test]
    fn bad_parameters_are_named() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        for (pairs, word) in [
            (vec![("days", "0")], "days"),
            (vec![("days", "many")], "days"),
            (vec![("from", "yesterday")], "from"),
            (vec![("from", "2026-03-10"), ("to", "2026-03-01")], "after"),
            (vec![("limit", "-1")], "limit"),
            (vec![("to", "9999-01-01")], "2100"),
            (vec![("from", "2001-01-01"), ("to", "2026-01-01")], "longer"),
        ] {
            let e = options(&q(&pairs), today).unwrap_err();
            assert!(matches!(e, Error::Refused(Refusal::BadRequest(_))), "{e}");
            assert!(e.to_string().contains(word), "{e}");
        }
    }
}
