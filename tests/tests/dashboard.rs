//! The dashboard end to end in a real browser: headless Chromium (Debian's `chromium`
//! package) driven over the DevTools protocol against a running server with synced phones.
//! Without a login the dashboard sends the browser to the login page; a supervisor sees the
//! real device ids and the coverage table with the real village names, in English and
//! Chinese; a supervisor's revoke is refused; a sync admin's revoke works and the phone's next
//! sync gets 401.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::Error;
use fieldvisit_server::web::WebConfig;
use fieldvisit_tests::admin_web::{Fleet, PASSWORD, SUPERVISOR, SYNC_ADMIN};
use fieldvisit_tests::browser::{Browser, find_chromium};

/// Fills in the login form and submits it as a user would.
fn log_in(b: &mut Browser, base: &str, user: &str) {
    b.goto(&format!("{base}/admin/login")).unwrap();
    b.eval(&format!(
        "document.querySelector('input[name=username]').value = {user:?};
         document.querySelector('input[name=password]').value = {PASSWORD:?};
         document.querySelector('#login button').click(); true"
    ))
    .unwrap();
    b.wait_for("location.pathname === '/admin/devices'")
        .unwrap();
}

fn log_out(b: &mut Browser) {
    b.eval("document.querySelector('form[action=\"/admin/logout\"] button').click(); true")
        .unwrap();
    b.wait_for("location.pathname === '/admin/login'").unwrap();
}

#[test]
fn a_browser_logs_in_sees_devices_and_coverage_and_only_a_sync_admin_revokes() {
    let Some(chromium) = find_chromium() else {
        println!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let fleet = Fleet::start(91, WebConfig::default());
    let base = fleet.server.url.clone();
    let mut b = Browser::launch(&chromium).unwrap();

    // Without a session, the dashboard sends the browser to the login page.
    b.goto(&format!("{base}/admin/devices")).unwrap();
    assert_eq!(b.path().unwrap(), "/admin/login");
    assert!(
        b.eval("!!document.querySelector('input[type=password]')")
            .unwrap()
            == true
    );

    // A supervisor logs in and sees the real phones.
    log_in(&mut b, &base, SUPERVISOR);
    let devices = b.text().unwrap();
    for (_, phone) in &fleet.phones {
        assert!(
            devices.contains(&phone.device_id().to_string()),
            "device {} listed",
            phone.device_id()
        );
    }
    assert_eq!(
        b.eval("document.querySelectorAll('form.revoke').length")
            .unwrap(),
        0,
        "a supervisor gets no revoke form"
    );

    // The coverage table names the real villages, in English and then in Chinese.
    b.goto(&format!("{base}/admin/coverage?lang=en")).unwrap();
    let en = b.text().unwrap();
    assert!(
        en.contains("Coverage by village") && en.contains("Households"),
        "{en}"
    );
    assert!(
        b.eval("document.querySelectorAll('table tbody tr').length")
            .unwrap()
            .as_u64()
            .unwrap()
            > 0
    );
    for name in fleet.village_names() {
        assert!(en.contains(&name), "village {name} in the coverage table");
    }
    // The language is remembered across pages, and the switch link goes back.
    b.goto(&format!("{base}/admin/devices")).unwrap();
    assert!(b.text().unwrap().contains("Device sync health"));
    b.eval("document.querySelector('#lang').click(); true")
        .unwrap();
    b.wait_for("document.body.innerText.includes('设备同步')")
        .unwrap();
    b.goto(&format!("{base}/admin/coverage")).unwrap();
    let zh = b.text().unwrap();
    assert!(zh.contains("走访覆盖") && zh.contains("户数"), "{zh}");
    assert!(!zh.contains("Coverage by village"));

    // A supervisor's revoke (a form built in the page with the session's own CSRF token) is
    // refused, and the phone still syncs.
    let victim = fleet.phones[0].1.device_id().to_string();
    b.goto(&format!("{base}/admin/devices?lang=en")).unwrap();
    b.eval(&format!(
        "const f = document.createElement('form');
         f.method = 'post'; f.action = '/admin/devices/{victim}/revoke';
         for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value],
                               ['reason', 'lost']]) {{
             const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
         }}
         document.body.appendChild(f); f.submit(); true"
    ))
    .unwrap();
    b.wait_for("location.pathname.endsWith('/revoke')").unwrap();
    let refused = b.text().unwrap();
    assert!(refused.contains("supervisors can only look"), "{refused}");
    fleet.server.sync(&fleet.phones[0].1).unwrap();

    // A sync admin revokes the phone from its row; its next sync gets 401.
    log_out(&mut b);
    log_in(&mut b, &base, SYNC_ADMIN);
    let forms = b
        .eval("document.querySelectorAll('form.revoke').length")
        .unwrap()
        .as_u64()
        .unwrap();
    assert_eq!(forms as usize, fleet.phones.len());
    b.eval(&format!(
        "const f = document.querySelector('form.revoke[data-device=\"{victim}\"]');
         f.querySelector('input[name=reason]').value = 'phone stolen';
         f.querySelector('button').click(); true"
    ))
    .unwrap();
    b.wait_for(&format!(
        "location.pathname === '/admin/devices' && \
         document.querySelectorAll('form.revoke').length === {}",
        fleet.phones.len() - 1
    ))
    .unwrap();
    match fleet.server.sync(&fleet.phones[0].1) {
        Err(Error::Revoked { reason }) => assert!(reason.contains("stolen"), "{reason}"),
        other => panic!("expected Revoked, got {other:?}"),
    }
    fleet.server.sync(&fleet.phones[1].1).unwrap();
}

#[test]
fn a_visit_page_shows_its_photos_as_decoded_pictures() {
    let Some(chromium) = find_chromium() else {
        println!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let (fleet, photos) = Fleet::start_with_photos(92);
    let base = fleet.server.url.clone();
    let mut b = Browser::launch(&chromium).unwrap();
    log_in(&mut b, &base, SUPERVISOR);
    b.goto(&format!("{base}/admin/visits/{}?lang=en", photos.first.id))
        .unwrap();
    // Scrolled to, so that lazily loaded pictures load too.
    b.wait_for(
        "document.images.length === 2 && \
         [...document.images].every(i => { i.scrollIntoView(); return i.complete; })",
    )
    .unwrap();
    let widths = b
        .eval("[...document.images].map(i => [i.naturalWidth, i.naturalHeight])")
        .unwrap();
    assert_eq!(
        widths,
        serde_json::json!([[64, 48], [64, 48]]),
        "both 64×48 test JPEGs decoded"
    );
}
