//! The schemas of the protocol's values whose JSON shape serde does not tell (feature
//! `openapi`): ids checked on parsing, the HLC as hex text, byte arrays as base64, raw JSON
//! payloads. The protocol's types derive `utoipa::ToSchema` and name these where their serde
//! attributes change the shape; the server assembles its OpenAPI document from them.
//!
//! Each schema says what the reading side accepts, so that a client generated from the
//! document, or a fuzzer, sends what the server reads. This module is a leaf: it names no
//! other module of the crate (their types point here, never the other way), and phones never
//! build it.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type};

/// A registry id: what `ids::check_text_id` accepts (1–64 ASCII letters, digits, '-', '_'
/// and '.').
pub fn text_id(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some("^[A-Za-z0-9._-]{1,64}$"))
        .into()
}

/// A UUID, as the `uuid` crate reads and writes it.
pub fn uuid(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".into())))
        .description(Some(description))
        .into()
}

/// A hybrid logical clock timestamp: exactly 16 hex digits (written lower-case).
pub fn hlc() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "A hybrid logical clock timestamp: 48 bits of milliseconds and a 16-bit counter, \
             as 16 hex digits (written lower-case), so that text order is causal order.",
        ))
        .min_length(Some(16))
        .max_length(Some(16))
        .pattern(Some("^[0-9a-fA-F]{16}$"))
        .into()
}

/// A household or person code in canonical form: the kind letter, eight Crockford base32
/// characters and the check character.
pub fn human_code() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "A household (H) or person (P) code: ten characters of Crockford base32, the \
             last a check character.",
        ))
        .pattern(Some("^[HP][0-9A-HJKMNP-TV-Z]{9}$"))
        .into()
}

/// A photo's SHA-256: 64 lower-case hex digits (`domain::photo::check_hash`).
pub fn sha256() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("SHA-256 of the photo, 64 lower-case hex digits"))
        .min_length(Some(64))
        .max_length(Some(64))
        .pattern(Some("^[0-9a-f]{64}$"))
        .into()
}

/// `N` bytes as standard base64 with padding (`journal::b64`, which refuses any other
/// length and, like `data_encoding::BASE64`, non-zero trailing bits).
pub fn base64_bytes<const N: usize>() -> RefOr<Schema> {
    let chars = N.div_ceil(3) * 4;
    let padding = (3 - N % 3) % 3;
    // The last character before the padding carries 2 (one `=`) or 4 (`==`) unused bits,
    // which must be zero: it is one of the symbols whose value is a multiple of 4 or 16.
    let (last, free) = match padding {
        1 => ("[AEIMQUYcgkosw048]", chars - 2),
        2 => ("[AQgw]", chars - 3),
        _ => ("[A-Za-z0-9+/]", chars - 1),
    };
    let pattern = format!("^[A-Za-z0-9+/]{{{free}}}{last}{}$", "=".repeat(padding));
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!("{N} bytes as standard base64 (with padding)")))
        .content_encoding("base64")
        .min_length(Some(chars))
        .max_length(Some(chars))
        .pattern(Some(pattern))
        .into()
}

/// The 32 bytes of an Ed25519 public key as a JSON array of numbers (`AuthorityKey`, which
/// serde writes as a plain array).
pub fn byte_array_32() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(255)),
        )
        .min_items(Some(32))
        .max_items(Some(32))
        .description(Some("An Ed25519 public key: 32 bytes as numbers"))
        .into()
}

/// An operation's payload: JSON embedded verbatim (`journal::raw_json`), an object whose
/// shape its kind decides (docs/protocol.md).
pub fn payload() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "The change, as a JSON object whose shape the operation's kind decides \
             (docs/protocol.md). It is hashed and signed byte for byte as sent.",
        ))
        .into()
}

#[cfg(test)]
mod tests {
    use data_encoding::BASE64;

    use super::*;

    fn pattern(schema: RefOr<Schema>) -> String {
        let json = serde_json::to_value(schema).unwrap();
        json["pattern"].as_str().unwrap().to_string()
    }

    /// A tiny matcher for the patterns above: `^`, classes or literals each with an optional
    /// `{n}`, `$`. Enough to check them against real encodings without a regex crate.
    fn matches(pattern: &str, text: &str) -> bool {
        let body = pattern
            .strip_prefix('^')
            .unwrap()
            .strip_suffix('$')
            .unwrap();
        let (mut p, mut t) = (body.as_bytes(), text.as_bytes());
        while !p.is_empty() {
            let (class, rest): (Vec<u8>, &[u8]) = if p[0] == b'[' {
                let end = p.iter().position(|&c| c == b']').unwrap();
                let mut set = Vec::new();
                let inner = &p[1..end];
                let mut i = 0;
                while i < inner.len() {
                    if i + 2 < inner.len() && inner[i + 1] == b'-' {
                        set.extend(inner[i]..=inner[i + 2]);
                        i += 3;
                    } else {
                        set.push(inner[i]);
                        i += 1;
                    }
                }
                (set, &p[end + 1..])
            } else {
                (vec![p[0]], &p[1..])
            };
            let (count, rest) = if rest.first() == Some(&b'{') {
                let end = rest.iter().position(|&c| c == b'}').unwrap();
                let n: usize = std::str::from_utf8(&rest[1..end]).unwrap().parse().unwrap();
                (n, &rest[end + 1..])
            } else {
                (1, rest)
            };
            if t.len() < count || !t[..count].iter().all(|c| class.contains(c)) {
                return false;
            }
            t = &t[count..];
            p = rest;
        }
        t.is_empty()
    }

    #[test]
    fn the_base64_patterns_take_every_encoding_of_their_length_and_nothing_else() {
        for bytes in [[0u8; 64], [0xff; 64], [0x5a; 64]] {
            let key = BASE64.encode(&bytes[..32]);
            let sig = BASE64.encode(&bytes);
            assert!(matches(&pattern(base64_bytes::<32>()), &key), "{key}");
            assert!(matches(&pattern(base64_bytes::<64>()), &sig), "{sig}");
            assert!(!matches(&pattern(base64_bytes::<32>()), &sig));
            assert!(!matches(&pattern(base64_bytes::<64>()), &key));
        }
        // Non-zero trailing bits are refused by the decoder and by the pattern alike.
        let mut odd = BASE64.encode(&[0u8; 32]).into_bytes();
        odd[42] = b'B';
        let odd = String::from_utf8(odd).unwrap();
        assert!(BASE64.decode(odd.as_bytes()).is_err());
        assert!(!matches(&pattern(base64_bytes::<32>()), &odd));
        assert!(matches(&pattern(base64_bytes::<3>()), "AAAA"));
    }
}
