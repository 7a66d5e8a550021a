//! The print layout of door plates: A4 pages of 2 × 4 plates, each plate a QR code (version 5,
//! error correction M, one alphanumeric segment, so every plate looks alike and reads alike),
//! the household's human code in large type, the village name, the plate's issue number and a
//! dashed cut line. Pages are SVG documents sized in millimetres, so they print at true size.
//!
//! This module is pure: it turns plate labels into SVG text and never touches storage. It must
//! never put anything on a plate but what [`PlateLabel`] holds (a signed opaque payload, a
//! human code, an issue number) and the village name: no names, no ID numbers, no phones.

use std::fmt::Write as _;

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

use fieldvisit_core::codes::HumanCode;

use crate::error::{Error, Result};

/// A4 portrait, in millimetres.
pub const PAGE_WIDTH_MM: f64 = 210.0;
pub const PAGE_HEIGHT_MM: f64 = 297.0;
/// Plates across and down a page.
pub const COLUMNS: usize = 2;
pub const ROWS: usize = 4;
pub const PLATES_PER_PAGE: usize = COLUMNS * ROWS;

/// Page margins: most office printers cannot print the outer 5 mm; the bottom margin holds the
/// page footer.
const MARGIN_X: f64 = 10.0;
const MARGIN_TOP: f64 = 10.0;
const MARGIN_BOTTOM: f64 = 14.0;
const CELL_WIDTH: f64 = (PAGE_WIDTH_MM - 2.0 * MARGIN_X) / COLUMNS as f64;
const CELL_HEIGHT: f64 = (PAGE_HEIGHT_MM - MARGIN_TOP - MARGIN_BOTTOM) / ROWS as f64;

/// The printed QR square, quiet zone included: 45 modules of just under 1 mm, which a cheap
/// phone camera reads from arm's length.
const QR_SIZE_MM: f64 = 44.0;
/// The white border a QR reader needs around the code, in modules (the standard's minimum).
const QUIET_ZONE: usize = 4;
/// Where the QR square starts below a cell's top edge.
const QR_TOP_MM: f64 = 9.0;

/// The QR version and error correction every plate uses. 122 alphanumeric characters is
/// exactly version 5-M's capacity (see docs/plates.md).
const QR_VERSION: Version = Version::Normal(5);
const QR_EC: EcLevel = EcLevel::M;

const CJK_FONTS: &str = "'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', \
                         'Microsoft YaHei', SimHei, sans-serif";
const MONO_FONTS: &str =
    "'DejaVu Sans Mono', 'Liberation Mono', Consolas, 'Courier New', monospace";

/// What one plate shows. Deliberately nothing else: no field here may hold personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlateLabel {
    /// The signed QR text (`FV1…`, see `fieldvisit_core::plate`).
    pub payload: String,
    /// The household's human code, printed under the QR for typing by hand.
    pub code: HumanCode,
    /// The plate's issue number, printed small so an admin can tell a reissued plate apart.
    pub issue: u16,
}

/// The village a sheet is for, as printed on every plate and in the page footer.
#[derive(Debug, Clone, Copy)]
pub struct Village<'a> {
    pub code: &'a str,
    pub name: &'a str,
}

/// The QR modules of one plate, dark = true, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrModules {
    pub width: usize,
    pub dark: Vec<bool>,
}

/// Encodes a plate payload as one alphanumeric segment in a version 5-M QR code.
///
/// # Errors
/// [`Error::Refused`] when the payload is not plate text (outside the QR alphanumeric set, or
/// too long for version 5-M).
pub fn qr_modules(payload: &str) -> Result<QrModules> {
    let refused = |e: qrcode::types::QrError| {
        Error::refused(format!(
            "a plate payload does not fit a version 5-M QR code: {e}"
        ))
    };
    // The encoder maps a character outside the alphanumeric set to '0' without a word, which
    // would print a plate that reads as other text: such input is refused here instead.
    if !payload
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b" $%*+-./:".contains(&b))
    {
        return Err(Error::refused(
            "a plate payload has characters outside the QR alphanumeric set",
        ));
    }
    let mut bits = Bits::new(QR_VERSION);
    bits.push_alphanumeric_data(payload.as_bytes())
        .map_err(refused)?;
    bits.push_terminator(QR_EC).map_err(refused)?;
    let qr = QrCode::with_bits(bits, QR_EC).map_err(refused)?;
    Ok(QrModules {
        width: qr.width(),
        dark: qr
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    })
}

/// Where one plate sits on its page, in millimetres from the top-left corner: the rectangle
/// inside its cut lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub x_mm: f64,
    pub y_mm: f64,
    pub width_mm: f64,
    pub height_mm: f64,
}

/// The cells of the first `count` plates of a page (at most [`PLATES_PER_PAGE`]), left to right
/// then top to bottom. The renderer places plates with this, and a reader may cut pages with it.
pub fn cells(count: usize) -> Vec<Cell> {
    (0..count.min(PLATES_PER_PAGE))
        .map(|i| Cell {
            x_mm: MARGIN_X + (i % COLUMNS) as f64 * CELL_WIDTH,
            y_mm: MARGIN_TOP + (i / COLUMNS) as f64 * CELL_HEIGHT,
            width_mm: CELL_WIDTH,
            height_mm: CELL_HEIGHT,
        })
        .collect()
}

/// Escapes text for an SVG text node or attribute.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// An SVG path of the dark modules, one rectangle per horizontal run, in module units with the
/// quiet zone included (so the code starts at `QUIET_ZONE`).
fn qr_path(qr: &QrModules) -> String {
    let mut d = String::new();
    for (y, row) in qr.dark.chunks(qr.width.max(1)).enumerate() {
        let mut x = 0;
        while x < row.len() {
            if row.get(x).copied().unwrap_or(false) {
                let start = x;
                while row.get(x).copied().unwrap_or(false) {
                    x += 1;
                }
                let run = x - start;
                let _ = write!(
                    d,
                    "M{} {}h{run}v1h-{run}z",
                    start + QUIET_ZONE,
                    y + QUIET_ZONE
                );
            } else {
                x += 1;
            }
        }
    }
    d
}

fn plate_svg(
    out: &mut String,
    village: Village<'_>,
    label: &PlateLabel,
    x: f64,
    y: f64,
) -> Result<()> {
    let qr = qr_modules(&label.payload)?;
    let modules = qr.width + 2 * QUIET_ZONE;
    let scale = QR_SIZE_MM / modules as f64;
    let centre = x + CELL_WIDTH / 2.0;
    let qr_left = centre - QR_SIZE_MM / 2.0;
    let qr_top = y + QR_TOP_MM;
    let _ = write!(
        out,
        r##"<g class="plate">
<text x="{centre:.2}" y="{:.2}" font-family="{CJK_FONTS}" font-size="5" text-anchor="middle">{}</text>
<rect x="{qr_left:.2}" y="{qr_top:.2}" width="{QR_SIZE_MM}" height="{QR_SIZE_MM}" fill="#fff"/>
<path transform="translate({qr_left:.3} {qr_top:.3}) scale({scale:.5})" shape-rendering="crispEdges" fill="#000" d="{}"/>
<text x="{centre:.2}" y="{:.2}" font-family="{MONO_FONTS}" font-size="8" font-weight="bold" text-anchor="middle" letter-spacing="0.4">{}</text>
<text x="{centre:.2}" y="{:.2}" font-family="{CJK_FONTS}" font-size="3" fill="#555" text-anchor="middle">第 {} 版</text>
</g>
"##,
        y + 7.5,
        xml_escape(village.name),
        qr_path(&qr),
        y + 61.0,
        xml_escape(&label.code.grouped()),
        y + 66.0,
        label.issue,
    );
    Ok(())
}

/// The dashed cut lines around the first `used` cells of a page: full rows of the grid, so
/// neighbouring plates share one line.
fn cut_lines(out: &mut String, used: usize) {
    let rows = used.div_ceil(COLUMNS).min(ROWS);
    let bottom = MARGIN_TOP + rows as f64 * CELL_HEIGHT;
    let right = MARGIN_X + COLUMNS as f64 * CELL_WIDTH;
    out.push_str(
        r##"<g class="cut" stroke="#888" stroke-width="0.25" stroke-dasharray="3 2" fill="none">
"##,
    );
    for r in 0..=rows {
        let y = MARGIN_TOP + r as f64 * CELL_HEIGHT;
        let _ = writeln!(
            out,
            r#"<line x1="{MARGIN_X}" y1="{y:.2}" x2="{right}" y2="{y:.2}"/>"#
        );
    }
    for c in 0..=COLUMNS {
        let x = MARGIN_X + c as f64 * CELL_WIDTH;
        let _ = writeln!(
            out,
            r#"<line x1="{x:.2}" y1="{MARGIN_TOP}" x2="{x:.2}" y2="{bottom:.2}"/>"#
        );
    }
    out.push_str("</g>\n");
}

/// Renders the plates as A4 pages of SVG, [`PLATES_PER_PAGE`] to a page, in the given order.
///
/// # Errors
/// [`Error::Refused`] when there are no plates, or a payload is not plate text.
pub fn render_pages(village: Village<'_>, plates: &[PlateLabel]) -> Result<Vec<String>> {
    if plates.is_empty() {
        return Err(Error::refused("there are no plates to print"));
    }
    let pages = plates.len().div_ceil(PLATES_PER_PAGE);
    let mut out = Vec::with_capacity(pages);
    for (p, chunk) in plates.chunks(PLATES_PER_PAGE).enumerate() {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{PAGE_WIDTH_MM}mm" height="{PAGE_HEIGHT_MM}mm" viewBox="0 0 {PAGE_WIDTH_MM} {PAGE_HEIGHT_MM}">
<title>{} {} — door plates, page {} of {pages}</title>
<rect width="{PAGE_WIDTH_MM}" height="{PAGE_HEIGHT_MM}" fill="#fff"/>
"##,
            xml_escape(village.name),
            xml_escape(village.code),
            p + 1,
        );
        cut_lines(&mut svg, chunk.len());
        for (label, cell) in chunk.iter().zip(cells(chunk.len())) {
            plate_svg(&mut svg, village, label, cell.x_mm, cell.y_mm)?;
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-family="{CJK_FONTS}" font-size="3.2" fill="#555" text-anchor="middle">{} {} · 门牌 第 {}/{pages} 页 · 沿虚线剪下</text>
</svg>
"##,
            PAGE_WIDTH_MM / 2.0,
            PAGE_HEIGHT_MM - MARGIN_BOTTOM / 2.0,
            xml_escape(village.name),
            xml_escape(village.code),
            p + 1,
        );
        out.push(svg);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvisit_core::codes::CodeKind;
    use fieldvisit_core::plate::PlateAuthority;

    fn labels(n: u64) -> Vec<PlateLabel> {
        let authority = PlateAuthority::from_secret(1, [7; 32]);
        (0..n)
            .map(|i| {
                let code = HumanCode::new(CodeKind::Household, 1000 + i * 7919).unwrap();
                PlateLabel {
                    payload: authority.issue(&code, 1),
                    code,
                    issue: 1,
                }
            })
            .collect()
    }

    const VILLAGE: Village<'static> = Village {
        code: "150726102200",
        name: "巴音<敖包>嘎查",
    };

    #[test]
    fn every_plate_is_a_version_5_qr_code() {
        for label in labels(20) {
            let qr = qr_modules(&label.payload).unwrap();
            assert_eq!(qr.width, 37);
            assert_eq!(qr.dark.len(), 37 * 37);
        }
    }

    #[test]
    fn text_that_is_not_a_plate_is_refused_not_encoded_differently() {
        assert!(qr_modules("fv1 lowercase is not alphanumeric").is_err());
        assert!(qr_modules(&"A".repeat(200)).is_err());
    }

    #[test]
    fn eight_plates_fill_a_page_and_the_ninth_starts_another() {
        assert_eq!(render_pages(VILLAGE, &labels(1)).unwrap().len(), 1);
        assert_eq!(render_pages(VILLAGE, &labels(8)).unwrap().len(), 1);
        let pages = render_pages(VILLAGE, &labels(9)).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].matches(r#"<g class="plate">"#).count(), 8);
        assert_eq!(pages[1].matches(r#"<g class="plate">"#).count(), 1);
        assert!(pages[1].contains("门牌 第 2/2 页"));
    }

    #[test]
    fn a_page_shows_codes_and_escaped_village_name() {
        let plates = labels(3);
        let page = &render_pages(VILLAGE, &plates).unwrap()[0];
        assert!(page.contains(r#"width="210mm" height="297mm""#));
        for label in &plates {
            assert!(page.contains(&label.code.grouped()));
        }
        assert!(page.contains("巴音&lt;敖包&gt;嘎查"));
        assert!(!page.contains("<敖包>"));
    }

    #[test]
    fn no_plates_is_an_error() {
        assert!(render_pages(VILLAGE, &[]).is_err());
    }
}
