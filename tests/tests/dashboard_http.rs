//! The dashboard and admin API over plain HTTP (no browser): logins, sessions, CSRF, roles,
//! the report downloads, and a visit's page with its photos and the photo endpoint, each proved
//! by what the server answers and what it stored.

#![allow(clippy::unwrap_used)]

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use fieldvisit_core::Error;
use fieldvisit_core::domain::photo::sha256_hex;
use fieldvisit_server::web::WebConfig;
use fieldvisit_tests::admin_web::{
    DIARY_MARKUP, Fleet, PASSWORD, SUPERVISOR, SYNC_ADMIN, WebClient,
};

fn fleet(seed: u64) -> Fleet {
    Fleet::start(seed, WebConfig::default())
}

fn revoked(fleet: &Fleet, i: usize) -> bool {
    let id = fleet.phones[i].1.device_id();
    let mut tx = fleet.server.storage.read().unwrap();
    tx.device(&id).unwrap().unwrap().revoked.is_some()
}

#[test]
fn without_a_session_pages_redirect_to_login_and_the_api_answers_401() {
    let fleet = fleet(71);
    let mut web = WebClient::new(&fleet.server.url);
    for path in [
        "/admin",
        "/admin/devices",
        "/admin/coverage",
        "/admin/unvisited?days=7",
        "/admin/flags",
        "/admin/rejected",
        "/admin/visits/0190b4c8-0000-7000-8000-000000000000",
        "/admin/visits/not-a-visit",
        &format!("/admin/photos/{}", sha256_hex(b"x")),
        "/admin/photos/NOT-A-HASH",
    ] {
        let a = web.get(path);
        assert_eq!(a.status, 303, "{path}");
        let to = a.location.unwrap();
        assert!(to.starts_with("/admin/"), "{path} -> {to}");
        if path != "/admin" {
            assert_eq!(to, "/admin/login", "{path}");
        }
    }
    let revoke = format!("/admin/devices/{}/revoke", fleet.phones[0].1.device_id());
    let a = web.post(&revoke, &[("csrf", "x"), ("reason", "lost")]);
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some("/admin/login"))
    );
    assert!(!revoked(&fleet, 0));

    let a = web.get("/v1/admin/reports/coverage?format=json");
    assert_eq!(a.status, 401);
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(body["error"], "unauthorized");
}

#[test]
fn a_wrong_password_gets_a_generic_error_and_repeated_failures_lock_the_account() {
    let fleet = fleet(72);
    let mut web = WebClient::new(&fleet.server.url);
    let wrong = web.login(SUPERVISOR, "not the password at all");
    let unknown = web.login("nobody", PASSWORD);
    for a in [&wrong, &unknown] {
        assert_eq!(a.status, 401);
        assert!(a.text().contains("id=\"error\""));
        assert!(a.set_cookies.iter().all(|c| !c.starts_with("fv_session=")));
    }
    // One answer for a wrong password and an unknown name.
    let strip = |t: String| t.replace(SUPERVISOR, "").replace("nobody", "");
    assert_eq!(strip(wrong.text()), strip(unknown.text()));

    // Four more failures (five in a row) lock the account: the right password is refused too.
    for _ in 0..4 {
        assert_eq!(web.login(SUPERVISOR, "still wrong password").status, 401);
    }
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 401, "locked");
    let user = fleet
        .server
        .storage
        .read()
        .unwrap()
        .admin_user(SUPERVISOR)
        .unwrap()
        .unwrap();
    assert!(user.locked_until.is_some());
    // Another account is not affected.
    assert_eq!(web.login(SYNC_ADMIN, PASSWORD).status, 303);

    let log = fleet.server.storage.read().unwrap().admin_log(100).unwrap();
    let failures = log
        .iter()
        .filter(|e| e.action == "admin.login_failed" && e.subject == SUPERVISOR)
        .count();
    assert_eq!(
        failures, 5,
        "every failure up to the lock is logged; attempts on the locked account are not"
    );
    let locking = log
        .iter()
        .find(|e| e.action == "admin.login_failed" && e.detail["locked"] == true)
        .unwrap();
    assert_eq!(locking.detail["failures"], 5);
    assert!(
        log.iter()
            .any(|e| e.action == "admin.login" && e.subject == SYNC_ADMIN)
    );
}

#[test]
fn a_lock_runs_out_and_the_right_password_works_again() {
    let fleet = Fleet::start(
        83,
        WebConfig {
            max_failures: 2,
            lockout_ms: 1_000,
            ..WebConfig::default()
        },
    );
    let mut web = WebClient::new(&fleet.server.url);
    for _ in 0..2 {
        assert_eq!(web.login(SUPERVISOR, "wrong password here").status, 401);
    }
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 401, "locked");
    std::thread::sleep(std::time::Duration::from_millis(1_300));
    assert_eq!(
        web.login(SUPERVISOR, PASSWORD).status,
        303,
        "the lock ran out"
    );
    let user = fleet
        .server
        .storage
        .read()
        .unwrap()
        .admin_user(SUPERVISOR)
        .unwrap()
        .unwrap();
    assert_eq!((user.failed_logins, user.locked_until), (0, None));
}

#[test]
fn a_login_sets_a_strict_http_only_cookie_and_logout_ends_the_session() {
    let fleet = fleet(73);
    let mut web = WebClient::new(&fleet.server.url);
    let a = web.login(SUPERVISOR, PASSWORD);
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some("/admin/devices"))
    );
    let session: Vec<&String> = a
        .set_cookies
        .iter()
        .filter(|c| c.starts_with("fv_session="))
        .collect();
    assert_eq!(session.len(), 2, "one for the pages, one for the API");
    for c in session {
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict"),
            "{c}"
        );
        assert!(!c.contains("Secure"), "not behind TLS: {c}");
    }
    assert_eq!(web.get("/admin/devices").status, 200);

    // Logout needs the CSRF token too.
    let stale = web.post("/admin/logout", &[("csrf", "forged")]);
    assert_eq!(stale.status, 403);
    assert_eq!(web.get("/admin/devices").status, 200, "still logged in");

    let token = web.cookies["fv_session"].clone();
    let csrf = web.csrf();
    let out = web.post("/admin/logout", &[("csrf", &csrf)]);
    assert_eq!(
        (out.status, out.location.as_deref()),
        (303, Some("/admin/login"))
    );
    assert!(
        !web.cookies.contains_key("fv_session"),
        "the cookie is cleared"
    );
    // The old token is dead on the server, not only forgotten by the client.
    web.cookies.insert("fv_session".into(), token);
    assert_eq!(web.get("/admin/devices").status, 303);
}

#[test]
fn behind_tls_the_session_cookie_is_secure() {
    let fleet = Fleet::start(
        74,
        WebConfig {
            secure_cookies: true,
            ..WebConfig::default()
        },
    );
    let mut web = WebClient::new(&fleet.server.url);
    let a = web.login(SUPERVISOR, PASSWORD);
    assert!(
        a.set_cookies
            .iter()
            .filter(|c| c.starts_with("fv_session="))
            .all(|c| c.contains("; Secure"))
    );
}

#[test]
fn an_idle_session_expires() {
    let fleet = Fleet::start(
        75,
        WebConfig {
            session_idle_ms: 1_000,
            ..WebConfig::default()
        },
    );
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    assert_eq!(web.get("/admin/coverage").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1_600));
    let a = web.get("/admin/coverage");
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some("/admin/login"))
    );
}

#[test]
fn a_csrf_mismatch_is_refused_with_403_and_revokes_nothing() {
    let fleet = fleet(76);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SYNC_ADMIN, PASSWORD).status, 303);
    let path = format!("/admin/devices/{}/revoke", fleet.phones[0].1.device_id());
    for csrf in ["", "not-the-token"] {
        let a = web.post(&path, &[("csrf", csrf), ("reason", "lost")]);
        assert_eq!(a.status, 403, "{csrf:?}");
        assert!(a.text().contains("CSRF"), "the page says why");
    }
    assert!(!revoked(&fleet, 0));
    fleet.server.sync(&fleet.phones[0].1).unwrap();
}

#[test]
fn a_supervisor_may_read_but_not_revoke() {
    let fleet = fleet(77);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    let page = web.get("/admin/devices").text();
    assert!(page.contains(&fleet.phones[0].1.device_id().to_string()));
    assert!(!page.contains("/revoke"), "no revoke form for a supervisor");
    let csrf = web.csrf();
    let path = format!("/admin/devices/{}/revoke", fleet.phones[0].1.device_id());
    let a = web.post(&path, &[("csrf", &csrf), ("reason", "lost")]);
    assert_eq!(a.status, 403);
    assert!(!revoked(&fleet, 0));
    fleet.server.sync(&fleet.phones[0].1).unwrap();
}

#[test]
fn a_sync_admin_revokes_a_phone_whose_next_sync_gets_401_and_the_log_names_the_admin() {
    let fleet = fleet(78);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SYNC_ADMIN, PASSWORD).status, 303);
    let csrf = web.csrf();
    let device = fleet.phones[0].1.device_id();
    let path = format!("/admin/devices/{device}/revoke");
    let empty = web.post(&path, &[("csrf", &csrf), ("reason", "  ")]);
    assert_eq!(empty.status, 400, "a reason is required");
    let a = web.post(
        &path,
        &[("csrf", &csrf), ("reason", "phone lost in the river")],
    );
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some("/admin/devices"))
    );
    match fleet.server.sync(&fleet.phones[0].1) {
        Err(Error::Revoked { reason }) => assert!(reason.contains("river"), "{reason}"),
        other => panic!("expected Revoked, got {other:?}"),
    }
    fleet.server.sync(&fleet.phones[1].1).unwrap();
    let log = fleet.server.storage.read().unwrap().admin_log(10).unwrap();
    let entry = log.iter().find(|e| e.action == "device.revoke").unwrap();
    assert_eq!(entry.actor, SYNC_ADMIN);
    assert_eq!(entry.subject, device.to_string());

    let unknown = web.post(
        "/admin/devices/not-a-device/revoke",
        &[("csrf", &csrf), ("reason", "x")],
    );
    assert_eq!(unknown.status, 404);
}

#[test]
fn pages_follow_the_chosen_language_and_remember_it() {
    let fleet = fleet(79);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    let en = web.get("/admin/coverage?lang=en");
    assert!(en.text().contains("Coverage by village"));
    assert!(en.set_cookies.iter().any(|c| c.starts_with("fv_lang=en")));
    assert!(
        web.get("/admin/coverage")
            .text()
            .contains("Coverage by village")
    );
    let zh = web.get("/admin/coverage?lang=zh").text();
    assert!(zh.contains("走访覆盖") && !zh.contains("Coverage by village"));
    for name in fleet.village_names() {
        assert!(zh.contains(&name), "village {name} on the coverage page");
    }
    let bad = web.get("/admin/unvisited?days=zero");
    assert_eq!(bad.status, 400);
}

#[test]
fn data_on_a_page_is_escaped() {
    let fleet = fleet(80);
    let village = fleet.server.region.households[0].village.clone();
    let mut area = fleet
        .server
        .region
        .areas
        .iter()
        .find(|a| a.code == village)
        .unwrap()
        .clone();
    area.name = "<script>alert(1)</script>红旗".into();
    let mut tx = fleet.server.storage.write().unwrap();
    tx.put_record(&fieldvisit_core::domain::RegistryRecord::Area(area))
        .unwrap();
    tx.commit().unwrap();
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    let page = web.get("/admin/coverage").text();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;红旗"));
    assert!(!page.contains("<script>"));
}

#[test]
fn reports_download_as_csv_json_and_xlsx_with_numbers_as_numbers() {
    let fleet = fleet(81);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);

    let json = web.get("/v1/admin/reports/coverage?format=json&days=7");
    assert_eq!(json.status, 200);
    assert!(json.content_type.starts_with("application/json"));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json.body).unwrap();
    let villages: Vec<&serde_json::Value> =
        rows.iter().filter(|r| r["level"] == "village").collect();
    assert!(!villages.is_empty());
    let visited: u64 = villages
        .iter()
        .map(|r| r["visited"].as_u64().unwrap())
        .sum();
    assert_eq!(visited, 4, "two phones synced two visits each");

    let csv = web.get("/v1/admin/reports/coverage?format=csv&days=7");
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(
        csv.text()
            .starts_with("\u{feff}level,id,name,households,visited,share")
    );

    let xlsx = web.get("/v1/admin/reports/coverage?format=xlsx&days=7");
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.body.starts_with(b"PK\x03\x04"), "a zip file");
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx.body.clone())).unwrap();
    let sheet = book.worksheet_range("coverage").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        header,
        ["level", "id", "name", "households", "visited", "share"]
    );
    assert_eq!(sheet.rows().count(), rows.len() + 1);
    for (row, json_row) in sheet.rows().skip(1).zip(&rows) {
        match &row[4] {
            Data::Float(n) => assert_eq!(*n, json_row["visited"].as_f64().unwrap()),
            other => panic!("visited should be a number, got {other:?}"),
        }
        assert_eq!(row[2].to_string(), json_row["name"].as_str().unwrap());
    }
}

#[test]
fn the_report_api_names_unknown_reports_and_bad_parameters() {
    let fleet = fleet(82);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    let a = web.get("/v1/admin/reports/nonsense");
    assert_eq!(a.status, 404);
    assert!(
        a.text().contains("coverage"),
        "the answer lists the reports"
    );
    for (query, status) in [
        ("format=pdf", 400),
        ("days=0", 400),
        ("from=2026-13-01", 400),
        ("from=2026-03-10&to=2026-03-01", 400),
        ("limit=abc", 400),
    ] {
        let a = web.get(&format!("/v1/admin/reports/rejected?{query}"));
        assert_eq!(a.status, status, "{query}: {}", a.text());
    }
    for name in [
        "unvisited",
        "visit-rate",
        "overdue",
        "rejected",
        "conflicts",
        "flags",
    ] {
        let a = web.get(&format!("/v1/admin/reports/{name}?format=json"));
        assert_eq!(a.status, 200, "{name}");
        let _: Vec<serde_json::Value> = serde_json::from_slice(&a.body).unwrap();
    }
}

#[test]
fn every_report_has_a_page_in_the_navigation_with_its_downloads() {
    use fieldvisit_server::report::{Param, Report};
    let fleet = fleet(85);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    let devices = web.get("/admin/devices?lang=en").text();
    for &report in Report::ALL {
        let name = report.name();
        let spec = report.spec();
        assert!(
            devices.contains(&format!("<a href=\"/admin/{name}\">{}</a>", spec.title.en)),
            "{name} in the navigation"
        );
        let page = web.get(&format!("/admin/{name}"));
        assert_eq!(page.status, 200, "{name}");
        let page = page.text();
        assert!(
            page.contains(&format!("<h1>{}</h1>", spec.title.en)),
            "{name}"
        );
        assert_eq!(
            page.contains("id=\"period\""),
            spec.takes(Param::Period),
            "{name}: a period form exactly when the report takes a period"
        );
        for format in ["csv", "xlsx", "json"] {
            assert!(
                page.contains(&format!("/v1/admin/reports/{name}?format={format}")),
                "{name}: {format}"
            );
        }
        let a = web.get(&format!("/v1/admin/reports/{name}?format=json"));
        assert_eq!(a.status, 200, "{name}");
        let _: Vec<serde_json::Value> = serde_json::from_slice(&a.body).unwrap();
    }
    let zh = web.get("/admin/exits?lang=zh").text();
    assert!(zh.contains("<h1>退出步骤</h1>"), "{zh}");
}

#[test]
fn the_unvisited_page_lists_exactly_the_households_nobody_visited() {
    let fleet = fleet(84);
    let region = &fleet.server.region;
    let visited: Vec<String> = fleet
        .phones
        .iter()
        .flat_map(|(cadre, _)| {
            region
                .households_of(cadre, fieldvisit_tests::harness::today())
                .into_iter()
                .take(2)
                .map(|h| h.id.to_string())
        })
        .collect();
    assert_eq!(visited.len(), 4);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    let page = web.get("/admin/unvisited?days=7&lang=en").text();
    assert!(page.contains("name=\"days\"") && page.contains("value=\"7\""));
    for h in &region.households {
        let id = h.id.to_string();
        assert_eq!(page.contains(&id), !visited.contains(&id), "household {id}");
    }
    for (path, title) in [
        ("/admin/flags", "Flagged visits"),
        ("/admin/rejected", "Rejected operations"),
    ] {
        let a = web.get(path);
        assert_eq!(a.status, 200, "{path}");
        assert!(a.text().contains(title), "{path}");
    }
}

/// The part of a visit page about one photo: its `<figure>`.
fn figure<'a>(page: &'a str, sha: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"photo-{sha}\""))
        .unwrap_or_else(|| panic!("photo {sha} on the page"));
    let end = page[start..].find("</figure>").unwrap() + start;
    &page[start..end]
}

/// The part of a visit page about the visit's own flags.
fn visit_flags(page: &str) -> &str {
    let start = page.find("id=\"flags\"").unwrap();
    let end = page[start..].find("id=\"checklist\"").unwrap() + start;
    &page[start..end]
}

#[test]
fn the_visit_page_shows_each_photo_with_its_facts_and_its_flags() {
    let (fleet, p) = Fleet::start_with_photos(86);
    let mut web = WebClient::new(&fleet.server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    let (camera, gallery) = (sha256_hex(&p.camera), sha256_hex(&p.gallery));
    let cadre = &fleet.phones[0].0;
    let household = fleet
        .server
        .region
        .households
        .iter()
        .find(|h| h.id == p.first.household)
        .unwrap();

    let a = web.get(&format!("/admin/visits/{}?lang=en", p.first.id));
    assert_eq!(a.status, 200);
    assert!(
        a.header("content-security-policy")
            .contains("img-src 'self'"),
        "{}",
        a.header("content-security-policy")
    );
    let page = a.text();
    for fact in [
        household.id.to_string(),
        household.code.as_str().to_string(),
        cadre.to_string(),
        fleet.phones[0].1.device_id().to_string(),
        "door plate scanned".to_string(),
    ] {
        assert!(page.contains(&fact), "{fact} on the visit page");
    }
    assert!(!page.contains("not yet uploaded"), "both photos are held");

    let first_camera = figure(&page, &camera);
    assert!(first_camera.contains(&format!("<img src=\"/admin/photos/{camera}\"")));
    assert!(first_camera.contains(&format!("<code>{camera}</code>")));
    assert!(first_camera.contains(&format!("<td>{}</td>", p.camera.len())));
    assert!(first_camera.contains("<td>camera</td>"));
    assert!(
        first_camera.contains(&format!("<td>{}</td>", p.exif_time)),
        "the EXIF capture time {}: {first_camera}",
        p.exif_time
    );
    let position = format!("{:.5}, {:.5}", p.exif_at.lat, p.exif_at.lon);
    assert!(first_camera.contains(&position), "the EXIF position");
    assert!(
        !first_camera.contains("data-flag"),
        "the first visit to name a camera photo taken there is not flagged: {first_camera}"
    );
    assert!(
        first_camera.contains(&format!("href=\"/admin/visits/{}\"", p.second.id)),
        "the later visit naming the same photo is linked"
    );
    let first_gallery = figure(&page, &gallery);
    assert!(first_gallery.contains(&format!("<img src=\"/admin/photos/{gallery}\"")));
    assert!(first_gallery.contains("<td>gallery</td>"));
    assert!(first_gallery.contains("data-flag=\"gallery_photo\""));
    assert!(visit_flags(&page).contains("data-flag=\"gallery_photo\""));

    let page = web
        .get(&format!("/admin/visits/{}?lang=en", p.second.id))
        .text();
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains(DIARY_MARKUP),
        "the diary is escaped"
    );
    let reused = figure(&page, &camera);
    assert!(reused.contains("data-flag=\"reused_photo\""), "{reused}");
    assert!(reused.contains(&format!("already named by visit {}", p.first.id)));
    assert!(reused.contains(&format!("href=\"/admin/visits/{}\"", p.first.id)));
    let flags = visit_flags(&page);
    for flag in ["reused_photo", "manual_entry"] {
        assert!(
            flags.contains(&format!("data-flag=\"{flag}\"")),
            "{flag}: {flags}"
        );
    }
    let not_image = sha256_hex(&p.not_image);
    for pending in [&p.missing, &p.half] {
        let f = figure(&page, pending);
        assert!(f.contains("not yet uploaded"), "{f}");
        assert!(!f.contains("<img"), "no picture for a photo not held: {f}");
    }
    assert!(figure(&page, &not_image).contains("<img"));

    let zh = web
        .get(&format!("/admin/visits/{}?lang=zh", p.second.id))
        .text();
    for label in ["尚未上传", "照片重复使用", "手工输入农户代码"] {
        assert!(zh.contains(label), "{label}");
    }

    // The flagged visits page links each flagged visit to its page.
    let flags_page = web.get("/admin/flags?lang=en").text();
    assert!(flags_page.contains(&format!("href=\"/admin/visits/{}\"", p.second.id)));
    assert!(flags_page.contains("reused photo"));

    for (path, status) in [
        ("/admin/visits/not-a-visit".to_string(), 404),
        (
            format!(
                "/admin/visits/{}",
                fieldvisit_core::ids::VisitId::generate(p.second.recorded_at)
            ),
            404,
        ),
    ] {
        let a = web.get(&path);
        assert_eq!(a.status, status, "{path}");
        assert!(a.text().contains("id=\"error\""), "{path}");
    }
}

#[test]
fn the_photo_endpoint_serves_exactly_the_uploaded_bytes_to_a_logged_in_admin_only() {
    let (fleet, p) = Fleet::start_with_photos(87);
    let camera = sha256_hex(&p.camera);
    let path = format!("/admin/photos/{camera}");
    let mut web = WebClient::new(&fleet.server.url);
    let a = web.get(&path);
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some("/admin/login")),
        "without a session, the login page like every /admin path"
    );
    assert!(a.body.is_empty() || !a.body.starts_with(&[0xFF, 0xD8]));

    for user in [SUPERVISOR, SYNC_ADMIN] {
        let mut web = WebClient::new(&fleet.server.url);
        assert_eq!(web.login(user, PASSWORD).status, 303);
        let a = web.get(&path);
        assert_eq!(a.status, 200, "{user}");
        assert_eq!(a.content_type, "image/jpeg");
        assert_eq!(a.body, p.camera, "exactly the bytes the phone took");
        assert_eq!(a.header("x-content-type-options"), "nosniff");
        let cache = a.header("cache-control");
        assert!(
            cache.contains("private") && cache.contains("max-age=31536000"),
            "{cache}"
        );
        let gallery = web.get(&format!("/admin/photos/{}", sha256_hex(&p.gallery)));
        assert_eq!((gallery.status, gallery.body), (200, p.gallery.clone()));
    }

    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    let not_image = web.get(&format!("/admin/photos/{}", sha256_hex(&p.not_image)));
    assert_eq!(not_image.status, 200);
    assert_eq!(not_image.content_type, "application/octet-stream");
    assert!(
        not_image
            .header("content-disposition")
            .starts_with("attachment"),
        "bytes that are not an image are only downloaded"
    );
    assert_eq!(not_image.body, p.not_image);

    for bad in [
        "NOT-A-HASH".to_string(),
        camera.to_uppercase(),
        camera[..63].to_string(),
        format!("{camera}0"),
    ] {
        let a = web.get(&format!("/admin/photos/{bad}"));
        assert_eq!(a.status, 400, "{bad}");
    }
    for (unknown, why) in [
        (sha256_hex(b"no visit names this"), "unknown"),
        (p.missing.clone(), "named but never uploaded"),
        (p.half.clone(), "half uploaded"),
    ] {
        let a = web.get(&format!("/admin/photos/{unknown}"));
        assert_eq!(a.status, 404, "{why}");
    }
}
