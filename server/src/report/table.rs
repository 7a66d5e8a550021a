//! A report's result as a table of typed columns, and its output formats: CSV (UTF-8 with a
//! byte-order mark, so Excel in a Chinese locale opens it as UTF-8 rather than GBK), JSON
//! (an array of objects, one per row) and xlsx (one sheet named after the report, a bold header
//! row, numbers as numbers, written by `rust_xlsxwriter`). Formatting never changes or drops a
//! value.
//!
//! A report declares its columns once, as a constant array of [`Column`]s: the key its CSV,
//! JSON and xlsx outputs use, the header the dashboard shows, and what its cells hold. Rows are
//! built through [`Rows`], whose `push` takes exactly as many cells as there are columns, so a
//! row that does not fit its header does not compile.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::labels::Text;

/// The UTF-8 byte-order mark Excel needs to read a CSV file as UTF-8.
pub const UTF8_BOM: &str = "\u{feff}";

/// One column of a report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// The key of the column in CSV headers, JSON objects and xlsx sheets: what users and their
    /// spreadsheets read, so it never changes once a report is published.
    pub key: &'static str,
    /// Its header on the dashboard.
    pub label: Text,
    /// What its cells hold.
    pub kind: CellKind,
}

/// What a column's cells hold, so that a page can show them as a reader expects (the
/// downloads carry the values themselves).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellKind {
    /// Text or a number, shown as it is.
    Plain,
    /// A share from 0 to 1, shown as a percentage.
    Share,
    /// A boolean, shown as yes or no.
    YesNo,
    /// A visit's id: a page links it to the visit.
    Visit,
    /// One of a fixed set of codes, each with its name; a code not in the set is shown as it is.
    Code(&'static [(&'static str, Text)]),
}

impl Column {
    pub const fn plain(key: &'static str, label: Text) -> Column {
        Column::new(key, label, CellKind::Plain)
    }

    pub const fn new(key: &'static str, label: Text, kind: CellKind) -> Column {
        Column { key, label, kind }
    }
}

/// Rows of cells under a report's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: &'static [Column],
    pub rows: Vec<Vec<Value>>,
}

/// A table being filled: each row has exactly `N` cells, one per column.
#[derive(Debug)]
pub struct Rows<const N: usize> {
    columns: &'static [Column; N],
    rows: Vec<Vec<Value>>,
}

impl<const N: usize> Rows<N> {
    pub fn new(columns: &'static [Column; N]) -> Self {
        Rows {
            columns,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: [Value; N]) {
        self.rows.push(Vec::from(row));
    }
}

impl<const N: usize> From<Rows<N>> for Table {
    fn from(rows: Rows<N>) -> Table {
        Table {
            columns: rows.columns,
            rows: rows.rows,
        }
    }
}

/// How a table is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Xlsx,
}

impl Format {
    /// Every format, the one the API and the CLI answer by default first.
    pub const ALL: [Format; 3] = [Format::Csv, Format::Json, Format::Xlsx];

    /// The file name extension, which is also how the API and the CLI name the format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    }

    /// The media type, for HTTP answers.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.extension() == s)
            .ok_or_else(|| format!("unknown format {s:?}; use csv, json or xlsx"))
    }
}

impl Table {
    /// The columns' keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.key)
    }

    /// The table in `format`; `name` names the xlsx sheet (the report's name).
    pub fn render(&self, format: Format, name: &str) -> Result<Vec<u8>> {
        match format {
            Format::Csv => self.to_csv().map(String::into_bytes),
            Format::Json => self.to_json().map(String::into_bytes),
            Format::Xlsx => self.to_xlsx(name),
        }
    }

    /// An xlsx workbook with one sheet `name` (cut to Excel's 31 characters): a bold header
    /// row, then one row per table row. Numbers and booleans keep their type, so Excel sums
    /// them; nulls are empty cells; arrays and objects are written as their JSON text.
    pub fn to_xlsx(&self, name: &str) -> Result<Vec<u8>> {
        use rust_xlsxwriter::{Format as CellFormat, Workbook};
        let fail = |e: rust_xlsxwriter::XlsxError| Error::Io(std::io::Error::other(e.to_string()));
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let sheet_name: String = name
            .chars()
            .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
            .take(31)
            .collect();
        if !sheet_name.is_empty() {
            sheet.set_name(&sheet_name).map_err(fail)?;
        }
        let bold = CellFormat::new().set_bold();
        for (c, column) in self.columns.iter().enumerate() {
            let c = u16::try_from(c).map_err(|_| Error::refused("too many columns"))?;
            sheet
                .write_string_with_format(0, c, column.key, &bold)
                .map_err(fail)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).map_err(|_| Error::refused("too many rows"))?;
            for (c, v) in row.iter().enumerate() {
                let c = u16::try_from(c).map_err(|_| Error::refused("too many columns"))?;
                match v {
                    Value::Null => {}
                    Value::Bool(b) => {
                        sheet.write_boolean(r, c, *b).map_err(fail)?;
                    }
                    Value::Number(n) => match n.as_f64() {
                        Some(f) => {
                            sheet.write_number(r, c, f).map_err(fail)?;
                        }
                        None => {
                            sheet.write_string(r, c, n.to_string()).map_err(fail)?;
                        }
                    },
                    other => {
                        sheet.write_string(r, c, cell_text(other)).map_err(fail)?;
                    }
                }
            }
        }
        book.save_to_buffer().map_err(fail)
    }

    /// CSV with a header row, UTF-8 with a byte-order mark. Nulls are empty cells.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| Error::Io(std::io::Error::other(e.to_string()));
        w.write_record(self.keys()).map_err(fail)?;
        for row in &self.rows {
            w.write_record(row.iter().map(cell_text)).map_err(fail)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        Ok(format!("{UTF8_BOM}{text}"))
    }

    /// A JSON array with one object per row, keyed by column name.
    pub fn to_json(&self) -> Result<String> {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut m = Map::new();
                for (key, v) in self.keys().zip(row) {
                    m.insert(key.to_string(), v.clone());
                }
                Value::Object(m)
            })
            .collect();
        Ok(serde_json::to_string_pretty(&rows)?)
    }
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const WORD: Text = Text::new("词", "word");

    #[test]
    fn csv_starts_with_a_bom_and_a_header_and_quotes_commas() {
        const COLUMNS: [Column; 2] = [
            Column::plain("village", WORD),
            Column::new("share", WORD, CellKind::Share),
        ];
        let mut t = Rows::new(&COLUMNS);
        t.push([json!("红旗嘎查, 一组"), json!(0.5)]);
        t.push([json!("x"), Value::Null]);
        let csv = Table::from(t).to_csv().unwrap();
        assert_eq!(csv, "\u{feff}village,share\n\"红旗嘎查, 一组\",0.5\nx,\n");
    }

    #[test]
    fn json_is_one_object_per_row() {
        const COLUMNS: [Column; 2] = [Column::plain("a", WORD), Column::plain("b", WORD)];
        let mut t = Rows::new(&COLUMNS);
        t.push([json!(1), json!("z")]);
        let v: Value = serde_json::from_str(&Table::from(t).to_json().unwrap()).unwrap();
        assert_eq!(v, json!([{"a": 1, "b": "z"}]));
    }
}
