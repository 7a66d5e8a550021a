//! The report pages, one per [`Report`] at `/admin/{name}`, all drawn by one function from
//! the report's `Spec`: its title, a period form when it takes a period, the table with its
//! columns' headers in the page's language and each cell shown by its column's kind (a share
//! as a percentage, a code by its name, a visit id as a link to the visit's page), and CSV,
//! Excel and JSON download links to the admin API. A new report gets its page with nothing
//! written here.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use fieldvisit_core::ids::VisitId;

use super::{PageQuery, context};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::report::{self, CellKind, Column, Param, Period, Report, ReportOptions, Table};
use crate::web::WebState;
use crate::web::html::{Markup, esc, labelled_table};
use crate::web::i18n::{Label, Lang};

/// The default period of the report pages, in days.
const DEFAULT_DAYS: u32 = 30;
/// The longest period a page accepts (ten years).
const MAX_DAYS: u32 = 3660;
/// Visits a cadre must make a month, on the visit-rate page (what most counties require).
const REQUIRED_PER_MONTH: u32 = 4;
/// Rows of the pages of reports that take a limit (the newest rejected operations and
/// conflicts): a page, not an archive; the download takes `limit`.
const PAGE_ROWS: usize = 500;

fn parse_days(days: Option<&str>) -> Option<u32> {
    match days.map(str::trim).filter(|d| !d.is_empty()) {
        None => Some(DEFAULT_DAYS),
        Some(d) => d.parse().ok().filter(|n| (1..=MAX_DAYS).contains(n)),
    }
}

/// `GET /admin/{name}?days=N`: `report` as a page.
pub async fn report_page(
    state: WebState,
    headers: HeaderMap,
    q: PageQuery,
    report: Report,
) -> Result<Response, ApiError> {
    let path = crate::web::page_path(report);
    let ctx = match context(&state, &headers, q.lang.as_deref(), path.clone()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let lang = ctx.lang;
    let spec = report.spec();
    let with_days = spec.takes(Param::Period);
    let Some(days) = parse_days(q.days.as_deref()) else {
        return Ok(ctx.refusal(StatusCode::BAD_REQUEST, Label::ErrorDays));
    };
    let today = state.clock.now().local_date();
    let opts = ReportOptions {
        period: Period::last_days(today, days),
        required_per_month: REQUIRED_PER_MONTH,
        limit: PAGE_ROWS,
    };
    let storage = state.storage.clone();
    let result: Table = blocking(move || report::run(&mut *storage.read()?, report, &opts)).await?;
    let mut body = Markup::default();
    if with_days {
        body.push(Markup::raw(format!(
            "<form method=\"get\" action=\"{path}\" id=\"period\"><label>{} \
             <input name=\"days\" type=\"number\" min=\"1\" max=\"{MAX_DAYS}\" value=\"{days}\">\
             </label> <button type=\"submit\">{}</button></form>",
            esc(lang.t(Label::Days)),
            esc(lang.t(Label::Show)),
        )));
    }
    body.push(Markup::raw(format!(
        "<p>{}: {}</p>",
        esc(lang.t(Label::Rows)),
        result.rows.len()
    )));
    let headers: Vec<_> = result.columns.iter().map(|c| c.label).collect();
    let rows: Vec<Vec<Markup>> = result
        .rows
        .iter()
        .map(|row| {
            result
                .columns
                .iter()
                .zip(row)
                .map(|(column, v)| cell(lang, column, v))
                .collect()
        })
        .collect();
    body.push(labelled_table(lang, &headers, &rows));
    let days_query = if with_days {
        format!("&days={days}")
    } else {
        String::new()
    };
    let name = report.name();
    body.push(Markup::raw(format!(
        "<p>{}: <a href=\"/v1/admin/reports/{name}?format=csv{days_query}\">CSV</a> \
         <a href=\"/v1/admin/reports/{name}?format=xlsx{days_query}\">Excel</a> \
         <a href=\"/v1/admin/reports/{name}?format=json{days_query}\">JSON</a></p>",
        esc(lang.t(Label::Download))
    )));
    Ok(ctx.page(StatusCode::OK, spec.title, body))
}

/// One report cell, as its column's kind says; a value of another type than the kind expects
/// is shown as plain text.
fn cell(lang: Lang, column: &Column, value: &Value) -> Markup {
    match (column.kind, value) {
        (CellKind::Code(codes), Value::String(code)) => {
            match codes.iter().find(|(c, _)| c == code) {
                Some((_, text)) => Markup::text(lang.t(*text)),
                None => Markup::text(code),
            }
        }
        (CellKind::Visit, Value::String(id)) => match VisitId::parse(id) {
            Ok(id) => visit_link(&id),
            Err(_) => Markup::text(id),
        },
        (CellKind::Share, Value::Number(n)) => {
            Markup::text(format!("{:.1}%", n.as_f64().unwrap_or(0.0) * 100.0))
        }
        (CellKind::YesNo, Value::Bool(b)) => {
            Markup::text(lang.t(if *b { Label::Yes } else { Label::No }))
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

/// A link to a visit's page, showing its id.
pub(super) fn visit_link(id: &VisitId) -> Markup {
    let id = esc(&id.to_string());
    Markup::raw(format!(
        "<a class=\"visit\" href=\"/admin/visits/{id}\">{id}</a>"
    ))
}
