//! `GET /v1/admin/reports/{name}`: the reports of `fieldvisit-server report` over HTTP, as
//! CSV, JSON or xlsx, for a logged-in admin (either role): the request carries the
//! dashboard's session cookie (`fv_session`, also set for this path at login). Without a live
//! session the answer is 401; an unknown report 404; a bad parameter 400 naming it.
//!
//! Parameters mirror the CLI's: `format` (csv, json, xlsx; default csv), `from`+`to` or
//! `to`+`days` (default the 30 days ending today, China Standard Time), `required`, `limit`.
//! The endpoint's OpenAPI description is made here from the same bounds and defaults
//! ([`ReportQuery`], [`ReportAnswer`]), its `{name}` from [`Report`], and its security scheme
//! ([`openapi_head`]).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response as ResponseObject, ResponseBuilder};
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, Content, OpenApi, OpenApiBuilder, RefOr, Required};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

use crate::error::{Error, Refusal, Result};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::http::openapi::{Binary, Refused};
use crate::report::{self, Format, Period, Report, ReportOptions};
use crate::web::WebState;
use crate::web::auth::SESSION_COOKIE;

const MAX_DAYS: u32 = 3660;
const DEFAULT_DAYS: u32 = 30;
const MAX_REQUIRED: u32 = 1000;
const DEFAULT_REQUIRED: u32 = 4;
const MAX_LIMIT: usize = 1_000_000;
const DEFAULT_LIMIT: usize = 10_000;

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
        DEFAULT_DAYS,
        |d| (1..=MAX_DAYS).contains(d),
        &format!("a whole number of days from 1 to {MAX_DAYS}"),
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
        required_per_month: number(
            q,
            "required",
            DEFAULT_REQUIRED,
            |r| *r <= MAX_REQUIRED,
            &format!("from 0 to {MAX_REQUIRED}"),
        )?,
        limit: number(
            q,
            "limit",
            DEFAULT_LIMIT,
            |l| (1..=MAX_LIMIT).contains(l),
            &format!("from 1 to {MAX_LIMIT}"),
        )?,
    })
}

/// A supervision report.
///
/// A report of docs/supervision.md as CSV (UTF-8 with BOM), JSON (an array of objects) or
/// xlsx, for an admin logged in to the dashboard (POST /admin/login sets the fv_session
/// cookie).
#[utoipa::path(
    get,
    path = "/v1/admin/reports/{name}",
    operation_id = "adminReport",
    security(("adminSession" = [])),
    params(ReportQuery),
    responses(
        ReportAnswer,
        (status = 400, response = Refused),
        (status = 401, response = Refused),
        (status = 404, response = Refused),
    ),
)]
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

/// The security scheme of the admin API: the dashboard's session cookie.
pub const ADMIN_SESSION: &str = "adminSession";

/// The admin API's part of the OpenAPI document's head: its security scheme, the dashboard's
/// session cookie ([`SESSION_COOKIE`]).
pub fn openapi_head() -> OpenApi {
    let scheme = SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
        SESSION_COOKIE,
        "The dashboard session cookie set by POST /admin/login (form fields username, password).",
    )));
    OpenApiBuilder::new()
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(ADMIN_SESSION, scheme)
                .build(),
        ))
        .build()
}

/// The report names of [`Report`], in its order: the `{name}` of this endpoint.
impl PartialSchema for Report {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A supervision report"))
            .enum_values(Some(Report::names()))
            .into()
    }
}

impl ToSchema for Report {}

/// The parameters [`report`] reads (its path's and [`options`]'s), described from the same
/// bounds and defaults.
#[derive(Debug)]
pub struct ReportQuery;

impl IntoParams for ReportQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let integer = |min: u64, max: u64, default: u64| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min))
                .maximum(Some(max))
                .default(Some(default.into()))
        };
        let date = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        };
        let formats: Vec<&str> = Format::ALL.iter().map(|f| f.extension()).collect();
        let query = |name: &str, description: &str, schema: ObjectBuilder| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build()
        };
        vec![
            ParameterBuilder::new()
                .name("name")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(Report::schema()))
                .build(),
            query(
                "format",
                "How the report is written",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(formats))
                    .default(Some(Format::Csv.extension().into())),
            ),
            query(
                "days",
                "The period's length, ending on `to`, when `from` is not given",
                integer(1, MAX_DAYS.into(), DEFAULT_DAYS.into()),
            ),
            query(
                "from",
                "The period's first day (of the years 2000 to 2100)",
                date(),
            ),
            query(
                "to",
                "The period's last day (of the years 2000 to 2100); today in China Standard \
                 Time by default",
                date(),
            ),
            query(
                "required",
                "Visits required per household and month (visit-rate)",
                integer(0, MAX_REQUIRED.into(), DEFAULT_REQUIRED.into()),
            ),
            query(
                "limit",
                "At most this many rows",
                integer(1, MAX_LIMIT as u64, DEFAULT_LIMIT as u64),
            ),
        ]
    }
}

/// The report's 200 answer, one content per [`Format`].
#[derive(Debug)]
pub struct ReportAnswer;

impl IntoResponses for ReportAnswer {
    fn responses() -> BTreeMap<String, RefOr<ResponseObject>> {
        let mut response = ResponseBuilder::new().description(
            "The report, as a download (Content-Disposition names the file), never cached",
        );
        for format in Format::ALL {
            let schema: RefOr<Schema> = match format {
                Format::Csv => ObjectBuilder::new().schema_type(Type::String).into(),
                Format::Json => ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::Object))
                    .into(),
                Format::Xlsx => Binary::schema(),
            };
            // The media type without its parameters (`; charset=utf-8`).
            let media = format.content_type().split(';').next().unwrap_or_default();
            response = response.content(media, Content::new(Some(schema)));
        }
        BTreeMap::from([("200".to_string(), response.build().into())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
