//! Two server instances on one PostgreSQL database, as behind a load balancer
//! (docs/scaling.md): forty phones push visits to either instance at random, concurrently, and
//! pull in between from the other one. Every phone's feed must arrive with no gap and no repeat,
//! every accepted visit must reach every phone whose scope covers it exactly once, and the phones
//! must end holding what the server holds. Enrollment and revocation made through one instance
//! (or by an admin tool on the same database) take effect on the other at once. Skipped, saying
//! so, when `FIELDVISIT_TEST_POSTGRES_URL` is unset.
//!
//! The instances are two processes of their own: this package's `bench` binary re-run as
//! `bench serve-db --db URL` (`fieldvisit_tests::server_process`), which opens the database with
//! `storage::open` and serves it with the same `AppState` and `http::serve` as
//! `fieldvisit-server serve --db URL` (Cargo hands an integration test the path of its own
//! package's binaries only, so the server package's binary cannot be named from here). The two
//! share nothing but the database: each has its own PostgreSQL connections, group committer and
//! listener. The test holds a third set of connections, as the command-line tools would, to load
//! the region, make enrollment codes, revoke, and read what the server stored.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, SystemClock};
use fieldvisit_core::domain::visit::{IdentifiedBy, VisitRecord};
use fieldvisit_core::ids::{CadreId, HouseholdId, OpId, VisitId};
use fieldvisit_core::journal::{OpBody, OpKind};
use fieldvisit_core::protocol::{
    ChangeBody, ErrorCode, PROTOCOL_VERSION, PushedOp, SyncRequest, SyncResponse,
};
use fieldvisit_core::sync::Transport;
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::postgres::ScratchSchema;
use fieldvisit_tests::harness::{RawDevice, admin, now, options, postgres_url, today};
use fieldvisit_tests::server_process::ServerProcess;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PHONES: usize = 40;
const ROUNDS: usize = 4;
const THREADS: usize = 8;
/// The smallest page the server sends: feeds span several pages, fetched from both instances.
const PAGE_BYTES: u32 = 4 * 1024;

/// A protocol-level phone and everything its feed brought it.
struct Phone {
    raw: RawDevice,
    scope: Vec<HouseholdId>,
    cursor: u64,
    /// Every feed position received, in order.
    positions: Vec<u64>,
    /// How often each other phone's visit reached this one, and for which household.
    received: BTreeMap<OpId, (HouseholdId, u32)>,
    /// This phone's own visits.
    pushed: BTreeMap<OpId, HouseholdId>,
    rng: ChaCha8Rng,
}

impl Phone {
    /// One `POST /v1/sync` through `transport`; checks that the page continues the feed exactly
    /// where the cursor stood, and records what it brought.
    fn exchange(&mut self, transport: &HttpTransport, push: Vec<PushedOp>) -> SyncResponse {
        let pushed_to = push.last().map(|op| op.seq);
        let req = SyncRequest {
            protocol: PROTOCOL_VERSION,
            device: self.raw.device,
            app_version: "two-instances".into(),
            device_time: SystemClock.now(),
            push,
            cursor: self.cursor,
            page_bytes: PAGE_BYTES,
            pending: 0,
        };
        let answer = transport
            .sync(&self.raw.token, &req)
            .unwrap_or_else(|e| panic!("sync of {} failed: {e}", self.raw.device))
            .body;
        if let Some(seq) = pushed_to {
            assert_eq!(answer.ack.acked_seq, seq, "{:?}", answer.ack);
            assert!(answer.ack.rejected.is_empty(), "{:?}", answer.ack.rejected);
            assert!(answer.ack.problem.is_none(), "{:?}", answer.ack.problem);
        }
        for (i, change) in answer.changes.iter().enumerate() {
            assert_eq!(
                change.pos,
                self.cursor + 1 + i as u64,
                "phone {} got feed position {} after cursor {}: a gap or a repeat",
                self.raw.device,
                change.pos,
                self.cursor
            );
            self.positions.push(change.pos);
            let ops = match &change.body {
                ChangeBody::Visit { op } => vec![op],
                ChangeBody::Household { visits, .. } => visits.iter().collect(),
                _ => Vec::new(),
            };
            for op in ops {
                let household = op.body().unwrap().household().unwrap().clone();
                self.received.entry(op.id).or_insert((household, 0)).1 += 1;
            }
        }
        assert_eq!(
            answer.cursor,
            self.cursor + answer.changes.len() as u64,
            "the cursor names the last position sent"
        );
        self.cursor = answer.cursor;
        answer
    }

    /// Pulls through `transport` until the feed is drained.
    fn pull_all(&mut self, transport: &HttpTransport) {
        while self.exchange(transport, Vec::new()).more {}
    }

    /// A visit to one of this phone's households, scanned at the door, as a signed operation.
    fn visit(&mut self, region: &Region) -> Option<PushedOp> {
        let id = self.scope.choose(&mut self.rng)?.clone();
        let household = region.households.iter().find(|h| h.id == id)?;
        let at = SystemClock.now();
        let (content, location) = region.visit(&mut self.rng, household, at);
        let body = OpBody::VisitRecorded(VisitRecord {
            id: VisitId::generate(at),
            household: id.clone(),
            cadre: self.raw.cadre.clone(),
            identified: IdentifiedBy::Scan {
                key_id: 1,
                issue: household.plate_issue,
                scanned_at: fieldvisit_core::clock::WallTime(at.0 - 60_000),
            },
            recorded_at: at,
            location: Some(location.rounded()),
            content,
            photos: Vec::new(),
        });
        let op = self.raw.next(&body);
        self.pushed.insert(op.id, id);
        Some(op)
    }
}

/// The two instances on one scratch schema, and the test's own storage on it.
struct Cluster {
    // Field order is drop order: the servers stop before the schema is dropped.
    instances: [ServerProcess; 2],
    storage: std::sync::Arc<dyn Storage>,
    region: Region,
    _schema: ScratchSchema,
}

impl Cluster {
    fn start(url: &str) -> Cluster {
        let schema = ScratchSchema::new(url, "two").unwrap();
        let storage: std::sync::Arc<dyn Storage> = std::sync::Arc::new(schema.storage().unwrap());
        let region = Region::generate(RegionSpec {
            households: 60,
            cadres: 24,
            ..RegionSpec::small(41)
        });
        fieldvisit_server::admin::load_region(storage.as_ref(), &region, &admin(), now()).unwrap();
        let db = schema.url().unwrap();
        let bench = Path::new(env!("CARGO_BIN_EXE_bench"));
        let instances = [
            ServerProcess::start(bench, &db).unwrap(),
            ServerProcess::start(bench, &db).unwrap(),
        ];
        assert_ne!(instances[0].url, instances[1].url);
        Cluster {
            instances,
            storage,
            region,
            _schema: schema,
        }
    }

    fn transport(&self, i: usize) -> HttpTransport {
        HttpTransport::new(&self.instances[i % 2].url).unwrap()
    }
}

#[test]
fn two_instances_on_one_database_deliver_every_feed_without_gap_or_repeat() {
    let Some(url) = postgres_url() else { return };
    let cluster = Cluster::start(&url);
    let storage = cluster.storage.as_ref();
    let region = &cluster.region;

    // Phone i enrolls through instance i mod 2 and pulls its whole scope from the other one.
    // Forty phones for 24 cadres: some cadres carry two phones, which hear of each other's
    // visits like any other phone.
    let mut phones: Vec<Phone> = (0..PHONES)
        .map(|i| {
            let cadre = &region.cadres[i % region.cadres.len()].id;
            let raw = RawDevice::enroll(storage, &cluster.transport(i), cadre, i as u8 + 1);
            let scope = storage
                .read()
                .unwrap()
                .households_in_scope(cadre, today())
                .unwrap();
            let mut phone = Phone {
                raw,
                scope,
                cursor: 0,
                positions: Vec::new(),
                received: BTreeMap::new(),
                pushed: BTreeMap::new(),
                rng: ChaCha8Rng::seed_from_u64(i as u64),
            };
            phone.pull_all(&cluster.transport(i + 1));
            assert!(phone.cursor > 0, "an enrolled phone's feed holds its scope");
            phone
        })
        .collect();
    assert!(phones.iter().all(|p| p.received.is_empty()));

    // Rounds: the phones, in a new random order each round, are taken by eight threads at once;
    // each pushes one or two visits through a random instance, then pulls from the other.
    let mut order = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..ROUNDS {
        phones.shuffle(&mut order);
        let queue = Mutex::new(phones.iter_mut().collect::<Vec<_>>());
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    let transports = [cluster.transport(0), cluster.transport(1)];
                    loop {
                        let Some(phone) = queue.lock().unwrap().pop() else {
                            break;
                        };
                        let via = phone.rng.random_range(0..2usize);
                        let count = phone.rng.random_range(1..=2);
                        let push: Vec<PushedOp> =
                            (0..count).filter_map(|_| phone.visit(region)).collect();
                        phone.exchange(&transports[via], push);
                        phone.pull_all(&transports[1 - via]);
                    }
                });
            }
        });
    }
    // Everyone drains their feed once more, so the last round's visits reach everyone.
    for (i, phone) in phones.iter_mut().enumerate() {
        phone.pull_all(&cluster.transport(i));
    }

    let mut tx = storage.read().unwrap();
    let pushed: BTreeMap<OpId, HouseholdId> = phones
        .iter()
        .flat_map(|p| p.pushed.iter().map(|(id, h)| (*id, h.clone())))
        .collect();
    let (accepted, rejected) = tx.op_counts().unwrap();
    assert_eq!(rejected, 0);
    assert_eq!(accepted as usize, pushed.len(), "every visit stored once");
    assert!(
        pushed.len() >= PHONES * ROUNDS / 2,
        "{} visits",
        pushed.len()
    );
    let mut cadres_of: BTreeMap<HouseholdId, BTreeSet<CadreId>> = BTreeMap::new();
    for h in pushed.values() {
        if !cadres_of.contains_key(h) {
            let cadres = tx.cadres_in_scope(h, today()).unwrap();
            cadres_of.insert(h.clone(), cadres.into_iter().collect());
        }
    }
    let mut deliveries = 0;
    for phone in &phones {
        // The feed as a whole: positions 1, 2, … up to the server's head, each once.
        let head = tx.feed_head(&phone.raw.device).unwrap();
        let expected: Vec<u64> = (1..=head).collect();
        assert_eq!(phone.positions, expected, "phone {}", phone.raw.device);
        assert_eq!(phone.cursor, head);
        // Each other phone's visit arrived exactly once…
        for (id, (_, times)) in &phone.received {
            assert_eq!(*times, 1, "visit {id} reached {} twice", phone.raw.device);
        }
        // …and every visit whose household this phone's cadre is responsible for arrived.
        let owed: BTreeSet<OpId> = pushed
            .iter()
            .filter(|(id, h)| {
                !phone.pushed.contains_key(id) && cadres_of[*h].contains(&phone.raw.cadre)
            })
            .map(|(id, _)| *id)
            .collect();
        let got: BTreeSet<OpId> = phone.received.keys().copied().collect();
        assert_eq!(
            got, owed,
            "phone {} holds what it is owed",
            phone.raw.device
        );
        deliveries += got.len();
        // Converged: for each household in scope, the phone holds the server's visits.
        for h in &phone.scope {
            let server: BTreeSet<OpId> = tx
                .ops_of_household(h, &[OpKind::VisitRecord, OpKind::VisitAmend])
                .unwrap()
                .iter()
                .map(|(op, _)| op.id)
                .collect();
            let held: BTreeSet<OpId> = phone
                .pushed
                .iter()
                .chain(phone.received.iter().map(|(id, (h, _))| (id, h)))
                .filter(|(_, of)| *of == h)
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(held, server, "phone {} on household {h}", phone.raw.device);
        }
    }
    assert!(
        deliveries > pushed.len(),
        "visits were fanned out to other phones"
    );
    drop(tx);
    let audit = fieldvisit_server::audit::audit(storage).unwrap();
    assert!(audit.breaks.is_empty(), "{:?}", audit.breaks);
    assert_eq!(audit.devices as usize, PHONES);
}

#[test]
fn enrollment_and_revocation_through_one_instance_hold_at_once_on_the_other() {
    let Some(url) = postgres_url() else { return };
    let cluster = Cluster::start(&url);
    let storage = cluster.storage.as_ref();
    let (a, b) = (cluster.transport(0), cluster.transport(1));
    let cadre = &cluster.region.cadres[0].id;

    // A phone enrolls through instance A and syncs through B straight away.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("phone.db")).unwrap();
    let code =
        fieldvisit_server::enroll::create_code(storage, cadre, now(), 3_600_000, &admin()).unwrap();
    fieldvisit_core::sync::enroll(&store, &a, &cluster.instances[0].url, &code.code, "test")
        .unwrap();
    let report = fieldvisit_core::sync::sync(&store, &b, &options()).unwrap();
    assert!(report.complete, "{report:?}");
    let scope = storage
        .read()
        .unwrap()
        .households_in_scope(cadre, today())
        .unwrap();
    assert!(!scope.is_empty());
    for h in &scope {
        assert!(
            store.household(h).unwrap().is_some(),
            "{h} reached the phone"
        );
    }
    // Its visit, pushed through B, is stored.
    let household = cluster
        .region
        .households
        .iter()
        .find(|h| h.id == scope[0])
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let at = store.now();
    let (content, location) = cluster.region.visit(&mut rng, household, at);
    let scan = fieldvisit_core::domain::visit::Identification::Scanned {
        payload: cluster.region.plate(household),
        scanned_at: fieldvisit_core::clock::WallTime(at.0 - 60_000),
    };
    store.record_visit(scan, content, Some(location)).unwrap();
    fieldvisit_core::sync::sync(&store, &b, &options()).unwrap();
    assert!(store.unsynced().unwrap().is_empty());
    assert_eq!(storage.read().unwrap().visit_count().unwrap(), 1);

    // Revoked by an admin on the same database (as `fieldvisit-server revoke --db URL` does),
    // right after a sync through B: B's very next answer is 401, and so is A's.
    fieldvisit_core::sync::sync(&store, &b, &options()).unwrap();
    fieldvisit_server::admin::revoke(storage, &store.device_id(), "phone lost", &admin(), now())
        .unwrap();
    match fieldvisit_core::sync::sync(&store, &b, &options()) {
        Err(fieldvisit_core::Error::Revoked { reason }) => assert!(reason.contains("phone lost")),
        other => panic!("a revoked phone synced through B: {other:?}"),
    }
    match fieldvisit_core::sync::sync(&store, &a, &options()) {
        Err(fieldvisit_core::Error::Revoked { .. }) => {}
        other => panic!("a revoked phone synced through A: {other:?}"),
    }

    // A protocol-level phone enrolled through B, revoked between two requests to A: the
    // second gets 401 with the `revoked` code.
    let raw = RawDevice::enroll(storage, &b, cadre, 9);
    let req = |raw: &RawDevice| SyncRequest {
        protocol: PROTOCOL_VERSION,
        device: raw.device,
        app_version: "raw".into(),
        device_time: SystemClock.now(),
        push: Vec::new(),
        cursor: 0,
        page_bytes: PAGE_BYTES,
        pending: 0,
    };
    a.sync(&raw.token, &req(&raw)).unwrap();
    fieldvisit_server::admin::revoke(storage, &raw.device, "left the post", &admin(), now())
        .unwrap();
    match a.sync(&raw.token, &req(&raw)) {
        Err(fieldvisit_core::sync::TransportError::Http { status, body }) => {
            assert_eq!(status, 401);
            assert_eq!(body.map(|b| b.error), Some(ErrorCode::Revoked));
        }
        other => panic!("a revoked phone synced through A: {other:?}"),
    }
}
