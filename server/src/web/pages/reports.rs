//! The report pages: coverage, unvisited households, flagged visits and rejected operations,
//! each the CLI's report as a table with translated headers, a period form where the report
//! has a period, and CSV, Excel and JSON download links. A visit id in a report links to the
//! visit's page.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use fieldvisit_core::ids::VisitId;

use super::{PageQuery, context};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::report::{self, Period, ReportOptions, Table};
use crate::web::WebState;
use crate::web::html::{Markup, esc, labelled_table};
use crate::web::i18n::Lang;

/// The default period of the report pages, in days.
const DEFAULT_DAYS: u32 = 30;
/// The longest period a page accepts (ten years).
const MAX_DAYS: u32 = 3660;
/// Rows of the rejected-operations page.
const REJECTED_ROWS: usize = 500;

fn parse_days(days: Option<&str>) -> Option<u32> {
    match days.map(str::trim).filter(|d| !d.is_empty()) {
        None => Some(DEFAULT_DAYS),
        Some(d) => d.parse().ok().filter(|n| (1..=MAX_DAYS).contains(n)),
    }
}

/// A report as a page: the period form (unless `days` is `None`), then the table with
/// translated headers.
async fn report_page(
    state: WebState,
    headers: HeaderMap,
    q: PageQuery,
    name: &'static str,
    path: &'static str,
    title_key: &'static str,
    with_days: bool,
) -> Result<Response, ApiError> {
    let ctx = match context(&state, &headers, q.lang.as_deref(), path).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let lang = ctx.lang;
    let Some(days) = parse_days(q.days.as_deref()) else {
        return Ok(ctx.refusal(StatusCode::BAD_REQUEST, "error.days"));
    };
    let today = state.clock.now().local_date();
    let opts = ReportOptions {
        period: Period::last_days(today, days),
        required_per_month: 4,
        limit: REJECTED_ROWS,
    };
    let storage = state.storage.clone();
    let result: Table = blocking(move || report::run(&mut *storage.read()?, name, &opts)).await?;
    let mut body = Markup::default();
    if with_days {
        body.push(Markup::raw(format!(
            "<form method=\"get\" action=\"{path}\" id=\"period\"><label>{} \
             <input name=\"days\" type=\"number\" min=\"1\" max=\"{MAX_DAYS}\" value=\"{days}\">\
             </label> <button type=\"submit\">{}</button></form>",
            esc(lang.t("days")),
            esc(lang.t("show")),
        )));
    }
    body.push(Markup::raw(format!(
        "<p>{}: {}</p>",
        esc(lang.t("rows")),
        result.rows.len()
    )));
    let keys: Vec<String> = result.columns.iter().map(|c| format!("col.{c}")).collect();
    let rows: Vec<Vec<Markup>> = result
        .rows
        .iter()
        .map(|row| {
            result
                .columns
                .iter()
                .zip(row)
                .map(|(col, v)| cell(lang, col, v))
                .collect()
        })
        .collect();
    body.push(labelled_table(lang, &keys, &rows));
    let days_query = if with_days {
        format!("&days={days}")
    } else {
        String::new()
    };
    body.push(Markup::raw(format!(
        "<p>{}: <a href=\"/v1/admin/reports/{name}?format=csv{days_query}\">CSV</a> \
         <a href=\"/v1/admin/reports/{name}?format=xlsx{days_query}\">Excel</a> \
         <a href=\"/v1/admin/reports/{name}?format=json{days_query}\">JSON</a></p>",
        esc(lang.t("download"))
    )));
    Ok(ctx.page(StatusCode::OK, title_key, body))
}

/// One report cell: levels and flags translated, shares as percentages, a visit as a link to
/// its page, everything else as text.
fn cell(lang: Lang, column: &str, value: &Value) -> Markup {
    match (column, value) {
        ("level", Value::String(level)) => Markup::text(lang.t(&format!("level.{level}"))),
        ("flag", Value::String(flag)) => Markup::text(lang.t(&format!("anomaly.{flag}"))),
        ("visit", Value::String(id)) => match VisitId::parse(id) {
            Ok(id) => visit_link(&id),
            Err(_) => Markup::text(id),
        },
        ("share", Value::Number(n)) => {
            Markup::text(format!("{:.1}%", n.as_f64().unwrap_or(0.0) * 100.0))
        }
        (_, Value::Null) => Markup::default(),
        (_, Value::String(s)) => Markup::text(s),
        (_, Value::Array(items)) => Markup::text(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (_, other) => Markup::text(other.to_string()),
    }
}

/// `GET /admin/coverage?days=N`: visited share per village (and per cadre).
pub async fn coverage(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    report_page(
        state,
        headers,
        q,
        "coverage",
        "/admin/coverage",
        "nav.coverage",
        true,
    )
    .await
}

/// `GET /admin/unvisited?days=N`: households with no visit in the last N days.
pub async fn unvisited(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    report_page(
        state,
        headers,
        q,
        "unvisited",
        "/admin/unvisited",
        "nav.unvisited",
        true,
    )
    .await
}

/// `GET /admin/flags?days=N`: anomaly flags on the visits of the last N days.
pub async fn flags(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    report_page(
        state,
        headers,
        q,
        "flags",
        "/admin/flags",
        "nav.flags",
        true,
    )
    .await
}

/// `GET /admin/rejected`: the newest refused operations with their reasons.
pub async fn rejected(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    report_page(
        state,
        headers,
        q,
        "rejected",
        "/admin/rejected",
        "nav.rejected",
        false,
    )
    .await
}

/// A link to a visit's page, showing its id.
pub(super) fn visit_link(id: &VisitId) -> Markup {
    let id = esc(&id.to_string());
    Markup::raw(format!(
        "<a class=\"visit\" href=\"/admin/visits/{id}\">{id}</a>"
    ))
}
