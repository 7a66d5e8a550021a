//! Recording and amending visits on the device, and reading them back.
//!
//! A visit is validated in full before anything is written, then the visit row and its journal
//! operation are written in one transaction: either both exist or neither does.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

use super::Store;
use super::journal_log::{OpState, append, append_as};
use super::registry::{household_by_code, in_scope, resolve_plate};
use crate::clock::{Hlc, WallTime};
use crate::codes::{CodeKind, HumanCode};
use crate::domain::Household;
use crate::domain::visit::{
    EARLIEST_PLAUSIBLE_MS, FUTURE_TOLERANCE_MS, Identification, IdentifiedBy, Location,
    REASON_RULE, VisitAmendment, VisitChanges, VisitContent, VisitRecord,
};
use crate::error::{Error, Result};
use crate::ids::{CadreId, DeviceId, HouseholdId, OpId, VisitId};
use crate::journal::OpBody;
use crate::validate;

/// A visit as shown on the phone: the current content (amendments applied) and its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitView {
    pub id: VisitId,
    pub household: HouseholdId,
    pub cadre: CadreId,
    pub device: DeviceId,
    pub recorded_at: WallTime,
    pub identified: IdentifiedBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Metres from the household's registered location, when both are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    pub content: VisitContent,
    pub amendments: Vec<AmendmentView>,
    /// For visits recorded on this device: where the record stands with the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_state: Option<OpState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmendmentView {
    pub hlc: Hlc,
    pub reason: String,
    pub changes: VisitChanges,
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("stored {what}: {e}")))
}

impl Store {
    /// Commits a visit: identifies the household (a verified plate scan, or a typed code with a
    /// reason), checks it is in the cadre's scope today, validates the content and location, and
    /// writes the visit with its signed journal operation.
    pub fn record_visit(
        &self,
        identification: Identification,
        content: VisitContent,
        location: Option<Location>,
    ) -> Result<VisitRecord> {
        self.record_visit_with_photos(identification, content, location, &[])
    }

    /// Commits a visit as [`Store::record_visit`] does, naming the photos taken during it by
    /// hash (each added first with [`Store::add_photo`]). The visit's journal operation carries
    /// each photo's hash, size, source and EXIF facts; the bytes upload after the visit.
    pub fn record_visit_with_photos(
        &self,
        identification: Identification,
        content: VisitContent,
        location: Option<Location>,
        photos: &[String],
    ) -> Result<VisitRecord> {
        let now = self.clock.now();
        let day = now.local_date();
        // Not being enrolled is the first thing a cadre must fix; say it before anything else.
        self.read(Store::cadre)?;
        let content = self.with_codes(|codes| content.checked(codes, day))?;
        if let Some(location) = &location {
            location.validate(now)?;
        }
        let location = location.map(Location::rounded);
        self.write(|tx| {
            let cadre = Store::cadre(tx)?;
            let (household, identified) = identify(tx, identification, now)?;
            let photos = super::photos::refs_for_visit(tx, photos)?;
            if !in_scope(tx, &cadre, &household.id, day)? {
                return Err(Error::NotAssigned);
            }
            let distance_m = match (&location, &household.location) {
                (Some(fix), Some(home)) => Some(fix.point.distance_m(home)),
                _ => None,
            };
            // The visit shares its operation's id: one random part fewer on the wire, and
            // the two namespaces never meet.
            let op_id = OpId::generate(now);
            let record = VisitRecord {
                id: VisitId(op_id.0),
                household: household.id,
                cadre,
                identified,
                recorded_at: now,
                location,
                content,
                photos,
            };
            let op = append_as(self, tx, op_id, &OpBody::VisitRecorded(record.clone()))?;
            insert_visit(
                tx,
                &record,
                op.hlc,
                self.device.id,
                Some(op.seq),
                distance_m,
            )?;
            super::photos::link(tx, record.id, &record.photos)?;
            Ok(record)
        })
    }

    /// Amends a visit this cadre recorded. The original stays in the journal and in the visit's
    /// history; what is shown is the original with every amendment applied in clock order.
    pub fn amend_visit(&self, amendment: VisitAmendment) -> Result<()> {
        let day = self.clock.now().local_date();
        let amendment = self.with_codes(|codes| amendment.checked(codes, day))?;
        self.write(|tx| {
            let cadre = Store::cadre(tx)?;
            let owner: Option<String> = tx
                .query_row(
                    "SELECT cadre FROM visit WHERE id = ?1",
                    [amendment.visit.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            match owner {
                None => return Err(Error::UnknownVisit),
                Some(owner) if owner != cadre.as_str() => return Err(Error::NotYourVisit),
                Some(_) => {}
            }
            let op = append(self, tx, &OpBody::VisitAmended(amendment.clone()))?;
            insert_amendment(tx, op.id, &amendment, op.hlc, self.device.id)?;
            refresh_content(tx, amendment.visit)
        })
    }

    /// One visit, if the device holds it.
    pub fn visit(&self, id: VisitId) -> Result<Option<VisitView>> {
        self.read(|conn| visit_on(conn, id))
    }

    /// A household's visits, newest first.
    pub fn visits_for(&self, household: &HouseholdId) -> Result<Vec<VisitView>> {
        self.read(|conn| {
            let sql =
                format!("{VISIT_SELECT} WHERE v.household = ?1 ORDER BY v.recorded_at DESC, v.id");
            collect_visits(conn, &sql, params![household.as_str()])
        })
    }

    /// Visits with a follow-up due on or before `until`, soonest first: the cadre's to-do list.
    pub fn follow_ups_due(&self, until: chrono::NaiveDate) -> Result<Vec<VisitView>> {
        self.read(|conn| {
            let cadre = Store::cadre(conn)?;
            let sql = format!(
                "{VISIT_SELECT} WHERE v.cadre = ?1 AND v.follow_up_due IS NOT NULL
                   AND v.follow_up_due <= ?2 ORDER BY v.follow_up_due, v.id"
            );
            collect_visits(conn, &sql, params![cadre.as_str(), until.to_string()])
        })
    }
}

fn identify(
    tx: &Transaction<'_>,
    identification: Identification,
    now: WallTime,
) -> Result<(Household, IdentifiedBy)> {
    match identification {
        Identification::Scanned {
            payload,
            scanned_at,
        } => {
            validate::timestamp_not_future("scanned_at", scanned_at.0, now.0, FUTURE_TOLERANCE_MS)?;
            validate::timestamp_plausible("scanned_at", scanned_at.0, EARLIEST_PLAUSIBLE_MS)?;
            let (plate, household) = resolve_plate(tx, &payload)?;
            let by = IdentifiedBy::Scan {
                key_id: plate.key_id,
                issue: plate.issue,
                scanned_at,
            };
            Ok((household, by))
        }
        Identification::Manual { code, reason } => {
            let reason = validate::text("reason", &reason, REASON_RULE)?;
            let code = HumanCode::parse(&code)?;
            if code.kind() != CodeKind::Household {
                return Err(Error::NotAHouseholdCode);
            }
            let household = household_by_code(tx, &code)?.ok_or(Error::UnknownHousehold)?;
            Ok((household, IdentifiedBy::Manual { reason }))
        }
    }
}

/// Writes a visit row (this device's own, or history the server sent).
pub(super) fn insert_visit(
    conn: &Connection,
    record: &VisitRecord,
    hlc: Hlc,
    device: DeviceId,
    local_seq: Option<u64>,
    distance_m: Option<f64>,
) -> Result<()> {
    let content = to_json(&record.content)?;
    conn.execute(
        "INSERT INTO visit (id, household, cadre, device, local_seq, hlc, recorded_at, identified,
             location, distance_m, kind, follow_up_due, original, content)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
        params![
            record.id.to_string(),
            record.household.as_str(),
            record.cadre.as_str(),
            device.to_string(),
            local_seq.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            hlc.as_i64(),
            record.recorded_at.0,
            to_json(&record.identified)?,
            record.location.as_ref().map(to_json).transpose()?,
            distance_m,
            record.content.kind,
            record.content.follow_up_due.map(|d| d.to_string()),
            content,
        ],
    )?;
    Ok(())
}

/// Writes an amendment row (this device's own, or history the server sent); the caller
/// refreshes the visit's content.
pub(super) fn insert_amendment(
    conn: &Connection,
    op: OpId,
    amendment: &VisitAmendment,
    hlc: Hlc,
    device: DeviceId,
) -> Result<()> {
    conn.execute(
        "INSERT INTO visit_amendment (op_id, visit, hlc, device, reason, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            op.as_bytes().as_slice(),
            amendment.visit.to_string(),
            hlc.as_i64(),
            device.to_string(),
            amendment.reason,
            to_json(&amendment.changes)?,
        ],
    )?;
    Ok(())
}

/// Recomputes a visit's shown content from its original and all its amendments, ordered by
/// clock then device, so every store that holds the same amendments shows the same visit.
pub(super) fn refresh_content(conn: &Connection, visit: VisitId) -> Result<()> {
    let original: String = conn.query_row(
        "SELECT original FROM visit WHERE id = ?1",
        [visit.to_string()],
        |r| r.get(0),
    )?;
    let mut content: VisitContent = from_json(&original, "visit")?;
    for amendment in amendments(conn, visit)? {
        content = content.amended(&amendment.changes);
    }
    conn.execute(
        "UPDATE visit SET content = ?2, follow_up_due = ?3 WHERE id = ?1",
        params![
            visit.to_string(),
            to_json(&content)?,
            content.follow_up_due.map(|d| d.to_string())
        ],
    )?;
    Ok(())
}

fn amendments(conn: &Connection, visit: VisitId) -> Result<Vec<AmendmentView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT hlc, reason, changes FROM visit_amendment WHERE visit = ?1 ORDER BY hlc, device",
    )?;
    let mut rows = stmt.query([visit.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(AmendmentView {
            hlc: Hlc::from_i64(r.get(0)?),
            reason: r.get(1)?,
            changes: from_json(&r.get::<_, String>(2)?, "amendment")?,
        });
    }
    Ok(out)
}

const VISIT_SELECT: &str = "SELECT v.id, v.household, v.cadre, v.device, v.recorded_at,
        v.identified, v.location, v.distance_m, v.content, j.state
    FROM visit v LEFT JOIN journal j ON j.seq = v.local_seq";

fn collect_visits(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<VisitView>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(visit_from_row(conn, r)?);
    }
    Ok(out)
}

/// One visit as shown (amendments applied), read on the caller's connection.
pub(super) fn visit_on(conn: &Connection, id: VisitId) -> Result<Option<VisitView>> {
    let sql = format!("{VISIT_SELECT} WHERE v.id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(r) => Ok(Some(visit_from_row(conn, r)?)),
        None => Ok(None),
    }
}

fn visit_from_row(conn: &Connection, r: &Row<'_>) -> Result<VisitView> {
    fn corrupt(what: &'static str) -> impl Fn(uuid::Error) -> Error {
        move |e| Error::Corrupt(format!("{what}: {e}"))
    }
    let id = VisitId::parse(&r.get::<_, String>(0)?).map_err(corrupt("visit id"))?;
    let state: Option<String> = r.get(9)?;
    Ok(VisitView {
        id,
        household: HouseholdId::new(r.get::<_, String>(1)?)
            .map_err(|e| Error::Corrupt(format!("household id: {e}")))?,
        cadre: CadreId::new(r.get::<_, String>(2)?)
            .map_err(|e| Error::Corrupt(format!("cadre id: {e}")))?,
        device: DeviceId::parse(&r.get::<_, String>(3)?).map_err(corrupt("device id"))?,
        recorded_at: WallTime(r.get(4)?),
        identified: from_json(&r.get::<_, String>(5)?, "identification")?,
        location: r
            .get::<_, Option<String>>(6)?
            .map(|t| from_json(&t, "location"))
            .transpose()?,
        distance_m: r.get(7)?,
        content: from_json(&r.get::<_, String>(8)?, "visit content")?,
        amendments: amendments(conn, id)?,
        sync_state: state.as_deref().map(OpState::parse).transpose()?,
    })
}
