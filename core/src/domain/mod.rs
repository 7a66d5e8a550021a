//! The registry the county keeps and the phones hold a slice of: areas, households, members,
//! cadres, assignments, village posts and help measures (../shared/domain.md), plus visits in
//! [`visit`]. These types are the shapes on the wire and in the stores; they hold no storage or
//! network code.

pub mod codelist;
pub mod exit;
pub mod fields;
pub mod photo;
pub mod visit;

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::codes::HumanCode;
use crate::ids::{AssignmentId, CadreId, HouseholdId, MeasureId, MemberId, PostId};
use crate::plate::AuthorityKey;
use crate::validate::{self, Invalid, Reason};

pub use codelist::{CodeEntry, lists};

/// Membership test for code lists; implemented by the store's cached tables.
pub trait CodeLists {
    fn has(&self, list: &str, code: &str) -> bool;

    fn check(&self, field: &str, list: &str, code: &str) -> Result<(), Invalid> {
        if self.has(list, code) {
            Ok(())
        } else {
            Err(Invalid {
                field: field.to_string(),
                reason: Reason::UnknownCode {
                    list: list.to_string(),
                },
            })
        }
    }
}

impl CodeLists for HashSet<(String, String)> {
    fn has(&self, list: &str, code: &str) -> bool {
        self.contains(&(list.to_string(), code.to_string()))
    }
}

/// A point on the earth in WGS-84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

impl GeoPoint {
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        validate::coordinates(field, self.lat, self.lon)
    }

    /// Great-circle distance in metres (haversine; good to well under 1% at village scale).
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_M: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }
}

/// An administrative area with its 12-digit statistical code (统计用区划代码).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Area {
    pub code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default)]
    pub is_poor_village: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
}

/// A registered household (户) and the fields a visit cares about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Household {
    pub id: HouseholdId,
    /// The door-plate code (一户一码), also typed by hand when the camera fails.
    pub code: HumanCode,
    /// The issue number of the plate currently on the door; older issues are refused.
    #[serde(default = "first_issue")]
    pub plate_issue: u16,
    /// 12-digit code of the village (嘎查/村).
    pub village: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<MemberId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ident_standard: Option<String>,
    pub attribute: String,
    pub main_cause: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_causes: Vec<String>,
    pub poverty_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified_year: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_year: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub housing_area_m2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub housing_structure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub housing_safety: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drinking_water: Option<String>,
    /// Where the dwelling is, for the distance check on visits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
}

fn first_issue() -> u16 {
    1
}

/// A member of a household (成员).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub id: MemberId,
    pub household: HouseholdId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_code: Option<HumanCode>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_id: Option<String>,
    pub sex: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    pub relationship: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labour_skill: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_months: Option<i32>,
    /// 低保 minimum living allowance.
    #[serde(default)]
    pub dibao: bool,
    /// 五保 / 特困供养 support.
    #[serde(default)]
    pub wubao: bool,
    /// 新农合 rural cooperative medical insurance.
    #[serde(default)]
    pub medical_insured: bool,
    /// 大病保险 serious-illness insurance.
    #[serde(default)]
    pub serious_illness_insured: bool,
}

/// An official who visits households.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cadre {
    pub id: CadreId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<String>,
    pub role: String,
}

/// A cadre's responsibility for one household over a period (包户). Many-to-many and dated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub id: AssignmentId,
    pub cadre: CadreId,
    pub household: HouseholdId,
    pub from: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

/// A first secretary's post in one village over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VillagePost {
    pub id: PostId,
    pub cadre: CadreId,
    pub village: String,
    pub from: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

/// True when a dated responsibility covers `day` (both ends inclusive).
pub fn period_covers(from: NaiveDate, to: Option<NaiveDate>, day: NaiveDate) -> bool {
    from <= day && to.is_none_or(|to| day <= to)
}

/// A help measure (帮扶措施) in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measure {
    pub id: MeasureId,
    pub household: HouseholdId,
    pub category: String,
    pub content: String,
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_yuan: Option<f64>,
    #[serde(default)]
    pub acknowledged: bool,
}

/// One record of the registry as the server sends it to a device (and as the demo seeds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "snake_case")]
pub enum RegistryRecord {
    Code(CodeEntry),
    Area(Area),
    Household(Household),
    Member(Member),
    Cadre(Cadre),
    Assignment(Assignment),
    VillagePost(VillagePost),
    Measure(Measure),
    AuthorityKey(AuthorityKey),
}

impl Household {
    /// Checks every field against its rule and the code lists.
    pub fn validate(&self, codes: &impl CodeLists) -> Result<(), Invalid> {
        validate::area_code_of_level("village", &self.village, validate::AreaLevel::Village)?;
        if let Some(group) = &self.group_name {
            validate::text("group_name", group, validate::TextRule::required(1, 40))?;
        }
        if let Some(phone) = &self.phone {
            validate::phone("phone", phone)?;
        }
        codes.check("attribute", lists::HOUSEHOLD_ATTRIBUTE, &self.attribute)?;
        codes.check("main_cause", lists::POVERTY_CAUSE, &self.main_cause)?;
        if self.other_causes.len() > 2 {
            return Err(Invalid {
                field: "other_causes".into(),
                reason: Reason::TooMany {
                    max: 2,
                    found: self.other_causes.len(),
                },
            });
        }
        for cause in &self.other_causes {
            codes.check("other_causes", lists::POVERTY_CAUSE, cause)?;
        }
        codes.check(
            "poverty_status",
            lists::POVERTY_STATUS,
            &self.poverty_status,
        )?;
        for (field, year) in [
            ("identified_year", self.identified_year),
            ("exit_year", self.exit_year),
        ] {
            if let Some(year) = year {
                validate::int_range(field, i64::from(year), 2000, 2100)?;
            }
        }
        if let Some(area) = self.housing_area_m2 {
            validate::number_range("housing_area_m2", area, 0.0, 10_000.0)?;
        }
        if let Some(safety) = &self.housing_safety {
            codes.check("housing_safety", lists::HOUSING_SAFETY, safety)?;
        }
        if let Some(point) = &self.location {
            point.validate("location")?;
        }
        Ok(())
    }
}

impl Member {
    pub fn validate(&self, codes: &impl CodeLists) -> Result<(), Invalid> {
        validate::text("name", &self.name, validate::TextRule::required(1, 40))?;
        if let Some(id) = &self.resident_id {
            validate::resident_id("resident_id", id)?;
        }
        codes.check("sex", lists::SEX, &self.sex)?;
        codes.check("relationship", lists::RELATIONSHIP, &self.relationship)?;
        for (field, list, value) in [
            ("ethnicity", lists::ETHNICITY, &self.ethnicity),
            ("education", lists::EDUCATION, &self.education),
            ("health", lists::HEALTH, &self.health),
            ("labour_skill", lists::LABOUR_SKILL, &self.labour_skill),
            ("work_status", lists::WORK_STATUS, &self.work_status),
        ] {
            if let Some(code) = value {
                codes.check(field, list, code)?;
            }
        }
        if let Some(months) = self.work_months {
            validate::int_range("work_months", i64::from(months), 0, 12)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_between_two_villages_is_plausible() {
        // Hailar to Manzhouli is roughly 185 km as the crow flies.
        let hailar = GeoPoint {
            lat: 49.2116,
            lon: 119.7365,
        };
        let manzhouli = GeoPoint {
            lat: 49.5978,
            lon: 117.3789,
        };
        let d = hailar.distance_m(&manzhouli);
        assert!((170_000.0..200_000.0).contains(&d), "{d}");
        assert_eq!(hailar.distance_m(&hailar), 0.0);
    }

    #[test]
    fn periods_are_inclusive_and_open_ended() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(period_covers(d("2024-01-01"), None, d("2030-01-01")));
        assert!(period_covers(
            d("2024-01-01"),
            Some(d("2024-01-31")),
            d("2024-01-31")
        ));
        assert!(!period_covers(
            d("2024-01-01"),
            Some(d("2024-01-31")),
            d("2024-02-01")
        ));
        assert!(!period_covers(d("2024-01-02"), None, d("2024-01-01")));
    }
}
