//! The reads supervision reports need from the embedded backend: visits in a period, one
//! visit by id, and the list of households. Reports are computed in Rust (`crate::report`) so
//! every backend needs only these plain queries; nothing here aggregates or writes.

use rusqlite::{Connection, OptionalExtension, Row};

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::ids::{CadreId, HouseholdId, VisitId};

use super::{corrupt, device_id, seq_of};
use crate::error::Result;
use crate::storage::ServerVisit;

fn visit_from_row(r: &Row<'_>) -> Result<ServerVisit> {
    let id: String = r.get(0)?;
    let household: String = r.get(1)?;
    let cadre: String = r.get(2)?;
    let device: String = r.get(3)?;
    Ok(ServerVisit {
        id: VisitId::parse(&id).map_err(corrupt("visit id"))?,
        household: HouseholdId::new(household).map_err(corrupt("household id"))?,
        cadre: CadreId::new(cadre).map_err(corrupt("cadre id"))?,
        device: device_id(&device)?,
        server_seq: seq_of(r.get(4)?),
        recorded_at: WallTime(r.get(5)?),
        received_at: ServerTime(r.get(6)?),
        kind: r.get(7)?,
        manual: r.get(8)?,
        distance_m: r.get(9)?,
        record: r.get(10)?,
    })
}

/// The columns [`visit_from_row`] reads, in its order.
const VISIT_COLUMNS: &str = "id, household, cadre, device, server_seq, recorded_at, received_at,
    kind, manual, distance_m, record";

/// Visits recorded (device time) in `[from, to)`, in server order.
pub(super) fn visits_between(
    conn: &Connection,
    from: WallTime,
    to: WallTime,
) -> Result<Vec<ServerVisit>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VISIT_COLUMNS} FROM visit
         WHERE recorded_at >= ?1 AND recorded_at < ?2 ORDER BY server_seq"
    ))?;
    let mut rows = stmt.query([from.0, to.0])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(visit_from_row(r)?);
    }
    Ok(out)
}

/// One stored visit.
pub(super) fn visit(conn: &Connection, id: &VisitId) -> Result<Option<ServerVisit>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {VISIT_COLUMNS} FROM visit WHERE id = ?1"))?;
    stmt.query_row([id.to_string()], |r| Ok(visit_from_row(r)))
        .optional()?
        .transpose()
}

/// The id of every household in the registry, by village and door-plate code.
pub(super) fn household_ids(conn: &Connection) -> Result<Vec<HouseholdId>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM household ORDER BY village, code")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        out.push(HouseholdId::new(id).map_err(corrupt("household id"))?);
    }
    Ok(out)
}
