//! The device page: every phone with its sync health, and for a sync admin a revoke form on
//! each phone not yet revoked. Only a sync admin may revoke, through the same `admin::revoke`
//! as the CLI, logged with the admin's name as actor.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use fieldvisit_core::ids::DeviceId;

use super::{PageQuery, context, time_cell};
use crate::admin_log::Actor;
use crate::devices::DeviceState;
use crate::error::Error;
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::web::WebState;
use crate::web::accounts::Role;
use crate::web::auth;
use crate::web::html::{Markup, esc, hidden, labelled_table};
use crate::web::i18n::{Label, Lang};

/// `GET /admin/devices`: every phone with its sync health; a sync admin also gets a revoke
/// form on each phone not yet revoked.
pub async fn devices(
    State(state): State<WebState>,
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
        Label::ColDevice,
        Label::ColCadre,
        Label::ColCadreName,
        Label::ColState,
        Label::ColAppVersion,
        Label::ColLastSync,
        Label::ColPending,
        Label::ColRejected,
        Label::ColSkew,
        Label::ColFlags,
    ];
    if can_revoke {
        headers_row.push(Label::ColAction);
    }
    let mut cells = Vec::new();
    for (d, cadre_name) in &rows {
        let mut flags = Vec::new();
        if d.stuck {
            flags.push(lang.t(Label::DeviceStuck));
        }
        if d.silent {
            flags.push(lang.t(Label::DeviceSilent));
        }
        let mut row = vec![
            Markup::text(d.device.id.to_string()),
            Markup::text(d.device.cadre.to_string()),
            Markup::text(cadre_name),
            Markup::text(lang.t(state_label(d.state))),
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
    Ok(ctx.page(
        StatusCode::OK,
        Label::NavDevices,
        labelled_table(lang, &headers_row, &cells),
    ))
}

fn state_label(state: DeviceState) -> Label {
    match state {
        DeviceState::Active => Label::StateActive,
        DeviceState::Retiring => Label::StateRetiring,
        DeviceState::Revoked => Label::StateRevoked,
    }
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
        esc(lang.t(Label::DevicesReason)),
        esc(lang.t(Label::DevicesRevoke))
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
    State(state): State<WebState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, ApiError> {
    let ctx = match context(&state, &headers, None, "/admin/devices").await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    if !auth::csrf_matches(&ctx.admin, &form.csrf) {
        return Ok(ctx.refusal(StatusCode::FORBIDDEN, Label::ErrorCsrf));
    }
    if ctx.admin.role != Role::SyncAdmin {
        tracing::warn!(
            admin = ctx.admin.name,
            device = id,
            "revoke refused: not a sync admin"
        );
        return Ok(ctx.refusal(StatusCode::FORBIDDEN, Label::ErrorForbidden));
    }
    let reason = form.reason.trim().to_string();
    if reason.is_empty() {
        return Ok(ctx.refusal(StatusCode::BAD_REQUEST, Label::ErrorReason));
    }
    let Ok(device) = DeviceId::parse(&id) else {
        return Ok(ctx.refusal(StatusCode::NOT_FOUND, Label::ErrorNoDevice));
    };
    let actor = Actor::new(&ctx.admin.name)?;
    let (storage, now) = (state.storage.clone(), state.now());
    let done = blocking(move || {
        match crate::admin::revoke(storage.as_ref(), &device, &reason, &actor, now) {
            Ok(()) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    })
    .await?;
    if !done {
        return Ok(ctx.refusal(StatusCode::NOT_FOUND, Label::ErrorNoDevice));
    }
    Ok(Redirect::to("/admin/devices").into_response())
}
