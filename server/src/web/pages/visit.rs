//! `GET /admin/visits/{id}`: one visit for a supervisor to check — household, cadre, device,
//! times, location and distance, how the household was identified, the record's checklist,
//! problems, help and diary (with accepted amendments applied), the visit's flags, and its
//! photos: each shown from `/admin/photos/{sha256}` once the server holds it whole, with its
//! hash, size, source, capture time, EXIF facts and the photo flags it trips, or marked as not
//! yet uploaded. What it shows comes from `crate::report::visit`; this file only lays it out.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use fieldvisit_core::domain::GeoPoint;
use fieldvisit_core::domain::photo::PhotoSource;
use fieldvisit_core::domain::visit::{ChecklistStatus, IdentifiedBy};
use fieldvisit_core::ids::VisitId;

use super::reports::visit_link;
use super::{PageQuery, context, time_cell};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::report::flags::Flag;
use crate::report::visit::{self, FLAG_WINDOW_DAYS, PhotoView, VisitView};
use crate::web::WebState;
use crate::web::html::{Markup, esc, facts, labelled_table};
use crate::web::i18n::{Label, Lang};

/// `GET /admin/visits/{id}`: the visit's page, or 404 when there is no such visit.
pub async fn visit(
    State(state): State<WebState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let Ok(id) = VisitId::parse(&id) else {
        return refuse_unknown(&state, &headers, q.lang.as_deref(), "/admin/flags").await;
    };
    let path = format!("/admin/visits/{id}");
    let ctx = match context(&state, &headers, q.lang.as_deref(), path).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let storage = state.storage.clone();
    let Some(view) = blocking(move || visit::load(&mut *storage.read()?, id)).await? else {
        return Ok(ctx.refusal(StatusCode::NOT_FOUND, Label::ErrorNoVisit));
    };
    let title = format!("{} {id}", ctx.lang.t(Label::VisitTitle));
    Ok(ctx.page_titled(StatusCode::OK, &title, body(ctx.lang, &view)))
}

/// The 404 page for an id that is not even well-formed (after the session check, so that
/// without a session it is the login page like everywhere else).
async fn refuse_unknown(
    state: &WebState,
    headers: &HeaderMap,
    lang: Option<&str>,
    path: &'static str,
) -> Result<Response, ApiError> {
    Ok(match context(state, headers, lang, path).await? {
        Ok(ctx) => ctx.refusal(StatusCode::NOT_FOUND, Label::ErrorNoVisit),
        Err(redirect) => redirect,
    })
}

fn heading(lang: Lang, id: &str, label: Label) -> Markup {
    Markup::raw(format!("<h2 id=\"{id}\">{}</h2>", esc(lang.t(label))))
}

fn point(p: &GeoPoint) -> String {
    format!("{:.5}, {:.5}", p.lat, p.lon)
}

fn yes_no(lang: Lang, yes: bool) -> Markup {
    Markup::text(lang.t(if yes { Label::Yes } else { Label::No }))
}

/// A flag as a supervisor reads it: its name in the page's language (the machine name in a
/// `data-flag` attribute), then its detail.
fn flag_cell(lang: Lang, flag: &Flag) -> Markup {
    let name = flag.kind.name();
    Markup::raw(format!(
        "<span class=\"warn\" data-flag=\"{name}\">{}</span>",
        esc(lang.t(flag.kind.label()))
    ))
}

fn body(lang: Lang, v: &VisitView) -> Markup {
    let mut out = Markup::default();
    out.push(heading(lang, "about", Label::VisitAbout));
    out.push(about(lang, v));

    out.push(heading(lang, "flags", Label::VisitFlags));
    out.push(Markup::raw(format!(
        "<p>{}: {FLAG_WINDOW_DAYS}</p>",
        esc(lang.t(Label::VisitFlagWindow))
    )));
    let rows: Vec<Vec<Markup>> = v
        .flags
        .iter()
        .map(|f| vec![flag_cell(lang, f), Markup::text(&f.detail)])
        .collect();
    out.push(labelled_table(
        lang,
        &[Label::ColFlag, Label::ColDetail],
        &rows,
    ));

    out.push(heading(lang, "checklist", Label::VisitChecklist));
    let rows: Vec<Vec<Markup>> = v
        .content
        .checklist
        .iter()
        .map(|(item, entry)| {
            let status = match entry.status {
                ChecklistStatus::Ok => Label::ChecklistOk,
                ChecklistStatus::Problem => Label::ChecklistProblem,
                ChecklistStatus::NotApplicable => Label::ChecklistNa,
            };
            vec![
                Markup::text(item),
                Markup::text(lang.t(status)),
                Markup::text(entry.note.as_deref().unwrap_or_default()),
            ]
        })
        .collect();
    out.push(labelled_table(
        lang,
        &[Label::ColItem, Label::ColAnswer, Label::ColNote],
        &rows,
    ));

    out.push(heading(lang, "problems", Label::VisitProblems));
    if v.content.problems.is_empty() {
        out.push(Markup::text(lang.t(Label::None)));
    } else {
        out.push(Markup::raw("<ul>"));
        for p in &v.content.problems {
            out.push(Markup::raw("<li>"));
            out.push(Markup::text(p));
            out.push(Markup::raw("</li>"));
        }
        out.push(Markup::raw("</ul>"));
    }

    out.push(heading(lang, "help", Label::VisitHelp));
    let rows: Vec<Vec<Markup>> = v
        .content
        .help
        .iter()
        .map(|h| {
            vec![
                Markup::text(&h.category),
                Markup::text(&h.content),
                Markup::text(h.cost_yuan.map(|c| format!("{c:.2}")).unwrap_or_default()),
            ]
        })
        .collect();
    out.push(labelled_table(
        lang,
        &[Label::ColCategory, Label::ColContent, Label::ColCost],
        &rows,
    ));

    out.push(heading(lang, "diary", Label::VisitDiary));
    out.push(Markup::raw("<p class=\"diary\">"));
    out.push(Markup::text(&v.content.diary));
    out.push(Markup::raw("</p>"));

    out.push(heading(lang, "photos", Label::VisitPhotos));
    if v.photos.is_empty() {
        out.push(Markup::text(lang.t(Label::None)));
    } else {
        out.push(Markup::raw("<div class=\"photos\">"));
        for p in &v.photos {
            out.push(photo(lang, p));
        }
        out.push(Markup::raw("</div>"));
    }
    out
}

/// The visit's own facts: who, where, when, how.
fn about(lang: Lang, v: &VisitView) -> Markup {
    let r = &v.record;
    let household = v.household.as_ref();
    let village = household.map(|h| {
        let name = v.village_name.clone().unwrap_or_default();
        format!("{name} ({})", h.village)
    });
    let identified = match &r.identified {
        IdentifiedBy::Scan { scanned_at, .. } => {
            let mut m = Markup::text(lang.t(Label::VisitScanned));
            m.push(Markup::text(" "));
            m.push(time_cell(Some(scanned_at.0)));
            m
        }
        IdentifiedBy::Manual { reason } => {
            let mut m = Markup::raw("<span class=\"warn\">");
            m.push(Markup::text(lang.t(Label::VisitManual)));
            m.push(Markup::raw("</span>: "));
            m.push(Markup::text(reason));
            m
        }
    };
    let location = match &r.location {
        Some(l) => Markup::text(format!(
            "{} (±{:.0} m, {}, {})",
            point(&l.point),
            l.accuracy_m,
            l.provider,
            crate::report::local_time(l.fix_at)
        )),
        None => Markup::text(lang.t(Label::None)),
    };
    let distance = match v.stored.distance_m {
        Some(d) => Markup::text(format!("{d:.0} m")),
        None => Markup::default(),
    };
    facts(
        lang,
        &[
            (Label::ColHousehold, Markup::text(r.household.as_str())),
            (
                Label::ColCode,
                Markup::text(household.map(|h| h.code.as_str()).unwrap_or_default()),
            ),
            (
                Label::VisitHead,
                Markup::text(v.head_name.as_deref().unwrap_or_default()),
            ),
            (
                Label::ColVillageName,
                Markup::text(village.unwrap_or_default()),
            ),
            (Label::ColCadre, Markup::text(r.cadre.as_str())),
            (
                Label::ColCadreName,
                Markup::text(v.cadre_name.as_deref().unwrap_or_default()),
            ),
            (Label::ColDevice, Markup::text(v.stored.device.to_string())),
            (Label::VisitKind, Markup::text(&v.content.kind)),
            (Label::ColRecordedAt, time_cell(Some(r.recorded_at.0))),
            (
                Label::VisitReceived,
                time_cell(Some(v.stored.received_at.0)),
            ),
            (Label::VisitIdentified, identified),
            (Label::VisitLocation, location),
            (Label::VisitDistance, distance),
            (
                Label::VisitFollowUp,
                Markup::text(
                    v.content
                        .follow_up_due
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ),
            ),
            (
                Label::VisitAcknowledged,
                yes_no(lang, v.content.acknowledged),
            ),
            (
                Label::VisitAmendments,
                Markup::text(v.amendments.to_string()),
            ),
        ],
    )
}

/// One photo: the picture (a link to the full file) when the server holds it, else a note that
/// it is not uploaded yet; then its facts and flags.
fn photo(lang: Lang, p: &PhotoView) -> Markup {
    let sha = esc(&p.photo.sha256);
    let mut out = Markup::raw(format!(
        "<figure class=\"photo\" id=\"photo-{sha}\" data-sha256=\"{sha}\">"
    ));
    match &p.stored {
        Some(_) => out.push(Markup::raw(format!(
            "<a href=\"/admin/photos/{sha}\"><img src=\"/admin/photos/{sha}\" alt=\"{}\" \
             loading=\"lazy\"></a>",
            esc(lang.t(Label::PhotoAlt))
        ))),
        None => out.push(Markup::raw(format!(
            "<p class=\"pending\">{}</p>",
            esc(lang.t(Label::PhotoPending))
        ))),
    }
    let source = match p.photo.source {
        PhotoSource::Camera => Label::SourceCamera,
        PhotoSource::Gallery => Label::SourceGallery,
    };
    let mut flags = Markup::default();
    for (i, f) in p.flags.iter().enumerate() {
        if i > 0 {
            flags.push(Markup::raw("<br>"));
        }
        flags.push(flag_cell(lang, f));
        flags.push(Markup::text(format!(": {}", f.detail)));
    }
    let mut also = Markup::default();
    for (i, v) in p.also_named_by.iter().enumerate() {
        if i > 0 {
            also.push(Markup::raw(" "));
        }
        also.push(visit_link(v));
    }
    let exif = &p.photo.exif;
    out.push(facts(
        lang,
        &[
            (Label::PhotoHash, Markup::raw(format!("<code>{sha}</code>"))),
            (Label::PhotoSize, Markup::text(p.photo.size.to_string())),
            (Label::PhotoSource, Markup::text(lang.t(source))),
            (Label::PhotoCaptured, time_cell(Some(p.photo.captured_at.0))),
            (Label::PhotoExifTime, time_cell(exif.taken_at.map(|t| t.0))),
            (
                Label::PhotoExifLocation,
                Markup::text(exif.location.as_ref().map(point).unwrap_or_default()),
            ),
            (
                Label::PhotoStored,
                time_cell(p.stored.as_ref().map(|s| s.stored_at.0)),
            ),
            (Label::ColFlags, flags),
            (Label::PhotoAlso, also),
        ],
    ));
    out.push(Markup::raw("</figure>"));
    out
}
