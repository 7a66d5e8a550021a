//! Visit photos as evidence: a photo is named by the SHA-256 of its bytes, so a visit's signed
//! journal operation pins exactly which pictures were taken, a picture reused for a second
//! visit is recognisable by its name alone, and the server can check what it received.
//!
//! The app says where a picture came from: only the camera counts as evidence (a gallery
//! picture may be months old or someone else's). EXIF capture time and GPS position, when the
//! camera wrote them, are read here and carried with the visit so that supervision can compare
//! them with the visit's own time and place (server/src/report/flags.rs).

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::GeoPoint;
use crate::clock::WallTime;
use crate::validate::{Invalid, Reason};

/// The largest photo accepted, on the phone and on the server: a phone camera's JPEG at full
/// resolution is 2–5 MB; anything larger is a raw or a video frame.
pub const MAX_PHOTO_BYTES: u64 = 8 * 1024 * 1024;
/// The upload unit: on a 2G link (~5 kB/s) one chunk is ~13 s of airtime, so a dropped
/// connection costs at most that much again.
pub const CHUNK_BYTES: u32 = 64 * 1024;
/// Photos one visit may carry.
pub const MAX_PHOTOS_PER_VISIT: usize = 20;
/// The largest thumbnail kept with a photo.
pub const MAX_THUMBNAIL_BYTES: usize = 64 * 1024;
/// EXIF times carry no zone unless the camera wrote an offset; phones in the field are on
/// China Standard Time.
const DEFAULT_EXIF_OFFSET_S: i32 = 8 * 3600;

/// Where a picture came from, as the app reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoSource {
    /// Taken with the camera inside the app, during the visit: counts as evidence.
    Camera,
    /// Picked from the phone's gallery: kept, but flagged for supervisors.
    Gallery,
}

impl PhotoSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoSource::Camera => "camera",
            PhotoSource::Gallery => "gallery",
        }
    }

    pub fn parse(s: &str) -> Result<PhotoSource, Invalid> {
        match s {
            "camera" => Ok(PhotoSource::Camera),
            "gallery" => Ok(PhotoSource::Gallery),
            _ => Err(Invalid::new("source", Reason::NotAllowed { options: 2 })),
        }
    }
}

/// What the picture's own EXIF block says, when it has one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExifFacts {
    /// `DateTimeOriginal`, read in its own offset or else in China Standard Time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<WallTime>,
    /// The GPS position the camera wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
}

impl ExifFacts {
    pub fn is_empty(&self) -> bool {
        self.taken_at.is_none() && self.location.is_none()
    }
}

/// A photo as a visit's journal operation names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoRef {
    /// SHA-256 of the photo's bytes, 64 lowercase hex digits.
    pub sha256: String,
    pub size: u64,
    pub source: PhotoSource,
    /// When the app captured or picked it (device clock).
    pub captured_at: WallTime,
    #[serde(default, skip_serializing_if = "ExifFacts::is_empty")]
    pub exif: ExifFacts,
}

impl PhotoRef {
    /// Checks a reference as received from another party (the server checks pushed visits).
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        check_hash(&format!("{field}.sha256"), &self.sha256)?;
        if self.size == 0 || self.size > MAX_PHOTO_BYTES {
            return Err(Invalid::new(
                &format!("{field}.size"),
                Reason::IntOutOfRange {
                    min: 1,
                    max: MAX_PHOTO_BYTES as i64,
                },
            ));
        }
        Ok(())
    }
}

/// The photo's name: SHA-256 of its bytes in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

/// Accepts exactly 64 lowercase hex digits.
pub fn check_hash(field: &str, hash: &str) -> Result<(), Invalid> {
    let ok = hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(field, Reason::NotASha256))
    }
}

/// How many upload chunks a photo of `size` bytes has.
pub fn chunk_count(size: u64) -> u32 {
    u32::try_from(size.div_ceil(u64::from(CHUNK_BYTES))).unwrap_or(u32::MAX)
}

/// The length chunk `index` of a photo of `size` bytes must have (0 past the end).
pub fn chunk_len(size: u64, index: u32) -> u64 {
    let start = u64::from(index) * u64::from(CHUNK_BYTES);
    size.saturating_sub(start).min(u64::from(CHUNK_BYTES))
}

/// Reads EXIF capture time and GPS position from a JPEG (or any container the `exif` crate
/// reads). A picture without EXIF, or with a block that cannot be read, simply has no facts:
/// its absence is itself visible to supervisors.
pub fn read_exif(bytes: &[u8]) -> ExifFacts {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)) else {
        return ExifFacts::default();
    };
    ExifFacts {
        taken_at: exif_time(&exif),
        location: exif_location(&exif),
    }
}

fn ascii(exif: &exif::Exif, tag: exif::Tag) -> Option<Vec<u8>> {
    match &exif.get_field(tag, exif::In::PRIMARY)?.value {
        exif::Value::Ascii(parts) => parts.first().cloned(),
        _ => None,
    }
}

fn exif_time(exif: &exif::Exif) -> Option<WallTime> {
    let raw = ascii(exif, exif::Tag::DateTimeOriginal)?;
    let t = exif::DateTime::from_ascii(&raw).ok()?;
    let date = NaiveDate::from_ymd_opt(i32::from(t.year), u32::from(t.month), u32::from(t.day))?;
    let local: NaiveDateTime =
        date.and_hms_opt(u32::from(t.hour), u32::from(t.minute), u32::from(t.second))?;
    let offset_s = ascii(exif, exif::Tag::OffsetTimeOriginal)
        .and_then(|o| parse_offset(&o))
        .unwrap_or(DEFAULT_EXIF_OFFSET_S);
    let zone = FixedOffset::east_opt(offset_s)?;
    let at = zone.from_local_datetime(&local).single()?;
    Some(WallTime(at.timestamp_millis()))
}

/// `+08:00` → seconds east of UTC.
fn parse_offset(raw: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(raw).ok()?;
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    Some(sign * (h * 3600 + m * 60))
}

fn exif_location(exif: &exif::Exif) -> Option<GeoPoint> {
    let lat = degrees(
        exif,
        exif::Tag::GPSLatitude,
        exif::Tag::GPSLatitudeRef,
        b'S',
    )?;
    let lon = degrees(
        exif,
        exif::Tag::GPSLongitude,
        exif::Tag::GPSLongitudeRef,
        b'W',
    )?;
    let point = GeoPoint { lat, lon };
    point.validate("exif.location").ok()?;
    Some(point)
}

fn degrees(exif: &exif::Exif, tag: exif::Tag, reference: exif::Tag, negative: u8) -> Option<f64> {
    let exif::Value::Rational(parts) = &exif.get_field(tag, exif::In::PRIMARY)?.value else {
        return None;
    };
    let [d, m, s] = parts.as_slice() else {
        return None;
    };
    let value = d.to_f64() + m.to_f64() / 60.0 + s.to_f64() / 3600.0;
    if !value.is_finite() {
        return None;
    }
    let sign = match ascii(exif, reference) {
        Some(r) if r.first() == Some(&negative) => -1.0,
        _ => 1.0,
    };
    Some(sign * value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_photo_exactly() {
        let c = u64::from(CHUNK_BYTES);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(c), 1);
        assert_eq!(chunk_count(c + 1), 2);
        assert_eq!(chunk_len(c + 1, 0), c);
        assert_eq!(chunk_len(c + 1, 1), 1);
        assert_eq!(chunk_len(c + 1, 2), 0);
    }

    #[test]
    fn only_lowercase_sha256_hex_is_a_photo_name() {
        assert!(check_hash("h", &sha256_hex(b"x")).is_ok());
        assert!(check_hash("h", &sha256_hex(b"x").to_uppercase()).is_err());
        assert!(check_hash("h", "abc").is_err());
        assert!(check_hash("h", &"g".repeat(64)).is_err());
    }

    #[test]
    fn exif_offsets_parse_both_ways() {
        assert_eq!(parse_offset(b"+08:00"), Some(28_800));
        assert_eq!(parse_offset(b"-03:30"), Some(-12_600));
        assert_eq!(parse_offset(b"08:00"), None);
    }

    #[test]
    fn a_picture_without_exif_has_no_facts() {
        assert!(read_exif(b"not a jpeg at all").is_empty());
    }
}
