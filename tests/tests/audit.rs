//! `fieldvisit-server audit`: every device's chain in the server database verifies, and a
//! tampered, reordered or deleted operation is named with its device.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::journal::BreakKind;
use fieldvisit_server::audit::audit;
use fieldvisit_tests::harness::{TestServer, today};

fn server_with_history() -> (TestServer, Vec<fieldvisit_core::Store>) {
    let server = TestServer::start(51);
    let cadres: Vec<_> = server
        .region
        .cadres
        .iter()
        .filter(|c| c.role == "assisting")
        .take(2)
        .map(|c| c.id.clone())
        .collect();
    let phones: Vec<_> = cadres.iter().map(|c| server.device(c)).collect();
    for (i, phone) in phones.iter().enumerate() {
        let h = server.region.households_of(&cadres[i], today())[0].clone();
        for n in 0..4 {
            server.record_visit(phone, &h, n).unwrap();
        }
        server.sync(phone).unwrap();
    }
    (server, phones)
}

fn raw(server: &TestServer) -> rusqlite::Connection {
    rusqlite::Connection::open(server.dir.path().join("server.db")).unwrap()
}

#[test]
fn an_intact_database_audits_clean() {
    let (server, _) = server_with_history();
    let report = audit(server.storage.as_ref()).unwrap();
    assert_eq!(
        (report.devices, report.operations, report.breaks.len()),
        (2, 8, 0)
    );
}

#[test]
fn a_tampered_operation_is_named_with_its_device() {
    let (server, phones) = server_with_history();
    let device = phones[1].device_id().to_string();
    raw(&server)
        .execute(
            "UPDATE op SET payload = payload || ' ' WHERE device = ?1 AND seq = 3",
            [&device],
        )
        .unwrap();
    let report = audit(server.storage.as_ref()).unwrap();
    assert_eq!(report.breaks.len(), 1);
    assert_eq!(report.breaks[0].device, phones[1].device_id());
    assert_eq!(
        (report.breaks[0].at.seq, report.breaks[0].at.problem.clone()),
        (3, BreakKind::BadSignature)
    );
}

#[test]
fn a_deleted_operation_is_found_in_the_middle_and_at_the_end() {
    let (server, phones) = server_with_history();
    let (a, b) = (
        phones[0].device_id().to_string(),
        phones[1].device_id().to_string(),
    );
    let db = raw(&server);
    db.execute("DELETE FROM op WHERE device = ?1 AND seq = 2", [&a])
        .unwrap();
    db.execute("DELETE FROM op WHERE device = ?1 AND seq = 4", [&b])
        .unwrap();
    let report = audit(server.storage.as_ref()).unwrap();
    let problems: Vec<BreakKind> = report.breaks.iter().map(|b| b.at.problem.clone()).collect();
    assert!(
        problems.contains(&BreakKind::Gap {
            expected: 2,
            found: 3
        }),
        "{problems:?}"
    );
    assert!(
        problems.contains(&BreakKind::Truncated {
            expected: 4,
            found: 3
        }),
        "{problems:?}"
    );
}
