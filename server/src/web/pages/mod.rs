//! The dashboard's pages and forms. Every page needs a live session: without one a request is
//! sent to the login page. Forms that change something (logout, revoke a device) carry the
//! session's CSRF token; a mismatch gets 403 and a page that says why.
//!
//! This file holds what every page shares (the session check, the page frame, login and
//! logout); each page or group of pages has its own file:
//! - [`devices`]: device sync health, and revoking a phone (sync admins only);
//! - [`reports`]: one page per report (`crate::report::Report`), drawn from its spec;
//! - [`visit`]: one visit with its record, its flags and its photos.

mod devices;
mod reports;
mod visit;

pub use devices::{devices, revoke};
pub use reports::report_page;
pub use visit::visit;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use fieldvisit_core::clock::WallTime;

use super::accounts::Role;
use super::auth::{self, Admin, Login};
use super::html::{self, Chrome, Markup, esc};
use super::i18n::{Label, Lang, Text};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::report;
use crate::web::WebState;

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
    /// The page's path, for the language switch link.
    path: String,
}

impl Ctx {
    fn page(&self, status: StatusCode, title: impl Into<Text>, body: Markup) -> Response {
        self.page_titled(status, self.lang.t(title), body)
    }

    /// A page whose title is not one label (it names the thing shown).
    fn page_titled(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        let chrome = Chrome {
            admin: &self.admin.name,
            role_label: self.lang.t(role_label(self.admin.role)),
            csrf: &self.admin.csrf_token,
            path: &self.path,
        };
        html::page(status, self.lang, self.remember, title, Some(&chrome), body)
    }

    /// A page that explains a refusal, with a link back.
    fn refusal(&self, status: StatusCode, message: Label) -> Response {
        let body = Markup::raw(format!(
            "<p class=\"error\" id=\"error\">{}</p><p><a href=\"/admin/devices\">{}</a></p>",
            esc(self.lang.t(message)),
            esc(self.lang.t(Label::Back))
        ));
        self.page(status, Label::ErrorTitle, body)
    }
}

fn role_label(role: Role) -> Label {
    match role {
        Role::SyncAdmin => Label::RoleSyncAdmin,
        Role::Supervisor => Label::RoleSupervisor,
    }
}

/// The admin the request's session cookie names, if the session is live.
pub(super) async fn session(
    state: &WebState,
    headers: &HeaderMap,
) -> Result<Option<Admin>, ApiError> {
    let (storage, config, headers, now) = (
        state.storage.clone(),
        state.web,
        headers.clone(),
        state.now(),
    );
    blocking(move || auth::current(storage.as_ref(), &config, &headers, now)).await
}

pub(super) fn to_login() -> Response {
    Redirect::to("/admin/login").into_response()
}

async fn context(
    state: &WebState,
    headers: &HeaderMap,
    lang: Option<&str>,
    path: impl Into<String>,
) -> Result<Result<Ctx, Response>, ApiError> {
    let (lang, remember) = Lang::of_request(lang, headers);
    Ok(match session(state, headers).await? {
        Some(admin) => Ok(Ctx {
            lang,
            remember,
            admin,
            path: path.into(),
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
            esc(lang.t(Label::LoginFailed))
        )));
    }
    body.push(Markup::raw(format!(
        "<form method=\"post\" action=\"/admin/login\" id=\"login\">\
         <p><label>{}<br><input name=\"username\" autocomplete=\"username\" required></label></p>\
         <p><label>{}<br><input name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required></label></p>\
         <p><button type=\"submit\">{}</button></p></form>",
        esc(lang.t(Label::LoginUsername)),
        esc(lang.t(Label::LoginPassword)),
        esc(lang.t(Label::LoginSubmit)),
    )));
    html::page(
        status,
        lang,
        remember,
        lang.t(Label::LoginTitle),
        None,
        body,
    )
}

/// `GET /admin/login`: the form (or the dashboard, when already logged in).
pub async fn login_form(
    State(state): State<WebState>,
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
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let (lang, _) = Lang::of_request(None, &headers);
    let (storage, config, now) = (state.storage.clone(), state.web, state.now());
    let name = form.username.trim().to_string();
    let outcome =
        blocking(move || auth::login(storage.as_ref(), &config, &name, &form.password, now))
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
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let ctx = match context(&state, &headers, None, "/admin/devices").await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    if !auth::csrf_matches(&ctx.admin, &form.csrf) {
        return Ok(ctx.refusal(StatusCode::FORBIDDEN, Label::ErrorCsrf));
    }
    let storage = state.storage.clone();
    blocking(move || auth::logout(storage.as_ref(), &headers)).await?;
    let mut response = to_login();
    for cookie in auth::cleared_cookies(&state.web) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// A time of the server's or a device's clock, in China Standard Time.
fn time_cell(at: Option<i64>) -> Markup {
    Markup::text(
        at.map(|t| report::local_time(WallTime(t)))
            .unwrap_or_default(),
    )
}
