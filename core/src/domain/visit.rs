//! Visits (民情日记): what a cadre records at a household, how the household was identified,
//! and amendments. A visit is never edited in place: an amendment is a new record that names
//! the visit, and the visit as shown is the original with its amendments applied in clock order.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::photo::PhotoRef;
use super::{CodeLists, GeoPoint, lists};
use crate::clock::WallTime;
use crate::ids::{CadreId, HouseholdId, VisitId};
use crate::validate::{self, Invalid, Reason, TextRule};

/// How far ahead of the device's own clock a supplied timestamp may be (clock jitter between
/// the GPS fix, the camera and the app).
pub const FUTURE_TOLERANCE_MS: i64 = 5 * 60 * 1000;
/// No visit predates the programme's records (2010-01-01T00:00:00Z).
pub const EARLIEST_PLAUSIBLE_MS: i64 = 1_262_304_000_000;
/// A follow-up is due within a year.
pub const MAX_FOLLOW_UP_DAYS: i64 = 366;
pub const DIARY_RULE: TextRule = TextRule {
    min_chars: 5,
    max_chars: 4000,
    required: true,
};
pub const PROBLEM_RULE: TextRule = TextRule {
    min_chars: 2,
    max_chars: 500,
    required: true,
};
pub const NOTE_RULE: TextRule = TextRule {
    min_chars: 2,
    max_chars: 200,
    required: true,
};
pub const REASON_RULE: TextRule = TextRule {
    min_chars: 2,
    max_chars: 200,
    required: true,
};
pub const MAX_LIST_ITEMS: usize = 20;
pub const LOCATION_PROVIDERS: &[&str] = &["gps", "network", "fused"];

/// One answer of the two-no-worries-three-guarantees checklist (两不愁三保障).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecklistStatus {
    Ok,
    Problem,
    #[serde(rename = "na")]
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistEntry {
    pub status: ChecklistStatus,
    /// Required when the status is `problem`: what is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Answers keyed by checklist item code (`food`, `clothing`, `education`, `medical`,
/// `housing`, `water` in the seeded list).
pub type Checklist = BTreeMap<String, ChecklistEntry>;

/// Help given during the visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelpGiven {
    /// A `measure_category` code.
    pub category: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_yuan: Option<f64>,
}

/// A location fix taken during the visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    #[serde(flatten)]
    pub point: GeoPoint,
    pub accuracy_m: f64,
    /// `gps`, `network` or `fused`.
    pub provider: String,
    pub fix_at: WallTime,
}

/// What the cadre fills in before committing a visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitContent {
    /// A `visit_kind` code.
    pub kind: String,
    #[serde(default)]
    pub checklist: Checklist,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub help: Vec<HelpGiven>,
    pub diary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_due: Option<NaiveDate>,
    /// The household confirmed the visit (signed or acknowledged on the phone).
    #[serde(default)]
    pub acknowledged: bool,
}

/// How the household was identified when the visit was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum IdentifiedBy {
    /// The door plate was scanned and verified offline.
    Scan {
        key_id: u16,
        issue: u16,
        scanned_at: WallTime,
    },
    /// The code was typed by hand, with the cadre's reason (camera broken, plate missing...).
    Manual { reason: String },
}

/// How the caller identifies the household when committing a visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identification {
    /// The QR text read from the door plate, and when it was read.
    Scanned {
        payload: String,
        scanned_at: WallTime,
    },
    /// A household code typed by hand, and why the plate could not be scanned.
    Manual { code: String, reason: String },
}

/// A committed visit, as the journal carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitRecord {
    pub id: VisitId,
    pub household: HouseholdId,
    pub cadre: CadreId,
    pub identified: IdentifiedBy,
    pub recorded_at: WallTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(flatten)]
    pub content: VisitContent,
    /// The photos taken during the visit, by hash; their bytes upload separately
    /// (`crate::sync::photos`). Absent in records made before photos existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<PhotoRef>,
}

/// Changes to a committed visit; fields left `None` stay as they were.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VisitChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklist: Option<Checklist>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Vec<HelpGiven>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_due: Option<NaiveDate>,
    /// Clears the follow-up date (the problem was solved).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clear_follow_up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<bool>,
}

/// An amendment as the journal carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitAmendment {
    pub visit: VisitId,
    pub reason: String,
    pub changes: VisitChanges,
}

impl VisitContent {
    /// Checks the content as committed on `day` (the visit's local date) and returns it with
    /// its texts trimmed, as it will be stored.
    pub fn checked(mut self, codes: &impl CodeLists, day: NaiveDate) -> Result<Self, Invalid> {
        codes.check("kind", lists::VISIT_KIND, &self.kind)?;
        self.checklist = checked_checklist(self.checklist, codes)?;
        if self.kind == "exit_verification" {
            // An exit verification must answer every item of the checklist.
            let items = [
                "food",
                "clothing",
                "education",
                "medical",
                "housing",
                "water",
            ];
            if let Some(missing) = items
                .iter()
                .find(|item| !self.checklist.contains_key(**item))
            {
                return Err(Invalid {
                    field: format!("checklist.{missing}"),
                    reason: Reason::Required,
                });
            }
        }
        self.problems = checked_problems(self.problems)?;
        self.help = checked_help(self.help, codes)?;
        self.diary = validate::text("diary", &self.diary, DIARY_RULE)?;
        if let Some(due) = self.follow_up_due {
            validate_follow_up(due, day)?;
        }
        Ok(self)
    }

    /// The content with an amendment applied.
    pub fn amended(&self, changes: &VisitChanges) -> VisitContent {
        let mut next = self.clone();
        if let Some(checklist) = &changes.checklist {
            next.checklist = checklist.clone();
        }
        if let Some(problems) = &changes.problems {
            next.problems = problems.clone();
        }
        if let Some(help) = &changes.help {
            next.help = help.clone();
        }
        if let Some(diary) = &changes.diary {
            next.diary = diary.clone();
        }
        if changes.clear_follow_up {
            next.follow_up_due = None;
        } else if let Some(due) = changes.follow_up_due {
            next.follow_up_due = Some(due);
        }
        if let Some(ack) = changes.acknowledged {
            next.acknowledged = ack;
        }
        next
    }
}

impl VisitChanges {
    pub fn is_empty(&self) -> bool {
        self == &VisitChanges::default()
    }
}

fn checked_checklist(checklist: Checklist, codes: &impl CodeLists) -> Result<Checklist, Invalid> {
    let mut out = Checklist::new();
    for (item, mut entry) in checklist {
        let field = format!("checklist.{item}");
        codes.check(&field, lists::CHECKLIST_ITEM, &item)?;
        entry.note = match (entry.status, entry.note) {
            (ChecklistStatus::Problem, None) => {
                return Err(Invalid {
                    field: format!("{field}.note"),
                    reason: Reason::Required,
                });
            }
            (_, Some(note)) => Some(validate::text(&format!("{field}.note"), &note, NOTE_RULE)?),
            (_, None) => None,
        };
        out.insert(item, entry);
    }
    Ok(out)
}

fn checked_problems(problems: Vec<String>) -> Result<Vec<String>, Invalid> {
    check_count("problems", problems.len())?;
    problems
        .iter()
        .enumerate()
        .map(|(i, problem)| validate::text(&format!("problems[{i}]"), problem, PROBLEM_RULE))
        .collect()
}

fn checked_help(help: Vec<HelpGiven>, codes: &impl CodeLists) -> Result<Vec<HelpGiven>, Invalid> {
    check_count("help", help.len())?;
    let mut out = Vec::with_capacity(help.len());
    for (i, mut given) in help.into_iter().enumerate() {
        codes.check(
            &format!("help[{i}].category"),
            lists::MEASURE_CATEGORY,
            &given.category,
        )?;
        given.content =
            validate::text(&format!("help[{i}].content"), &given.content, PROBLEM_RULE)?;
        if let Some(cost) = given.cost_yuan {
            validate::number_range(&format!("help[{i}].cost_yuan"), cost, 0.0, 10_000_000.0)?;
        }
        out.push(given);
    }
    Ok(out)
}

fn check_count(field: &str, found: usize) -> Result<(), Invalid> {
    if found > MAX_LIST_ITEMS {
        return Err(Invalid {
            field: field.to_string(),
            reason: Reason::TooMany {
                max: MAX_LIST_ITEMS,
                found,
            },
        });
    }
    Ok(())
}

fn validate_follow_up(due: NaiveDate, day: NaiveDate) -> Result<(), Invalid> {
    let latest = day + chrono::Duration::days(MAX_FOLLOW_UP_DAYS);
    validate::date_range("follow_up_due", due, day, latest).map(|_| ())
}

impl Location {
    /// The fix as stored and sent: coordinates to 10⁻⁶ degree (about 0.1 m) and accuracy to
    /// 0.1 m. Phone fixes are good to metres at best, and the digits beyond are noise that
    /// would cost bytes on every sync.
    pub fn rounded(mut self) -> Location {
        self.point.lat = (self.point.lat * 1e6).round() / 1e6;
        self.point.lon = (self.point.lon * 1e6).round() / 1e6;
        self.accuracy_m = (self.accuracy_m * 10.0).round() / 10.0;
        self
    }

    pub fn validate(&self, now: WallTime) -> Result<(), Invalid> {
        self.point.validate("location")?;
        validate::accuracy_m("location.accuracy_m", self.accuracy_m)?;
        validate::one_of("location.provider", &self.provider, LOCATION_PROVIDERS)?;
        validate::timestamp_not_future(
            "location.fix_at",
            self.fix_at.0,
            now.0,
            FUTURE_TOLERANCE_MS,
        )?;
        validate::timestamp_plausible("location.fix_at", self.fix_at.0, EARLIEST_PLAUSIBLE_MS)?;
        Ok(())
    }
}

impl VisitAmendment {
    /// Checks the amendment made on `day` and returns it with its texts trimmed.
    pub fn checked(mut self, codes: &impl CodeLists, day: NaiveDate) -> Result<Self, Invalid> {
        self.reason = validate::text("reason", &self.reason, REASON_RULE)?;
        if self.changes.is_empty() {
            return Err(Invalid {
                field: "changes".into(),
                reason: Reason::Required,
            });
        }
        let c = &mut self.changes;
        if let Some(checklist) = c.checklist.take() {
            c.checklist = Some(checked_checklist(checklist, codes)?);
        }
        if let Some(problems) = c.problems.take() {
            c.problems = Some(checked_problems(problems)?);
        }
        if let Some(help) = c.help.take() {
            c.help = Some(checked_help(help, codes)?);
        }
        if let Some(diary) = c.diary.take() {
            c.diary = Some(validate::text("diary", &diary, DIARY_RULE)?);
        }
        if let Some(due) = c.follow_up_due {
            validate_follow_up(due, day)?;
        }
        Ok(self)
    }
}
