//! Reading one CSV file into rows of text cells: the character encoding (UTF-8 with or
//! without a BOM, or GBK/GB18030, detected or given with `--encoding`), the CSV syntax, and the row numbers a
//! spreadsheet user sees (the header is row 1).
//!
//! The CSV is split on the raw bytes and each cell is decoded on its own, so a cell whose
//! bytes are not valid text is reported at its own row and column instead of failing the
//! whole file. Splitting before decoding is safe for both encodings: in GBK and GB18030 every
//! byte of a multi-byte character is either ≥ 0x81 or an ASCII digit or letter, never a comma,
//! quote or line break. This module never panics on any input.

use encoding_rs::GB18030;

use super::RowError;

/// The text encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// GB18030, a superset of GBK and GB2312: what "GBK" exports decode as.
    Gb18030,
}

impl Encoding {
    /// Parses `--encoding`: `utf-8`/`utf8`, `gbk`, `gb18030` or `gb2312` (any case).
    pub fn parse(name: &str) -> Option<Encoding> {
        match name.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "gbk" | "gb18030" | "gb2312" | "cp936" => Some(Encoding::Gb18030),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Gb18030 => "GBK/GB18030",
        }
    }

    /// The cell's text, or `None` when its bytes are not valid in this encoding.
    fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
            Encoding::Gb18030 => GB18030
                .decode_without_bom_handling_and_without_replacement(bytes)
                .map(|c| c.into_owned()),
        }
    }
}

/// One data row: its spreadsheet row number and its cells (`None` where the bytes were not
/// valid text; that error is already reported).
#[derive(Debug)]
pub struct Row {
    pub number: u64,
    pub cells: Vec<Option<String>>,
}

/// A file read into a header and rows.
#[derive(Debug)]
pub struct Table {
    /// The header's column names, trimmed and in lower case (`None`: not valid text).
    pub header: Vec<Option<String>>,
    pub rows: Vec<Row>,
    pub encoding: Encoding,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const GB18030_BOM: &[u8] = b"\x84\x31\x95\x33";

/// Reads `bytes` (the content of the file named `file`) as CSV. Problems are appended to
/// `errors`; the table holds every row that could be split, even when some cells are bad.
pub fn read_table(
    file: &str,
    bytes: &[u8],
    forced: Option<Encoding>,
    errors: &mut Vec<RowError>,
) -> Table {
    let (body, bom) = if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        (rest, Some(Encoding::Utf8))
    } else if let Some(rest) = bytes.strip_prefix(GB18030_BOM) {
        (rest, Some(Encoding::Gb18030))
    } else {
        (bytes, None)
    };

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut records: Vec<csv::ByteRecord> = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => records.push(record.clone()),
            Ok(false) => break,
            Err(e) => {
                // The row being read is the one after the last complete record.
                let row = u64::try_from(records.len())
                    .unwrap_or(u64::MAX)
                    .saturating_add(1);
                errors.push(RowError::new(
                    file,
                    row,
                    format!(
                        "is not valid CSV ({}); nothing after this row was read",
                        csv_problem(&e)
                    ),
                ));
                break;
            }
        }
    }

    let encoding = forced.or(bom).unwrap_or_else(|| detect(&records));
    let decode_record = |number: u64, rec: &csv::ByteRecord, errors: &mut Vec<RowError>| {
        rec.iter()
            .enumerate()
            .map(|(i, cell)| {
                let text = encoding.decode(cell);
                if text.is_none() {
                    errors.push(
                        RowError::new(
                            file,
                            number,
                            format!(
                                "holds bytes that are not valid {} text (save the file as UTF-8 \
                                 or GBK, or give --encoding)",
                                encoding.label()
                            ),
                        )
                        .index(Some(i)),
                    );
                }
                text
            })
            .collect::<Vec<_>>()
    };

    let mut rows = Vec::with_capacity(records.len().saturating_sub(1));
    let mut header = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        let number = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        let cells = decode_record(number, rec, errors);
        if i == 0 {
            header = cells
                .into_iter()
                .map(|c| c.map(|name| name.trim().to_lowercase()))
                .collect();
        } else if cells
            .iter()
            .any(|c| c.as_deref().is_none_or(|t| !t.trim().is_empty()))
        {
            // A row of empty cells is a blank spreadsheet row: skipped, but still counted.
            rows.push(Row { number, cells });
        }
    }
    Table {
        header,
        rows,
        encoding,
    }
}

/// UTF-8 when every cell is valid UTF-8. Otherwise the cells holding non-ASCII bytes vote:
/// those valid in only one of UTF-8 and GB18030 count for it (many short UTF-8 texts are also
/// valid GB18030, so a cell valid in both says nothing). UTF-8 wins a tie: a GBK export has
/// nearly no cell that is valid UTF-8, while a UTF-8 file with one damaged cell has many.
fn detect(records: &[csv::ByteRecord]) -> Encoding {
    let non_ascii = || {
        records
            .iter()
            .flat_map(|r| r.iter())
            .filter(|c| !c.is_ascii())
    };
    if non_ascii().all(|c| std::str::from_utf8(c).is_ok()) {
        return Encoding::Utf8;
    }
    let (mut utf8_only, mut gb_only) = (0usize, 0usize);
    for cell in non_ascii() {
        let utf8 = std::str::from_utf8(cell).is_ok();
        let gb = GB18030
            .decode_without_bom_handling_and_without_replacement(cell)
            .is_some();
        utf8_only += usize::from(utf8 && !gb);
        gb_only += usize::from(gb && !utf8);
    }
    if gb_only > utf8_only {
        Encoding::Gb18030
    } else {
        Encoding::Utf8
    }
}

/// What went wrong in the CSV syntax, without the file's content.
fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        csv::ErrorKind::UnequalLengths { .. } => "rows of unequal length".into(),
        _ => "unbalanced quotes or a malformed field".into(),
    }
}

/// Encodes `text` for writing in `encoding`; `None` when a character has no GBK form.
pub fn encode(text: &str, encoding: Encoding, gbk_only: bool) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Utf8 => Some(text.as_bytes().to_vec()),
        Encoding::Gb18030 => {
            let target = if gbk_only { encoding_rs::GBK } else { GB18030 };
            let (bytes, _, had_errors) = target.encode(text);
            (!had_errors).then(|| bytes.into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn read(bytes: &[u8]) -> (Table, Vec<RowError>) {
        let mut errors = Vec::new();
        let t = read_table("t.csv", bytes, None, &mut errors);
        (t, errors)
    }

    #[test]
    fn utf8_with_a_bom_gbk_and_gb18030_all_read_the_same_text() {
        let text = "name,village\n巴特尔,巴彦嘎查\n";
        let mut with_bom = UTF8_BOM.to_vec();
        with_bom.extend_from_slice(text.as_bytes());
        let gbk = encode(text, Encoding::Gb18030, true).unwrap();
        for bytes in [text.as_bytes().to_vec(), with_bom, gbk] {
            let (t, errors) = read(&bytes);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(t.header[0].as_deref(), Some("name"));
            assert_eq!(t.rows[0].cells[1].as_deref(), Some("巴彦嘎查"));
            assert_eq!(t.rows[0].number, 2);
        }
    }

    #[test]
    fn a_cell_of_invalid_bytes_is_reported_at_its_row_and_column() {
        // Mostly UTF-8; one cell holds a lone continuation byte and a truncated sequence.
        let bytes = b"a,b\n\xe5\xb7\xb4,x\nok,\xff\xe5\n".to_vec();
        let (t, errors) = read(&bytes);
        assert_eq!(t.encoding, Encoding::Utf8);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].row, errors[0].column_index), (3, Some(1)));
        assert!(t.rows[1].cells[1].is_none());
    }

    #[test]
    fn blank_spreadsheet_rows_are_skipped_but_keep_the_row_numbers() {
        let (t, errors) = read(b"a,b\r\n,\r\nx,y\r\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].number, 3);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        for seed in 0u8..=255 {
            let bytes: Vec<u8> = (0..200u16)
                .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                .collect();
            let _ = read(&bytes);
        }
    }
}
