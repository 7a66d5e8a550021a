//! The web dashboard and the admin HTTP API (issue 7, item 5), served by the sync server
//! under `/admin` and `/v1/admin`: device sync health and a page per supervision report
//! (coverage, unvisited households, flagged visits, exits…), in Chinese and English, for
//! logged-in admins only (docs/supervision.md, "Dashboard"); and each flagged visit's page with
//! its record, flags and photos.
//!
//! - [`accounts`]: the accounts and their CLI (`admin-user add|list|disable`), Argon2id hashes.
//! - [`auth`]: logins, sessions, CSRF tokens, lockout after failed logins.
//! - [`pages`]: the HTML pages and the forms (login, logout, revoke a device), a page per
//!   report (`crate::report::Report`, at [`page_path`]), and a visit's page.
//! - [`photos`]: a visit photo's bytes for the visit page, behind the same session.
//! - [`api`]: `GET /v1/admin/reports/{name}`, the CLI's reports as CSV, JSON or xlsx.
//! - [`html`], [`i18n`]: escaping-by-construction markup, and the language of a request (the
//!   labels are `crate::labels`).
//!
//! Its handlers answer errors through the phones' API's one mapping (`crate::http::error`);
//! it never names the phones' routes, and `crate::app` joins the two.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod html;
pub mod i18n;
pub mod pages;
pub mod photos;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use fieldvisit_core::clock::{Clock, ServerTime};

use crate::storage::Storage;

/// What the dashboard's handlers share; `crate::app` makes it from the application's state.
#[derive(Clone)]
pub struct WebState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    /// The dashboard's settings.
    pub web: WebConfig,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("storage", &self.storage.describe())
            .field("web", &self.web)
            .finish()
    }
}

impl WebState {
    pub(crate) fn now(&self) -> ServerTime {
        ServerTime(self.clock.now().0)
    }
}
use crate::report::Report;

/// How the dashboard behaves; [`WebConfig::default`] is what `serve` uses unless told
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebConfig {
    /// Mark the session cookie `Secure` (the server is reached through a TLS proxy).
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    pub session_idle_ms: i64,
    /// Failed logins in a row that lock an account.
    pub max_failures: u32,
    /// How long a locked account stays locked.
    pub lockout_ms: i64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            session_idle_ms: 8 * 3600 * 1000,
            max_failures: 5,
            lockout_ms: 15 * 60 * 1000,
        }
    }
}

/// The dashboard page of `report`.
pub fn page_path(report: Report) -> String {
    format!("/admin/{}", report.name())
}

/// The dashboard's and the admin API's routes, the admin API's with its description (the
/// dashboard's pages are not part of the API); `crate::app` joins them with the phones' API.
pub fn routes() -> OpenApiRouter<WebState> {
    let mut router = OpenApiRouter::with_openapi(api::openapi_head())
        .route("/admin", get(pages::home))
        .route("/admin/", get(pages::home))
        .route("/admin/login", get(pages::login_form).post(pages::login))
        .route("/admin/logout", post(pages::logout))
        .route("/admin/devices", get(pages::devices))
        .route("/admin/devices/{id}/revoke", post(pages::revoke))
        .route("/admin/visits/{id}", get(pages::visit))
        .route("/admin/photos/{sha256}", get(photos::photo))
        .routes(routes!(api::report));
    for &report in Report::ALL {
        let page = move |State(state): State<WebState>,
                         headers: HeaderMap,
                         Query(q): Query<pages::PageQuery>| {
            pages::report_page(state, headers, q, report)
        };
        router = router.route(&page_path(report), get(page));
    }
    router
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_report_page_takes_the_path_of_another_page() {
        // Router::route panics on a path already taken, e.g. a report named "devices".
        let _ = super::routes();
    }
}
