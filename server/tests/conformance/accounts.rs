//! Conformance checks for [`Accounts`](fieldvisit_server::storage::Accounts), dashboard
//! accounts and sessions: every backend must keep names unique, disable without deleting,
//! end an account's sessions when it is disabled, and expire idle sessions.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_server::storage::{AdminSession, AdminUser, Storage};

const T0: i64 = 1_700_000_000_000;

fn account(name: &str, role: &str) -> AdminUser {
    AdminUser {
        name: name.into(),
        role: role.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{name}"),
        created_at: ServerTime(T0),
        disabled_at: None,
        failed_logins: 0,
        locked_until: None,
    }
}

fn session(byte: u8, admin: &str, seen: i64) -> AdminSession {
    AdminSession {
        token_hash: [byte; 32],
        admin: admin.into(),
        csrf_token: format!("csrf-{byte}"),
        created_at: ServerTime(T0),
        last_seen: ServerTime(seen),
    }
}

pub fn admin_users_are_unique_and_listed_by_name(storage: &dyn Storage) {
    let mut tx = storage.write().unwrap();
    assert!(
        tx.insert_admin_user(&account("wang", "supervisor"))
            .unwrap()
    );
    assert!(tx.insert_admin_user(&account("li", "sync-admin")).unwrap());
    let mut taken = account("wang", "sync-admin");
    taken.password_hash = "other".into();
    assert!(
        !tx.insert_admin_user(&taken).unwrap(),
        "a taken name is refused"
    );
    tx.commit().unwrap();

    let mut tx = storage.read().unwrap();
    let wang = tx.admin_user("wang").unwrap().unwrap();
    assert_eq!(
        wang,
        account("wang", "supervisor"),
        "the first account is kept"
    );
    assert_eq!(tx.admin_user("nobody").unwrap(), None);
    let names: Vec<String> = tx
        .admin_users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["li", "wang"]);
}

pub fn disabling_an_admin_keeps_the_account_and_ends_its_sessions(storage: &dyn Storage) {
    let mut tx = storage.write().unwrap();
    tx.insert_admin_user(&account("wang", "supervisor"))
        .unwrap();
    tx.insert_admin_user(&account("li", "sync-admin")).unwrap();
    tx.insert_admin_session(&session(1, "wang", T0)).unwrap();
    tx.insert_admin_session(&session(2, "wang", T0)).unwrap();
    tx.insert_admin_session(&session(3, "li", T0)).unwrap();
    assert!(tx.disable_admin_user("wang", ServerTime(T0 + 5)).unwrap());
    assert!(!tx.disable_admin_user("nobody", ServerTime(T0 + 5)).unwrap());
    // Disabling again keeps the first time.
    assert!(tx.disable_admin_user("wang", ServerTime(T0 + 9)).unwrap());
    tx.commit().unwrap();

    let mut tx = storage.read().unwrap();
    let wang = tx.admin_user("wang").unwrap().unwrap();
    assert_eq!(wang.disabled_at, Some(ServerTime(T0 + 5)));
    assert_eq!(tx.admin_session(&[1; 32]).unwrap(), None);
    assert_eq!(tx.admin_session(&[2; 32]).unwrap(), None);
    assert_eq!(
        tx.admin_session(&[3; 32]).unwrap(),
        Some(session(3, "li", T0)),
        "another admin's session stays"
    );
}

pub fn login_failures_are_counted_and_cleared(storage: &dyn Storage) {
    let mut tx = storage.write().unwrap();
    tx.insert_admin_user(&account("wang", "supervisor"))
        .unwrap();
    tx.set_login_failures("wang", 5, Some(ServerTime(T0 + 900_000)))
        .unwrap();
    tx.commit().unwrap();
    let wang = storage.read().unwrap().admin_user("wang").unwrap().unwrap();
    assert_eq!(
        (wang.failed_logins, wang.locked_until),
        (5, Some(ServerTime(T0 + 900_000)))
    );

    let mut tx = storage.write().unwrap();
    tx.set_login_failures("wang", 0, None).unwrap();
    tx.commit().unwrap();
    let wang = storage.read().unwrap().admin_user("wang").unwrap().unwrap();
    assert_eq!((wang.failed_logins, wang.locked_until), (0, None));
}

pub fn admin_sessions_touch_end_and_expire(storage: &dyn Storage) {
    let mut tx = storage.write().unwrap();
    tx.insert_admin_user(&account("wang", "supervisor"))
        .unwrap();
    tx.insert_admin_session(&session(1, "wang", T0)).unwrap();
    tx.insert_admin_session(&session(2, "wang", T0)).unwrap();
    tx.insert_admin_session(&session(3, "wang", T0)).unwrap();
    tx.touch_admin_session(&[2; 32], ServerTime(T0 + 1_000))
        .unwrap();
    tx.commit().unwrap();

    let got = storage.read().unwrap().admin_session(&[2; 32]).unwrap();
    assert_eq!(got, Some(session(2, "wang", T0 + 1_000)));

    let mut tx = storage.write().unwrap();
    assert!(tx.delete_admin_session(&[3; 32]).unwrap());
    assert!(!tx.delete_admin_session(&[3; 32]).unwrap(), "already ended");
    assert_eq!(
        tx.delete_idle_admin_sessions(ServerTime(T0 + 500)).unwrap(),
        1,
        "only the session idle since T0 expires"
    );
    tx.commit().unwrap();

    let mut tx = storage.read().unwrap();
    assert_eq!(tx.admin_session(&[1; 32]).unwrap(), None);
    assert!(tx.admin_session(&[2; 32]).unwrap().is_some());
    assert_eq!(tx.admin_session(&[3; 32]).unwrap(), None);
}

pub fn a_dropped_write_creates_no_admin(storage: &dyn Storage) {
    {
        let mut tx = storage.write().unwrap();
        tx.insert_admin_user(&account("wang", "supervisor"))
            .unwrap();
    }
    assert_eq!(storage.read().unwrap().admin_user("wang").unwrap(), None);
}
