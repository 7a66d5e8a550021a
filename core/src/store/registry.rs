//! The registry slice a device holds: applying records the server sends, reading households
//! for the cadre's lists, scope checks, and resolving a scanned plate or typed code to a
//! household.

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::clock::WallTime;
use crate::codes::{CodeKind, HumanCode};
use crate::domain::{
    Area, Assignment, Cadre, CodeEntry, GeoPoint, Household, Measure, Member, RegistryRecord,
    VillagePost,
};
use crate::error::{Error, Result};
use crate::ids::{CadreId, HouseholdId, MemberId};
use crate::plate::{AuthorityKey, PlateError, VerifiedPlate, verify_plate};

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

pub(super) fn put_authority_key(conn: &Connection, key: &AuthorityKey) -> Result<()> {
    conn.execute(
        "INSERT INTO authority_key (key_id, public_key) VALUES (?1, ?2)
         ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key",
        params![key.key_id, key.public_key.as_slice()],
    )?;
    Ok(())
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

fn date_text(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

fn put_record(conn: &Connection, record: &RegistryRecord) -> Result<()> {
    match record {
        RegistryRecord::Code(c) => {
            conn.execute(
                "INSERT INTO code_list (list, code, label_zh, label_en, parent)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (list, code) DO UPDATE SET label_zh = excluded.label_zh,
                     label_en = excluded.label_en, parent = excluded.parent",
                params![c.list, c.code, c.label_zh, c.label_en, c.parent],
            )?;
        }
        RegistryRecord::Area(a) => {
            conn.execute(
                "INSERT OR REPLACE INTO area (code, name, parent, is_poor_village, lat, lon)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    a.code,
                    a.name,
                    a.parent,
                    a.is_poor_village,
                    a.location.map(|p| p.lat),
                    a.location.map(|p| p.lon)
                ],
            )?;
        }
        RegistryRecord::Household(h) => {
            conn.execute(
                "INSERT INTO household (id, code, plate_issue, village, group_name, head, phone,
                     ident_standard, attribute, main_cause, other_causes, poverty_status,
                     identified_year, exit_year, housing_area_m2, housing_structure,
                     housing_safety, drinking_water, lat, lon)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19, ?20)
                 ON CONFLICT (id) DO UPDATE SET code = excluded.code,
                     plate_issue = excluded.plate_issue, village = excluded.village,
                     group_name = excluded.group_name, head = excluded.head,
                     phone = excluded.phone, ident_standard = excluded.ident_standard,
                     attribute = excluded.attribute, main_cause = excluded.main_cause,
                     other_causes = excluded.other_causes,
                     poverty_status = excluded.poverty_status,
                     identified_year = excluded.identified_year, exit_year = excluded.exit_year,
                     housing_area_m2 = excluded.housing_area_m2,
                     housing_structure = excluded.housing_structure,
                     housing_safety = excluded.housing_safety,
                     drinking_water = excluded.drinking_water, lat = excluded.lat,
                     lon = excluded.lon",
                params![
                    h.id.as_str(),
                    h.code.as_str(),
                    h.plate_issue,
                    h.village,
                    h.group_name,
                    h.head.as_ref().map(MemberId::as_str),
                    h.phone,
                    h.ident_standard,
                    h.attribute,
                    h.main_cause,
                    json(&h.other_causes)?,
                    h.poverty_status,
                    h.identified_year,
                    h.exit_year,
                    h.housing_area_m2,
                    h.housing_structure,
                    h.housing_safety,
                    h.drinking_water,
                    h.location.map(|p| p.lat),
                    h.location.map(|p| p.lon),
                ],
            )?;
        }
        RegistryRecord::Member(m) => {
            conn.execute(
                "INSERT OR REPLACE INTO member (id, household, person_code, name, resident_id, sex,
                     birth_date, ethnicity, relationship, education, school_status, health,
                     labour_skill, work_status, work_months, dibao, wubao, medical_insured,
                     serious_illness_insured)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19)",
                params![
                    m.id.as_str(),
                    m.household.as_str(),
                    m.person_code.as_ref().map(HumanCode::as_str),
                    m.name,
                    m.resident_id,
                    m.sex,
                    date_text(m.birth_date),
                    m.ethnicity,
                    m.relationship,
                    m.education,
                    m.school_status,
                    m.health,
                    m.labour_skill,
                    m.work_status,
                    m.work_months,
                    m.dibao,
                    m.wubao,
                    m.medical_insured,
                    m.serious_illness_insured,
                ],
            )?;
        }
        RegistryRecord::Cadre(c) => {
            conn.execute(
                "INSERT OR REPLACE INTO cadre (id, name, phone, work_unit, title, rank, role)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    c.id.as_str(),
                    c.name,
                    c.phone,
                    c.work_unit,
                    c.title,
                    c.rank,
                    c.role
                ],
            )?;
        }
        RegistryRecord::Assignment(a) => {
            conn.execute(
                "INSERT OR REPLACE INTO assignment (id, cadre, household, from_date, to_date)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    a.id.as_str(),
                    a.cadre.as_str(),
                    a.household.as_str(),
                    a.from.to_string(),
                    date_text(a.to)
                ],
            )?;
        }
        RegistryRecord::VillagePost(p) => {
            conn.execute(
                "INSERT OR REPLACE INTO village_post (id, cadre, village, from_date, to_date)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    p.id.as_str(),
                    p.cadre.as_str(),
                    p.village,
                    p.from.to_string(),
                    date_text(p.to)
                ],
            )?;
        }
        RegistryRecord::Measure(m) => {
            conn.execute(
                "INSERT OR REPLACE INTO measure (id, household, category, content, date,
                     cost_yuan, acknowledged)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    m.id.as_str(),
                    m.household.as_str(),
                    m.category,
                    m.content,
                    m.date.to_string(),
                    m.cost_yuan,
                    m.acknowledged
                ],
            )?;
        }
        RegistryRecord::AuthorityKey(k) => put_authority_key(conn, k)?,
    }
    Ok(())
}

fn opt_point(lat: Option<f64>, lon: Option<f64>) -> Option<GeoPoint> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Some(GeoPoint { lat, lon }),
        _ => None,
    }
}

fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Corrupt(format!("{what}: {e}"))
}

fn parse_date(text: Option<String>) -> Result<Option<NaiveDate>> {
    text.map(|t| t.parse::<NaiveDate>().map_err(corrupt("stored date")))
        .transpose()
}

const HOUSEHOLD_COLUMNS: &str = "id, code, plate_issue, village, group_name, head, phone,
    ident_standard, attribute, main_cause, other_causes, poverty_status, identified_year,
    exit_year, housing_area_m2, housing_structure, housing_safety, drinking_water, lat, lon";

fn household_from_row(r: &Row<'_>) -> Result<Household> {
    let causes: String = r.get(10)?;
    Ok(Household {
        id: HouseholdId::new(r.get::<_, String>(0)?).map_err(corrupt("household id"))?,
        code: HumanCode::parse(&r.get::<_, String>(1)?).map_err(corrupt("household code"))?,
        plate_issue: r.get(2)?,
        village: r.get(3)?,
        group_name: r.get(4)?,
        head: r
            .get::<_, Option<String>>(5)?
            .map(MemberId::new)
            .transpose()
            .map_err(corrupt("head"))?,
        phone: r.get(6)?,
        ident_standard: r.get(7)?,
        attribute: r.get(8)?,
        main_cause: r.get(9)?,
        other_causes: serde_json::from_str(&causes).map_err(corrupt("other causes"))?,
        poverty_status: r.get(11)?,
        identified_year: r.get(12)?,
        exit_year: r.get(13)?,
        housing_area_m2: r.get(14)?,
        housing_structure: r.get(15)?,
        housing_safety: r.get(16)?,
        drinking_water: r.get(17)?,
        location: opt_point(r.get(18)?, r.get(19)?),
    })
}

const MEMBER_COLUMNS: &str = "id, household, person_code, name, resident_id, sex, birth_date,
    ethnicity, relationship, education, school_status, health, labour_skill, work_status,
    work_months, dibao, wubao, medical_insured, serious_illness_insured";

fn member_from_row(r: &Row<'_>) -> Result<Member> {
    Ok(Member {
        id: MemberId::new(r.get::<_, String>(0)?).map_err(corrupt("member id"))?,
        household: HouseholdId::new(r.get::<_, String>(1)?).map_err(corrupt("household id"))?,
        person_code: r
            .get::<_, Option<String>>(2)?
            .map(|c| HumanCode::parse(&c))
            .transpose()
            .map_err(corrupt("person code"))?,
        name: r.get(3)?,
        resident_id: r.get(4)?,
        sex: r.get(5)?,
        birth_date: parse_date(r.get(6)?)?,
        ethnicity: r.get(7)?,
        relationship: r.get(8)?,
        education: r.get(9)?,
        school_status: r.get(10)?,
        health: r.get(11)?,
        labour_skill: r.get(12)?,
        work_status: r.get(13)?,
        work_months: r.get(14)?,
        dibao: r.get(15)?,
        wubao: r.get(16)?,
        medical_insured: r.get(17)?,
        serious_illness_insured: r.get(18)?,
    })
}

pub(super) fn household_by_id(conn: &Connection, id: &HouseholdId) -> Result<Option<Household>> {
    let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.as_str()])?;
    rows.next()?.map(household_from_row).transpose()
}

pub(super) fn household_by_code(conn: &Connection, code: &HumanCode) -> Result<Option<Household>> {
    let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE code = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([code.as_str()])?;
    rows.next()?.map(household_from_row).transpose()
}

pub(super) fn member_by_id(conn: &Connection, id: &MemberId) -> Result<Option<Member>> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM member WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.as_str()])?;
    rows.next()?.map(member_from_row).transpose()
}

/// Whether `cadre` is responsible for `household` on `day`: through an assignment, or a
/// village post covering the household's village.
pub(super) fn in_scope(
    conn: &Connection,
    cadre: &CadreId,
    household: &HouseholdId,
    day: NaiveDate,
) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM assignment
                        WHERE cadre = ?1 AND household = ?2 AND from_date <= ?3
                          AND (to_date IS NULL OR to_date >= ?3))
             OR EXISTS (SELECT 1 FROM village_post p JOIN household h ON h.village = p.village
                        WHERE p.cadre = ?1 AND h.id = ?2 AND p.from_date <= ?3
                          AND (p.to_date IS NULL OR p.to_date >= ?3))",
    )?;
    Ok(stmt.query_row(
        params![cadre.as_str(), household.as_str(), day.to_string()],
        |r| r.get(0),
    )?)
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
                put_record(tx, record)?;
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
            let sql = format!(
                "SELECT {MEMBER_COLUMNS} FROM member WHERE household = ?1 ORDER BY relationship, id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query([id.as_str()])?;
            let mut members = Vec::new();
            while let Some(r) = rows.next()? {
                members.push(member_from_row(r)?);
            }
            let mut stmt = conn.prepare_cached(
                "SELECT id, household, category, content, date, cost_yuan, acknowledged
                 FROM measure WHERE household = ?1 ORDER BY date, id",
            )?;
            let mut rows = stmt.query([id.as_str()])?;
            let mut measures = Vec::new();
            while let Some(r) = rows.next()? {
                measures.push(Measure {
                    id: crate::ids::MeasureId::new(r.get::<_, String>(0)?)
                        .map_err(corrupt("measure id"))?,
                    household: id.clone(),
                    category: r.get(2)?,
                    content: r.get(3)?,
                    date: parse_date(Some(r.get(4)?))?.unwrap_or_default(),
                    cost_yuan: r.get(5)?,
                    acknowledged: r.get(6)?,
                });
            }
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
    let keys = authority_keys(conn)?;
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

fn authority_keys(conn: &Connection) -> Result<Vec<AuthorityKey>> {
    let mut stmt = conn.prepare_cached("SELECT key_id, public_key FROM authority_key")?;
    let mut rows = stmt.query([])?;
    let mut keys = Vec::new();
    while let Some(r) = rows.next()? {
        let public: Vec<u8> = r.get(1)?;
        keys.push(AuthorityKey {
            key_id: r.get(0)?,
            public_key: public
                .try_into()
                .map_err(|_| Error::Corrupt("authority key length".into()))?,
        });
    }
    Ok(keys)
}

// Keep the unused-import lint quiet for types only named in docs and signatures elsewhere.
#[allow(dead_code)]
fn _types(_: Area, _: Assignment, _: Cadre, _: CodeEntry, _: VillagePost) {}
