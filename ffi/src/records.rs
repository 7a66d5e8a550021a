//! The plain records and enums the phone apps see: strings, numbers, `i64` milliseconds since
//! the Unix epoch, dates as `YYYY-MM-DD` text, lists and optionals. Core types never cross the
//! boundary; the conversions to and from them live here and nowhere else.
//!
//! Records that carry personal data (names, phone numbers, diaries) are data for the screen;
//! nothing here puts them into an error or a log.

use chrono::NaiveDate;
use fieldvisit_core::domain::visit as core_visit;
use fieldvisit_core::store as core_store;

use crate::error::FieldvisitError;

/// This device and, once enrolled, whom it works for.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Identity {
    pub device_id: String,
    pub cadre_id: Option<String>,
    pub server_url: Option<String>,
}

/// A household as listed on the phone.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct HouseholdSummary {
    pub id: String,
    /// The door-plate code, also what a cadre types when the camera fails.
    pub code: String,
    /// The 12-digit village code.
    pub village_code: String,
    pub village_name: Option<String>,
    pub head_name: Option<String>,
    pub poverty_status: String,
    pub member_count: u32,
    pub last_visit_at_ms: Option<i64>,
}

/// A door plate that verified offline, and its household.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct ScannedHousehold {
    pub household: HouseholdSummary,
    pub plate_key_id: u16,
    pub plate_issue: u16,
    /// Pass this back in `Identification::Scanned` when committing the visit.
    pub scanned_at_ms: i64,
}

/// A member of a household.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub sex: String,
    pub relationship: String,
    pub birth_date: Option<String>,
    pub person_code: Option<String>,
    pub education: Option<String>,
    pub school_status: Option<String>,
    pub health: Option<String>,
    pub work_status: Option<String>,
    pub dibao: bool,
    pub wubao: bool,
    pub medical_insured: bool,
    pub serious_illness_insured: bool,
}

/// A help measure the county recorded for a household.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct Measure {
    pub id: String,
    pub category: String,
    pub content: String,
    pub date: String,
    pub cost_yuan: Option<f64>,
    pub acknowledged: bool,
}

/// A household with its members, measures and visit history (newest visit first).
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct HouseholdDetail {
    pub id: String,
    pub code: String,
    pub plate_issue: u16,
    pub village_code: String,
    pub village_name: Option<String>,
    pub group_name: Option<String>,
    pub phone: Option<String>,
    pub attribute: String,
    pub main_cause: String,
    pub poverty_status: String,
    pub housing_safety: Option<String>,
    pub drinking_water: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Whether the enrolled cadre is responsible for it today.
    pub in_scope: bool,
    pub members: Vec<Member>,
    pub measures: Vec<Measure>,
    pub visits: Vec<VisitSummary>,
}

/// One answer of the two-no-worries-three-guarantees checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
pub enum ChecklistStatus {
    Ok,
    Problem,
    NotApplicable,
}

/// A checklist answer: `item` is a checklist code (`food`, `clothing`, `education`,
/// `medical`, `housing`, `water`); a `Problem` needs a `note`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct ChecklistAnswer {
    pub item: String,
    pub status: ChecklistStatus,
    pub note: Option<String>,
}

/// Help given during a visit; `category` is a measure-category code.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct HelpGiven {
    pub category: String,
    pub content: String,
    pub cost_yuan: Option<f64>,
}

/// A location fix taken during the visit. `provider` is `gps`, `network` or `fused`.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub provider: String,
    pub fix_at_ms: i64,
}

/// What the cadre fills in before committing a visit. `kind` is a visit-kind code
/// (`routine`, `policy`, `problem`, `exit_verification`, `follow_up`); `follow_up_due` is
/// `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct VisitDraft {
    pub kind: String,
    pub checklist: Vec<ChecklistAnswer>,
    pub problems: Vec<String>,
    pub help: Vec<HelpGiven>,
    pub diary: String,
    pub follow_up_due: Option<String>,
    /// The household confirmed the visit on the phone.
    pub acknowledged: bool,
}

/// How the household was identified when committing a visit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
pub enum Identification {
    /// The QR text read from the door plate, and when it was read.
    Scanned { payload: String, scanned_at_ms: i64 },
    /// A household code typed by hand, and why the plate could not be scanned.
    Manual { code: String, reason: String },
}

/// How a stored visit's household was identified.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
pub enum IdentifiedBy {
    Scan {
        key_id: u16,
        issue: u16,
        scanned_at_ms: i64,
    },
    Manual {
        reason: String,
    },
}

/// An amendment of a visit (the visit shown already includes it).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Amendment {
    pub reason: String,
    /// When it was made, by its clock (milliseconds).
    pub made_at_ms: i64,
}

/// Where an operation stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
pub enum OperationState {
    /// Waiting to be sent, or sent and not yet acknowledged.
    Pending,
    /// Stored and accepted by the server.
    Synced,
    /// Stored by the server but refused; the reason says why. It never blocks later ones.
    Rejected,
}

/// A visit as shown: the original with its amendments applied.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct VisitSummary {
    pub id: String,
    pub household_id: String,
    pub cadre_id: String,
    pub device_id: String,
    pub recorded_at_ms: i64,
    pub identified_by: IdentifiedBy,
    pub location: Option<Location>,
    /// Metres from the household's registered location, when both are known.
    pub distance_m: Option<f64>,
    pub kind: String,
    pub checklist: Vec<ChecklistAnswer>,
    pub problems: Vec<String>,
    pub help: Vec<HelpGiven>,
    pub diary: String,
    pub follow_up_due: Option<String>,
    pub acknowledged: bool,
    pub amendments: Vec<Amendment>,
    /// For visits recorded on this device: where the record stands with the server.
    pub sync_state: Option<OperationState>,
}

/// Changes to a committed visit; fields left empty stay as they were.
#[derive(Debug, Clone, PartialEq, Default, uniffi::Record, serde::Serialize)]
pub struct VisitChanges {
    #[uniffi(default = None)]
    pub checklist: Option<Vec<ChecklistAnswer>>,
    #[uniffi(default = None)]
    pub problems: Option<Vec<String>>,
    #[uniffi(default = None)]
    pub help: Option<Vec<HelpGiven>>,
    #[uniffi(default = None)]
    pub diary: Option<String>,
    #[uniffi(default = None)]
    pub follow_up_due: Option<String>,
    /// Clears the follow-up date (the problem was solved).
    #[uniffi(default = false)]
    pub clear_follow_up: bool,
    #[uniffi(default = None)]
    pub acknowledged: Option<bool>,
}

/// One journal operation of this device and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct OperationStatus {
    pub seq: u64,
    pub id: String,
    /// `visit.record`, `visit.amend`, `household.update` or `member.update`.
    pub kind: String,
    pub recorded_at_ms: i64,
    pub state: OperationState,
    /// The server's code and reason, for a rejected operation.
    pub reject_reason: Option<String>,
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct SyncReport {
    pub pushed: u64,
    pub acknowledged: u64,
    pub rejected: u64,
    pub pulled: u64,
    pub conflicts: u64,
    pub purged: u64,
    pub requests: u32,
    pub retries: u32,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// The device clock's offset from the server's (positive: the phone is ahead).
    pub clock_skew_ms: i64,
    pub server_time_ms: i64,
    /// Nothing was left to push and the server had no more pages.
    pub complete: bool,
    /// Photos the server confirmed complete in this sync.
    pub photos_uploaded: u64,
    /// Photo bytes sent (chunks re-sent after a cut counted again).
    pub photo_bytes_up: u64,
    /// Photos of accepted visits still waiting to upload.
    pub photos_pending: u64,
    /// Photos the server refused; they stay on the phone.
    pub photos_failed: u64,
}

/// Where the device stands with the server, for the "unsynced" screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct SyncStatus {
    pub enrolled: bool,
    pub pending: u64,
    pub rejected: u64,
    pub head_seq: u64,
    pub acked_seq: u64,
    pub last_synced_at_ms: Option<i64>,
    /// The last sync's failure, when it failed after the last success.
    pub last_error: Option<String>,
    /// Why the server stopped taking this device's operations, when it did.
    pub problem: Option<String>,
}

pub(crate) fn date_text(date: Option<NaiveDate>) -> Option<String> {
    date.map(|d| d.to_string())
}

/// Parses a `YYYY-MM-DD` date typed or picked on the phone.
pub(crate) fn parse_date(field: &str, text: &str) -> Result<NaiveDate, FieldvisitError> {
    text.trim()
        .parse::<NaiveDate>()
        .map_err(|_| FieldvisitError::validation(field, "must be a date written as YYYY-MM-DD"))
}

fn parse_opt_date(field: &str, text: Option<String>) -> Result<Option<NaiveDate>, FieldvisitError> {
    text.map(|t| parse_date(field, &t)).transpose()
}

impl From<core_store::Identity> for Identity {
    fn from(i: core_store::Identity) -> Self {
        Identity {
            device_id: i.device.to_string(),
            cadre_id: i.cadre.map(|c| c.as_str().to_string()),
            server_url: i.server_url,
        }
    }
}

impl From<core_store::HouseholdSummary> for HouseholdSummary {
    fn from(h: core_store::HouseholdSummary) -> Self {
        HouseholdSummary {
            id: h.id.as_str().to_string(),
            code: h.code.as_str().to_string(),
            village_code: h.village,
            village_name: h.village_name,
            head_name: h.head_name,
            poverty_status: h.poverty_status,
            member_count: h.members,
            last_visit_at_ms: h.last_visit_at.map(|t| t.0),
        }
    }
}

impl From<core_store::Scanned> for ScannedHousehold {
    fn from(s: core_store::Scanned) -> Self {
        ScannedHousehold {
            household: s.household.into(),
            plate_key_id: s.plate_key_id,
            plate_issue: s.plate_issue,
            scanned_at_ms: s.scanned_at.0,
        }
    }
}

impl From<fieldvisit_core::domain::Member> for Member {
    fn from(m: fieldvisit_core::domain::Member) -> Self {
        Member {
            id: m.id.as_str().to_string(),
            name: m.name,
            sex: m.sex,
            relationship: m.relationship,
            birth_date: date_text(m.birth_date),
            person_code: m.person_code.map(|c| c.as_str().to_string()),
            education: m.education,
            school_status: m.school_status,
            health: m.health,
            work_status: m.work_status,
            dibao: m.dibao,
            wubao: m.wubao,
            medical_insured: m.medical_insured,
            serious_illness_insured: m.serious_illness_insured,
        }
    }
}

impl From<fieldvisit_core::domain::Measure> for Measure {
    fn from(m: fieldvisit_core::domain::Measure) -> Self {
        Measure {
            id: m.id.as_str().to_string(),
            category: m.category,
            content: m.content,
            date: m.date.to_string(),
            cost_yuan: m.cost_yuan,
            acknowledged: m.acknowledged,
        }
    }
}

pub(crate) fn household_detail(
    d: core_store::HouseholdDetail,
    visits: Vec<core_store::VisitView>,
) -> HouseholdDetail {
    let h = d.household;
    HouseholdDetail {
        id: h.id.as_str().to_string(),
        code: h.code.as_str().to_string(),
        plate_issue: h.plate_issue,
        village_code: h.village,
        village_name: d.village_name,
        group_name: h.group_name,
        phone: h.phone,
        attribute: h.attribute,
        main_cause: h.main_cause,
        poverty_status: h.poverty_status,
        housing_safety: h.housing_safety,
        drinking_water: h.drinking_water,
        lat: h.location.map(|p| p.lat),
        lon: h.location.map(|p| p.lon),
        in_scope: d.in_scope,
        members: d.members.into_iter().map(Member::from).collect(),
        measures: d.measures.into_iter().map(Measure::from).collect(),
        visits: visits.into_iter().map(VisitSummary::from).collect(),
    }
}

impl From<core_visit::ChecklistStatus> for ChecklistStatus {
    fn from(s: core_visit::ChecklistStatus) -> Self {
        match s {
            core_visit::ChecklistStatus::Ok => ChecklistStatus::Ok,
            core_visit::ChecklistStatus::Problem => ChecklistStatus::Problem,
            core_visit::ChecklistStatus::NotApplicable => ChecklistStatus::NotApplicable,
        }
    }
}

impl From<ChecklistStatus> for core_visit::ChecklistStatus {
    fn from(s: ChecklistStatus) -> Self {
        match s {
            ChecklistStatus::Ok => core_visit::ChecklistStatus::Ok,
            ChecklistStatus::Problem => core_visit::ChecklistStatus::Problem,
            ChecklistStatus::NotApplicable => core_visit::ChecklistStatus::NotApplicable,
        }
    }
}

fn checklist_out(c: core_visit::Checklist) -> Vec<ChecklistAnswer> {
    c.into_iter()
        .map(|(item, entry)| ChecklistAnswer {
            item,
            status: entry.status.into(),
            note: entry.note,
        })
        .collect()
}

/// A list of answers becomes the core's map; an item answered twice is refused rather than
/// silently keeping one of the answers.
fn checklist_in(answers: Vec<ChecklistAnswer>) -> Result<core_visit::Checklist, FieldvisitError> {
    let mut out = core_visit::Checklist::new();
    for answer in answers {
        let field = format!("checklist.{}", answer.item);
        let entry = core_visit::ChecklistEntry {
            status: answer.status.into(),
            note: answer.note,
        };
        if out.insert(answer.item, entry).is_some() {
            return Err(FieldvisitError::validation(&field, "is answered twice"));
        }
    }
    Ok(out)
}

fn help_out(help: Vec<core_visit::HelpGiven>) -> Vec<HelpGiven> {
    help.into_iter()
        .map(|h| HelpGiven {
            category: h.category,
            content: h.content,
            cost_yuan: h.cost_yuan,
        })
        .collect()
}

fn help_in(help: Vec<HelpGiven>) -> Vec<core_visit::HelpGiven> {
    help.into_iter()
        .map(|h| core_visit::HelpGiven {
            category: h.category,
            content: h.content,
            cost_yuan: h.cost_yuan,
        })
        .collect()
}

impl From<core_visit::Location> for Location {
    fn from(l: core_visit::Location) -> Self {
        Location {
            lat: l.point.lat,
            lon: l.point.lon,
            accuracy_m: l.accuracy_m,
            provider: l.provider,
            fix_at_ms: l.fix_at.0,
        }
    }
}

impl From<Location> for core_visit::Location {
    fn from(l: Location) -> Self {
        core_visit::Location {
            point: fieldvisit_core::domain::GeoPoint {
                lat: l.lat,
                lon: l.lon,
            },
            accuracy_m: l.accuracy_m,
            provider: l.provider,
            fix_at: fieldvisit_core::clock::WallTime(l.fix_at_ms),
        }
    }
}

impl VisitDraft {
    pub(crate) fn into_content(self) -> Result<core_visit::VisitContent, FieldvisitError> {
        Ok(core_visit::VisitContent {
            kind: self.kind,
            checklist: checklist_in(self.checklist)?,
            problems: self.problems,
            help: help_in(self.help),
            diary: self.diary,
            follow_up_due: parse_opt_date("follow_up_due", self.follow_up_due)?,
            acknowledged: self.acknowledged,
        })
    }
}

impl From<Identification> for core_visit::Identification {
    fn from(i: Identification) -> Self {
        match i {
            Identification::Scanned {
                payload,
                scanned_at_ms,
            } => core_visit::Identification::Scanned {
                payload,
                scanned_at: fieldvisit_core::clock::WallTime(scanned_at_ms),
            },
            Identification::Manual { code, reason } => {
                core_visit::Identification::Manual { code, reason }
            }
        }
    }
}

impl From<core_visit::IdentifiedBy> for IdentifiedBy {
    fn from(i: core_visit::IdentifiedBy) -> Self {
        match i {
            core_visit::IdentifiedBy::Scan {
                key_id,
                issue,
                scanned_at,
            } => IdentifiedBy::Scan {
                key_id,
                issue,
                scanned_at_ms: scanned_at.0,
            },
            core_visit::IdentifiedBy::Manual { reason } => IdentifiedBy::Manual { reason },
        }
    }
}

impl From<core_store::OpState> for OperationState {
    fn from(s: core_store::OpState) -> Self {
        match s {
            core_store::OpState::Pending => OperationState::Pending,
            core_store::OpState::Synced => OperationState::Synced,
            core_store::OpState::Rejected => OperationState::Rejected,
        }
    }
}

impl From<core_store::VisitView> for VisitSummary {
    fn from(v: core_store::VisitView) -> Self {
        let c = v.content;
        VisitSummary {
            id: v.id.to_string(),
            household_id: v.household.as_str().to_string(),
            cadre_id: v.cadre.as_str().to_string(),
            device_id: v.device.to_string(),
            recorded_at_ms: v.recorded_at.0,
            identified_by: v.identified.into(),
            location: v.location.map(Location::from),
            distance_m: v.distance_m,
            kind: c.kind,
            checklist: checklist_out(c.checklist),
            problems: c.problems,
            help: help_out(c.help),
            diary: c.diary,
            follow_up_due: date_text(c.follow_up_due),
            acknowledged: c.acknowledged,
            amendments: v
                .amendments
                .into_iter()
                .map(|a| Amendment {
                    reason: a.reason,
                    made_at_ms: i64::try_from(a.hlc.physical_ms()).unwrap_or(i64::MAX),
                })
                .collect(),
            sync_state: v.sync_state.map(OperationState::from),
        }
    }
}

impl VisitChanges {
    pub(crate) fn into_core(self) -> Result<core_visit::VisitChanges, FieldvisitError> {
        Ok(core_visit::VisitChanges {
            checklist: self.checklist.map(checklist_in).transpose()?,
            problems: self.problems,
            help: self.help.map(help_in),
            diary: self.diary,
            follow_up_due: parse_opt_date("follow_up_due", self.follow_up_due)?,
            clear_follow_up: self.clear_follow_up,
            acknowledged: self.acknowledged,
        })
    }
}

impl From<fieldvisit_core::report::SyncReport> for SyncReport {
    fn from(r: fieldvisit_core::report::SyncReport) -> Self {
        SyncReport {
            pushed: r.pushed,
            acknowledged: r.acknowledged,
            rejected: r.rejected,
            pulled: r.pulled,
            conflicts: r.conflicts,
            purged: r.purged,
            requests: r.requests,
            retries: r.retries,
            bytes_up: r.bytes_up,
            bytes_down: r.bytes_down,
            clock_skew_ms: r.clock_skew_ms,
            server_time_ms: r.server_time.0,
            complete: r.complete,
            photos_uploaded: r.photos_uploaded,
            photo_bytes_up: r.photo_bytes_up,
            photos_pending: r.photos_pending,
            photos_failed: r.photos_failed,
        }
    }
}

impl From<core_store::SyncStatus> for SyncStatus {
    fn from(s: core_store::SyncStatus) -> Self {
        SyncStatus {
            enrolled: s.enrolled,
            pending: s.pending,
            rejected: s.rejected,
            head_seq: s.head_seq,
            acked_seq: s.acked_seq,
            last_synced_at_ms: s.last_synced_at.map(|t| t.0),
            last_error: s.last_error.map(|e| e.message),
            problem: s.problem.and_then(|p| serde_json::to_string(&p).ok()),
        }
    }
}
