//! A fresh phone's first sync: a first secretary's new phone (one whole village in scope)
//! enrolls on a server that already holds a year of that village's visits, and pulls
//! everything it is responsible for. Bytes down and requests, with plain zstd and with the
//! server's compression dictionary (fetched at enrollment, counted separately).

use ed25519_dalek::SigningKey;
use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, Hlc, ServerTime, SystemClock, WallTime};
use fieldvisit_core::ids::DeviceId;
use fieldvisit_core::journal::ChainPoint;
use fieldvisit_core::protocol::{
    DEFAULT_PAGE_BYTES, EnrollRequest, PROTOCOL_VERSION, PushedOp, SyncRequest,
};
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{SyncOptions, Transport};
use fieldvisit_core::synth::RegionSpec;
use fieldvisit_tests::harness::TestServer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fleet::{Phone, earlier_days_dictionary, median, visit_op};

type BoxError = Box<dyn std::error::Error>;
const DAY_MS: i64 = 86_400_000;
/// About monthly: the rate counties require.
pub const VISITS_PER_HOUSEHOLD: usize = 12;

#[derive(clap::Args, Debug)]
pub struct FirstSyncArgs {
    /// Visits per household over the past year (the required rate is about monthly).
    #[arg(long, default_value_t = VISITS_PER_HOUSEHOLD)]
    pub visits_per_household: usize,
}

struct Outcome {
    households: u64,
    visits: usize,
    pulled: u64,
    requests: u32,
    bytes_down: u64,
    bytes_up: u64,
    dictionary_bytes: usize,
}

fn one(args: &FirstSyncArgs, seed: u64, dictionary: Option<&[u8]>) -> Result<Outcome, BoxError> {
    // The city, loaded into a temporary embedded database and served on an ephemeral port.
    let server = TestServer::start_with(RegionSpec::hulunbuir(seed));
    let (region, storage, url) = (&server.region, &server.storage, &server.url);
    let day = SystemClock.now().local_date();
    let secretary = region
        .cadres
        .iter()
        .filter(|c| c.role == "first_secretary")
        .max_by_key(|c| region.households_of(&c.id, day).len())
        .ok_or("no first secretary")?;
    let households = region.households_of(&secretary.id, day);
    let actor = fieldvisit_server::admin_log::Actor::new("bench")?;
    let now = ServerTime(SystemClock.now().0);

    // The year before: the secretary's old phone recorded every household about monthly.
    let transport = HttpTransport::new(url)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let code = fieldvisit_server::enroll::create_code(
        storage.as_ref(),
        &secretary.id,
        now,
        3_600_000,
        &actor,
    )?;
    let key = SigningKey::from_bytes(&rng.random());
    let device = DeviceId::generate(SystemClock.now());
    let answer = transport.enroll(&EnrollRequest {
        protocol: PROTOCOL_VERSION,
        code: code.code,
        device,
        public_key: key.verifying_key().to_bytes(),
        app_version: "bench".into(),
    })?;
    let mut old = Phone {
        cadre: secretary.id.clone(),
        device,
        key,
        token: answer.body.token,
        head: ChainPoint::START,
        hlc: Hlc::ZERO,
        cursor: 0,
    };
    let total = households.len() * args.visits_per_household;
    let start = SystemClock.now().0 - 365 * DAY_MS;
    let mut ops = Vec::with_capacity(total);
    for i in 0..total {
        let h = households[i % households.len()];
        let at = WallTime(start + (i as i64) * (365 * DAY_MS) / (total as i64).max(1));
        ops.push(PushedOp::from_operation(&visit_op(
            region, &mut rng, &mut old, h, at,
        )?));
    }
    for batch in ops.chunks(400) {
        let answer = transport.sync(
            &old.token,
            &SyncRequest {
                protocol: PROTOCOL_VERSION,
                device: old.device,
                app_version: "bench".into(),
                device_time: SystemClock.now(),
                push: batch.to_vec(),
                cursor: 0,
                page_bytes: 1024,
                pending: 0,
            },
        )?;
        if answer.body.ack.problem.is_some() || !answer.body.ack.rejected.is_empty() {
            return Err(format!("history refused: {:?}", answer.body.ack).into());
        }
    }
    let mut dictionary_bytes = 0;
    if let Some(bytes) = dictionary {
        fieldvisit_server::dictionary::install(
            storage.as_ref(),
            bytes.to_vec(),
            20_000,
            &actor,
            now,
        )?;
        dictionary_bytes = bytes.len();
    }

    // The new phone: enroll (fetching the dictionary, if any), then the first sync, timed by
    // what crosses the wire.
    let store = Store::open(server.dir.path().join("new-phone.db"))?;
    let code = fieldvisit_server::enroll::create_code(
        storage.as_ref(),
        &secretary.id,
        now,
        3_600_000,
        &actor,
    )?;
    let fresh = HttpTransport::new(url)?;
    fieldvisit_core::sync::enroll(&store, &fresh, url, &code.code, "bench")?;
    let options = SyncOptions {
        page_bytes: DEFAULT_PAGE_BYTES,
        ..SyncOptions::default()
    };
    let report = fieldvisit_core::sync::sync(&store, &fresh, &options)?;
    if dictionary.is_some() && report.dictionary.is_none() {
        return Err("the new phone did not pick up the dictionary".into());
    }
    Ok(Outcome {
        households: store.households(None, usize::MAX)?.len() as u64,
        visits: total,
        pulled: report.pulled,
        requests: report.requests,
        bytes_down: report.bytes_down,
        bytes_up: report.bytes_up,
        dictionary_bytes,
    })
}

pub fn run(args: &FirstSyncArgs, runs: usize, seed: u64, json: bool) -> Result<(), BoxError> {
    let dictionary = earlier_days_dictionary(seed, 20_000)?;
    let (mut plain, mut trained) = (Vec::new(), Vec::new());
    for run in 0..runs.max(1) {
        plain.push(one(args, seed + run as u64, None)?);
        trained.push(one(args, seed + run as u64, Some(&dictionary))?);
    }
    let m = |v: &[Outcome], f: &dyn Fn(&Outcome) -> f64| median(v.iter().map(f).collect());
    let first = plain.first().ok_or("no runs")?;
    let rows = [("plain zstd", &plain), ("zstd + dictionary", &trained)];
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(mode, v)| {
                serde_json::json!({"bench": "first_sync", "compression": mode,
                    "households": first.households, "visits": first.visits,
                    "entries_pulled": m(v, &|o| o.pulled as f64),
                    "requests": m(v, &|o| f64::from(o.requests)),
                    "bytes_down": m(v, &|o| o.bytes_down as f64),
                    "bytes_up": m(v, &|o| o.bytes_up as f64),
                    "dictionary_bytes": v.first().map_or(0, |o| o.dictionary_bytes)})
            })
            .collect();
        println!("{}", serde_json::Value::Array(out));
        return Ok(());
    }
    println!(
        "# first sync of a first secretary's new phone: {} households in scope, {} visits over \
         the past year; median of {runs} runs",
        first.households, first.visits
    );
    for (mode, v) in rows {
        println!(
            "{mode:<18} {:>8.0} entries {:>4.0} requests {:>10.0} B down {:>8.0} B up  \
             (+ dictionary download {} B)",
            m(v, &|o| o.pulled as f64),
            m(v, &|o| f64::from(o.requests)),
            m(v, &|o| o.bytes_down as f64),
            m(v, &|o| o.bytes_up as f64),
            v.first().map_or(0, |o| o.dictionary_bytes)
        );
    }
    Ok(())
}
