//! Server-rendered HTML for the dashboard, escaped by construction: a page is built from
//! [`Markup`], which is either text escaped on the way in ([`Markup::text`]) or markup this
//! module's siblings write themselves from constants ([`Markup::raw`], never given data).
//!
//! Why no templating crate (maud, askama): the pages are a navigation bar, a form or two and
//! tables; a type that can only hold escaped text keeps data from ever reaching the page
//! unescaped, without a macro language or template files to learn. No scripts and no external
//! assets: the style is a few inline rules, images come only from this server (visit photos),
//! and the Content-Security-Policy says so.

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::{LANG_COOKIE, Label, Lang, Text};
use crate::report::Report;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A piece of HTML that is safe to put in a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup(String);

impl Markup {
    /// Text, escaped.
    pub fn text(text: impl AsRef<str>) -> Markup {
        Markup(esc(text.as_ref()))
    }

    /// Markup written by the dashboard's own code. Every piece of data in it must have gone
    /// through [`esc`] or [`Markup::text`].
    pub(super) fn raw(html: impl Into<String>) -> Markup {
        Markup(html.into())
    }

    pub fn push(&mut self, more: Markup) {
        self.0.push_str(&more.0);
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A table: header labels and rows of cells.
pub fn table(headers: &[&str], rows: &[Vec<Markup>]) -> Markup {
    let mut html = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(html, "<th>{}</th>", esc(h));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", cell.0);
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    Markup(html)
}

/// A table whose headers are labels (in `lang`), or the word for "none" when there are no
/// rows: the one shape every page's table has.
pub fn labelled_table<T>(lang: Lang, headers: &[T], rows: &[Vec<Markup>]) -> Markup
where
    T: Copy + Into<Text>,
{
    if rows.is_empty() {
        return Markup::text(lang.t(Label::None));
    }
    let labels: Vec<&str> = headers.iter().map(|h| lang.t(*h)).collect();
    table(&labels, rows)
}

/// A two-column table of facts about one thing: a label (translated) and its value per row.
pub fn facts(lang: Lang, rows: &[(Label, Markup)]) -> Markup {
    let mut html = String::from("<table class=\"facts\"><tbody>");
    for (label, value) in rows {
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(lang.t(*label)),
            value.0
        );
    }
    html.push_str("</tbody></table>");
    Markup(html)
}

/// A hidden form field.
pub fn hidden(name: &str, value: &str) -> Markup {
    Markup(format!(
        r#"<input type="hidden" name="{}" value="{}">"#,
        esc(name),
        esc(value)
    ))
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0;color:#222}\
header{background:#8b1a1a;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}\
header a{color:#fff}header form{display:inline;margin:0}main{padding:1em}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}\
th{background:#f3f3f3}.warn{color:#b00;font-weight:bold}.error{color:#b00}\
nav a{margin-right:1em}form.inline{display:inline}\
.diary{white-space:pre-wrap;max-width:50em}.photos{display:flex;flex-wrap:wrap;gap:1em}\
figure.photo{margin:0;border:1px solid #ccc;padding:.5em;max-width:360px}\
figure.photo img{max-width:340px;max-height:340px;display:block}\
.pending{color:#666;font-style:italic}code{word-break:break-all}";

/// The header's contents for a logged-in admin: navigation, who is logged in, language switch,
/// logout form.
#[derive(Debug)]
pub struct Chrome<'a> {
    pub admin: &'a str,
    pub role_label: &'a str,
    pub csrf: &'a str,
    /// The page's path, for the language switch link.
    pub path: &'a str,
}

/// A whole page with status `status`, in `lang`; `remember_lang` sets the language cookie.
pub fn page(
    status: StatusCode,
    lang: Lang,
    remember_lang: bool,
    title: &str,
    chrome: Option<&Chrome<'_>>,
    body: Markup,
) -> Response {
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{} · {}</title>\
         <style>{STYLE}</style></head><body><header><strong>{}</strong>",
        lang.code(),
        esc(title),
        esc(lang.t(Label::App)),
        esc(lang.t(Label::App)),
    );
    let other = lang.other();
    if let Some(c) = chrome {
        html.push_str("<nav>");
        let _ = write!(
            html,
            "<a href=\"/admin/devices\">{}</a>",
            esc(lang.t(Label::NavDevices))
        );
        for &report in Report::ALL {
            let _ = write!(
                html,
                "<a href=\"{}\">{}</a>",
                super::page_path(report),
                esc(lang.t(report.spec().title))
            );
        }
        let _ = write!(
            html,
            "</nav><span>{} · {}</span><a id=\"lang\" href=\"{}?lang={}\">{}</a>\
             <form method=\"post\" action=\"/admin/logout\">{}<button>{}</button></form>",
            esc(c.admin),
            esc(c.role_label),
            esc(c.path),
            other.code(),
            esc(lang.t(Label::LangSwitch)),
            hidden("csrf", c.csrf).0,
            esc(lang.t(Label::Logout)),
        );
    } else {
        let _ = write!(
            html,
            "<a id=\"lang\" href=\"?lang={}\">{}</a>",
            other.code(),
            esc(lang.t(Label::LangSwitch))
        );
    }
    let _ = write!(
        html,
        "</header><main><h1>{}</h1>{}</main></body></html>",
        esc(title),
        body.0
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Images only from this server: the visit page shows photos from /admin/photos.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if remember_lang {
        // The language is not a secret, so no HttpOnly needed; a year is long enough.
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/admin; Max-Age=31536000; SameSite=Strict",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            esc(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        let t = table(&["a<b"], &[vec![Markup::text("<i>红旗村</i>")]]);
        assert!(t.as_str().contains("<th>a&lt;b</th>"));
        assert!(t.as_str().contains("<td>&lt;i&gt;红旗村&lt;/i&gt;</td>"));
        let f = facts(Lang::En, &[(Label::ColHousehold, Markup::text("<b>"))]);
        assert!(
            f.as_str()
                .contains("<tr><th>Household</th><td>&lt;b&gt;</td></tr>")
        );
        assert_eq!(
            labelled_table(Lang::En, &[Label::ColFlag], &[]).as_str(),
            "None"
        );
        assert_eq!(
            hidden("csrf", "a\"b").as_str(),
            r#"<input type="hidden" name="csrf" value="a&quot;b">"#
        );
    }
}
