//! The dashboard's language for a request: `?lang=zh|en` (then remembered in a cookie), else
//! the cookie, else the browser's `Accept-Language`, else Chinese. The languages and the
//! labels themselves are `crate::labels`, re-exported here for the pages.

use axum::http::{HeaderMap, header};

pub use crate::labels::{Label, Lang, Text};

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "fv_lang";

impl Lang {
    /// The language of a request: `query` (the `lang` parameter) first, then the cookie,
    /// then `Accept-Language`. The second value is true when it came from the query and should
    /// be remembered.
    pub fn of_request(query: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
        if let Some(lang) = query.and_then(Lang::parse) {
            return (lang, true);
        }
        if let Some(lang) = super::auth::cookie(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c))
        {
            return (lang, false);
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        (from_accept_language(accept), false)
    }
}

/// The preferred of Chinese and English in an `Accept-Language` value (by q-value, then
/// order); Chinese when it names neither.
pub fn from_accept_language(value: &str) -> Lang {
    let mut best: Option<(f32, Lang)> = None;
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = if tag.starts_with("zh") {
            Lang::Zh
        } else if tag.starts_with("en") {
            Lang::En
        } else {
            continue;
        };
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map_or(Lang::Zh, |(_, lang)| lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_the_higher_quality() {
        assert_eq!(from_accept_language("en-US,en;q=0.9,zh;q=0.8"), Lang::En);
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(from_accept_language("en;q=0.5, zh;q=0.7"), Lang::Zh);
        assert_eq!(from_accept_language("fr-FR"), Lang::Zh);
        assert_eq!(from_accept_language(""), Lang::Zh);
    }
}
