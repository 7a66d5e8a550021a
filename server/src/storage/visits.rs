//! Accepted visits as supervision reads them: one row per visit record, with who recorded it,
//! when (device clock and server clock), how the household was identified and how far from it.
//!
//! Conformance: server/tests/conformance/visits.rs.

use serde::{Deserialize, Serialize};

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, VisitId};
use fieldvisit_core::sql::Row;

use super::Db;
use super::decode::{corrupt, device_id};
use crate::error::Result;

/// A visit as the server keeps it for supervision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerVisit {
    pub id: VisitId,
    pub household: HouseholdId,
    pub cadre: CadreId,
    pub device: DeviceId,
    pub server_seq: u64,
    pub recorded_at: WallTime,
    pub received_at: ServerTime,
    pub kind: String,
    pub manual: bool,
    pub distance_m: Option<f64>,
    /// The visit record as pushed (JSON).
    pub record: String,
}

/// The visits table.
pub trait Visits {
    fn insert_visit(&mut self, visit: &ServerVisit) -> Result<()>;
    fn visit_count(&mut self) -> Result<u64>;
    /// Visits recorded (device clock) in `[from, to)`, in server order.
    fn visits_between(&mut self, from: WallTime, to: WallTime) -> Result<Vec<ServerVisit>>;
    /// One stored visit, by id.
    fn visit(&mut self, id: &VisitId) -> Result<Option<ServerVisit>>;
    /// The cadre who recorded a visit and its household.
    fn visit_owner(&mut self, id: &VisitId) -> Result<Option<(CadreId, HouseholdId)>>;
}

/// The columns [`visit_from_row`] reads, in its order.
const VISIT_COLUMNS: &str = "id, household, cadre, device, server_seq, recorded_at, received_at,
    kind, manual, distance_m, record";

fn visit_from_row(r: &dyn Row) -> Result<ServerVisit> {
    Ok(ServerVisit {
        id: VisitId::parse(&r.get::<String>(0)?).map_err(corrupt("visit id"))?,
        household: HouseholdId::new(r.get::<String>(1)?).map_err(corrupt("household id"))?,
        cadre: CadreId::new(r.get::<String>(2)?).map_err(corrupt("cadre id"))?,
        device: device_id(&r.get::<String>(3)?)?,
        server_seq: r.get(4)?,
        recorded_at: WallTime(r.get(5)?),
        received_at: ServerTime(r.get(6)?),
        kind: r.get(7)?,
        manual: r.get(8)?,
        distance_m: r.get(9)?,
        record: r.get(10)?,
    })
}

impl<D: Db + ?Sized> Visits for D {
    fn insert_visit(&mut self, v: &ServerVisit) -> Result<()> {
        self.execute(
            "INSERT INTO visit (id, household, cadre, device, server_seq, recorded_at,
                 received_at, kind, manual, distance_m, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            &[
                &v.id.to_string(),
                &v.household.as_str(),
                &v.cadre.as_str(),
                &v.device.to_string(),
                &v.server_seq,
                &v.recorded_at.0,
                &v.received_at.0,
                &v.kind,
                &v.manual,
                &v.distance_m,
                &v.record,
            ],
        )?;
        Ok(())
    }

    fn visit_count(&mut self) -> Result<u64> {
        self.query_value("SELECT count(*) FROM visit", &[])
    }

    fn visits_between(&mut self, from: WallTime, to: WallTime) -> Result<Vec<ServerVisit>> {
        self.query(
            &format!(
                "SELECT {VISIT_COLUMNS} FROM visit
                 WHERE recorded_at >= ?1 AND recorded_at < ?2 ORDER BY server_seq"
            ),
            &[&from.0, &to.0],
            visit_from_row,
        )
    }

    fn visit(&mut self, id: &VisitId) -> Result<Option<ServerVisit>> {
        self.query_opt(
            &format!("SELECT {VISIT_COLUMNS} FROM visit WHERE id = ?1"),
            &[&id.to_string()],
            visit_from_row,
        )
    }

    fn visit_owner(&mut self, id: &VisitId) -> Result<Option<(CadreId, HouseholdId)>> {
        self.query_opt(
            "SELECT cadre, household FROM visit WHERE id = ?1",
            &[&id.to_string()],
            |r| {
                Ok((
                    CadreId::new(r.get::<String>(0)?).map_err(corrupt("cadre id"))?,
                    HouseholdId::new(r.get::<String>(1)?).map_err(corrupt("household id"))?,
                ))
            },
        )
    }
}
