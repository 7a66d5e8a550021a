//! The household and member fields a phone may edit, and the rule each value must meet. The
//! device checks edits before journaling them and the server checks them again before merging,
//! through these same tables. Status, attribute, the plate and the village belong to the
//! county's procedures and are not editable here (the poverty status moves only by exit steps,
//! [`super::exit`]).

use serde_json::Value;

use super::{CodeLists, lists};
use crate::validate::{self, Invalid, Reason, TextRule};

/// Which registry entity a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Household,
    Member,
}

impl Entity {
    /// The table name, also used in field clocks and the conflict log.
    pub fn table(self) -> &'static str {
        match self {
            Entity::Household => "household",
            Entity::Member => "member",
        }
    }

    fn fields(self) -> &'static [(&'static str, Rule)] {
        match self {
            Entity::Household => HOUSEHOLD_FIELDS,
            Entity::Member => MEMBER_FIELDS,
        }
    }

    /// The editable field named `name`, as a `'static` name safe to use as a column.
    pub fn field(self, name: &str) -> Option<&'static str> {
        self.fields()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, _)| *n)
    }

    /// Every editable field.
    pub fn field_names(self) -> impl Iterator<Item = &'static str> {
        self.fields().iter().map(|(n, _)| *n)
    }
}

/// How one editable field is checked.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Text(usize),
    Code(&'static str),
    Phone,
    ResidentId,
    Date,
    Int(i64, i64),
    Real(f64, f64),
    Flag,
}

const HOUSEHOLD_FIELDS: &[(&str, Rule)] = &[
    ("group_name", Rule::Text(40)),
    ("phone", Rule::Phone),
    ("housing_area_m2", Rule::Real(0.0, 10_000.0)),
    ("housing_structure", Rule::Text(40)),
    ("housing_safety", Rule::Code(lists::HOUSING_SAFETY)),
    ("drinking_water", Rule::Text(40)),
];

const MEMBER_FIELDS: &[(&str, Rule)] = &[
    ("name", Rule::Text(40)),
    ("resident_id", Rule::ResidentId),
    ("birth_date", Rule::Date),
    ("ethnicity", Rule::Code(lists::ETHNICITY)),
    ("education", Rule::Code(lists::EDUCATION)),
    ("school_status", Rule::Text(40)),
    ("health", Rule::Code(lists::HEALTH)),
    ("labour_skill", Rule::Code(lists::LABOUR_SKILL)),
    ("work_status", Rule::Code(lists::WORK_STATUS)),
    ("work_months", Rule::Int(0, 12)),
    ("dibao", Rule::Flag),
    ("wubao", Rule::Flag),
    ("medical_insured", Rule::Flag),
    ("serious_illness_insured", Rule::Flag),
];

/// Fields that must always hold a value (the rest may be cleared with `null`).
const NOT_NULL: &[&str] = &[
    "name",
    "dibao",
    "wubao",
    "medical_insured",
    "serious_illness_insured",
];

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    NotEditable,
    Invalid(Invalid),
}

impl From<Invalid> for FieldError {
    fn from(i: Invalid) -> Self {
        FieldError::Invalid(i)
    }
}

fn wrong_type(field: &str) -> Invalid {
    Invalid {
        field: field.to_string(),
        reason: Reason::WrongType,
    }
}

/// Checks one value of an editable field and returns it in canonical form.
pub fn check(
    entity: Entity,
    field: &str,
    value: &Value,
    codes: &impl CodeLists,
) -> Result<Value, FieldError> {
    let Some((field, rule)) = entity.fields().iter().find(|(n, _)| *n == field).copied() else {
        return Err(FieldError::NotEditable);
    };
    if value.is_null() {
        if NOT_NULL.contains(&field) {
            return Err(Invalid {
                field: field.to_string(),
                reason: Reason::Required,
            }
            .into());
        }
        return Ok(Value::Null);
    }
    let text = || value.as_str().ok_or_else(|| wrong_type(field));
    Ok(match rule {
        Rule::Text(max) => validate::text(field, text()?, TextRule::required(1, max))?.into(),
        Rule::Code(list) => {
            let code = text()?;
            codes.check(field, list, code)?;
            code.into()
        }
        Rule::Phone => validate::phone(field, text()?)?.into(),
        Rule::ResidentId => validate::resident_id(field, text()?)?.into(),
        Rule::Date => validate::date(field, text()?)?.to_string().into(),
        Rule::Int(min, max) => {
            let n = value.as_i64().ok_or_else(|| wrong_type(field))?;
            validate::int_range(field, n, min, max)?.into()
        }
        Rule::Real(min, max) => {
            let x = value.as_f64().ok_or_else(|| wrong_type(field))?;
            validate::number_range(field, x, min, max)?.into()
        }
        Rule::Flag => value.as_bool().ok_or_else(|| wrong_type(field))?.into(),
    })
}
