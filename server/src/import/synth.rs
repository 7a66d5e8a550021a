//! Writes a synthetic region (`fieldvisit_core::synth::Region`, the demo's data) as the CSV
//! files of the import layout, in UTF-8 or GBK, so that the import can be tried and tested on
//! a whole county's registry without real personal data.
//!
//! Columns come from the layout's own tables (`layout`), so what is written here is exactly
//! what `import` reads; a value this writer produces that the import would refuse is a bug in
//! one of the two, and the tests import what is written here.

use std::path::{Path, PathBuf};

use fieldvisit_core::domain::{
    Area, Assignment, Cadre, GeoPoint, Household, Measure, Member, VillagePost,
};
use fieldvisit_core::synth::Region;

use super::decode::{self, Encoding};
use super::layout::Kind;
use crate::error::{Error, Result};

/// A written file and its number of data rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub rows: usize,
}

/// Writes `region` into `dir` (created if missing) as one file per kind, replacing files of
/// those names. `Encoding::Gb18030` writes GBK (every character of the synthetic region has a
/// GBK form; one that had not would be refused rather than written as GB18030).
pub fn write_region(region: &Region, dir: &Path, encoding: Encoding) -> Result<Vec<Written>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for kind in Kind::ALL {
        let rows: Vec<Vec<String>> = match kind {
            Kind::Areas => region.areas.iter().map(area).collect(),
            Kind::Cadres => region.cadres.iter().map(cadre).collect(),
            Kind::Households => region.households.iter().map(household).collect(),
            Kind::Members => region.members.iter().map(member).collect(),
            Kind::Assignments => region.assignments.iter().map(assignment).collect(),
            Kind::VillagePosts => region.posts.iter().map(post).collect(),
            Kind::Measures => region.measures.iter().map(measure).collect(),
        };
        let text = to_csv(kind, &rows)?;
        let bytes = decode::encode(&text, encoding, true).ok_or_else(|| {
            Error::refused(format!(
                "{} holds a character that GBK cannot encode; write it as UTF-8",
                kind.file_name()
            ))
        })?;
        let path = dir.join(kind.file_name());
        std::fs::write(&path, bytes)?;
        written.push(Written {
            path,
            rows: rows.len(),
        });
    }
    Ok(written)
}

fn to_csv(kind: Kind, rows: &[Vec<String>]) -> Result<String> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::refused(format!("writing CSV: {e}"));
    out.write_record(kind.columns().iter().map(|c| c.name))
        .map_err(csv_error)?;
    for row in rows {
        if row.len() != kind.columns().len() {
            return Err(Error::Corrupt(format!(
                "the synthetic {} rows do not match the layout's columns",
                kind.name()
            )));
        }
        out.write_record(row).map_err(csv_error)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| Error::refused(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|_| Error::refused("CSV output is not UTF-8"))
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn flag(v: bool) -> String {
    if v { "1" } else { "0" }.to_string()
}

fn lat_lon(p: Option<GeoPoint>) -> [String; 2] {
    [opt(p.map(|p| p.lat)), opt(p.map(|p| p.lon))]
}

fn area(a: &Area) -> Vec<String> {
    let [lat, lon] = lat_lon(a.location);
    vec![
        a.code.clone(),
        a.name.clone(),
        opt(a.parent.as_ref()),
        flag(a.is_poor_village),
        lat,
        lon,
    ]
}

fn cadre(c: &Cadre) -> Vec<String> {
    vec![
        c.id.to_string(),
        c.name.clone(),
        opt(c.phone.as_ref()),
        opt(c.work_unit.as_ref()),
        opt(c.title.as_ref()),
        opt(c.rank.as_ref()),
        c.role.clone(),
    ]
}

fn household(h: &Household) -> Vec<String> {
    let [lat, lon] = lat_lon(h.location);
    vec![
        h.id.to_string(),
        h.code.as_str().to_string(),
        h.plate_issue.to_string(),
        h.village.clone(),
        opt(h.group_name.as_ref()),
        opt(h.head.as_ref()),
        opt(h.phone.as_ref()),
        opt(h.ident_standard.as_ref()),
        h.attribute.clone(),
        h.main_cause.clone(),
        h.other_causes.join(";"),
        h.poverty_status.clone(),
        opt(h.identified_year),
        opt(h.exit_year),
        opt(h.housing_area_m2),
        opt(h.housing_structure.as_ref()),
        opt(h.housing_safety.as_ref()),
        opt(h.drinking_water.as_ref()),
        lat,
        lon,
    ]
}

fn member(m: &Member) -> Vec<String> {
    vec![
        m.id.to_string(),
        m.household.to_string(),
        opt(m.person_code.as_ref().map(|c| c.as_str())),
        m.name.clone(),
        opt(m.resident_id.as_ref()),
        m.sex.clone(),
        opt(m.birth_date),
        opt(m.ethnicity.as_ref()),
        m.relationship.clone(),
        opt(m.education.as_ref()),
        opt(m.school_status.as_ref()),
        opt(m.health.as_ref()),
        opt(m.labour_skill.as_ref()),
        opt(m.work_status.as_ref()),
        opt(m.work_months),
        flag(m.dibao),
        flag(m.wubao),
        flag(m.medical_insured),
        flag(m.serious_illness_insured),
    ]
}

fn assignment(a: &Assignment) -> Vec<String> {
    vec![
        a.id.to_string(),
        a.cadre.to_string(),
        a.household.to_string(),
        a.from.to_string(),
        opt(a.to),
    ]
}

fn post(p: &VillagePost) -> Vec<String> {
    vec![
        p.id.to_string(),
        p.cadre.to_string(),
        p.village.clone(),
        p.from.to_string(),
        opt(p.to),
    ]
}

fn measure(m: &Measure) -> Vec<String> {
    vec![
        m.id.to_string(),
        m.household.to_string(),
        m.category.clone(),
        m.content.clone(),
        m.date.to_string(),
        opt(m.cost_yuan),
        flag(m.acknowledged),
    ]
}
