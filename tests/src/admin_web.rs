//! The dashboard's test fixture and a plain HTTP client for it: a server on a synthetic region
//! with synced phones that recorded visits, a supervisor and a sync admin account, and a
//! cookie-keeping client that never follows redirects (so tests see where they are sent).

use std::collections::BTreeMap;

use fieldvisit_core::Store;
use fieldvisit_core::ids::CadreId;
use fieldvisit_server::web::WebConfig;
use fieldvisit_server::web::accounts::{self, Role};

use crate::harness::{TestServer, admin, now, today};

/// The password of the fixture's accounts.
pub const PASSWORD: &str = "correct horse battery staple";
/// The fixture's read-only account.
pub const SUPERVISOR: &str = "zhang.supervisor";
/// The fixture's account that may revoke phones.
pub const SYNC_ADMIN: &str = "li.syncadmin";

/// A server with phones that synced visits, and two dashboard accounts.
pub struct Fleet {
    pub server: TestServer,
    /// The phones with their cadres; each recorded and synced two visits.
    pub phones: Vec<(CadreId, Store)>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("server", &self.server)
            .finish()
    }
}

impl Fleet {
    pub fn start(seed: u64, web: WebConfig) -> Fleet {
        let server = TestServer::start_with_web(seed, web);
        let cadres: Vec<CadreId> = server
            .region
            .cadres
            .iter()
            .filter(|c| !server.region.households_of(&c.id, today()).is_empty())
            .take(2)
            .map(|c| c.id.clone())
            .collect();
        assert_eq!(cadres.len(), 2, "the region has two cadres with households");
        let mut phones = Vec::new();
        for (i, cadre) in cadres.into_iter().enumerate() {
            let store = server.device(&cadre);
            for (j, h) in server
                .region
                .households_of(&cadre, today())
                .iter()
                .take(2)
                .enumerate()
            {
                server
                    .record_visit(&store, h, (i * 10 + j) as u64)
                    .expect("visit");
            }
            server.sync(&store).expect("sync");
            phones.push((cadre, store));
        }
        for (name, role) in [
            (SUPERVISOR, Role::Supervisor),
            (SYNC_ADMIN, Role::SyncAdmin),
        ] {
            accounts::add(
                server.storage.as_ref(),
                name,
                role,
                PASSWORD,
                &admin(),
                now(),
            )
            .expect("account");
        }
        Fleet { server, phones }
    }

    /// The names of the villages in the region.
    pub fn village_names(&self) -> Vec<String> {
        let villages: std::collections::BTreeSet<&str> = self
            .server
            .region
            .households
            .iter()
            .map(|h| h.village.as_str())
            .collect();
        self.server
            .region
            .areas
            .iter()
            .filter(|a| villages.contains(a.code.as_str()))
            .map(|a| a.name.clone())
            .collect()
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub set_cookies: Vec<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A browser-like client without a browser: keeps cookies, does not follow redirects.
#[derive(Debug)]
pub struct WebClient {
    http: reqwest::blocking::Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
}

/// `application/x-www-form-urlencoded` encoding of form fields.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl WebClient {
    pub fn new(base: &str) -> WebClient {
        WebClient {
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_string(),
            cookies: BTreeMap::new(),
        }
    }

    fn send(&mut self, req: reqwest::blocking::RequestBuilder) -> Answer {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("Cookie", cookie)
        };
        let resp = req.send().expect("request");
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header("location");
        let content_type = header("content-type").unwrap_or_default();
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for c in &set_cookies {
            let Some((name, rest)) = c.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or("").to_string();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value);
            }
        }
        let status = resp.status().as_u16();
        let body = resp.bytes().expect("body").to_vec();
        Answer {
            status,
            location,
            content_type,
            set_cookies,
            body,
        }
    }

    pub fn get(&mut self, path: &str) -> Answer {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req)
    }

    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(fields));
        self.send(req)
    }

    /// Logs in and returns the answer (303 to the device page on success).
    pub fn login(&mut self, user: &str, password: &str) -> Answer {
        self.post(
            "/admin/login",
            &[("username", user), ("password", password)],
        )
    }

    /// The session's CSRF token, read from the logout form of the device page.
    pub fn csrf(&mut self) -> String {
        let page = self.get("/admin/devices").text();
        let marker = "name=\"csrf\" value=\"";
        let start = page.find(marker).expect("a CSRF field on the page") + marker.len();
        let end = page[start..].find('"').expect("end of the CSRF value") + start;
        page[start..end].to_string()
    }
}
