//! From rows of text to registry records, one file at a time: the header (recognised kind,
//! required, unknown and duplicate columns) and every cell of every row (required values,
//! numbers, dates, flags, codes of the code lists, identifiers, resident ID check characters).
//!
//! Every problem is recorded with its file, row and column and the row is dropped; nothing
//! stops at the first error. Reasons never repeat the cell's value: cells hold personal data.
//! References between rows and to the database are checked later (`check`).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use fieldvisit_core::codes::{CodeKind, HumanCode};
use fieldvisit_core::domain::{
    Area, Assignment, Cadre, CodeLists, GeoPoint, Household, Measure, Member, VillagePost, lists,
};
use fieldvisit_core::ids::{AssignmentId, CadreId, HouseholdId, MeasureId, MemberId, PostId};
use fieldvisit_core::validate::{self, AreaLevel, Invalid, TextRule};

use super::RowError;
use super::decode::{Encoding, Table};
use super::layout::Kind;

/// Where a record came from: the file's position in the import and the spreadsheet row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub file: usize,
    pub row: u64,
}

/// One file as read: its name, kind and header (column name → position).
#[derive(Debug)]
pub struct FileInfo {
    pub name: String,
    pub kind: Option<Kind>,
    pub columns: HashMap<String, usize>,
    pub rows: usize,
    pub encoding: Encoding,
}

impl FileInfo {
    /// A file that could not be read at all.
    pub fn unread(name: &str) -> FileInfo {
        FileInfo {
            name: name.to_string(),
            kind: None,
            columns: HashMap::new(),
            rows: 0,
            encoding: Encoding::Utf8,
        }
    }
}

/// Every record that parsed, with where it came from.
#[derive(Debug, Default)]
pub struct Records {
    pub areas: Vec<(Loc, Area)>,
    pub cadres: Vec<(Loc, Cadre)>,
    pub households: Vec<(Loc, Household)>,
    pub members: Vec<(Loc, Member)>,
    pub assignments: Vec<(Loc, Assignment)>,
    pub posts: Vec<(Loc, VillagePost)>,
    pub measures: Vec<(Loc, Measure)>,
    /// Keys of rows that did not parse (their errors are reported).
    pub bad_keys: HashSet<(Kind, String)>,
}

/// Text limits, in characters.
const NAME_MAX: usize = 40;
const AREA_NAME_MAX: usize = 60;
const SHORT_TEXT_MAX: usize = 40;
const WORK_UNIT_MAX: usize = 100;
const MEASURE_CONTENT_MAX: usize = 500;

/// Checks `table`'s header and turns its rows into records of its kind.
pub fn parse_file(
    index: usize,
    name: &str,
    table: &Table,
    codes: &HashSet<(String, String)>,
    records: &mut Records,
    errors: &mut Vec<RowError>,
    progress: &indicatif::ProgressBar,
) -> FileInfo {
    // Cells whose bytes were bad were reported before the header was known: name their column.
    for e in errors.iter_mut().filter(|e| e.file == name && e.row > 1) {
        let header = e.column_index.and_then(|i| table.header.get(i));
        if let Some(Some(column)) = header.filter(|_| e.column.is_none()) {
            if !column.is_empty() {
                e.column = Some(column.clone());
            }
        }
    }
    let header_names = table.header.iter().filter_map(|h| h.as_deref());
    let kind = Kind::from_file_name(file_stem(name)).or_else(|| Kind::from_header(header_names));
    let mut info = FileInfo {
        name: name.to_string(),
        kind,
        columns: HashMap::new(),
        rows: table.rows.len(),
        encoding: table.encoding,
    };
    let Some(kind) = kind else {
        let names: Vec<String> = Kind::ALL.iter().map(|k| k.file_name()).collect();
        errors.push(RowError::new(
            name,
            1,
            format!(
                "the file's kind is unknown: name it {} or give it the key column of one of them \
                 (see docs/import.md)",
                names.join(", ")
            ),
        ));
        return info;
    };

    for (i, cell) in table.header.iter().enumerate() {
        let Some(column) = cell.as_deref() else {
            continue;
        };
        if column.is_empty() {
            let used = table.rows.iter().any(|r| {
                r.cells
                    .get(i)
                    .is_some_and(|c| c.as_deref().is_none_or(|t| !t.trim().is_empty()))
            });
            if used {
                errors.push(
                    RowError::new(
                        name,
                        1,
                        "a column with values has no name in the header".into(),
                    )
                    .index(Some(i)),
                );
            }
        } else if !kind.columns().iter().any(|c| c.name == column) {
            let reason = format!(
                "is not a column of {} (docs/import.md lists them)",
                kind.file_name()
            );
            errors.push(RowError::new(name, 1, reason).column(column).index(Some(i)));
        } else if info.columns.contains_key(column) {
            let reason = "appears twice in the header".into();
            errors.push(RowError::new(name, 1, reason).column(column).index(Some(i)));
        } else {
            info.columns.insert(column.to_string(), i);
        }
    }
    for column in kind.columns().iter().filter(|c| c.required) {
        if !info.columns.contains_key(column.name) {
            let reason = "is a required column and is missing from the header".into();
            errors.push(RowError::new(name, 1, reason).column(column.name));
        }
    }

    let width = table.header.len();
    for row in &table.rows {
        for (i, cell) in row.cells.iter().enumerate().skip(width) {
            if cell.as_deref().is_none_or(|t| !t.trim().is_empty()) {
                let reason = "holds a value beyond the last column of the header".into();
                errors.push(RowError::new(name, row.number, reason).index(Some(i)));
            }
        }
        let mut cells = Cells {
            file: name,
            row: row.number,
            columns: &info.columns,
            cells: &row.cells,
            codes,
            errors,
            bad: false,
        };
        let loc = Loc {
            file: index,
            row: row.number,
        };
        let parsed = match kind {
            Kind::Areas => push(&mut records.areas, loc, area(&mut cells)),
            Kind::Cadres => push(&mut records.cadres, loc, cadre(&mut cells)),
            Kind::Households => push(&mut records.households, loc, household(&mut cells)),
            Kind::Members => push(&mut records.members, loc, member(&mut cells)),
            Kind::Assignments => push(&mut records.assignments, loc, assignment(&mut cells)),
            Kind::VillagePosts => push(&mut records.posts, loc, post(&mut cells)),
            Kind::Measures => push(&mut records.measures, loc, measure(&mut cells)),
        };
        if !parsed {
            // Rows naming this one are not told it is unknown: its own errors say what is wrong.
            if let Cell::Value(key) = cells.cell(kind.key_column()) {
                records.bad_keys.insert((kind, key.to_string()));
            }
        }
        progress.inc(1);
    }
    info
}

fn push<T>(list: &mut Vec<(Loc, T)>, loc: Loc, record: Option<T>) -> bool {
    match record {
        Some(record) => {
            list.push((loc, record));
            true
        }
        None => false,
    }
}

/// The last component of a path as given, for recognising the kind.
fn file_stem(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// One row being read: each accessor checks one column and records what is wrong with it.
struct Cells<'a> {
    file: &'a str,
    row: u64,
    columns: &'a HashMap<String, usize>,
    cells: &'a [Option<String>],
    codes: &'a HashSet<(String, String)>,
    errors: &'a mut Vec<RowError>,
    /// Whether anything in this row is wrong (then no record is made from it).
    bad: bool,
}

enum Cell<'a> {
    /// The column is not in the header (reported once, at the header).
    Absent,
    /// The cell's bytes were not text (already reported).
    Undecodable,
    Empty,
    Value(&'a str),
}

impl Cells<'_> {
    fn cell(&self, column: &str) -> Cell<'_> {
        let Some(&i) = self.columns.get(column) else {
            return Cell::Absent;
        };
        match self.cells.get(i) {
            None => Cell::Empty,
            Some(None) => Cell::Undecodable,
            Some(Some(text)) => match text.trim() {
                "" => Cell::Empty,
                t => Cell::Value(t),
            },
        }
    }

    fn fail(&mut self, column: &str, reason: String) {
        let index = self.columns.get(column).copied();
        let error = RowError::new(self.file, self.row, reason)
            .column(column)
            .index(index);
        self.errors.push(error);
        self.bad = true;
    }

    fn invalid(&mut self, column: &str, invalid: &Invalid) {
        self.fail(column, invalid.reason.to_string());
    }

    /// The trimmed value of a column; `None` when empty, and an error when it was required.
    fn value(&mut self, column: &str, required: bool) -> Option<String> {
        match self.cell(column) {
            Cell::Value(v) => Some(v.to_string()),
            Cell::Absent => {
                self.bad |= required;
                None
            }
            Cell::Undecodable => {
                self.bad = true;
                None
            }
            Cell::Empty => {
                if required {
                    self.fail(column, "is required".into());
                }
                None
            }
        }
    }

    fn text(&mut self, column: &str, max: usize, required: bool) -> Option<String> {
        let v = self.value(column, required)?;
        let rule = TextRule {
            min_chars: 1,
            max_chars: max,
            required: true,
        };
        validate::text(column, &v, rule)
            .map_err(|e| self.invalid(column, &e))
            .ok()
    }

    fn id<T>(&mut self, column: &str, make: fn(String) -> Result<T, Invalid>) -> Option<T> {
        let v = self.value(column, true)?;
        make(v).map_err(|e| self.invalid(column, &e)).ok()
    }

    fn opt_id<T>(&mut self, column: &str, make: fn(String) -> Result<T, Invalid>) -> Option<T> {
        let v = self.value(column, false)?;
        make(v).map_err(|e| self.invalid(column, &e)).ok()
    }

    fn code(&mut self, column: &str, list: &str, required: bool) -> Option<String> {
        let v = self.value(column, required)?;
        self.check_code(column, list, &v).then_some(v)
    }

    fn check_code(&mut self, column: &str, list: &str, code: &str) -> bool {
        if self.codes.has(list, code) {
            return true;
        }
        let mut reason = format!("is not a code of the list '{list}'");
        if self.codes.has(list, &format!("0{code}")) {
            reason.push_str(
                " (a spreadsheet may have dropped a leading zero: codes of this list have two \
                 digits, such as 01; format the column as text)",
            );
        } else if !self.codes.iter().any(|(l, _)| l == list) {
            reason.push_str(" (the database has no such list)");
        }
        self.fail(column, reason);
        false
    }

    fn human_code(&mut self, column: &str, kind: CodeKind, required: bool) -> Option<HumanCode> {
        let v = self.value(column, required)?;
        match HumanCode::parse(&v) {
            Ok(code) if code.kind() == kind => Some(code),
            Ok(_) => {
                let letter = kind.letter();
                self.fail(column, format!("must be a code starting with {letter}"));
                None
            }
            Err(e) => {
                self.fail(column, format!("is not a valid code: {e}"));
                None
            }
        }
    }

    fn int(&mut self, column: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.value(column, false)?;
        let Ok(n) = v.parse::<i64>() else {
            self.fail(column, "must be a whole number".into());
            return None;
        };
        validate::int_range(column, n, min, max)
            .map_err(|e| self.invalid(column, &e))
            .ok()
    }

    fn real(&mut self, column: &str, min: f64, max: f64) -> Option<f64> {
        let v = self.value(column, false)?;
        let Ok(x) = v.parse::<f64>() else {
            self.fail(
                column,
                "must be a number (digits with an optional '.' decimal point, no thousands \
                 separators)"
                    .into(),
            );
            return None;
        };
        validate::number_range(column, x, min, max)
            .map_err(|e| self.invalid(column, &e))
            .ok()
    }

    fn date(&mut self, column: &str, required: bool) -> Option<NaiveDate> {
        let v = self.value(column, required)?;
        validate::date(column, &v)
            .map_err(|e| self.invalid(column, &e))
            .ok()
    }

    fn flag(&mut self, column: &str) -> bool {
        let Some(v) = self.value(column, false) else {
            return false;
        };
        match v.to_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "是" => true,
            "0" | "false" | "no" | "n" | "否" => false,
            _ => {
                self.fail(
                    column,
                    "must be 1 or 0 (true/false, yes/no and 是/否 are also accepted)".into(),
                );
                false
            }
        }
    }

    fn phone(&mut self, column: &str) -> Option<String> {
        let v = self.value(column, false)?;
        validate::phone(column, &v)
            .map_err(|e| self.invalid(column, &e))
            .ok()
    }

    fn area_code(
        &mut self,
        column: &str,
        level: Option<AreaLevel>,
        required: bool,
    ) -> Option<String> {
        let v = self.value(column, required)?;
        let checked = match level {
            Some(level) => validate::area_code_of_level(column, &v, level),
            None => validate::area_code(column, &v),
        };
        match checked {
            Ok(code) => Some(code.as_str().to_string()),
            Err(e) => {
                let mut reason = e.reason.to_string();
                reason.push_str(scientific_hint(&v));
                self.fail(column, reason);
                None
            }
        }
    }

    fn resident_id(&mut self, column: &str) -> Option<String> {
        let v = self.value(column, false)?;
        match validate::resident_id(column, &v) {
            Ok(id) => Some(id),
            Err(e) => {
                let mut reason = e.reason.to_string();
                reason.push_str(scientific_hint(&v));
                self.fail(column, reason);
                None
            }
        }
    }

    /// The `lat` and `lon` columns: both or neither.
    fn point(&mut self) -> Option<GeoPoint> {
        let lat = self.real("lat", -90.0, 90.0);
        let lon = self.real("lon", -180.0, 180.0);
        match (lat, lon, self.cell("lat"), self.cell("lon")) {
            (Some(lat), Some(lon), ..) => Some(GeoPoint { lat, lon }),
            (Some(_), None, _, Cell::Empty | Cell::Absent) => {
                self.fail("lon", "is required when lat is given".into());
                None
            }
            (None, Some(_), Cell::Empty | Cell::Absent, _) => {
                self.fail("lat", "is required when lon is given".into());
                None
            }
            _ => None,
        }
    }

    /// `from_date` and `to_date`, the end not before the start.
    fn period(&mut self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let from = self.date("from_date", true);
        let to = self.date("to_date", false);
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                self.fail("to_date", "must not be before from_date".into());
            }
        }
        (from, to)
    }
}

/// A hint for a number that a spreadsheet rewrote as, say, 1.50726E+11.
fn scientific_hint(value: &str) -> &'static str {
    if value.contains("E+") || value.contains("e+") {
        " (it looks like a spreadsheet turned it into a number in scientific notation: format \
         the column as text and enter it again)"
    } else {
        ""
    }
}

fn area(c: &mut Cells<'_>) -> Option<Area> {
    let code = c.area_code("area_code", None, true);
    let name = c.text("name", AREA_NAME_MAX, true);
    let parent = c.area_code("parent_code", None, false);
    let is_poor_village = c.flag("is_poor_village");
    let location = c.point();
    let code = code?;
    // The parent is the code's own parent by its digits; a different one is a typing error.
    let by_digits = validate::area_code("area_code", &code)
        .ok()
        .and_then(|a| a.parent())
        .map(|p| p.as_str().to_string());
    if parent.is_some() && parent != by_digits {
        c.fail(
            "parent_code",
            "is not the area one level above area_code (its leading digits must match)".into(),
        );
    }
    if c.bad {
        return None;
    }
    Some(Area {
        code,
        name: name?,
        parent: parent.or(by_digits),
        is_poor_village,
        location,
    })
}

fn cadre(c: &mut Cells<'_>) -> Option<Cadre> {
    let id = c.id("cadre_id", CadreId::new);
    let name = c.text("name", NAME_MAX, true);
    let phone = c.phone("phone");
    let work_unit = c.text("work_unit", WORK_UNIT_MAX, false);
    let title = c.text("title", SHORT_TEXT_MAX, false);
    let rank = c.text("rank", SHORT_TEXT_MAX, false);
    let role = c.code("role", lists::CADRE_ROLE, true);
    if c.bad {
        return None;
    }
    Some(Cadre {
        id: id?,
        name: name?,
        phone,
        work_unit,
        title,
        rank,
        role: role?,
    })
}

fn household(c: &mut Cells<'_>) -> Option<Household> {
    let id = c.id("household_id", HouseholdId::new);
    let code = c.human_code("household_code", CodeKind::Household, true);
    let plate_issue = c.int("plate_issue", 1, i64::from(u16::MAX));
    let village = c.area_code("village_code", Some(AreaLevel::Village), true);
    let group_name = c.text("group_name", SHORT_TEXT_MAX, false);
    let head = c.opt_id("head_member_id", MemberId::new);
    let phone = c.phone("phone");
    let ident_standard = c.text("ident_standard", SHORT_TEXT_MAX, false);
    let attribute = c.code("attribute", lists::HOUSEHOLD_ATTRIBUTE, true);
    let main_cause = c.code("main_cause", lists::POVERTY_CAUSE, true);
    let mut other_causes = Vec::new();
    if let Some(v) = c.value("other_causes", false) {
        other_causes = v
            .split([';', '；', '|', '、'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if other_causes.len() > 2 {
            let n = other_causes.len();
            c.fail(
                "other_causes",
                format!("may list at most 2 codes, separated by ';' (lists {n})"),
            );
        }
        for cause in other_causes.clone() {
            c.check_code("other_causes", lists::POVERTY_CAUSE, &cause);
        }
    }
    let poverty_status = c.code("poverty_status", lists::POVERTY_STATUS, true);
    let identified_year = c.int("identified_year", 2000, 2100);
    let exit_year = c.int("exit_year", 2000, 2100);
    if let (Some(from), Some(exit)) = (identified_year, exit_year) {
        if exit < from {
            c.fail("exit_year", "must not be before identified_year".into());
        }
    }
    let housing_area_m2 = c.real("housing_area_m2", 0.0, 10_000.0);
    let housing_structure = c.text("housing_structure", SHORT_TEXT_MAX, false);
    let housing_safety = c.code("housing_safety", lists::HOUSING_SAFETY, false);
    let drinking_water = c.text("drinking_water", SHORT_TEXT_MAX, false);
    let location = c.point();
    if c.bad {
        return None;
    }
    Some(Household {
        id: id?,
        code: code?,
        // For a household already stored, `check` never lowers the stored issue: a reissue
        // on this server is newer than any export.
        plate_issue: plate_issue.and_then(|i| u16::try_from(i).ok()).unwrap_or(1),
        village: village?,
        group_name,
        head,
        phone,
        ident_standard,
        attribute: attribute?,
        main_cause: main_cause?,
        other_causes,
        poverty_status: poverty_status?,
        identified_year: identified_year.and_then(|y| i32::try_from(y).ok()),
        exit_year: exit_year.and_then(|y| i32::try_from(y).ok()),
        housing_area_m2,
        housing_structure,
        housing_safety,
        drinking_water,
        location,
    })
}

fn member(c: &mut Cells<'_>) -> Option<Member> {
    let id = c.id("member_id", MemberId::new);
    let household = c.id("household_id", HouseholdId::new);
    let person_code = c.human_code("person_code", CodeKind::Person, false);
    let name = c.text("name", NAME_MAX, true);
    let resident_id = c.resident_id("resident_id");
    let sex = c.code("sex", lists::SEX, true);
    let birth_date = c.date("birth_date", false);
    if let Some(id) = &resident_id {
        // GB 11643: characters 7-14 are the birth date, the 17th is odd for men.
        let id_birth = id
            .get(6..14)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok());
        if let (Some(given), Some(in_id)) = (birth_date, id_birth) {
            if given != in_id {
                c.fail(
                    "birth_date",
                    "does not match the birth date in characters 7-14 of resident_id".into(),
                );
            }
        }
        let odd = id
            .get(16..17)
            .and_then(|d| d.parse::<u8>().ok())
            .map(|d| d % 2 == 1);
        let expected = match odd {
            Some(true) => Some("1"),
            Some(false) => Some("2"),
            None => None,
        };
        if let (Some(sex), Some(expected)) = (sex.as_deref(), expected) {
            if matches!(sex, "1" | "2") && sex != expected {
                c.fail(
                    "sex",
                    "does not match resident_id (its 17th digit is odd for men, even for women)"
                        .into(),
                );
            }
        }
    }
    let ethnicity = c.code("ethnicity", lists::ETHNICITY, false);
    let relationship = c.code("relationship", lists::RELATIONSHIP, true);
    let education = c.code("education", lists::EDUCATION, false);
    let school_status = c.text("school_status", SHORT_TEXT_MAX, false);
    let health = c.code("health", lists::HEALTH, false);
    let labour_skill = c.code("labour_skill", lists::LABOUR_SKILL, false);
    let work_status = c.code("work_status", lists::WORK_STATUS, false);
    let work_months = c.int("work_months", 0, 12);
    let dibao = c.flag("dibao");
    let wubao = c.flag("wubao");
    let medical_insured = c.flag("medical_insured");
    let serious_illness_insured = c.flag("serious_illness_insured");
    if c.bad {
        return None;
    }
    Some(Member {
        id: id?,
        household: household?,
        person_code,
        name: name?,
        resident_id,
        sex: sex?,
        birth_date,
        ethnicity,
        relationship: relationship?,
        education,
        school_status,
        health,
        labour_skill,
        work_status,
        work_months: work_months.and_then(|m| i32::try_from(m).ok()),
        dibao,
        wubao,
        medical_insured,
        serious_illness_insured,
    })
}

fn assignment(c: &mut Cells<'_>) -> Option<Assignment> {
    let id = c.id("assignment_id", AssignmentId::new);
    let cadre = c.id("cadre_id", CadreId::new);
    let household = c.id("household_id", HouseholdId::new);
    let (from, to) = c.period();
    if c.bad {
        return None;
    }
    Some(Assignment {
        id: id?,
        cadre: cadre?,
        household: household?,
        from: from?,
        to,
    })
}

fn post(c: &mut Cells<'_>) -> Option<VillagePost> {
    let id = c.id("post_id", PostId::new);
    let cadre = c.id("cadre_id", CadreId::new);
    let village = c.area_code("village_code", Some(AreaLevel::Village), true);
    let (from, to) = c.period();
    if c.bad {
        return None;
    }
    Some(VillagePost {
        id: id?,
        cadre: cadre?,
        village: village?,
        from: from?,
        to,
    })
}

fn measure(c: &mut Cells<'_>) -> Option<Measure> {
    let id = c.id("measure_id", MeasureId::new);
    let household = c.id("household_id", HouseholdId::new);
    let category = c.code("category", lists::MEASURE_CATEGORY, true);
    let content = c.text("content", MEASURE_CONTENT_MAX, true);
    let date = c.date("date", true);
    let cost_yuan = c.real("cost_yuan", 0.0, 100_000_000.0);
    let acknowledged = c.flag("acknowledged");
    if c.bad {
        return None;
    }
    Some(Measure {
        id: id?,
        household: household?,
        category: category?,
        content: content?,
        date: date?,
        cost_yuan,
        acknowledged,
    })
}
