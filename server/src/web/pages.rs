//! The dashboard's pages and forms. Every page needs a live session: without one a request is
//! sent to the login page. Forms that change something (logout, revoke a device) carry the
//! session's CSRF token; a mismatch gets 403 and a page that says why. Only a sync admin may
//! revoke, through the same `admin::revoke` as the CLI, logged with the admin's name as actor.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::ids::DeviceId;

use super::accounts::Role;
use super::auth::{self, Admin, Login};
use super::html::{self, Chrome, Markup, esc, hidden, table};
use super::i18n::Lang;
use crate::admin_log::Actor;
use crate::error::Error;
use crate::http::error::ApiError;
use crate::http::{AppState, blocking};
use crate::report::{self, Period, ReportOptions, Table};

/// Query parameters every page understands.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    days: Option<String>,
}

/// What a page handler knows about its request once the admin is known.
struct Ctx {
    lang: Lang,
    remember: bool,
    admin: Admin,
    path: &'static str,
}

impl Ctx {
    fn page(&self, status: StatusCode, title_key: &str, body: Markup) -> Response {
        let chrome = Chrome {
            admin: &self.admin.name,
            role_label: self.lang.t(role_key(self.admin.role)),
            csrf: &self.admin.csrf_token,
            path: self.path,
        };
        html::page(
            status,
            self.lang,
            self.remember,
            self.lang.t(title_key),
            Some(&chrome),
            body,
        )
    }

    /// A page that explains a refusal, with a link back.
    fn refusal(&self, status: StatusCode, message_key: &str) -> Response {
        let body = Markup::raw(format!(
            "<p class=\"error\" id=\"error\">{}</p><p><a href=\"/admin/devices\">{}</a></p>",
            esc(self.lang.t(message_key)),
            esc(self.lang.t("back"))
        ));
        self.page(status, "error.title", body)
    }
}

fn role_key(role: Role) -> &'static str {
    match role {
        Role::SyncAdmin => "role.sync-admin",
        Role::Supervisor => "role.supervisor",
    }
}

/// The admin the request's session cookie names, if the session is live.
pub(super) async fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Admin>, ApiError> {
    let (storage, config, headers, now) = (
        state.storage.clone(),
        state.web,
        headers.clone(),
        state.now(),
    );
    blocking(move || Ok(auth::current(storage.as_ref(), &config, &headers, now)?)).await
}

fn to_login() -> Response {
    Redirect::to("/admin/login").into_response()
}

async fn context(
    state: &AppState,
    headers: &HeaderMap,
    lang: Option<&str>,
    path: &'static str,
) -> Result<Result<Ctx, Response>, ApiError> {
    let (lang, remember) = Lang::of_request(lang, headers);
    Ok(match session(state, headers).await? {
        Some(admin) => Ok(Ctx {
            lang,
            remember,
            admin,
            path,
        }),
        None => Err(to_login()),
    })
}

pub async fn home() -> Redirect {
    Redirect::to("/admin/devices")
}

fn login_page(lang: Lang, remember: bool, status: StatusCode, failed: bool) -> Response {
    let mut body = Markup::default();
    if failed {
        body.push(Markup::raw(format!(
            "<p class=\"error\" id=\"error\">{}</p>",
            esc(lang.t("login.failed"))
        )));
    }
    body.push(Markup::raw(format!(
        "<form method=\"post\" action=\"/admin/login\" id=\"login\">\
         <p><label>{}<br><input name=\"username\" autocomplete=\"username\" required></label></p>\
         <p><label>{}<br><input name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required></label></p>\
         <p><button type=\"submit\">{}</button></p></form>",
        esc(lang.t("login.username")),
        esc(lang.t("login.password")),
        esc(lang.t("login.submit")),
    )));
    html::page(status, lang, remember, lang.t("login.title"), None, body)
}

/// `GET /admin/login`: the form (or the dashboard, when already logged in).
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let (lang, remember) = Lang::of_request(q.lang.as_deref(), &headers);
    if session(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/admin/devices").into_response());
    }
    Ok(login_page(lang, remember, StatusCode::OK, false))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/login`: opens a session and sends the browser to the device page, or shows
/// the form again with one generic error (401).
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let (lang, _) = Lang::of_request(None, &headers);
    let (storage, config, now) = (state.storage.clone(), state.web, state.now());
    let name = form.username.trim().to_string();
    let outcome = blocking(move || {
        Ok(auth::login(
            storage.as_ref(),
            &config,
            &name,
            &form.password,
            now,
        )?)
    })
    .await?;
    match outcome {
        Login::Opened { token } => {
            let mut response = Redirect::to("/admin/devices").into_response();
            for cookie in auth::session_cookies(&state.web, &token)? {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Login::Refused => Ok(login_page(lang, false, StatusCode::UNAUTHORIZED, true)),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/logout`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let ctx = match context(&state, &headers, None, "/admin/devices").await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    if !auth::csrf_matches(&ctx.admin, &form.csrf) {
        return Ok(ctx.refusal(StatusCode::FORBIDDEN, "error.csrf"));
    }
    let storage = state.storage.clone();
    blocking(move || Ok(auth::logout(storage.as_ref(), &headers)?)).await?;
    let mut response = to_login();
    for cookie in auth::cleared_cookies(&state.web) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn time_cell(at: Option<i64>) -> Markup {
    Markup::text(
        at.map(|t| report::local_time(WallTime(t)))
            .unwrap_or_default(),
    )
}

/// `GET /admin/devices`: every phone with its sync health; a sync admin also gets a revoke
/// form on each phone not yet revoked.
pub async fn devices(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let ctx = match context(&state, &headers, q.lang.as_deref(), "/admin/devices").await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let (storage, now) = (state.storage.clone(), state.now());
    let rows = blocking(move || {
        let list =
            crate::devices::health(storage.as_ref(), now, crate::devices::DEFAULT_STALE_DAYS)?;
        let mut tx = storage.read()?;
        let mut out = Vec::new();
        for d in list {
            let name = tx
                .cadre(&d.device.cadre)?
                .map(|c| c.name)
                .unwrap_or_default();
            out.push((d, name));
        }
        Ok(out)
    })
    .await?;
    let lang = ctx.lang;
    let can_revoke = ctx.admin.role == Role::SyncAdmin;
    let mut headers_row = vec![
        "col.device",
        "col.cadre",
        "col.cadre_name",
        "col.state",
        "col.app_version",
        "col.last_sync",
        "col.pending",
        "col.rejected",
        "col.skew",
        "col.flags",
    ];
    if can_revoke {
        headers_row.push("col.action");
    }
    let labels: Vec<&str> = headers_row.iter().map(|k| lang.t(k)).collect();
    let mut cells = Vec::new();
    for (d, cadre_name) in &rows {
        let mut flags = Vec::new();
        if d.stuck {
            flags.push(lang.t("flag.stuck"));
        }
        if d.silent {
            flags.push(lang.t("flag.silent"));
        }
        let mut row = vec![
            Markup::text(d.device.id.to_string()),
            Markup::text(d.device.cadre.to_string()),
            Markup::text(cadre_name),
            Markup::text(lang.t(&format!("state.{}", d.state.as_str()))),
            Markup::text(d.device.app_version.clone().unwrap_or_default()),
            time_cell(d.device.last_sync_at.map(|t| t.0)),
            Markup::text(d.device.pending_reported.to_string()),
            Markup::text(d.rejected.to_string()),
            Markup::text(format!("{:.1}", d.device.clock_skew_ms as f64 / 1000.0)),
            Markup::raw(format!(
                "<span class=\"warn\">{}</span>",
                esc(&flags.join(" "))
            )),
        ];
        if can_revoke {
            row.push(if d.device.revoked.is_some() {
                Markup::default()
            } else {
                revoke_form(lang, &ctx.admin.csrf_token, &d.device.id)
            });
        }
        cells.push(row);
    }
    let body = if cells.is_empty() {
        Markup::text(lang.t("none"))
    } else {
        table(&labels, &cells)
    };
    Ok(ctx.page(StatusCode::OK, "nav.devices", body))
}

fn revoke_form(lang: Lang, csrf: &str, device: &DeviceId) -> Markup {
    let id = esc(&device.to_string());
    let mut form = Markup::raw(format!(
        "<form class=\"inline revoke\" method=\"post\" action=\"/admin/devices/{id}/revoke\" \
         data-device=\"{id}\">"
    ));
    form.push(hidden("csrf", csrf));
    form.push(Markup::raw(format!(
        "<input name=\"reason\" required placeholder=\"{}\"> <button type=\"submit\">{}</button></form>",
        esc(lang.t("devices.reason")),
        esc(lang.t("devices.revoke"))
    )));
    form
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/devices/{id}/revoke`: sync admins only; the device's next sync gets 401.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, ApiError> {
    let ctx = match context(&state, &headers, None, "/admin/devices").await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    if !auth::csrf_matches(&ctx.admin, &form.csrf) {
        return Ok(ctx.refusal(StatusCode::FORBIDDEN, "error.csrf"));
    }
    if ctx.admin.role != Role::SyncAdmin {
        tracing::warn!(
            admin = ctx.admin.name,
            device = id,
            "revoke refused: not a sync admin"
        );
        return Ok(ctx.refusal(StatusCode::FORBIDDEN, "error.forbidden"));
    }
    let reason = form.reason.trim().to_string();
    if reason.is_empty() {
        return Ok(ctx.refusal(StatusCode::BAD_REQUEST, "error.reason"));
    }
    let Ok(device) = DeviceId::parse(&id) else {
        return Ok(ctx.refusal(StatusCode::NOT_FOUND, "error.not_found"));
    };
    let actor = Actor::new(&ctx.admin.name)?;
    let (storage, now) = (state.storage.clone(), state.now());
    let done = blocking(move || {
        match crate::admin::revoke(storage.as_ref(), &device, &reason, &actor, now) {
            Ok(()) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    if !done {
        return Ok(ctx.refusal(StatusCode::NOT_FOUND, "error.not_found"));
    }
    Ok(Redirect::to("/admin/devices").into_response())
}

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
    state: AppState,
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
    let result: Table =
        blocking(move || Ok(report::run(&mut *storage.read()?, name, &opts)?)).await?;
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
    let labels: Vec<&str> = result
        .columns
        .iter()
        .map(|c| lang.t(&format!("col.{c}")))
        .collect();
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
    if !rows.is_empty() {
        body.push(table(&labels, &rows));
    }
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

/// One report cell: levels translated, shares as percentages, everything else as text.
fn cell(lang: Lang, column: &str, value: &Value) -> Markup {
    match (column, value) {
        ("level", Value::String(level)) => Markup::text(lang.t(&format!("level.{level}"))),
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
    State(state): State<AppState>,
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
    State(state): State<AppState>,
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
    State(state): State<AppState>,
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
    State(state): State<AppState>,
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
