//! An in-process sync server on an ephemeral port over a temporary database, with a synthetic
//! region loaded, and device stores enrolled against it over real HTTP. The server runs on
//! SQLite ([`TestServer::start`]), on any storage ([`TestServer::start_on`]), or on a
//! throwaway schema of the PostgreSQL database named by `FIELDVISIT_TEST_POSTGRES_URL`
//! ([`TestServer::start_postgres`]).

use std::sync::Arc;

use chrono::NaiveDate;
use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, ServerTime, SystemClock, WallTime};
use fieldvisit_core::domain::Household;
use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::report::SyncReport;
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{RetryPolicy, Sleeper, SyncOptions, Transport};
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::app::AppState;
use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::postgres::ScratchSchema;
use fieldvisit_server::storage::sqlite::SqliteStorage;
use fieldvisit_server::web::WebConfig;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A running server. Dropping it stops the server and removes its files.
pub struct TestServer {
    pub url: String,
    pub storage: Arc<dyn Storage>,
    pub region: Region,
    pub dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    /// The PostgreSQL schema the storage lives in, dropped last (after the server stops).
    _schema: Option<ScratchSchema>,
}

/// The variable that names the PostgreSQL database tests may use (`.ci/run` sets it).
pub const POSTGRES_URL_VAR: &str = "FIELDVISIT_TEST_POSTGRES_URL";

/// The PostgreSQL URL tests may use, or `None` (printing that the caller is skipped) when
/// `FIELDVISIT_TEST_POSTGRES_URL` is unset.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        println!("skipped: {POSTGRES_URL_VAR} is unset");
    }
    url
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url)
            .finish()
    }
}

/// Sleeps for nothing: retries in tests happen at once.
#[derive(Debug)]
pub struct NoSleep;

impl Sleeper for NoSleep {
    fn sleep(&self, _: std::time::Duration) {}
}

/// Sync options for tests: quick retries.
pub fn options() -> SyncOptions {
    SyncOptions {
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay_ms: 1,
            max_delay_ms: 2,
        },
        sleeper: Arc::new(NoSleep),
        ..SyncOptions::default()
    }
}

/// The admin the tests act as (in the admin log).
pub fn admin() -> fieldvisit_server::admin_log::Actor {
    fieldvisit_server::admin_log::Actor::new("test").expect("a valid actor name")
}

pub fn now() -> ServerTime {
    ServerTime(SystemClock.now().0)
}

pub fn today() -> NaiveDate {
    SystemClock.now().local_date()
}

impl TestServer {
    /// Starts a server over a small synthetic region (3 villages, 40 households).
    pub fn start(seed: u64) -> TestServer {
        Self::start_with(RegionSpec::small(seed))
    }

    pub fn start_with(spec: RegionSpec) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(dir.path().join("server.db")).expect("server database"));
        Self::start_in(dir, storage, spec, None, WebConfig::default())
    }

    /// Starts a server over a small synthetic region with dashboard settings `web`.
    pub fn start_with_web(seed: u64, web: WebConfig) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(dir.path().join("server.db")).expect("server database"));
        Self::start_in(dir, storage, RegionSpec::small(seed), None, web)
    }

    /// Starts a server over `storage` (empty, or holding what the caller put there first).
    pub fn start_on(storage: Arc<dyn Storage>, spec: RegionSpec) -> TestServer {
        Self::start_in(
            tempfile::tempdir().expect("temp dir"),
            storage,
            spec,
            None,
            WebConfig::default(),
        )
    }

    /// Starts a server on a new schema of the PostgreSQL database at `url`, dropped with the
    /// server.
    pub fn start_postgres(url: &str, spec: RegionSpec) -> TestServer {
        let schema = ScratchSchema::new(url, "e2e").expect("a PostgreSQL schema name");
        let storage: Arc<dyn Storage> = Arc::new(schema.storage().expect("PostgreSQL storage"));
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, storage, spec, Some(schema), WebConfig::default())
    }

    fn start_in(
        dir: tempfile::TempDir,
        storage: Arc<dyn Storage>,
        spec: RegionSpec,
        schema: Option<ScratchSchema>,
        web: WebConfig,
    ) -> TestServer {
        let region = Region::generate(spec);
        fieldvisit_server::admin::load_region(storage.as_ref(), &region, &admin(), now())
            .expect("region loads");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("ephemeral port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = AppState::new(storage.clone(), Arc::new(SystemClock))
            .expect("writer thread")
            .with_web(web);
        runtime.spawn(fieldvisit_server::app::serve(
            listener,
            state,
            std::future::pending(),
        ));
        TestServer {
            url,
            storage,
            region,
            dir,
            runtime,
            _schema: schema,
        }
    }

    pub fn transport(&self) -> HttpTransport {
        HttpTransport::new(&self.url).expect("transport")
    }

    /// A new store enrolled for `cadre`, after its first sync.
    pub fn device(&self, cadre: &CadreId) -> Store {
        let n = std::fs::read_dir(self.dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let store = Store::open(self.dir.path().join(format!("device-{n}.db"))).expect("store");
        let code = fieldvisit_server::enroll::create_code(
            self.storage.as_ref(),
            cadre,
            now(),
            3_600_000,
            &admin(),
        )
        .expect("enrollment code");
        fieldvisit_core::sync::enroll(&store, &self.transport(), &self.url, &code.code, "test")
            .expect("enrollment");
        self.sync(&store).expect("first sync");
        store
    }

    pub fn sync(&self, store: &Store) -> fieldvisit_core::Result<SyncReport> {
        fieldvisit_core::sync::sync(store, &self.transport(), &options())
    }

    pub fn sync_via(
        &self,
        store: &Store,
        transport: &dyn Transport,
    ) -> fieldvisit_core::Result<SyncReport> {
        fieldvisit_core::sync::sync(store, transport, &options())
    }

    /// Cadres responsible for `household` today.
    pub fn cadres_of(&self, household: &Household) -> Vec<CadreId> {
        let mut tx = self.storage.read().expect("read");
        tx.cadres_in_scope(&household.id, today()).expect("cadres")
    }

    /// Records a realistic visit by scanning the household's plate.
    pub fn record_visit(
        &self,
        store: &Store,
        household: &Household,
        seed: u64,
    ) -> fieldvisit_core::Result<fieldvisit_core::domain::visit::VisitRecord> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let at = store.now();
        let (content, location) = self.region.visit(&mut rng, household, at);
        let scan = Identification::Scanned {
            payload: self.region.plate(household),
            scanned_at: WallTime(at.0 - 60_000),
        };
        store.record_visit(scan, content, Some(location))
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }
}

/// A phone at the protocol level: its own key and chain, for tests that must push what a
/// genuine store would refuse to make (a modified or hostile client).
pub struct RawDevice {
    pub device: fieldvisit_core::ids::DeviceId,
    pub key: ed25519_dalek::SigningKey,
    pub token: String,
    pub cadre: CadreId,
    pub head: fieldvisit_core::journal::ChainPoint,
    hlc: fieldvisit_core::clock::Hlc,
}

impl std::fmt::Debug for RawDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawDevice")
            .field("device", &self.device)
            .finish()
    }
}

impl TestServer {
    /// Enrolls a protocol-level device for `cadre` with a key made from `seed`.
    pub fn raw_device(&self, cadre: &CadreId, seed: u8) -> RawDevice {
        RawDevice::enroll(self.storage.as_ref(), &self.transport(), cadre, seed)
    }
}

impl RawDevice {
    /// Enrolls a protocol-level device for `cadre` with a key made from `seed`: the code is
    /// made in `storage` (as an admin would), the device redeems it through `transport`.
    pub fn enroll(
        storage: &dyn Storage,
        transport: &dyn Transport,
        cadre: &CadreId,
        seed: u8,
    ) -> RawDevice {
        use fieldvisit_core::protocol::{EnrollRequest, PROTOCOL_VERSION};
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let device = fieldvisit_core::ids::DeviceId::generate(SystemClock.now());
        let code =
            fieldvisit_server::enroll::create_code(storage, cadre, now(), 3_600_000, &admin())
                .expect("enrollment code");
        let answer = transport
            .enroll(&EnrollRequest {
                protocol: PROTOCOL_VERSION,
                code: code.code,
                device,
                public_key: key.verifying_key().to_bytes(),
                app_version: "raw".into(),
            })
            .expect("enrollment");
        RawDevice {
            device,
            key,
            token: answer.body.token,
            cadre: cadre.clone(),
            head: fieldvisit_core::journal::ChainPoint::START,
            hlc: fieldvisit_core::clock::Hlc::ZERO,
        }
    }

    /// The next operation of this device's chain carrying `body`, signed.
    pub fn next(
        &mut self,
        body: &fieldvisit_core::journal::OpBody,
    ) -> fieldvisit_core::protocol::PushedOp {
        let at = SystemClock.now();
        self.hlc = fieldvisit_core::clock::Hlc::tick(self.hlc, at);
        let op = fieldvisit_core::journal::UnsignedOperation {
            id: fieldvisit_core::ids::OpId::generate(at),
            device: self.device,
            seq: self.head.seq + 1,
            hlc: self.hlc,
            wall: at,
            kind: body.kind().into(),
            payload: body.to_payload().expect("payload"),
            prev_hash: self.head.hash,
        }
        .sign(&self.key);
        self.head = fieldvisit_core::journal::ChainPoint {
            seq: op.seq,
            hash: op.digest(),
        };
        fieldvisit_core::protocol::PushedOp::from_operation(&op)
    }

    /// Pushes `ops` in one request and returns the server's answer.
    pub fn push(
        &self,
        server: &TestServer,
        ops: Vec<fieldvisit_core::protocol::PushedOp>,
    ) -> Result<fieldvisit_core::protocol::SyncResponse, fieldvisit_core::sync::TransportError>
    {
        use fieldvisit_core::protocol::{DEFAULT_PAGE_BYTES, PROTOCOL_VERSION, SyncRequest};
        let req = SyncRequest {
            protocol: PROTOCOL_VERSION,
            device: self.device,
            app_version: "raw".into(),
            device_time: SystemClock.now(),
            push: ops,
            cursor: 0,
            page_bytes: DEFAULT_PAGE_BYTES,
            pending: 0,
        };
        server.transport().sync(&self.token, &req).map(|e| e.body)
    }
}
