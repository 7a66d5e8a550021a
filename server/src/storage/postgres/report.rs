//! The reads supervision reports need from the PostgreSQL backend: visits in a period, one
//! visit by id, and the list of households (the same plain queries as the embedded backend's
//! `report.rs`).

use postgres::Row;

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::ids::{CadreId, HouseholdId, VisitId};

use super::{Conn, corrupt, device_id, seq_of};
use crate::error::Result;
use crate::storage::ServerVisit;

fn visit_from_row(r: &Row) -> Result<ServerVisit> {
    let id: String = r.try_get(0)?;
    let household: String = r.try_get(1)?;
    let cadre: String = r.try_get(2)?;
    let device: String = r.try_get(3)?;
    Ok(ServerVisit {
        id: VisitId::parse(&id).map_err(corrupt("visit id"))?,
        household: HouseholdId::new(household).map_err(corrupt("household id"))?,
        cadre: CadreId::new(cadre).map_err(corrupt("cadre id"))?,
        device: device_id(&device)?,
        server_seq: seq_of(r.try_get(4)?),
        recorded_at: WallTime(r.try_get(5)?),
        received_at: ServerTime(r.try_get(6)?),
        kind: r.try_get(7)?,
        manual: r.try_get(8)?,
        distance_m: r.try_get(9)?,
        record: r.try_get(10)?,
    })
}

/// The columns [`visit_from_row`] reads, in its order.
const VISIT_COLUMNS: &str = "id, household, cadre, device, server_seq, recorded_at, received_at,
    kind, manual, distance_m, record";

/// Visits recorded (device time) in `[from, to)`, in server order.
pub(super) fn visits_between(
    c: &mut Conn,
    from: WallTime,
    to: WallTime,
) -> Result<Vec<ServerVisit>> {
    c.query(
        &format!(
            "SELECT {VISIT_COLUMNS} FROM visit
             WHERE recorded_at >= $1 AND recorded_at < $2 ORDER BY server_seq"
        ),
        &[&from.0, &to.0],
    )?
    .iter()
    .map(visit_from_row)
    .collect()
}

/// One stored visit.
pub(super) fn visit(c: &mut Conn, id: &VisitId) -> Result<Option<ServerVisit>> {
    c.query_opt(
        &format!("SELECT {VISIT_COLUMNS} FROM visit WHERE id = $1"),
        &[&id.to_string()],
    )?
    .as_ref()
    .map(visit_from_row)
    .transpose()
}

/// The id of every household in the registry, by village and door-plate code.
pub(super) fn household_ids(c: &mut Conn) -> Result<Vec<HouseholdId>> {
    c.query(
        "SELECT id FROM household ORDER BY village COLLATE \"C\", code COLLATE \"C\"",
        &[],
    )?
    .iter()
    .map(|r| {
        let id: String = r.try_get(0)?;
        HouseholdId::new(id).map_err(corrupt("household id"))
    })
    .collect()
}
