//! The import layout (docs/import.md): one CSV file per kind of registry record, its columns,
//! and how a file's kind is recognised. The synthetic-region writer uses the same tables, so
//! what `synth` writes is by construction what `import` reads.

/// One kind of registry file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Areas,
    Cadres,
    Households,
    Members,
    Assignments,
    VillagePosts,
    Measures,
}

/// A column of a file: its name in the header and whether every row must fill it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub required: bool,
}

const fn req(name: &'static str) -> Column {
    Column {
        name,
        required: true,
    }
}

const fn opt(name: &'static str) -> Column {
    Column {
        name,
        required: false,
    }
}

const AREAS: &[Column] = &[
    req("area_code"),
    req("name"),
    opt("parent_code"),
    opt("is_poor_village"),
    opt("lat"),
    opt("lon"),
];

const HOUSEHOLDS: &[Column] = &[
    req("household_id"),
    req("household_code"),
    opt("plate_issue"),
    req("village_code"),
    opt("group_name"),
    opt("head_member_id"),
    opt("phone"),
    opt("ident_standard"),
    req("attribute"),
    req("main_cause"),
    opt("other_causes"),
    req("poverty_status"),
    opt("identified_year"),
    opt("exit_year"),
    opt("housing_area_m2"),
    opt("housing_structure"),
    opt("housing_safety"),
    opt("drinking_water"),
    opt("lat"),
    opt("lon"),
];

const MEMBERS: &[Column] = &[
    req("member_id"),
    req("household_id"),
    opt("person_code"),
    req("name"),
    opt("resident_id"),
    req("sex"),
    opt("birth_date"),
    opt("ethnicity"),
    req("relationship"),
    opt("education"),
    opt("school_status"),
    opt("health"),
    opt("labour_skill"),
    opt("work_status"),
    opt("work_months"),
    opt("dibao"),
    opt("wubao"),
    opt("medical_insured"),
    opt("serious_illness_insured"),
];

const CADRES: &[Column] = &[
    req("cadre_id"),
    req("name"),
    opt("phone"),
    opt("work_unit"),
    opt("title"),
    opt("rank"),
    req("role"),
];

const ASSIGNMENTS: &[Column] = &[
    req("assignment_id"),
    req("cadre_id"),
    req("household_id"),
    req("from_date"),
    opt("to_date"),
];

const VILLAGE_POSTS: &[Column] = &[
    req("post_id"),
    req("cadre_id"),
    req("village_code"),
    req("from_date"),
    opt("to_date"),
];

const MEASURES: &[Column] = &[
    req("measure_id"),
    req("household_id"),
    req("category"),
    req("content"),
    req("date"),
    opt("cost_yuan"),
    opt("acknowledged"),
];

impl Kind {
    /// Every kind, in the order files are written (parents before the rows that name them).
    pub const ALL: [Kind; 7] = [
        Kind::Areas,
        Kind::Cadres,
        Kind::Households,
        Kind::Members,
        Kind::Assignments,
        Kind::VillagePosts,
        Kind::Measures,
    ];

    /// The kinds in the order their key column is looked for in a header: a members file
    /// also has `household_id`, so `member_id` is looked for first.
    const BY_KEY: [Kind; 7] = [
        Kind::Measures,
        Kind::VillagePosts,
        Kind::Assignments,
        Kind::Members,
        Kind::Households,
        Kind::Cadres,
        Kind::Areas,
    ];

    /// The plural name, also the file's stem: `households` for households.csv.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Areas => "areas",
            Kind::Cadres => "cadres",
            Kind::Households => "households",
            Kind::Members => "members",
            Kind::Assignments => "assignments",
            Kind::VillagePosts => "village_posts",
            Kind::Measures => "measures",
        }
    }

    pub fn file_name(self) -> String {
        format!("{}.csv", self.name())
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Areas => AREAS,
            Kind::Cadres => CADRES,
            Kind::Households => HOUSEHOLDS,
            Kind::Members => MEMBERS,
            Kind::Assignments => ASSIGNMENTS,
            Kind::VillagePosts => VILLAGE_POSTS,
            Kind::Measures => MEASURES,
        }
    }

    /// The column holding the row's id; unique within an import.
    pub fn key_column(self) -> &'static str {
        self.columns().first().map_or("", |c| c.name)
    }

    /// The kind a file name names: its stem (without `.csv`, any case) is the kind's name.
    pub fn from_file_name(name: &str) -> Option<Kind> {
        let lower = name.to_ascii_lowercase();
        let stem = lower.strip_suffix(".csv").unwrap_or(&lower);
        Kind::ALL.into_iter().find(|k| k.name() == stem)
    }

    /// The kind a header names: the first kind (in [`Kind::BY_KEY`] order) whose key column it
    /// has.
    pub fn from_header<'a>(names: impl Iterator<Item = &'a str> + Clone) -> Option<Kind> {
        Kind::BY_KEY
            .into_iter()
            .find(|k| names.clone().any(|n| n == k.key_column()))
    }
}

/// A spreadsheet's column letter for a 0-based index: A … Z, AA, AB, …
pub fn column_letter(index: usize) -> String {
    let mut n = index.saturating_add(1);
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_file_is_recognised_by_its_name_or_else_its_key_column() {
        assert_eq!(
            Kind::from_file_name("Households.CSV"),
            Some(Kind::Households)
        );
        assert_eq!(
            Kind::from_file_name("village_posts.csv"),
            Some(Kind::VillagePosts)
        );
        assert_eq!(Kind::from_file_name("export-2024.csv"), None);
        let header = ["name", "household_id", "member_id"];
        assert_eq!(Kind::from_header(header.into_iter()), Some(Kind::Members));
        assert_eq!(
            Kind::from_header(["household_id", "village_code"].into_iter()),
            Some(Kind::Households)
        );
        assert_eq!(Kind::from_header(["name"].into_iter()), None);
    }

    #[test]
    fn column_letters_count_like_a_spreadsheet() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn every_column_is_documented_in_docs_import_md() {
        let doc = include_str!("../../../docs/import.md");
        for kind in Kind::ALL {
            assert!(doc.contains(&format!("`{}`", kind.file_name())), "{kind:?}");
            for column in kind.columns() {
                let row = format!("| `{}` |", column.name);
                assert!(doc.contains(&row), "{}: {}", kind.name(), column.name);
            }
        }
    }
}
