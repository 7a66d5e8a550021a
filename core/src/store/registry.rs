//! The registry slice a device holds: applying records the server sends, reading households
//! for the cadre's lists, scope checks, and resolving a scanned plate or typed code to a
//! household.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::clock::WallTime;
use crate::codes::{CodeKind, HumanCode};
use crate::domain::{Household, Measure, Member, RegistryRecord};
use crate::error::{Error, Result};
use crate::ids::HouseholdId;
use crate::plate::{PlateError, VerifiedPlate, verify_plate};
use crate::rows;
pub(super) use crate::rows::{
    household_by_code, household_by_id, in_scope, member_by_id, put_authority_key,
};

/// A household as listed on the phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdSummary {
    pub id: HouseholdId,
    pub code: HumanCode,
    pub village: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub village_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_name: Option<String>,
    pub poverty_status: String,
    pub members: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_visit_at: Option<WallTime>,
}

/// A household with its members and measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdDetail {
    pub household: Household,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub village_name: Option<String>,
    pub members: Vec<Member>,
    pub measures: Vec<Measure>,
    /// Whether the enrolled cadre is responsible for it today.
    pub in_scope: bool,
}

/// The outcome of scanning a door plate: the verified plate and its household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scanned {
    pub household: HouseholdSummary,
    pub plate_key_id: u16,
    pub plate_issue: u16,
    pub scanned_at: WallTime,
}

fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Corrupt(format!("{what}: {e}"))
}

/// The households in scope for `cadre` on `day`, with the SQL that selects their ids.
const SCOPE_IDS: &str = "SELECT household FROM assignment
        WHERE cadre = ?1 AND from_date <= ?2 AND (to_date IS NULL OR to_date >= ?2)
    UNION
    SELECT h.id FROM village_post p JOIN household h ON h.village = p.village
        WHERE p.cadre = ?1 AND p.from_date <= ?2 AND (p.to_date IS NULL OR p.to_date >= ?2)";

const SUMMARY_SELECT: &str = "SELECT h.id, h.code, h.village, a.name,
        (SELECT m.name FROM member m WHERE m.id = h.head),
        h.poverty_status,
        (SELECT COUNT(*) FROM member m WHERE m.household = h.id),
        (SELECT MAX(v.recorded_at) FROM visit v WHERE v.household = h.id)
    FROM household h LEFT JOIN area a ON a.code = h.village";

fn summary_from_row(r: &Row<'_>) -> Result<HouseholdSummary> {
    Ok(HouseholdSummary {
        id: HouseholdId::new(r.get::<_, String>(0)?).map_err(corrupt("household id"))?,
        code: HumanCode::parse(&r.get::<_, String>(1)?).map_err(corrupt("household code"))?,
        village: r.get(2)?,
        village_name: r.get(3)?,
        head_name: r.get(4)?,
        poverty_status: r.get(5)?,
        members: r.get(6)?,
        last_visit_at: r.get::<_, Option<i64>>(7)?.map(WallTime),
    })
}

fn summary(conn: &Connection, id: &HouseholdId) -> Result<HouseholdSummary> {
    let sql = format!("{SUMMARY_SELECT} WHERE h.id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.as_str()])?;
    match rows.next()? {
        Some(r) => summary_from_row(r),
        None => Err(Error::UnknownHousehold),
    }
}

/// Escapes LIKE wildcards so that a search for "100%" finds that text, not everything.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// Applies registry records sent by the server, in one transaction.
    pub fn apply_registry(&self, records: &[RegistryRecord]) -> Result<()> {
        let codes_changed = records.iter().any(|r| matches!(r, RegistryRecord::Code(_)));
        self.write(|tx| {
            for record in records {
                rows::put_record(tx, record)?;
            }
            Ok(())
        })?;
        if codes_changed {
            self.reload_codes()?;
        }
        Ok(())
    }

    /// The households the enrolled cadre is responsible for today, optionally filtered by a
    /// search text matched against the household code, any member's name and the village
    /// name or code. Ordered by village, then code.
    pub fn households(&self, search: Option<&str>, limit: usize) -> Result<Vec<HouseholdSummary>> {
        let today = self.clock.now().local_date().to_string();
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        // A typed code may carry hyphens or lower case; match it in canonical form too.
        let code_form = search
            .map(|s| s.replace(['-', ' '], "").to_uppercase())
            .map(|s| like_pattern(&s));
        let pattern = search.map(like_pattern);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|conn| {
            let cadre = Store::cadre(conn)?;
            let sql = format!(
                "{SUMMARY_SELECT}
                 WHERE h.id IN ({SCOPE_IDS})
                   AND (?3 IS NULL
                        OR h.code LIKE ?4 ESCAPE '\\'
                        OR h.village LIKE ?3 ESCAPE '\\'
                        OR a.name LIKE ?3 ESCAPE '\\'
                        OR EXISTS (SELECT 1 FROM member m
                                   WHERE m.household = h.id AND m.name LIKE ?3 ESCAPE '\\'))
                 ORDER BY h.village, h.code
                 LIMIT ?5"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![cadre.as_str(), today, pattern, code_form, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(summary_from_row(r)?);
            }
            Ok(out)
        })
    }

    /// One household with its members and measures, if the device holds it.
    pub fn household(&self, id: &HouseholdId) -> Result<Option<HouseholdDetail>> {
        let today = self.clock.now().local_date();
        self.read(|conn| {
            let Some(household) = household_by_id(conn, id)? else {
                return Ok(None);
            };
            let village_name = conn
                .query_row(
                    "SELECT name FROM area WHERE code = ?1",
                    [&household.village],
                    |r| r.get(0),
                )
                .optional()?;
            let members = rows::members_of(conn, id)?;
            let measures = rows::measures_of(conn, id)?;
            let in_scope = match Store::cadre(conn) {
                Ok(cadre) => in_scope(conn, &cadre, id, today)?,
                Err(Error::NotEnrolled) => false,
                Err(e) => return Err(e),
            };
            Ok(Some(HouseholdDetail {
                household,
                village_name,
                members,
                measures,
                in_scope,
            }))
        })
    }

    /// Verifies a scanned door plate offline and finds its household, which must be in the
    /// enrolled cadre's scope today.
    pub fn scan(&self, payload: &str) -> Result<Scanned> {
        let now = self.clock.now();
        self.read(|conn| {
            let (plate, household) = resolve_plate(conn, payload)?;
            let cadre = Store::cadre(conn)?;
            if !in_scope(conn, &cadre, &household.id, now.local_date())? {
                return Err(Error::NotAssigned);
            }
            Ok(Scanned {
                household: summary(conn, &household.id)?,
                plate_key_id: plate.key_id,
                plate_issue: plate.issue,
                scanned_at: now,
            })
        })
    }
}

/// Verifies a plate against the held authority keys and finds its household; a plate older
/// than the household's current issue is refused.
pub(super) fn resolve_plate(
    conn: &Connection,
    payload: &str,
) -> Result<(VerifiedPlate, Household)> {
    let keys = rows::authority_keys(conn)?;
    let plate = verify_plate(payload, &keys)?;
    if plate.code.kind() != CodeKind::Household {
        return Err(Error::NotAHouseholdCode);
    }
    let household = household_by_code(conn, &plate.code)?.ok_or(Error::UnknownHousehold)?;
    if plate.issue < household.plate_issue {
        return Err(PlateError::Superseded {
            scanned: plate.issue,
            current: household.plate_issue,
        }
        .into());
    }
    Ok((plate, household))
}
