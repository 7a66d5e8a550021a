//! Body compression for the sync protocol, shared by the phone's HTTP transport and the
//! server (feature `http`): zstd, optionally with a trained dictionary, and gzip.
//!
//! Why a dictionary: a daily sync carries one to three visits, a few hundred bytes of JSON
//! each. Plain zstd cannot learn much from so little text, so most of the field names, code
//! values and stock phrases of a visit cross the link in full every time. A dictionary trained
//! on the county's own accepted visits gives the compressor that context up front; the server
//! trains it, phones download it once, and from then on both directions use it.
//!
//! A dictionary-compressed body is an ordinary zstd frame (`Content-Encoding: zstd`) whose
//! header names the dictionary's id, so the receiver picks the dictionary from the frame
//! itself and no extra header or negotiation is needed.

use std::io::Read;
use std::sync::Arc;

use zstd::dict::{DecoderDictionary, EncoderDictionary};

/// The magic number that starts a zstd dictionary.
const DICTIONARY_MAGIC: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];
/// The largest dictionary accepted: far above the 16 KiB the server trains, far below
/// anything that would strain a phone.
pub const MAX_DICTIONARY_BYTES: usize = 1024 * 1024;

/// A zstd dictionary, prepared for compressing at one level and for decompressing.
pub struct Dictionary {
    id: u32,
    bytes: Arc<[u8]>,
    encoder: EncoderDictionary<'static>,
    decoder: DecoderDictionary<'static>,
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("id", &self.id)
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// Why bytes are not a usable dictionary, or a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("not a zstd dictionary: {0}")]
    BadDictionary(String),
    /// The frame was compressed with a dictionary the receiver does not hold.
    #[error("the body was compressed with dictionary {0}, which is not known here")]
    UnknownDictionary(u32),
    #[error("the body is larger than {0} bytes once decompressed")]
    TooLarge(u64),
    #[error("unknown content encoding {0}")]
    UnknownEncoding(String),
    /// The compressed stream is corrupt or ends early.
    #[error("the compressed body could not be read: {0}")]
    Corrupt(String),
}

impl Dictionary {
    /// Checks and prepares dictionary bytes; `level` is the zstd level used to compress.
    pub fn new(bytes: &[u8], level: i32) -> Result<Dictionary, CodecError> {
        if bytes.len() > MAX_DICTIONARY_BYTES {
            return Err(CodecError::BadDictionary(format!(
                "{} bytes, more than {MAX_DICTIONARY_BYTES}",
                bytes.len()
            )));
        }
        if bytes.get(..4) != Some(&DICTIONARY_MAGIC[..]) {
            return Err(CodecError::BadDictionary(
                "it does not start with the dictionary magic number".into(),
            ));
        }
        // Id 0 means "no id": frames made with such a dictionary would not name it.
        let id = zstd::zstd_safe::get_dict_id_from_dict(bytes)
            .ok_or_else(|| CodecError::BadDictionary("it carries no dictionary id".into()))?
            .get();
        Ok(Dictionary {
            id,
            bytes: bytes.into(),
            encoder: EncoderDictionary::copy(bytes, level),
            decoder: DecoderDictionary::copy(bytes),
        })
    }

    /// The id zstd frames compressed with this dictionary carry in their header.
    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Compresses `data` as one zstd frame, with the dictionary when one is given (its level
/// applies then) and at `level` otherwise.
pub fn compress(
    data: &[u8],
    level: i32,
    dictionary: Option<&Dictionary>,
) -> Result<Vec<u8>, CodecError> {
    let result = match dictionary {
        Some(dict) => zstd::bulk::Compressor::with_prepared_dictionary(&dict.encoder)
            .and_then(|mut c| c.compress(data)),
        None => zstd::bulk::compress(data, level),
    };
    result.map_err(|e| CodecError::Corrupt(format!("compressing: {e}")))
}

/// The dictionary id a zstd frame names in its header, if any.
pub fn frame_dictionary(frame: &[u8]) -> Option<u32> {
    zstd::zstd_safe::get_dict_id_from_frame(frame).map(|id| id.get())
}

/// Decodes a body sent with `encoding` (a `Content-Encoding` value: empty or `identity`,
/// `zstd`, `gzip`), refusing output beyond `limit` bytes so that a small compressed bomb
/// cannot fill memory. A zstd frame that names a dictionary is decoded with the one `lookup`
/// returns for its id.
pub fn decode(
    encoding: &str,
    raw: &[u8],
    limit: u64,
    lookup: impl FnOnce(u32) -> Option<Arc<Dictionary>>,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let read = match encoding.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => {
            if raw.len() as u64 > limit {
                return Err(CodecError::TooLarge(limit));
            }
            return Ok(raw.to_vec());
        }
        "zstd" => match frame_dictionary(raw) {
            Some(id) => {
                let dict = lookup(id).ok_or(CodecError::UnknownDictionary(id))?;
                zstd::stream::read::Decoder::with_prepared_dictionary(raw, &dict.decoder)
                    .and_then(|d| d.take(limit + 1).read_to_end(&mut out))
            }
            None => zstd::stream::read::Decoder::new(raw)
                .and_then(|d| d.take(limit + 1).read_to_end(&mut out)),
        },
        "gzip" => flate2::read::GzDecoder::new(raw)
            .take(limit + 1)
            .read_to_end(&mut out),
        other => return Err(CodecError::UnknownEncoding(other.to_string())),
    };
    read.map_err(|e| CodecError::Corrupt(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(CodecError::TooLarge(limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Visit-like JSON bodies, different in their numbers and names.
    fn samples(n: usize, offset: usize) -> Vec<Vec<u8>> {
        (offset..offset + n)
            .map(|i| {
                format!(
                    r#"{{"id":"01a225bd-{i:04x}","seq":{i},"kind":"visit.record","payload":{{"household":"hh-{:06}","checklist":{{"clothing":{{"status":"ok"}},"education":{{"status":"na"}},"water":{{"status":"problem","note":"自来水尚未入户"}}}},"diary":"入户走访，了解家中近况。家中{}口人，户主表示满意。"}}}}"#,
                    i * 7919 % 100_000,
                    i % 6 + 1
                )
                .into_bytes()
            })
            .collect()
    }

    fn trained() -> Dictionary {
        let bytes = zstd::dict::from_samples(&samples(400, 0), 4096).expect("training");
        Dictionary::new(&bytes, 3).expect("a trained dictionary is valid")
    }

    fn no_dictionary(_: u32) -> Option<Arc<Dictionary>> {
        None
    }

    #[test]
    fn a_dictionary_frame_names_its_dictionary_and_decodes_with_it() {
        let dict = Arc::new(trained());
        let body = samples(1, 9_000).concat();
        let frame = compress(&body, 3, Some(&dict)).expect("compress");
        assert_eq!(frame_dictionary(&frame), Some(dict.id()));
        let plain = compress(&body, 3, None).expect("compress");
        assert_eq!(frame_dictionary(&plain), None);
        assert!(
            frame.len() * 2 < plain.len(),
            "the dictionary should at least halve a small body: {} vs {}",
            frame.len(),
            plain.len()
        );
        let decoded = decode("zstd", &frame, 1 << 20, |id| {
            (id == dict.id()).then(|| dict.clone())
        })
        .expect("decode");
        assert_eq!(decoded, body);
    }

    #[test]
    fn a_frame_naming_an_unknown_dictionary_is_refused_by_name() {
        let dict = trained();
        let frame = compress(b"{}", 3, Some(&dict)).expect("compress");
        assert_eq!(
            decode("zstd", &frame, 1 << 20, no_dictionary),
            Err(CodecError::UnknownDictionary(dict.id()))
        );
    }

    #[test]
    fn decoding_stops_at_the_limit_whatever_the_encoding() {
        let big = vec![b'a'; 100_000];
        let zstd_body = compress(&big, 3, None).expect("compress");
        assert_eq!(
            decode("zstd", &zstd_body, 1_000, no_dictionary),
            Err(CodecError::TooLarge(1_000))
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &big).expect("gzip");
        let gz = gz.finish().expect("gzip");
        assert_eq!(
            decode("gzip", &gz, 1_000, no_dictionary),
            Err(CodecError::TooLarge(1_000))
        );
        assert_eq!(
            decode("", &big, 1_000, no_dictionary),
            Err(CodecError::TooLarge(1_000))
        );
        assert_eq!(
            decode("GZIP", &gz, 200_000, no_dictionary).map(|v| v.len()),
            Ok(100_000)
        );
    }

    #[test]
    fn bad_dictionaries_and_encodings_get_specific_errors() {
        assert!(matches!(
            Dictionary::new(b"not a dictionary", 3),
            Err(CodecError::BadDictionary(_))
        ));
        assert!(matches!(
            decode("br", b"x", 10, no_dictionary),
            Err(CodecError::UnknownEncoding(e)) if e == "br"
        ));
        assert!(matches!(
            decode("zstd", b"\x28\xb5\x2f\xfd garbage", 10, no_dictionary),
            Err(CodecError::Corrupt(_))
        ));
    }
}
