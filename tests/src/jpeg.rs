//! Small real JPEG files for tests that need a picture a browser decodes: a grayscale baseline
//! JPEG made of 8×8 blocks of one flat shade each (so only DC coefficients, with a quantisation
//! table of ones and two tiny Huffman tables), optionally carrying an EXIF block with a capture
//! time and a GPS position the way a phone camera writes one. The shades depend on a seed, so
//! two seeds give two photos with different hashes.

use std::io::Cursor;

use fieldvisit_core::domain::GeoPoint;

/// What the EXIF block says: `DateTimeOriginal` as the camera writes it (`YYYY:MM:DD
/// HH:MM:SS`, local time without zone), and a GPS position.
#[derive(Debug, Clone)]
pub struct ExifBlock {
    pub taken: String,
    pub at: GeoPoint,
}

/// A `blocks_wide`×`blocks_high` block (8 pixels each way) grayscale JPEG.
pub fn jpeg(blocks_wide: u16, blocks_high: u16, seed: u8, exif: Option<&ExifBlock>) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    if let Some(e) = exif {
        let tiff = exif_tiff(e);
        segment(&mut out, 0xE1, &[b"Exif\0\0".as_slice(), &tiff].concat());
    }
    // Quantisation table 0: all ones, so a coefficient is its own value.
    segment(&mut out, 0xDB, &[&[0u8][..], &[1u8; 64]].concat());
    let (w, h) = (blocks_wide * 8, blocks_high * 8);
    let mut frame = vec![8];
    frame.extend_from_slice(&h.to_be_bytes());
    frame.extend_from_slice(&w.to_be_bytes());
    frame.extend_from_slice(&[1, 1, 0x11, 0]);
    segment(&mut out, 0xC0, &frame);
    // DC table 0: the twelve size categories 0..=11, each a 4-bit code equal to it.
    let mut dc = vec![0x00];
    let mut counts = [0u8; 16];
    counts[3] = 12;
    dc.extend_from_slice(&counts);
    dc.extend(0u8..12);
    segment(&mut out, 0xC4, &dc);
    // AC table 0: one symbol, end of block, with the 1-bit code 0.
    let mut ac = vec![0x10];
    let mut counts = [0u8; 16];
    counts[0] = 1;
    ac.extend_from_slice(&counts);
    ac.push(0x00);
    segment(&mut out, 0xC4, &ac);
    segment(&mut out, 0xDA, &[1, 1, 0x00, 0, 63, 0]);

    let mut bits = Bits::default();
    let mut previous = 0i32;
    for by in 0..blocks_high {
        for bx in 0..blocks_wide {
            let shade = (i32::from(bx) * 37 + i32::from(by) * 91 + i32::from(seed) * 53) % 200 + 28;
            // The DC coefficient of a flat block is 8 × its level-shifted value.
            let dc = 8 * (shade - 128);
            let diff = dc - previous;
            previous = dc;
            let size = 32 - diff.unsigned_abs().leading_zeros();
            bits.put(size, 4);
            let value = if diff >= 0 {
                diff as u32
            } else {
                (diff + (1 << size) - 1) as u32
            };
            bits.put(value, size);
            bits.put(0, 1);
        }
    }
    out.extend(bits.finish());
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    let len = u16::try_from(body.len() + 2).expect("a JPEG segment under 64 KiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
}

/// The entropy-coded bits, most significant first, with a 0 stuffed after every 0xFF byte.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u8,
    n: u32,
}

impl Bits {
    fn put(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | ((code >> i) & 1) as u8;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc);
                if self.acc == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// Pads the last byte with ones, as the standard asks.
    fn finish(mut self) -> Vec<u8> {
        while self.n != 0 {
            self.put(1, 1);
        }
        self.out
    }
}

/// The EXIF block (a TIFF structure) with the capture time and the GPS position.
fn exif_tiff(e: &ExifBlock) -> Vec<u8> {
    use exif::experimental::Writer;
    use exif::{Field, In, Rational, Tag, Value};
    let dms = |x: f64| {
        let x = x.abs();
        let degrees = x.trunc();
        let minutes = ((x - degrees) * 60.0).trunc();
        let millis = ((x - degrees - minutes / 60.0) * 3_600_000.0).round();
        Value::Rational(vec![
            Rational::from((degrees as u32, 1)),
            Rational::from((minutes as u32, 1)),
            Rational::from((millis as u32, 1000)),
        ])
    };
    let ascii = |s: &str| Value::Ascii(vec![s.as_bytes().to_vec()]);
    let fields = [
        (Tag::DateTimeOriginal, ascii(&e.taken)),
        (
            Tag::GPSLatitudeRef,
            ascii(if e.at.lat >= 0.0 { "N" } else { "S" }),
        ),
        (Tag::GPSLatitude, dms(e.at.lat)),
        (
            Tag::GPSLongitudeRef,
            ascii(if e.at.lon >= 0.0 { "E" } else { "W" }),
        ),
        (Tag::GPSLongitude, dms(e.at.lon)),
    ]
    .map(|(tag, value)| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    });
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer
        .write(&mut tiff, false)
        .expect("an EXIF block of five fields");
    tiff.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exif_block_reads_back_as_written() {
        let bytes = jpeg(
            4,
            3,
            1,
            Some(&ExifBlock {
                taken: "2026:05:01 08:30:00".into(),
                at: GeoPoint {
                    lat: 49.2,
                    lon: 119.7,
                },
            }),
        );
        assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
        assert_eq!(&bytes[bytes.len() - 2..], &[0xFF, 0xD9]);
        let facts = fieldvisit_core::domain::photo::read_exif(&bytes);
        let at = facts.location.expect("a position");
        assert!((at.lat - 49.2).abs() < 1e-5 && (at.lon - 119.7).abs() < 1e-5);
        assert!(facts.taken_at.is_some());
        assert_ne!(jpeg(4, 3, 1, None), jpeg(4, 3, 2, None));
    }
}
