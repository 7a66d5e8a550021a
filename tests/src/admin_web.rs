//! The dashboard's test fixture and a plain HTTP client for it: a server on a synthetic region
//! with synced phones that recorded visits, a supervisor and a sync admin account, visits with
//! photos for the visit page ([`Fleet::start_with_photos`]), and a cookie-keeping client that
//! never follows redirects (so tests see where they are sent).

use std::collections::BTreeMap;

use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, SystemClock, WallTime};
use fieldvisit_core::domain::GeoPoint;
use fieldvisit_core::domain::photo::{CHUNK_BYTES, PhotoRef, PhotoSource, read_exif, sha256_hex};
use fieldvisit_core::domain::visit::{Identification, IdentifiedBy, VisitRecord};
use fieldvisit_core::ids::{CadreId, VisitId};
use fieldvisit_core::journal::OpBody;
use fieldvisit_core::sync::Transport;
use fieldvisit_server::web::WebConfig;
use fieldvisit_server::web::accounts::{self, Role};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::harness::{TestServer, admin, now, today};
use crate::jpeg::{ExifBlock, jpeg};

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

/// Markup the second visit of [`Fleet::start_with_photos`] has at the end of its diary, which
/// its page must show as text.
pub const DIARY_MARKUP: &str = "<script>alert(1)</script>";

/// The visits with photos of [`Fleet::start_with_photos`].
#[derive(Debug)]
pub struct PhotoVisits {
    /// Phone 0's visit naming `camera` and `gallery`, both uploaded over a real sync.
    pub first: VisitRecord,
    /// A later visit by a second device of the same cadre (the code typed by hand, the diary
    /// ending in [`DIARY_MARKUP`]) naming `camera` again, then `missing`, `half` and
    /// `not_image`.
    pub second: VisitRecord,
    /// A real JPEG from the camera, with EXIF capture time and position.
    pub camera: Vec<u8>,
    /// A real JPEG from the gallery, without EXIF.
    pub gallery: Vec<u8>,
    /// Named by the second visit, never uploaded.
    pub missing: String,
    /// Named by the second visit, only its first chunk uploaded.
    pub half: String,
    /// Named by the second visit and uploaded whole: bytes that are not an image.
    pub not_image: Vec<u8>,
    /// The camera photo's EXIF capture time as the dashboard shows it (CST).
    pub exif_time: String,
    /// The camera photo's EXIF position (the first visit's household).
    pub exif_at: GeoPoint,
}

impl Fleet {
    /// A fleet whose first cadre also has the two visits with photos of [`PhotoVisits`].
    pub fn start_with_photos(seed: u64) -> (Fleet, PhotoVisits) {
        let fleet = Fleet::start(seed, WebConfig::default());
        let server = &fleet.server;
        let (cadre, phone) = (&fleet.phones[0].0, &fleet.phones[0].1);
        let households = server.region.households_of(cadre, today());
        let (h1, h2) = (households[0].clone(), households[1].clone());
        let at = phone.now();

        // Rounded to 4 places (about 10 m), so that the position shown (5 places) is exactly
        // what the EXIF block's degrees, minutes and seconds give back.
        let home = h1.location.unwrap_or(GeoPoint {
            lat: 49.2,
            lon: 119.7,
        });
        let exif_at = GeoPoint {
            lat: (home.lat * 1e4).round() / 1e4,
            lon: (home.lon * 1e4).round() / 1e4,
        };
        let exif_time = fieldvisit_server::report::local_time(WallTime(at.0 - 300_000));
        let taken = exif_time.replacen('-', ":", 2);
        let camera = jpeg(8, 6, 1, Some(&ExifBlock { taken, at: exif_at }));
        let gallery = jpeg(8, 6, 2, None);
        let mut names = Vec::new();
        for (bytes, source) in [
            (&camera, PhotoSource::Camera),
            (&gallery, PhotoSource::Gallery),
        ] {
            let info = phone
                .add_photo(bytes, source, WallTime(at.0 - 60_000), None)
                .expect("photo");
            names.push(info.sha256);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (content, location) = server.region.visit(&mut rng, &h1, at);
        let scan = Identification::Scanned {
            payload: server.region.plate(&h1),
            scanned_at: WallTime(at.0 - 60_000),
        };
        let first = phone
            .record_visit_with_photos(scan, content, Some(location), &names)
            .expect("visit with photos");
        let report = server.sync(phone).expect("sync");
        assert_eq!(report.photos_uploaded, 2, "both photos uploaded");

        // A second device of the same cadre, at the protocol level, so that it can name
        // photos it never uploads.
        let mut raw = server.raw_device(cadre, seed as u8);
        let missing_bytes = b"a photo that never arrives".to_vec();
        let half_bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let not_image = b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".to_vec();
        let later = WallTime(SystemClock.now().0.max(at.0 + 1));
        let named = |bytes: &[u8], source| PhotoRef {
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
            source,
            captured_at: later,
            exif: read_exif(bytes),
        };
        let (mut content, location) = server.region.visit(&mut rng, &h2, later);
        content.diary.push_str(DIARY_MARKUP);
        let second = VisitRecord {
            id: VisitId::generate(later),
            household: h2.id.clone(),
            cadre: cadre.clone(),
            identified: IdentifiedBy::Manual {
                reason: "门牌脱落".into(),
            },
            recorded_at: later,
            location: Some(location),
            content,
            photos: vec![
                named(&camera, PhotoSource::Camera),
                named(&missing_bytes, PhotoSource::Camera),
                named(&half_bytes, PhotoSource::Camera),
                named(&not_image, PhotoSource::Camera),
            ],
        };
        let op = raw.next(&OpBody::VisitRecorded(second.clone()));
        let answer = raw.push(server, vec![op]).expect("push");
        assert!(answer.ack.rejected.is_empty(), "{:?}", answer.ack.rejected);
        let http = server.transport();
        let (half, rest) = (sha256_hex(&half_bytes), CHUNK_BYTES as usize);
        let status = http
            .put_photo_chunk(&raw.token, &half, 0, &half_bytes[..rest])
            .expect("first chunk")
            .body;
        assert!(!status.complete);
        let status = http
            .put_photo_chunk(&raw.token, &sha256_hex(&not_image), 0, &not_image)
            .expect("whole file")
            .body;
        assert!(status.complete);
        (
            fleet,
            PhotoVisits {
                first,
                second,
                camera,
                gallery,
                missing: sha256_hex(&missing_bytes),
                half,
                not_image,
                exif_time,
                exif_at,
            },
        )
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub set_cookies: Vec<String>,
    /// Every header but `Set-Cookie`, by lowercase name (the last value of a repeated one).
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
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
        let headers: BTreeMap<String, String> = resp
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str() != "set-cookie")
            .filter_map(|(name, v)| Some((name.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let status = resp.status().as_u16();
        let body = resp.bytes().expect("body").to_vec();
        Answer {
            status,
            location,
            content_type,
            set_cookies,
            headers,
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
