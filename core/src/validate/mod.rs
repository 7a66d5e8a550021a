//! Field-level validation rules for everything a field worker types or a phone sensor reports
//! during a household visit: resident ID numbers, statistical area codes, GPS fixes, timestamps,
//! free text, phone numbers, dates, fixed choices and numeric ranges.
//!
//! Every rule takes the name of the field first and returns `Result<T, Invalid>`, where
//! [`Invalid`] carries that field name and a machine-readable [`Reason`], so a UI can point at the
//! offending field and show (or translate) the reason. On success a rule returns the value in its
//! canonical form (trimmed text, upper-case `X` in an ID, digits-only phone number, parsed date).
//!
//! What this module must never do:
//! - **Never panic**, whatever the input: arbitrary strings, NaN, ±infinity, `i64::MIN`/`MAX`.
//!   All arithmetic on caller-supplied integers is saturating, all slicing is checked.
//! - **Never put the offending value into an error.** Values are often personal data (ID numbers,
//!   names, phone numbers) and errors end up in logs, crash reports and sync payloads. A
//!   [`Reason`] carries only rule parameters (lengths, limits, positions, levels), never the
//!   input or anything derived from it that would let it be reconstructed.
//! - **Never do I/O** or touch the database: these are pure functions (apart from reading the
//!   clock in [`resident_id`]), so they run identically on the phone and on the server.
//! - **Never silently "repair" a value** beyond the documented normalisation: surrounding
//!   whitespace is trimmed, a lower-case ID check character becomes `X`, phone numbers lose their
//!   `-`. Anything else that looks wrong is refused, because a guessed correction recorded in the
//!   field is worse than asking the worker to re-type it.
//!
//! Rules whose own parameters are contradictory (a minimum above the maximum, a NaN bound) fail
//! closed: they refuse every value rather than accept everything.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Earliest birth year accepted in a resident ID. GB 11643 itself does not set one; 1850 keeps
/// real historical records (such as the standard's own 1880 example) valid while still catching
/// typos in the century digits.
pub const RESIDENT_ID_EARLIEST_YEAR: i32 = 1850;

/// 2010-01-01T00:00:00Z in Unix milliseconds: a sensible floor for [`timestamp_plausible`]. A
/// phone whose clock has been reset (flat battery, factory reset) usually reports 1970 or its
/// firmware build date, both of which fall before this.
pub const EARLIEST_PLAUSIBLE_MS: i64 = 1_262_304_000_000;

/// Largest GPS accuracy radius accepted by [`accuracy_m`], in metres. Beyond this the fix places
/// the visit somewhere in a neighbouring banner, which is useless as evidence of the visit.
pub const MAX_ACCURACY_M: f64 = 50_000.0;

/// Length of a resident ID number (GB 11643-1999).
const RESIDENT_ID_LEN: usize = 18;
/// Length of a statistical area code (统计用区划代码).
const AREA_CODE_LEN: usize = 12;
/// Length of the township-level form of the area code, which is refused here.
const TOWNSHIP_CODE_LEN: usize = 9;
/// GB 11643-1999 weights for the first 17 digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643-1999 check characters, indexed by the weighted sum modulo 11.
const ID_CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
/// China Standard Time (UTC+8, no daylight saving) in seconds.
const CHINA_UTC_OFFSET_S: i32 = 8 * 3600;

/// A field value that broke a rule: which field, and why.
///
/// The `Display` form is `"{field}: {reason}"` and never contains the rejected value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// Name of the field, as given by the caller; the UI uses it to highlight the input.
    pub field: String,
    /// Which rule was broken, with the rule's parameters.
    pub reason: Reason,
}

impl Invalid {
    /// Builds an error for `field`.
    #[must_use]
    pub fn new(field: &str, reason: Reason) -> Self {
        Self {
            field: field.to_owned(),
            reason,
        }
    }
}

/// Why a value was refused. Messages carry the rule's numbers but never the value itself.
///
/// Serialised with a `"rule"` tag, e.g. `{"rule":"too_long","max":200,"actual":231}`, so a UI
/// can translate the message instead of showing the English text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    /// Empty or whitespace-only where a value is required.
    #[error("is required")]
    Required,
    /// A fixed-length code has the wrong number of characters.
    #[error("must be exactly {expected} characters long (got {actual})")]
    WrongLength { expected: usize, actual: usize },
    /// A character that must be an ASCII digit is not one (1-based position).
    #[error("character {position} must be a digit 0-9")]
    NonDigit { position: usize },
    /// The 18th character of a resident ID is neither a digit nor `X`.
    #[error("the last (18th) character must be a digit or X")]
    BadCheckCharacter,
    /// Characters 7-14 of a resident ID are not a real, past calendar date.
    #[error(
        "characters 7-14 must be a real birth date (YYYYMMDD) from year {earliest_year} up to today"
    )]
    BadBirthDate { earliest_year: i32 },
    /// The check character does not match the first 17 digits: almost always a typing error.
    #[error(
        "the check character (18th) does not match the first 17 digits; please re-check the number"
    )]
    CheckCharacterMismatch,
    /// A 9-digit township code was given where the 12-digit statistical area code is required.
    #[error(
        "a 9-digit township code is not accepted; enter the full 12-digit statistical area code"
    )]
    NineDigitTownshipCode,
    /// The province part (digits 1-2) of an area code is `00`.
    #[error("the province part (digits 1-2) must not be 00")]
    ZeroProvince,
    /// A lower level of an area code is set while a higher one is all zeros.
    #[error("has a non-zero {lower} part while the {missing} part is all zeros")]
    AreaCodeGap {
        lower: AreaLevel,
        missing: AreaLevel,
    },
    /// A valid area code of the wrong administrative level.
    #[error("must be a {expected}-level area code, but this is a {actual}-level code")]
    WrongAreaLevel {
        expected: AreaLevel,
        actual: AreaLevel,
    },
    /// Latitude is not a finite number in [-90, 90].
    #[error("latitude must be a finite number from -90 to 90 degrees")]
    LatitudeOutOfRange,
    /// Longitude is not a finite number in [-180, 180].
    #[error("longitude must be a finite number from -180 to 180 degrees")]
    LongitudeOutOfRange,
    /// NaN or infinite.
    #[error("must be a finite number")]
    NotFinite,
    /// Zero or negative where a positive number is required.
    #[error("must be greater than 0")]
    NotPositive,
    /// Above an upper limit.
    #[error("must be at most {max}")]
    TooLarge { max: Limit },
    /// A real number outside [min, max].
    #[error("must be between {min} and {max}")]
    OutOfRange { min: Limit, max: Limit },
    /// An integer outside [min, max].
    #[error("must be a whole number between {min} and {max}")]
    IntOutOfRange { min: i64, max: i64 },
    /// A timestamp too far in the future: the phone clock is probably wrong.
    #[error("is {seconds_ahead} s in the future; please check the phone's clock")]
    InFuture { seconds_ahead: i64 },
    /// A timestamp before the plausible floor: the phone clock was probably reset.
    #[error(
        "is earlier than the earliest plausible time ({}); please check the phone's clock",
        utc_label(.earliest_ms)
    )]
    BeforeEarliest { earliest_ms: i64 },
    /// Fewer characters (Unicode scalar values) than required.
    #[error("must be at least {min} characters (has {actual})")]
    TooShort { min: usize, actual: usize },
    /// More characters (Unicode scalar values) than allowed.
    #[error("must be at most {max} characters (has {actual})")]
    TooLong { max: usize, actual: usize },
    /// A control character (other than line feed and tab) at this 1-based character position.
    #[error("character {position} is an invisible control character, which is not allowed")]
    ControlCharacter { position: usize },
    /// Neither a Chinese mobile nor a fixed-line number.
    #[error(
        "must be an 11-digit mobile number (13x-19x) or a fixed-line number: \
         area code 0 plus 2-3 digits, optional '-', then 7-8 digits"
    )]
    NotAPhoneNumber,
    /// Not written as `YYYY-MM-DD`.
    #[error("must be a date written as YYYY-MM-DD")]
    DateFormat,
    /// Written as `YYYY-MM-DD` but no such day exists (e.g. 2023-02-29).
    #[error("is not a real calendar date")]
    NoSuchDate,
    /// A date outside [earliest, latest] (both as `YYYY-MM-DD`).
    #[error("must be between {earliest} and {latest}")]
    DateOutOfRange { earliest: String, latest: String },
    /// The same item appears twice in a list.
    #[error("appears twice")]
    Duplicate,
    /// Not a SHA-256 digest written as 64 lowercase hex digits (a photo's name).
    #[error("must be a SHA-256 digest in 64 lowercase hex digits")]
    NotASha256,
    /// Not one of a fixed set of values.
    #[error("must be one of the {options} allowed values")]
    NotAllowed { options: usize },
    /// Not a code of the named code list (the lists are data: see `domain::codelist`).
    #[error("is not a code of the list '{list}'")]
    UnknownCode { list: String },
    /// A list with more entries than allowed.
    #[error("may have at most {max} entries (has {found})")]
    TooMany { max: usize, found: usize },
    /// A value of the wrong JSON type (text where a number belongs, say).
    #[error("has the wrong type of value for this field")]
    WrongType,
    /// A character outside an identifier's alphabet (1-based position).
    #[error("character {position} is not allowed here (use letters, digits, '-', '_' or '.')")]
    InvalidCharacter { position: usize },
}

/// A numeric limit carried inside a [`Reason`].
///
/// Wraps `f64` so that `Reason` can be `Eq`: equality is bit-wise, which is reflexive even for
/// NaN. Serialises as a plain number.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Limit(pub f64);

impl PartialEq for Limit {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Limit {}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Renders a Unix-millisecond time for an error message; falls back to the raw number for
/// times chrono cannot represent, because formatting must never fail or panic.
fn utc_label(ms: &i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(*ms) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => format!("{ms} ms since 1970"),
    }
}

fn invalid(field: &str, reason: Reason) -> Invalid {
    Invalid::new(field, reason)
}

// ---------------------------------------------------------------------------------------------
// Resident ID (GB 11643-1999)
// ---------------------------------------------------------------------------------------------

/// Validates an 18-character Chinese resident ID number and returns it with an upper-case `X`.
///
/// Checks, in order: length, digits 1-17, the check character's alphabet, the birth date in
/// characters 7-14 (a real day from [`RESIDENT_ID_EARLIEST_YEAR`] to today in China Standard
/// Time), and the GB 11643 check character.
pub fn resident_id(field: &str, s: &str) -> Result<String, Invalid> {
    resident_id_as_of(field, s, china_today())
}

/// [`resident_id`] with an explicit "today" for the birth-date check, for tests and for
/// re-validating records against the day they were captured.
pub fn resident_id_as_of(field: &str, s: &str, today: NaiveDate) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid(field, Reason::Required));
    }
    let actual = s.chars().count();
    if actual != RESIDENT_ID_LEN {
        return Err(invalid(
            field,
            Reason::WrongLength {
                expected: RESIDENT_ID_LEN,
                actual,
            },
        ));
    }

    let mut chars = s.chars();
    let mut digits = [0u32; 17];
    for (i, slot) in digits.iter_mut().enumerate() {
        // `to_digit(10)` accepts ASCII 0-9 only; full-width digits from a Chinese IME are
        // refused rather than converted, in line with "never silently repair".
        match chars.next().and_then(|c| c.to_digit(10)) {
            Some(d) => *slot = d,
            None => return Err(invalid(field, Reason::NonDigit { position: i + 1 })),
        }
    }
    let check = match chars.next() {
        Some(c @ '0'..='9') => c,
        Some('X' | 'x') => 'X',
        _ => return Err(invalid(field, Reason::BadCheckCharacter)),
    };

    let birth = birth_date(&digits);
    let birth_ok = birth.is_some_and(|d| d.year() >= RESIDENT_ID_EARLIEST_YEAR && d <= today);
    if !birth_ok {
        return Err(invalid(
            field,
            Reason::BadBirthDate {
                earliest_year: RESIDENT_ID_EARLIEST_YEAR,
            },
        ));
    }

    if expected_check_char(&digits) != Some(check) {
        return Err(invalid(field, Reason::CheckCharacterMismatch));
    }

    let mut out = String::with_capacity(RESIDENT_ID_LEN);
    out.extend(digits.iter().filter_map(|&d| char::from_digit(d, 10)));
    out.push(check);
    Ok(out)
}

/// Birth date from digits 7-14 (indices 6..14), `None` if it is not a calendar date.
fn birth_date(d: &[u32; 17]) -> Option<NaiveDate> {
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        d.get(range)
            .map(|ds| ds.iter().fold(0u32, |acc, &x| acc * 10 + x))
    };
    let year = i32::try_from(num(6..10)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(10..12)?, num(12..14)?)
}

/// GB 11643 check character for the first 17 digits.
fn expected_check_char(d: &[u32; 17]) -> Option<char> {
    let sum: u32 = d.iter().zip(ID_WEIGHTS).map(|(&a, w)| a * w).sum();
    let idx = usize::try_from(sum % 11).ok()?;
    ID_CHECK_CHARS.get(idx).copied()
}

/// Today's date in China Standard Time. The service area is entirely in UTC+8 without daylight
/// saving, and a fixed offset avoids depending on the phone's (often wrong) time-zone setting.
fn china_today() -> NaiveDate {
    let now = Utc::now();
    match FixedOffset::east_opt(CHINA_UTC_OFFSET_S) {
        Some(cst) => now.with_timezone(&cst).date_naive(),
        None => now.date_naive(),
    }
}

// ---------------------------------------------------------------------------------------------
// Statistical area codes (统计用区划代码)
// ---------------------------------------------------------------------------------------------

/// Administrative level of a 12-digit statistical area code, from the top down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    /// Digits 1-2, e.g. 150000000000 (Inner Mongolia).
    Province,
    /// Digits 3-4, e.g. 150700000000 (league / prefecture-level city).
    City,
    /// Digits 5-6, e.g. 150726000000 (banner / county / district).
    County,
    /// Digits 7-9, e.g. 150726102000 (sumu / town / township / subdistrict).
    Township,
    /// Digits 10-12, e.g. 150726102200 (gacha / village / community).
    Village,
}

impl AreaLevel {
    const ALL: [AreaLevel; 5] = [
        AreaLevel::Province,
        AreaLevel::City,
        AreaLevel::County,
        AreaLevel::Township,
        AreaLevel::Village,
    ];

    /// Number of leading digits that are significant at this level.
    const fn prefix_len(self) -> usize {
        match self {
            AreaLevel::Province => 2,
            AreaLevel::City => 4,
            AreaLevel::County => 6,
            AreaLevel::Township => 9,
            AreaLevel::Village => 12,
        }
    }

    /// The digit positions (as a `start..end` byte range) that this level occupies.
    const fn part(self) -> std::ops::Range<usize> {
        match self {
            AreaLevel::Province => 0..2,
            AreaLevel::City => 2..4,
            AreaLevel::County => 4..6,
            AreaLevel::Township => 6..9,
            AreaLevel::Village => 9..12,
        }
    }

    /// The level directly above, `None` for a province.
    const fn up(self) -> Option<AreaLevel> {
        match self {
            AreaLevel::Province => None,
            AreaLevel::City => Some(AreaLevel::Province),
            AreaLevel::County => Some(AreaLevel::City),
            AreaLevel::Township => Some(AreaLevel::County),
            AreaLevel::Village => Some(AreaLevel::Township),
        }
    }
}

impl fmt::Display for AreaLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AreaLevel::Province => "province",
            AreaLevel::City => "city",
            AreaLevel::County => "county",
            AreaLevel::Township => "township",
            AreaLevel::Village => "village",
        })
    }
}

/// A validated 12-digit statistical area code.
///
/// The invariant (exactly 12 ASCII digits, non-zero province, no zero level above a non-zero
/// one) holds for every value, including deserialised ones: deserialisation runs [`area_code`].
/// Ordering is numeric, so codes sort parents-first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

impl AreaCode {
    /// The 12 digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The deepest level whose part is non-zero.
    #[must_use]
    pub fn level(&self) -> AreaLevel {
        level_of(self.0.as_bytes())
    }

    /// The enclosing area one level up, `None` for a province.
    #[must_use]
    pub fn parent(&self) -> Option<AreaCode> {
        let up = self.level().up()?;
        let keep = self.0.get(..up.prefix_len())?;
        Some(AreaCode(format!("{keep:0<width$}", width = AREA_CODE_LEN)))
    }

    /// The first six digits, which for county-level and lower codes are the GB/T 2260 county code
    /// also found in resident IDs. For a province or city code this is that code's own prefix
    /// padded with zeros (e.g. `150700`).
    #[must_use]
    pub fn county6(&self) -> &str {
        self.0.get(..6).unwrap_or(&self.0)
    }

    /// Whether this area lies inside `ancestor`. Reflexive: every code is within itself.
    #[must_use]
    pub fn is_within(&self, ancestor: &AreaCode) -> bool {
        // The ancestor's digits below its own level are all zeros, so "inside" means "shares the
        // ancestor's significant prefix"; a code higher than the ancestor can never share it
        // because its own lower digits are zero where the ancestor's are not.
        let prefix = ancestor
            .0
            .get(..ancestor.level().prefix_len())
            .unwrap_or(&ancestor.0);
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AreaCode {
    type Error = Invalid;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        area_code("area_code", &s)
    }
}

impl From<AreaCode> for String {
    fn from(code: AreaCode) -> Self {
        code.0
    }
}

/// Whether the digits of `part` in a 12-byte code are all `'0'`.
fn part_is_zero(b: &[u8], level: AreaLevel) -> bool {
    b.get(level.part())
        .is_none_or(|p| p.iter().all(|&c| c == b'0'))
}

fn level_of(b: &[u8]) -> AreaLevel {
    AreaLevel::ALL
        .iter()
        .rev()
        .copied()
        .find(|&l| !part_is_zero(b, l))
        .unwrap_or(AreaLevel::Province)
}

/// Validates a 12-digit statistical area code at any level.
///
/// Refuses: a 9-digit township code (with its own reason, because the township table of some
/// sources uses that form and the fix is to append `000`), other lengths, non-digits, province
/// `00`, and codes that set a lower level under an all-zero higher one (e.g. `150700000200`).
///
/// Note: this last rule also refuses the real codes of the few prefecture-level cities without
/// counties (Dongguan 4419, Zhongshan 4420, Jiayuguan 6202, Danzhou 4604), whose townships have
/// county part `00`. None of them is in Inner Mongolia.
pub fn area_code(field: &str, s: &str) -> Result<AreaCode, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid(field, Reason::Required));
    }
    let actual = s.chars().count();
    let all_digits = s.bytes().all(|b| b.is_ascii_digit());
    if actual == TOWNSHIP_CODE_LEN && all_digits {
        return Err(invalid(field, Reason::NineDigitTownshipCode));
    }
    if actual != AREA_CODE_LEN {
        return Err(invalid(
            field,
            Reason::WrongLength {
                expected: AREA_CODE_LEN,
                actual,
            },
        ));
    }
    if let Some(i) = s.chars().position(|c| !c.is_ascii_digit()) {
        return Err(invalid(field, Reason::NonDigit { position: i + 1 }));
    }

    // From here on `s` is exactly 12 ASCII digits, so byte ranges are character ranges.
    let b = s.as_bytes();
    if part_is_zero(b, AreaLevel::Province) {
        return Err(invalid(field, Reason::ZeroProvince));
    }
    let lower = level_of(b);
    // Walk up from the deepest set level; the first all-zero level on the way is the gap.
    let mut up = lower.up();
    while let Some(l) = up {
        if part_is_zero(b, l) {
            return Err(invalid(field, Reason::AreaCodeGap { lower, missing: l }));
        }
        up = l.up();
    }
    Ok(AreaCode(s.to_owned()))
}

/// [`area_code`], additionally requiring the code to be exactly at `level` (a visit's village
/// must be a village, not the township it belongs to).
pub fn area_code_of_level(field: &str, s: &str, level: AreaLevel) -> Result<AreaCode, Invalid> {
    let code = area_code(field, s)?;
    let actual = code.level();
    if actual != level {
        return Err(invalid(
            field,
            Reason::WrongAreaLevel {
                expected: level,
                actual,
            },
        ));
    }
    Ok(code)
}

// ---------------------------------------------------------------------------------------------
// Location and time
// ---------------------------------------------------------------------------------------------

/// Validates a WGS-84 latitude/longitude pair in degrees.
pub fn coordinates(field: &str, lat: f64, lon: f64) -> Result<(), Invalid> {
    // Written as "not inside" so that NaN (for which every comparison is false) is refused.
    if !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(field, Reason::LatitudeOutOfRange));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(field, Reason::LongitudeOutOfRange));
    }
    Ok(())
}

/// Validates a GPS accuracy radius in metres: finite, > 0 and at most [`MAX_ACCURACY_M`].
pub fn accuracy_m(field: &str, a: f64) -> Result<f64, Invalid> {
    if !a.is_finite() {
        return Err(invalid(field, Reason::NotFinite));
    }
    if a <= 0.0 {
        // A zero radius is not "perfect", it is a provider that did not report accuracy.
        return Err(invalid(field, Reason::NotPositive));
    }
    if a > MAX_ACCURACY_M {
        return Err(invalid(
            field,
            Reason::TooLarge {
                max: Limit(MAX_ACCURACY_M),
            },
        ));
    }
    Ok(a)
}

/// Refuses a Unix-millisecond time more than `tolerance_ms` after `now_ms`, and returns
/// `at_ms` otherwise. A negative tolerance is treated as zero.
///
/// The tolerance exists because phone clocks drift and records are stamped on different devices;
/// the reason reports how many whole seconds (rounded up) `at_ms` is ahead of `now_ms`.
pub fn timestamp_not_future(
    field: &str,
    at_ms: i64,
    now_ms: i64,
    tolerance_ms: i64,
) -> Result<i64, Invalid> {
    // Saturating: `now + tolerance` must not wrap for extreme inputs (a wrap would turn
    // "far future" into "far past" and accept it).
    let latest = now_ms.saturating_add(tolerance_ms.max(0));
    if at_ms > latest {
        // at_ms > latest >= now_ms, so this is positive (saturated at i64::MAX at worst).
        let ahead_ms = at_ms.saturating_sub(now_ms);
        // Round up so the message never says "0 s in the future".
        let seconds_ahead = ahead_ms / 1000 + i64::from(ahead_ms % 1000 != 0);
        return Err(invalid(field, Reason::InFuture { seconds_ahead }));
    }
    Ok(at_ms)
}

/// Refuses a Unix-millisecond time before `earliest_ms` (typically [`EARLIEST_PLAUSIBLE_MS`]),
/// and returns `at_ms` otherwise.
pub fn timestamp_plausible(field: &str, at_ms: i64, earliest_ms: i64) -> Result<i64, Invalid> {
    if at_ms < earliest_ms {
        return Err(invalid(field, Reason::BeforeEarliest { earliest_ms }));
    }
    Ok(at_ms)
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/// Limits for a free-text field. Lengths count Unicode scalar values (`char`s), so one Chinese
/// character or one Mongolian letter counts as one, whatever its UTF-8 size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextRule {
    /// Minimum length after trimming, checked only when the text is not empty.
    pub min_chars: usize,
    /// Maximum length after trimming.
    pub max_chars: usize,
    /// Whether empty / whitespace-only text is refused with [`Reason::Required`].
    pub required: bool,
}

impl TextRule {
    /// Required text of `min_chars..=max_chars` characters.
    pub const fn required(min_chars: usize, max_chars: usize) -> TextRule {
        TextRule {
            min_chars,
            max_chars,
            required: true,
        }
    }
}

/// Validates free text and returns it trimmed of surrounding whitespace (including the
/// ideographic space U+3000).
///
/// Any script is accepted verbatim (CJK, traditional Mongolian U+1800-U+18AF with its format
/// controls, emoji sequences). Control characters (Unicode category Cc, which includes NUL)
/// other than line feed and tab are refused: they are invisible in the UI, NUL truncates
/// strings in C-based tooling, and they are never typed on purpose. The reported position is
/// the 1-based character position in the text as given, before trimming.
pub fn text(field: &str, s: &str, rule: TextRule) -> Result<String, Invalid> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        if rule.required {
            return Err(invalid(field, Reason::Required));
        }
        return Ok(String::new());
    }

    let leading = s
        .chars()
        .count()
        .saturating_sub(s.trim_start().chars().count());
    if let Some(i) = trimmed
        .chars()
        .position(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid(
            field,
            Reason::ControlCharacter {
                position: leading.saturating_add(i).saturating_add(1),
            },
        ));
    }

    let actual = trimmed.chars().count();
    if actual < rule.min_chars {
        return Err(invalid(
            field,
            Reason::TooShort {
                min: rule.min_chars,
                actual,
            },
        ));
    }
    if actual > rule.max_chars {
        return Err(invalid(
            field,
            Reason::TooLong {
                max: rule.max_chars,
                actual,
            },
        ));
    }
    Ok(trimmed.to_owned())
}

/// Optional free text: `None`, empty or whitespace-only gives `Ok(None)`; anything else must pass
/// [`text`] with no minimum and `max_chars` as maximum, and is returned trimmed.
pub fn optional_text(
    field: &str,
    s: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, Invalid> {
    let Some(s) = s else {
        return Ok(None);
    };
    let rule = TextRule {
        min_chars: 0,
        max_chars,
        required: false,
    };
    let t = text(field, s, rule)?;
    Ok(if t.is_empty() { None } else { Some(t) })
}

// ---------------------------------------------------------------------------------------------
// Phone numbers
// ---------------------------------------------------------------------------------------------

/// Validates a Chinese phone number and returns it as digits only.
///
/// Accepted: a mobile number (11 digits, `1`, then `3`-`9`), or a fixed-line number written as
/// area code (`0` plus 2-3 digits, the first of which is not `0`), an optional `-`, and a 7-8
/// digit local number. Surrounding whitespace is ignored; spaces, `+86` and other punctuation
/// are not accepted.
pub fn phone(field: &str, s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid(field, Reason::Required));
    }
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    // Area code: '0' then a non-zero digit ("00" is the international prefix, not an area).
    let area_ok = |p: &str| {
        all_digits(p)
            && (3..=4).contains(&p.len())
            && p.as_bytes().first() == Some(&b'0')
            && p.as_bytes().get(1).is_some_and(|&b| b != b'0')
    };

    let b = s.as_bytes();
    let mobile = b.len() == 11
        && all_digits(s)
        && b.first() == Some(&b'1')
        && b.get(1).is_some_and(|c| (b'3'..=b'9').contains(c));
    if mobile {
        return Ok(s.to_owned());
    }

    let fixed = match s.split_once('-') {
        Some((area, local)) => area_ok(area) && all_digits(local) && (7..=8).contains(&local.len()),
        // Without the separator the split is ambiguous, but every valid combination is
        // '0' + non-zero digit + 8-10 further digits, i.e. 10-12 digits in total.
        None => all_digits(s) && (10..=12).contains(&b.len()) && area_ok(s.get(..3).unwrap_or("")),
    };
    if fixed {
        return Ok(s.chars().filter(char::is_ascii_digit).collect());
    }
    Err(invalid(field, Reason::NotAPhoneNumber))
}

// ---------------------------------------------------------------------------------------------
// Dates, choices, numbers
// ---------------------------------------------------------------------------------------------

/// Parses an ISO 8601 calendar date written exactly as `YYYY-MM-DD` (ASCII digits, zero-padded).
pub fn date(field: &str, s: &str) -> Result<NaiveDate, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid(field, Reason::Required));
    }
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, &c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape_ok {
        return Err(invalid(field, Reason::DateFormat));
    }
    // The shape check above guarantees ASCII digits, so these parses cannot fail in practice;
    // they are still handled rather than unwrapped.
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
    let parts = (num(0..4), num(5..7), num(8..10));
    let (Some(y), Some(m), Some(d)) = parts else {
        return Err(invalid(field, Reason::DateFormat));
    };
    i32::try_from(y)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| invalid(field, Reason::NoSuchDate))
}

/// Refuses a date outside `earliest..=latest` and returns it otherwise.
pub fn date_range(
    field: &str,
    d: NaiveDate,
    earliest: NaiveDate,
    latest: NaiveDate,
) -> Result<NaiveDate, Invalid> {
    if d < earliest || d > latest {
        return Err(invalid(
            field,
            Reason::DateOutOfRange {
                earliest: earliest.format("%Y-%m-%d").to_string(),
                latest: latest.format("%Y-%m-%d").to_string(),
            },
        ));
    }
    Ok(d)
}

/// Requires `value` (trimmed) to be exactly one of `allowed`, and returns the matching entry.
///
/// The reason says how many options there were, not which value was given.
pub fn one_of<'a>(field: &str, value: &str, allowed: &[&'a str]) -> Result<&'a str, Invalid> {
    let v = value.trim();
    if let Some(hit) = allowed.iter().copied().find(|&a| a == v) {
        return Ok(hit);
    }
    if v.is_empty() {
        return Err(invalid(field, Reason::Required));
    }
    Err(invalid(
        field,
        Reason::NotAllowed {
            options: allowed.len(),
        },
    ))
}

/// Requires a finite `x` in `min..=max` and returns it. A NaN bound refuses everything.
pub fn number_range(field: &str, x: f64, min: f64, max: f64) -> Result<f64, Invalid> {
    if !x.is_finite() {
        return Err(invalid(field, Reason::NotFinite));
    }
    // Negated form so that NaN bounds fail closed.
    if !(min <= x && x <= max) {
        return Err(invalid(
            field,
            Reason::OutOfRange {
                min: Limit(min),
                max: Limit(max),
            },
        ));
    }
    Ok(x)
}

/// Requires `x` in `min..=max` and returns it.
pub fn int_range(field: &str, x: i64, min: i64, max: i64) -> Result<i64, Invalid> {
    if !(min..=max).contains(&x) {
        return Err(invalid(field, Reason::IntOutOfRange { min, max }));
    }
    Ok(x)
}

#[cfg(test)]
mod tests;
