use super::*;
use proptest::prelude::*;

const ID1: &str = "11010519491231002X";
const ID2: &str = "440524188001010014";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

fn reason<T: fmt::Debug>(r: Result<T, Invalid>) -> Reason {
    r.unwrap_err().reason
}

/// Independent check-character computation, so tests do not just mirror the code under test.
fn check_char(first17: &str) -> char {
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = first17
        .chars()
        .zip(w)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    "10X98765432".chars().nth((s % 11) as usize).unwrap()
}

fn with_check(first17: &str) -> String {
    format!("{first17}{}", check_char(first17))
}

// ----- resident ID -----

#[test]
fn resident_id_valid_examples_pass() {
    assert_eq!(resident_id_as_of("id", ID1, today()).unwrap(), ID1);
    assert_eq!(resident_id_as_of("id", ID2, today()).unwrap(), ID2);
    // And against the real clock.
    assert_eq!(resident_id("id", ID1).unwrap(), ID1);
    assert_eq!(resident_id("id", ID2).unwrap(), ID2);
}

#[test]
fn resident_id_lowercase_x_is_uppercased_and_whitespace_trimmed() {
    assert_eq!(resident_id("id", " 11010519491231002x\n").unwrap(), ID1);
}

#[test]
fn resident_id_required() {
    assert_eq!(reason(resident_id("id", "")), Reason::Required);
    assert_eq!(reason(resident_id("id", " \u{3000}")), Reason::Required);
}

#[test]
fn resident_id_wrong_length() {
    assert_eq!(
        reason(resident_id("id", "11010519491231002")),
        Reason::WrongLength {
            expected: 18,
            actual: 17
        }
    );
    // Old 15-digit IDs are refused too.
    assert_eq!(
        reason(resident_id("id", "110105491231002")),
        Reason::WrongLength {
            expected: 18,
            actual: 15
        }
    );
    // Length counts characters, not bytes.
    assert_eq!(
        reason(resident_id("id", "１１０１０５１９４９１２３１００２Ｘ")),
        Reason::NonDigit { position: 1 }
    );
}

#[test]
fn resident_id_non_digit_position() {
    assert_eq!(
        reason(resident_id("id", "1101A519491231002X")),
        Reason::NonDigit { position: 5 }
    );
    assert_eq!(
        reason(resident_id("id", "1101051949123100X2")),
        Reason::NonDigit { position: 17 }
    );
}

#[test]
fn resident_id_bad_check_character() {
    assert_eq!(
        reason(resident_id("id", "11010519491231002Y")),
        Reason::BadCheckCharacter
    );
}

#[test]
fn resident_id_bad_birth_date() {
    let bad = Reason::BadBirthDate {
        earliest_year: RESIDENT_ID_EARLIEST_YEAR,
    };
    // Month 13, Feb 29 of a non-leap year, year 1849, and a date after "today";
    // each with a correct check character so only the date is wrong.
    for first17 in [
        "11010519491331002",
        "11010519490229002",
        "11010518491231002",
        "11010520250602002",
    ] {
        assert_eq!(
            reason(resident_id_as_of("id", &with_check(first17), today())),
            bad,
            "{first17}"
        );
    }
    // Feb 29 of a leap year and "today" itself are fine.
    assert!(resident_id_as_of("id", &with_check("11010520000229002"), today()).is_ok());
    assert!(resident_id_as_of("id", &with_check("11010520250601002"), today()).is_ok());
}

#[test]
fn resident_id_check_mismatch() {
    assert_eq!(
        reason(resident_id("id", "110105194912310021")),
        Reason::CheckCharacterMismatch
    );
}

#[test]
fn resident_id_every_single_digit_change_fails() {
    for id in [ID1, ID2] {
        for pos in 0..18 {
            let mut replacements: Vec<char> = ('0'..='9').collect();
            if pos == 17 {
                replacements.push('X');
            }
            for r in replacements {
                let mut chars: Vec<char> = id.chars().collect();
                if chars[pos] == r {
                    continue;
                }
                chars[pos] = r;
                let changed: String = chars.into_iter().collect();
                assert!(
                    resident_id_as_of("id", &changed, today()).is_err(),
                    "{changed} was accepted"
                );
            }
        }
    }
}

#[test]
fn resident_id_errors_never_show_the_number() {
    let wrong = [
        "110105194912310021",  // check mismatch
        "11010519491331002X",  // bad date
        "11010519491231002Y",  // bad check char
        "11010519491231002XX", // too long
        "1101A519491231002X",  // non-digit
    ];
    for s in wrong {
        let e = resident_id_as_of("id", s, today()).unwrap_err();
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains(s), "{shown}");
            assert!(!shown.contains("19491231"), "{shown}");
            assert!(!shown.contains("110105"), "{shown}");
        }
    }
}

// ----- area codes -----

#[test]
fn area_code_levels() {
    let cases = [
        ("150000000000", AreaLevel::Province),
        ("150700000000", AreaLevel::City),
        ("150726000000", AreaLevel::County),
        ("150726102000", AreaLevel::Township),
        ("150726102200", AreaLevel::Village),
    ];
    for (s, level) in cases {
        let c = area_code("village", s).unwrap();
        assert_eq!(c.as_str(), s);
        assert_eq!(c.level(), level, "{s}");
    }
}

#[test]
fn area_code_parent_chain_county6_and_within() {
    let v = area_code("village", " 150726102200 ").unwrap();
    let chain: Vec<String> = std::iter::successors(Some(v.clone()), AreaCode::parent)
        .map(String::from)
        .collect();
    assert_eq!(
        chain,
        [
            "150726102200",
            "150726102000",
            "150726000000",
            "150700000000",
            "150000000000"
        ]
    );
    assert_eq!(v.county6(), "150726");
    let county = area_code("c", "150726000000").unwrap();
    let other_county = area_code("c", "150702000000").unwrap();
    assert!(v.is_within(&county));
    assert!(v.is_within(&v));
    assert!(!county.is_within(&v));
    assert!(!v.is_within(&other_county));
    // A sibling sharing a digit-prefix but not the level prefix is not inside.
    let t1 = area_code("t", "150726102000").unwrap();
    let v_other = area_code("v", "150726103201").unwrap();
    assert!(!v_other.is_within(&t1));
}

#[test]
fn area_code_failures() {
    assert_eq!(reason(area_code("a", "")), Reason::Required);
    assert_eq!(
        reason(area_code("a", "15072610220")),
        Reason::WrongLength {
            expected: 12,
            actual: 11
        }
    );
    assert_eq!(
        reason(area_code("a", "150726102")),
        Reason::NineDigitTownshipCode
    );
    assert_eq!(
        reason(area_code("a", "15072610220A")),
        Reason::NonDigit { position: 12 }
    );
    assert_eq!(reason(area_code("a", "000000000000")), Reason::ZeroProvince);
    assert_eq!(reason(area_code("a", "001234000000")), Reason::ZeroProvince);
    assert_eq!(
        reason(area_code("a", "150700000200")),
        Reason::AreaCodeGap {
            lower: AreaLevel::Village,
            missing: AreaLevel::Township
        }
    );
    assert_eq!(
        reason(area_code("a", "150026000000")),
        Reason::AreaCodeGap {
            lower: AreaLevel::County,
            missing: AreaLevel::City
        }
    );
}

#[test]
fn area_code_of_level_requires_level() {
    assert!(area_code_of_level("v", "150726102200", AreaLevel::Village).is_ok());
    assert_eq!(
        reason(area_code_of_level("v", "150726102000", AreaLevel::Village)),
        Reason::WrongAreaLevel {
            expected: AreaLevel::Village,
            actual: AreaLevel::Township
        }
    );
}

#[test]
fn area_code_try_from_validates() {
    assert!(AreaCode::try_from("150726102200".to_owned()).is_ok());
    assert!(AreaCode::try_from("150700000200".to_owned()).is_err());
}

// ----- coordinates / accuracy -----

#[test]
fn coordinates_rules() {
    assert!(coordinates("gps", 40.82, 111.65).is_ok());
    assert!(coordinates("gps", 90.0, 180.0).is_ok());
    assert!(coordinates("gps", -90.0, -180.0).is_ok());
    for lat in [90.01, -91.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(
            reason(coordinates("gps", lat, 0.0)),
            Reason::LatitudeOutOfRange
        );
    }
    for lon in [180.01, -181.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            reason(coordinates("gps", 0.0, lon)),
            Reason::LongitudeOutOfRange
        );
    }
}

#[test]
fn accuracy_rules() {
    assert_eq!(accuracy_m("acc", 4.5).unwrap(), 4.5);
    assert!(accuracy_m("acc", MAX_ACCURACY_M).is_ok());
    assert_eq!(reason(accuracy_m("acc", f64::NAN)), Reason::NotFinite);
    assert_eq!(reason(accuracy_m("acc", f64::INFINITY)), Reason::NotFinite);
    assert_eq!(reason(accuracy_m("acc", 0.0)), Reason::NotPositive);
    assert_eq!(reason(accuracy_m("acc", -0.0)), Reason::NotPositive);
    assert_eq!(reason(accuracy_m("acc", -3.0)), Reason::NotPositive);
    assert_eq!(
        reason(accuracy_m("acc", 50_000.5)),
        Reason::TooLarge {
            max: Limit(50_000.0)
        }
    );
}

// ----- timestamps -----

#[test]
fn timestamp_not_future_rules() {
    let now = 1_700_000_000_000;
    assert_eq!(timestamp_not_future("t", now, now, 0).unwrap(), now);
    assert!(timestamp_not_future("t", now + 60_000, now, 60_000).is_ok());
    assert_eq!(
        reason(timestamp_not_future("t", now + 61_500, now, 60_000)),
        Reason::InFuture { seconds_ahead: 62 }
    );
    // Negative tolerance counts as zero; 1 ms ahead rounds up to 1 s.
    assert_eq!(
        reason(timestamp_not_future("t", now + 1, now, -5_000)),
        Reason::InFuture { seconds_ahead: 1 }
    );
}

#[test]
fn timestamp_not_future_extremes_do_not_overflow() {
    assert!(timestamp_not_future("t", i64::MAX, i64::MAX, i64::MAX).is_ok());
    assert!(timestamp_not_future("t", i64::MIN, i64::MIN, 0).is_ok());
    assert_eq!(
        reason(timestamp_not_future("t", i64::MAX, i64::MIN, i64::MAX)),
        Reason::InFuture {
            seconds_ahead: i64::MAX / 1000 + 1
        }
    );
    assert_eq!(
        reason(timestamp_not_future("t", i64::MAX, i64::MIN, 0)),
        Reason::InFuture {
            seconds_ahead: i64::MAX / 1000 + 1
        }
    );
}

#[test]
fn timestamp_plausible_rules() {
    assert!(timestamp_plausible("t", EARLIEST_PLAUSIBLE_MS, EARLIEST_PLAUSIBLE_MS).is_ok());
    let e = timestamp_plausible("t", 0, EARLIEST_PLAUSIBLE_MS).unwrap_err();
    assert_eq!(
        e.reason,
        Reason::BeforeEarliest {
            earliest_ms: EARLIEST_PLAUSIBLE_MS
        }
    );
    assert!(e.to_string().contains("2010-01-01 00:00:00 UTC"), "{e}");
    // An unrepresentable floor still formats.
    let e = timestamp_plausible("t", i64::MIN, i64::MAX).unwrap_err();
    assert!(!e.to_string().is_empty());
}

// ----- text -----

fn rule(min: usize, max: usize, required: bool) -> TextRule {
    TextRule {
        min_chars: min,
        max_chars: max,
        required,
    }
}

#[test]
fn text_accepts_and_trims() {
    assert_eq!(
        text("n", "  内蒙古 \u{3000}", rule(1, 3, true)).unwrap(),
        "内蒙古"
    );
    let mongolian = "ᠮᠣᠩᠭᠣᠯ\u{180E}ᠤᠯᠤᠰ";
    assert_eq!(text("n", mongolian, rule(1, 20, true)).unwrap(), mongolian);
    let emoji = "👨‍👩‍👧 好";
    assert_eq!(text("n", emoji, rule(1, 20, true)).unwrap(), emoji);
    assert_eq!(
        text("n", "line1\nline2\tx", rule(0, 20, true)).unwrap(),
        "line1\nline2\tx"
    );
    assert_eq!(text("n", "   ", rule(3, 10, false)).unwrap(), "");
}

#[test]
fn text_failures() {
    assert_eq!(
        reason(text("n", " \u{3000}\n", rule(0, 9, true))),
        Reason::Required
    );
    assert_eq!(
        reason(text("n", "内蒙古", rule(1, 2, true))),
        Reason::TooLong { max: 2, actual: 3 }
    );
    assert_eq!(
        reason(text("n", "王", rule(2, 10, true))),
        Reason::TooShort { min: 2, actual: 1 }
    );
    assert_eq!(
        reason(text("n", " a\u{7}b", rule(0, 10, true))),
        Reason::ControlCharacter { position: 3 }
    );
    assert_eq!(
        reason(text("n", "ab\0", rule(0, 10, true))),
        Reason::ControlCharacter { position: 3 }
    );
    assert_eq!(
        reason(text("n", "a\r\nb", rule(0, 10, true))),
        Reason::ControlCharacter { position: 2 }
    );
    // Contradictory rule fails closed.
    assert!(text("n", "abc", rule(5, 2, true)).is_err());
}

#[test]
fn optional_text_rules() {
    assert_eq!(optional_text("n", None, 5).unwrap(), None);
    assert_eq!(optional_text("n", Some(" \t "), 5).unwrap(), None);
    assert_eq!(
        optional_text("n", Some(" 牧民 "), 5).unwrap(),
        Some("牧民".into())
    );
    assert_eq!(
        reason(optional_text("n", Some("abcdef"), 5)),
        Reason::TooLong { max: 5, actual: 6 }
    );
    assert_eq!(
        reason(optional_text("n", Some("a\u{1b}"), 5)),
        Reason::ControlCharacter { position: 2 }
    );
}

// ----- phone -----

#[test]
fn phone_accepts() {
    assert_eq!(phone("p", "13800138000").unwrap(), "13800138000");
    assert_eq!(phone("p", " 19912345678 ").unwrap(), "19912345678");
    assert_eq!(phone("p", "0471-1234567").unwrap(), "04711234567");
    assert_eq!(phone("p", "0471-12345678").unwrap(), "047112345678");
    assert_eq!(phone("p", "010-12345678").unwrap(), "01012345678");
    assert_eq!(phone("p", "04711234567").unwrap(), "04711234567");
    assert_eq!(phone("p", "0101234567").unwrap(), "0101234567");
}

#[test]
fn phone_failures() {
    assert_eq!(reason(phone("p", "  ")), Reason::Required);
    for bad in [
        "12345678901",    // second digit 2
        "1380013800",     // 10 digits
        "138001380001",   // 12 digits, not a landline
        "138-0013-8000",  // separators in a mobile
        "+8613800138000", // country code
        "0471-123456",    // local part too short
        "0471-123456789", // local part too long
        "04-1234567",     // area code too short
        "04711-1234567",  // area code too long
        "0071-1234567",   // international prefix
        "1471-1234567",   // area code without leading 0
        "047112",         // too short
        "0471-12a4567",
        "电话",
    ] {
        assert_eq!(reason(phone("p", bad)), Reason::NotAPhoneNumber, "{bad}");
    }
}

#[test]
fn phone_errors_never_show_the_number() {
    for bad in ["12345678901", "0471-123456", "138001380001"] {
        let e = phone("phone", bad).unwrap_err();
        assert!(!e.to_string().contains(bad), "{e}");
        assert!(!format!("{e:?}").contains(bad));
    }
}

// ----- dates -----

#[test]
fn date_rules() {
    assert_eq!(
        date("d", "2024-02-29").unwrap(),
        NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
    );
    assert_eq!(reason(date("d", "")), Reason::Required);
    assert_eq!(reason(date("d", "2023-02-29")), Reason::NoSuchDate);
    assert_eq!(reason(date("d", "2023-13-01")), Reason::NoSuchDate);
    for bad in [
        "2024/02/29",
        "20240229",
        "2024-2-9",
        "2024-02-29T00:00",
        "+2024-02-29",
        "２０２４-02-29",
        "2024-0a-29",
    ] {
        assert_eq!(reason(date("d", bad)), Reason::DateFormat, "{bad}");
    }
}

#[test]
fn date_range_rules() {
    let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
    assert!(date_range("d", d(2020, 1, 1), d(2020, 1, 1), d(2020, 12, 31)).is_ok());
    assert!(date_range("d", d(2020, 12, 31), d(2020, 1, 1), d(2020, 12, 31)).is_ok());
    let expected = Reason::DateOutOfRange {
        earliest: "2020-01-01".into(),
        latest: "2020-12-31".into(),
    };
    assert_eq!(
        reason(date_range(
            "d",
            d(2019, 12, 31),
            d(2020, 1, 1),
            d(2020, 12, 31)
        )),
        expected
    );
    assert_eq!(
        reason(date_range(
            "d",
            d(2021, 1, 1),
            d(2020, 1, 1),
            d(2020, 12, 31)
        )),
        expected
    );
}

// ----- one_of / numbers -----

#[test]
fn one_of_rules() {
    let allowed = ["cattle", "sheep", "goat"];
    assert_eq!(one_of("herd", " sheep ", &allowed).unwrap(), "sheep");
    assert_eq!(
        reason(one_of("herd", "camel", &allowed)),
        Reason::NotAllowed { options: 3 }
    );
    assert_eq!(reason(one_of("herd", "", &allowed)), Reason::Required);
    let e = one_of("herd", "camel", &allowed).unwrap_err();
    assert!(!e.to_string().contains("camel"));
}

#[test]
fn number_range_rules() {
    assert_eq!(number_range("x", 2.5, 0.0, 10.0).unwrap(), 2.5);
    assert_eq!(
        reason(number_range("x", f64::NAN, 0.0, 1.0)),
        Reason::NotFinite
    );
    assert_eq!(
        reason(number_range("x", f64::NEG_INFINITY, 0.0, 1.0)),
        Reason::NotFinite
    );
    assert_eq!(
        reason(number_range("x", 10.5, 0.0, 10.0)),
        Reason::OutOfRange {
            min: Limit(0.0),
            max: Limit(10.0)
        }
    );
    // A NaN bound fails closed.
    assert!(number_range("x", 1.0, f64::NAN, 10.0).is_err());
}

#[test]
fn int_range_rules() {
    assert_eq!(int_range("n", 3, 0, 20).unwrap(), 3);
    assert!(int_range("n", i64::MIN, i64::MIN, i64::MAX).is_ok());
    assert_eq!(
        reason(int_range("n", 21, 0, 20)),
        Reason::IntOutOfRange { min: 0, max: 20 }
    );
    assert!(int_range("n", 5, 10, 0).is_err());
}

#[test]
fn display_is_field_then_reason() {
    let e = Invalid::new("household.size", Reason::IntOutOfRange { min: 1, max: 30 });
    assert_eq!(
        e.to_string(),
        "household.size: must be a whole number between 1 and 30"
    );
    let e = Invalid::new(
        "gps.accuracy",
        Reason::TooLarge {
            max: Limit(50_000.0),
        },
    );
    assert_eq!(e.to_string(), "gps.accuracy: must be at most 50000");
}

// ----- properties -----

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        proptest::num::f64::ANY,
    ]
}

fn any_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
        any::<i64>()
    ]
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9xX \\-]{0,20}",
        "[0-9]{8,13}",
        "\\PC{0,30}",
        "[\\x00-\\x1f\\u{1800}-\\u{18af}\\u{3000}a-z]{0,20}",
    ]
}

/// A resident ID with a random region, a valid birth date and a correct check character.
fn valid_id() -> impl Strategy<Value = String> {
    ("[0-9]{6}", 1850i32..=2024, 1u32..=12, 1u32..=28, "[0-9]{3}")
        .prop_map(|(region, y, m, d, seq)| with_check(&format!("{region}{y:04}{m:02}{d:02}{seq}")))
}

/// A structurally valid area code of a random level.
fn valid_area() -> impl Strategy<Value = String> {
    (
        "[1-8][1-9]",
        "[0-9][1-9]",
        "[0-9][1-9]",
        "[0-9]{2}[1-9]",
        "[0-9]{2}[1-9]",
        0usize..5,
    )
        .prop_map(|(p, c, co, t, v, depth)| {
            let parts = [p, c, co, t, v];
            let zeros = ["00", "00", "00", "000", "000"];
            (0..5)
                .map(|i| {
                    if i <= depth {
                        parts[i].clone()
                    } else {
                        zeros[i].into()
                    }
                })
                .collect()
        })
}

proptest! {
    #[test]
    fn string_rules_never_panic(s in any_text(), n in 0usize..50, m in 0usize..50, req: bool) {
        let _ = resident_id("f", &s);
        let _ = resident_id_as_of("f", &s, NaiveDate::MAX);
        let _ = resident_id_as_of("f", &s, NaiveDate::MIN);
        if let Ok(c) = area_code("f", &s) {
            let _ = (c.level(), c.parent(), c.county6(), c.is_within(&c));
        }
        for level in AreaLevel::ALL {
            let _ = area_code_of_level("f", &s, level);
        }
        let _ = text("f", &s, TextRule { min_chars: n, max_chars: m, required: req });
        let _ = optional_text("f", Some(&s), m);
        let _ = phone("f", &s);
        let _ = date("f", &s);
        let _ = one_of("f", &s, &["a", "b", ""]);
        let _ = one_of("f", &s, &[]);
    }

    #[test]
    fn float_rules_never_panic(a in any_f64(), b in any_f64(), c in any_f64()) {
        let _ = coordinates("f", a, b);
        let _ = accuracy_m("f", a);
        let r = number_range("f", a, b, c);
        if let Err(e) = r {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn int_rules_never_panic(a in any_i64(), b in any_i64(), c in any_i64()) {
        let _ = timestamp_not_future("f", a, b, c);
        if let Err(e) = timestamp_plausible("f", a, b) {
            prop_assert!(!e.to_string().is_empty());
        }
        let _ = int_range("f", a, b, c);
    }

    #[test]
    fn future_check_matches_exact_arithmetic(a in any_i64(), b in any_i64(), c in any_i64()) {
        let exact_ok = i128::from(a) <= i128::from(b) + i128::from(c.max(0));
        let r = timestamp_not_future("f", a, b, c);
        // Saturation can only make the check stricter at the i64 edge, never wrap around.
        if r.is_ok() {
            prop_assert!(exact_ok);
        }
        if let Err(Invalid { reason: Reason::InFuture { seconds_ahead }, .. }) = r {
            prop_assert!(seconds_ahead >= 1);
        }
    }

    #[test]
    fn generated_ids_pass_and_single_changes_fail(id in valid_id(), pos in 0usize..18, digit in 0u32..10) {
        prop_assert_eq!(resident_id_as_of("id", &id, today()).unwrap(), id.clone());
        let mut chars: Vec<char> = id.chars().collect();
        let new = char::from_digit(digit, 10).unwrap();
        prop_assume!(chars[pos] != new);
        chars[pos] = new;
        let changed: String = chars.into_iter().collect();
        prop_assert!(resident_id_as_of("id", &changed, today()).is_err());
    }

    #[test]
    fn errors_never_contain_long_digit_inputs(s in "[0-9]{6,20}[xX]?", sep in "-?") {
        let with_sep = format!("{}{sep}{}", &s[..4], &s[4..]);
        for input in [&s, &with_sep] {
            let errs = [
                resident_id("f", input).err(),
                area_code("f", input).err(),
                phone("f", input).err(),
                date("f", input).err(),
            ];
            for e in errs.into_iter().flatten() {
                prop_assert!(!e.to_string().contains(input.as_str()));
                let debug = format!("{e:?}");
                prop_assert!(!debug.contains(input.as_str()));
            }
        }
    }

    #[test]
    fn area_code_structure(s in valid_area()) {
        let code = area_code("a", &s).unwrap();
        let mut cur = code.clone();
        let mut steps = 0;
        while let Some(p) = cur.parent() {
            prop_assert!(p.level() < cur.level());
            prop_assert!(cur.is_within(&p));
            prop_assert!(code.is_within(&p));
            prop_assert!(!p.is_within(&cur));
            cur = p;
            steps += 1;
        }
        prop_assert_eq!(cur.level(), AreaLevel::Province);
        prop_assert_eq!(steps, code.level() as usize);
        prop_assert_eq!(code.county6(), &s[..6]);
    }
}
