//! A deterministic randomized simulation of the whole system: a real server (restarted now and
//! then) and several phones that work offline — visits, amendments, household and member
//! edits — and sync at random moments through a link that drops requests, loses responses
//! after the server committed, and sends requests twice; the county reassigns households and
//! revokes and re-enrolls phones meanwhile; and an earlier request of a phone may reach the
//! server after a later one. After everyone finally syncs on a clean link, the
//! invariants of `check` must hold.
//!
//! A seed fixes every choice the simulation makes, and the phones' clocks (a shared manual
//! clock), so a failing seed replays the same sequence of actions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, ManualClock, ServerTime, SystemClock, WallTime};
use fieldvisit_core::domain::visit::{Identification, VisitAmendment, VisitChanges};
use fieldvisit_core::ids::{CadreId, HouseholdId, VisitId};
use fieldvisit_core::journal::{ChainPoint, OpBody, OpKind, verify_chain};
use fieldvisit_core::protocol::PhotoStatus;
use fieldvisit_core::protocol::{EnrollRequest, EnrollResponse, SyncRequest, SyncResponse};
use fieldvisit_core::store::OpState;
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{Exchange, Transport, TransportError};
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::app::AppState;
use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::sqlite::SqliteStorage;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::harness::options;

/// The size of one simulated world.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    pub seed: u64,
    pub devices: usize,
    pub steps: usize,
    /// Probability that a sync exchange meets a fault.
    pub fault_rate: f64,
}

/// What one run did, for the reliability report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SimStats {
    pub operations: u64,
    pub visits: u64,
    pub syncs: u64,
    pub faults: u64,
    pub restarts: u64,
    pub reassignments: u64,
    pub revocations: u64,
    pub rejected: u64,
    pub conflicts: u64,
}

struct Server {
    db: PathBuf,
    url: Arc<RwLock<String>>,
    storage: Arc<dyn Storage>,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start(db: PathBuf, url: Arc<RwLock<String>>) -> Result<Server, String> {
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(&db).map_err(|e| e.to_string())?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut server = Server {
            db,
            url,
            storage,
            runtime,
            stop: None,
            task: None,
        };
        server.listen()?;
        Ok(server)
    }

    fn listen(&mut self) -> Result<(), String> {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let state = AppState::new(self.storage.clone(), Arc::new(SystemClock))
            .map_err(|e| e.to_string())?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        self.task = Some(
            self.runtime
                .spawn(fieldvisit_server::app::serve(listener, state, shutdown)),
        );
        self.stop = Some(stop);
        if let Ok(mut url) = self.url.write() {
            *url = format!("http://{address}");
        }
        Ok(())
    }

    /// Stops serving, closes the database and opens it again on a new port.
    fn restart(&mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self.runtime.block_on(task);
        }
        self.storage = Arc::new(SqliteStorage::open(&self.db).map_err(|e| e.to_string())?);
        self.listen()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    DropRequest,
    DropResponse,
    Duplicate,
    /// An earlier request of the same phone, held up somewhere on the network, reaches the
    /// server after the current one.
    LateEarlierRequest,
}

/// The link between the phones and the server: it follows the server to its current address
/// and injects faults drawn from the simulation's own random stream.
struct FaultyLink {
    url: Arc<RwLock<String>>,
    rng: Mutex<ChaCha8Rng>,
    fault_rate: Mutex<f64>,
    faults: AtomicU64,
    /// Every phone's previous request, to be delivered late by `LateEarlierRequest`.
    earlier: Mutex<BTreeMap<fieldvisit_core::ids::DeviceId, (String, SyncRequest)>>,
}

impl FaultyLink {
    fn transport(&self) -> Result<HttpTransport, TransportError> {
        let url = self.url.read().map(|u| u.clone()).unwrap_or_default();
        HttpTransport::new(&url)
    }

    fn draw(&self) -> Fault {
        let rate = self.fault_rate.lock().map(|r| *r).unwrap_or(0.0);
        let Ok(mut rng) = self.rng.lock() else {
            return Fault::None;
        };
        if !rng.random_bool(rate.clamp(0.0, 1.0)) {
            return Fault::None;
        }
        *[
            Fault::DropRequest,
            Fault::DropResponse,
            Fault::Duplicate,
            Fault::LateEarlierRequest,
        ]
        .choose(&mut *rng)
        .unwrap_or(&Fault::None)
    }
}

impl Transport for FaultyLink {
    fn enroll(&self, req: &EnrollRequest) -> Result<Exchange<EnrollResponse>, TransportError> {
        self.transport()?.enroll(req)
    }

    fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> Result<Exchange<SyncResponse>, TransportError> {
        let fault = self.draw();
        if fault != Fault::None {
            self.faults.fetch_add(1, Ordering::Relaxed);
        }
        let transport = self.transport()?;
        let earlier = self
            .earlier
            .lock()
            .ok()
            .and_then(|mut e| e.insert(req.device, (token.to_string(), req.clone())));
        match fault {
            Fault::None => transport.sync(token, req),
            Fault::LateEarlierRequest => {
                let answer = transport.sync(token, req);
                if let Some((token, stale)) = earlier {
                    // Its answer goes nowhere: the phone stopped waiting for it long ago.
                    let _ = transport.sync(&token, &stale);
                }
                answer
            }
            Fault::DropRequest => Err(TransportError::Offline("simulated: request lost".into())),
            Fault::DropResponse => {
                transport.sync(token, req)?;
                Err(TransportError::Offline(
                    "simulated: response lost after commit".into(),
                ))
            }
            Fault::Duplicate => {
                let _ = transport.sync(token, req);
                transport.sync(token, req)
            }
        }
    }

    fn photo_status(
        &self,
        token: &str,
        sha256: &str,
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        self.transport()?.photo_status(token, sha256)
    }

    fn put_photo_chunk(
        &self,
        token: &str,
        sha256: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        self.transport()?
            .put_photo_chunk(token, sha256, index, bytes)
    }

    fn fetch_dictionary(&self, token: &str, id: u32) -> Result<Exchange<Vec<u8>>, TransportError> {
        self.transport()?.fetch_dictionary(token, id)
    }

    /// Every exchange makes a fresh client, so the link keeps no dictionary: phones in the
    /// simulation send plain zstd bodies.
    fn use_dictionary(&self, _: Option<&[u8]>) -> Result<Option<u32>, TransportError> {
        Ok(None)
    }
}

struct Phone {
    store: Store,
    cadre: CadreId,
    revoked: bool,
}

fn enroll(
    server: &Server,
    link: &FaultyLink,
    phone: &Store,
    cadre: &CadreId,
) -> Result<(), String> {
    let now = ServerTime(SystemClock.now().0);
    let code = fieldvisit_server::enroll::create_code(
        server.storage.as_ref(),
        cadre,
        now,
        3_600_000,
        &sim_admin(),
    )
    .map_err(|e| e.to_string())?;
    fieldvisit_core::sync::enroll(phone, link, "sim", &code.code, "sim")
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs one world and checks its invariants; `Err` names the first one broken.
pub fn run(config: SimConfig) -> Result<SimStats, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let region = Region::generate(RegionSpec::small(config.seed));
    let url = Arc::new(RwLock::new(String::new()));
    let mut server = Server::start(dir.path().join("server.db"), url.clone())?;
    fieldvisit_server::admin::load_region(
        server.storage.as_ref(),
        &region,
        &sim_admin(),
        ServerTime(SystemClock.now().0),
    )
    .map_err(|e| e.to_string())?;
    let link = FaultyLink {
        url,
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed)),
        fault_rate: Mutex::new(config.fault_rate),
        faults: AtomicU64::new(0),
        earlier: Mutex::new(BTreeMap::new()),
    };
    // The phones' shared clock starts two hours ago and moves forward with every step.
    let clock = Arc::new(ManualClock::new(WallTime(
        SystemClock.now().0 - 2 * 3_600_000,
    )));
    let today = SystemClock.now().local_date();
    let mut stats = SimStats::default();

    // Cadres whose households overlap, so that phones share households.
    let mut cadres: Vec<CadreId> = region.cadres.iter().map(|c| c.id.clone()).collect();
    cadres.sort();
    let mut phones = Vec::new();
    for i in 0..config.devices.min(cadres.len()) {
        let cadre = cadres[(i * 7 + config.seed as usize) % cadres.len()].clone();
        let store = Store::open_with_clock(dir.path().join(format!("phone-{i}.db")), clock.clone())
            .map_err(|e| e.to_string())?;
        enroll(&server, &link, &store, &cadre)?;
        phones.push(Phone {
            store,
            cadre,
            revoked: false,
        });
    }

    let mut own_visits: Vec<Vec<VisitId>> = vec![Vec::new(); phones.len()];
    for _ in 0..config.steps {
        clock.advance_ms(rng.random_range(1_000..100_000));
        let p = rng.random_range(0..phones.len());
        let phone = &phones[p];
        let households = phone.store.households(None, 1000).unwrap_or_default();
        match rng.random_range(0..100) {
            0..=29 if !households.is_empty() => {
                let h = &households[rng.random_range(0..households.len())];
                let Some(household) = region.households.iter().find(|x| x.id == h.id) else {
                    continue;
                };
                let at = phone.store.now();
                let (content, location) = region.visit(&mut rng, household, at);
                let ident = if rng.random_bool(0.85) {
                    Identification::Scanned {
                        payload: region.plate(household),
                        scanned_at: WallTime(at.0 - 30_000),
                    }
                } else {
                    Identification::Manual {
                        code: household.code.to_string(),
                        reason: "门牌污损看不清".into(),
                    }
                };
                if let Ok(record) = phone.store.record_visit(ident, content, Some(location)) {
                    own_visits[p].push(record.id);
                    stats.visits += 1;
                }
            }
            30..=37 if !own_visits[p].is_empty() => {
                let visit = own_visits[p][rng.random_range(0..own_visits[p].len())];
                let changes = VisitChanges {
                    diary: Some(format!("补充记录：第{}步回访情况已核实。", stats.syncs)),
                    ..Default::default()
                };
                let _ = phone.store.amend_visit(VisitAmendment {
                    visit,
                    reason: "补充".into(),
                    changes,
                });
            }
            38..=49 if !households.is_empty() => {
                let h = &households[rng.random_range(0..households.len())];
                let phone_number = format!("139{:08}", rng.random_range(0..100_000_000u32));
                let _ = phone
                    .store
                    .update_household(&h.id, [("phone".to_string(), phone_number.into())].into());
            }
            50..=54 if !households.is_empty() => {
                let h = &households[rng.random_range(0..households.len())];
                if let Ok(Some(detail)) = phone.store.household(&h.id) {
                    if let Some(m) = detail.members.first() {
                        let months: i64 = rng.random_range(0..=12);
                        let _ = phone.store.update_member(
                            &m.id,
                            [("work_months".to_string(), months.into())].into(),
                        );
                    }
                }
            }
            55..=84 if !phone.revoked => {
                stats.syncs += 1;
                let _ = fieldvisit_core::sync::sync(&phone.store, &link, &options());
            }
            85..=89 => {
                // The county moves a household to another phone's cadre.
                let h = region.households[rng.random_range(0..region.households.len())]
                    .id
                    .clone();
                let to = phones[rng.random_range(0..phones.len())].cadre.clone();
                if fieldvisit_server::admin::reassign(
                    server.storage.as_ref(),
                    &h,
                    &to,
                    today,
                    &sim_admin(),
                    ServerTime(SystemClock.now().0),
                )
                .is_ok()
                {
                    stats.reassignments += 1;
                }
            }
            90..=92 if !phone.revoked => {
                let now = ServerTime(SystemClock.now().0);
                fieldvisit_server::admin::revoke(
                    server.storage.as_ref(),
                    &phone.store.device_id(),
                    "simulated loss",
                    &sim_admin(),
                    now,
                )
                .map_err(|e| e.to_string())?;
                phones[p].revoked = true;
                stats.revocations += 1;
            }
            93..=95 if phone.revoked => {
                // Found again: the admin re-enrolls it; its journal carries on.
                let cadre = phone.cadre.clone();
                enroll(&server, &link, &phones[p].store, &cadre)?;
                phones[p].revoked = false;
            }
            96..=99 => {
                server.restart()?;
                stats.restarts += 1;
            }
            _ => {}
        }
    }

    // The link heals and every phone comes back: re-enrolled if revoked, then synced until
    // nothing is left (twice round, so that everyone sees everyone's last changes).
    if let Ok(mut rate) = link.fault_rate.lock() {
        *rate = 0.0;
    }
    for phone in phones.iter_mut().filter(|p| p.revoked) {
        let cadre = phone.cadre.clone();
        enroll(&server, &link, &phone.store, &cadre)?;
        phone.revoked = false;
    }
    for round in 0..3 {
        for (i, phone) in phones.iter().enumerate() {
            let report = fieldvisit_core::sync::sync(&phone.store, &link, &options())
                .map_err(|e| format!("final sync of phone {i}, round {round}: {e}"))?;
            if !report.complete {
                return Err(format!("phone {i} did not finish syncing: {report:?}"));
            }
        }
    }
    stats.faults = link.faults.load(Ordering::Relaxed);
    check(&server, &phones, today, &mut stats)?;
    Ok(stats)
}

/// Every household row the phone's store holds, whatever its own clock says about scope.
fn held_households(phone: &Phone) -> Result<BTreeSet<HouseholdId>, String> {
    let db = rusqlite::Connection::open_with_flags(
        phone.store.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(err)?;
    let mut stmt = db.prepare("SELECT id FROM household").map_err(err)?;
    let ids = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
    let mut out = BTreeSet::new();
    for id in ids {
        out.insert(HouseholdId::new(id.map_err(err)?).map_err(err)?);
    }
    Ok(out)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The invariants, checked against the server's database and every phone's store.
fn check(
    server: &Server,
    phones: &[Phone],
    today: chrono::NaiveDate,
    stats: &mut SimStats,
) -> Result<(), String> {
    let mut tx = server.storage.read().map_err(err)?;
    let mut rejected_ops = BTreeSet::new();
    for (device, rejection) in tx.rejections(usize::MAX).map_err(err)? {
        rejected_ops.insert((device, rejection.op));
    }
    stats.rejected = rejected_ops.len() as u64;
    let conflicts = tx.conflicts(usize::MAX).map_err(err)?;
    stats.conflicts = conflicts.len() as u64;
    // Every accepted household and member field value, for the conflict-log accounting.
    let mut writes: Vec<Write> = Vec::new();

    for (i, phone) in phones.iter().enumerate() {
        let device = phone.store.device_id();
        let local = phone.store.operations(0, usize::MAX).map_err(err)?;
        let stored = tx.ops_of_device(&device, 0, usize::MAX).map_err(err)?;
        stats.operations += local.len() as u64;
        // 1. Every journal operation is on the server exactly once, byte for byte.
        if local != stored {
            return Err(format!(
                "phone {i}: {} operations on the phone, {} on the server, or they differ",
                local.len(),
                stored.len()
            ));
        }
        // 2. The chain verifies on both sides.
        phone
            .store
            .verify_journal()
            .map_err(|e| format!("phone {i}: {e}"))?;
        let record = tx
            .device(&device)
            .map_err(err)?
            .ok_or(format!("phone {i} unknown to the server"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&record.public_key).map_err(err)?;
        let end = verify_chain(&device, &key, ChainPoint::START, &stored)
            .map_err(|e| format!("server copy of phone {i}: {e}"))?;
        if end != record.head {
            return Err(format!(
                "phone {i}: server head {:?} is not the end of its chain {:?}",
                record.head, end
            ));
        }
        // 3. No visit lost: each is accepted on the server or rejected there with a reason,
        //    and the phone shows the same state.
        for op in &local {
            let state = phone.store.operation_state(op.id).map_err(err)?;
            let rejected = rejected_ops.contains(&(device, op.id));
            match (state, rejected) {
                (Some(OpState::Synced), false) | (Some(OpState::Rejected), true) => {}
                other => {
                    return Err(format!(
                        "phone {i} op {}: phone state {:?}, server rejected {}",
                        op.seq, other.0, other.1
                    ));
                }
            }
            match op.body().map_err(err)? {
                OpBody::VisitRecorded(v)
                    if !rejected && tx.visit_owner(&v.id).map_err(err)?.is_none() =>
                {
                    return Err(format!(
                        "phone {i}: accepted visit {} missing on the server",
                        v.id
                    ));
                }
                OpBody::HouseholdUpdated(u) if !rejected => {
                    for (field, value) in u.fields {
                        let id = u.household.to_string();
                        writes.push(Write {
                            entity: "household",
                            id,
                            field,
                            value,
                            device,
                            hlc: op.hlc.as_u64(),
                        });
                    }
                }
                OpBody::MemberUpdated(u) if !rejected => {
                    for (field, value) in u.fields {
                        let id = u.member.to_string();
                        writes.push(Write {
                            entity: "member",
                            id,
                            field,
                            value,
                            device,
                            hlc: op.hlc.as_u64(),
                        });
                    }
                }
                _ => {}
            }
        }
    }
    // 4. Every phone's view equals the server's view of its scope.
    for (i, phone) in phones.iter().enumerate() {
        let scope: BTreeSet<HouseholdId> = tx
            .households_in_scope(&phone.cadre, today)
            .map_err(err)?
            .into_iter()
            .collect();
        let held = held_households(phone)?;
        if scope != held {
            return Err(format!(
                "phone {i}: holds {} households, its scope has {}",
                held.len(),
                scope.len()
            ));
        }
        for h in &scope {
            let server_h = tx.household(h).map_err(err)?.ok_or("household vanished")?;
            let phone_h = phone
                .store
                .household(h)
                .map_err(err)?
                .ok_or("household vanished on phone")?;
            if server_h.phone != phone_h.household.phone {
                return Err(format!(
                    "phone {i}: household {h} phone differs from the server's"
                ));
            }
            let server_members = tx.members_of(h).map_err(err)?;
            for m in &phone_h.members {
                let s = server_members
                    .iter()
                    .find(|s| s.id == m.id)
                    .ok_or(format!("phone {i}: extra member"))?;
                if s.work_months != m.work_months {
                    return Err(format!("phone {i}: member {} work months differ", m.id));
                }
            }
            let on_phone: BTreeSet<VisitId> = phone
                .store
                .visits_for(h)
                .map_err(err)?
                .into_iter()
                .filter(|v| v.sync_state != Some(OpState::Rejected))
                .map(|v| v.id)
                .collect();
            let on_server: BTreeSet<VisitId> = tx
                .ops_of_household(h, &[OpKind::VisitRecord])
                .map_err(err)?
                .into_iter()
                .filter_map(|(op, _)| match op.body() {
                    Ok(OpBody::VisitRecorded(v)) => Some(v.id),
                    _ => None,
                })
                .collect();
            if on_phone != on_server {
                return Err(format!(
                    "phone {i}: household {h} has {} visits on the phone, {} on the server",
                    on_phone.len(),
                    on_server.len()
                ));
            }
        }
    }
    // 5. The conflict log accounts for every overwritten value: each accepted write is the
    //    final value, or was replaced later by the same phone, or is in the log as a loser.
    let losers: BTreeSet<(String, String, String, String)> = conflicts
        .iter()
        .map(|c| {
            (
                c.entity.clone(),
                c.entity_id.clone(),
                c.field.clone(),
                c.losing_value.to_string(),
            )
        })
        .collect();
    let mut last_by_device: BTreeMap<(&str, &str, &str, fieldvisit_core::ids::DeviceId), u64> =
        BTreeMap::new();
    for w in &writes {
        let e = last_by_device
            .entry((w.entity, &w.id, &w.field, w.device))
            .or_insert(0);
        *e = (*e).max(w.hlc);
    }
    for w in &writes {
        let current = tx.field_value(w.entity, &w.id, &w.field).map_err(err)?;
        let superseded_by_self = last_by_device
            .get(&(w.entity, &w.id, &w.field, w.device))
            .is_some_and(|last| *last > w.hlc);
        let logged = losers.contains(&(
            w.entity.to_string(),
            w.id.clone(),
            w.field.clone(),
            w.value.to_string(),
        ));
        if current != w.value && !superseded_by_self && !logged {
            return Err(format!(
                "{} {} {}: an accepted value vanished without a conflict record",
                w.entity, w.id, w.field
            ));
        }
    }
    Ok(())
}

/// One accepted field write, as pushed.
struct Write {
    entity: &'static str,
    id: String,
    field: String,
    value: serde_json::Value,
    device: fieldvisit_core::ids::DeviceId,
    hlc: u64,
}

/// The admin the simulation acts as (in the admin log).
fn sim_admin() -> fieldvisit_server::admin_log::Actor {
    fieldvisit_server::admin_log::Actor::new("simulation").expect("a valid actor name")
}
