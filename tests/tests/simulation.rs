//! The deterministic simulation (`fieldvisit_tests::sim`) over many seeds, in four shards that
//! run in parallel. The normal test run takes 300 seeds; `FIELDVISIT_SIM_SEEDS=5000 cargo test
//! --release -p fieldvisit-tests --test simulation` runs more. A failure prints its seed; replay
//! it alone with `FIELDVISIT_SIM_SEED=N`.

use fieldvisit_tests::sim::{SimConfig, SimStats, run};

const SHARDS: u64 = 4;

fn seeds(shard: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("FIELDVISIT_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return if shard == 0 { vec![seed] } else { Vec::new() };
    }
    let n: u64 = std::env::var("FIELDVISIT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    (1..=n).filter(|s| s % SHARDS == shard).collect()
}

fn run_shard(shard: u64) {
    let mut total = SimStats::default();
    let seeds = seeds(shard);
    for &seed in &seeds {
        let config = SimConfig {
            seed,
            devices: 4,
            steps: 60,
            fault_rate: 0.3,
        };
        match run(config) {
            Ok(s) => {
                total.operations += s.operations;
                total.visits += s.visits;
                total.syncs += s.syncs;
                total.faults += s.faults;
                total.restarts += s.restarts;
                total.reassignments += s.reassignments;
                total.revocations += s.revocations;
                total.rejected += s.rejected;
                total.conflicts += s.conflicts;
            }
            Err(e) => {
                panic!("seed {seed} broke an invariant: {e}\nreplay: FIELDVISIT_SIM_SEED={seed}")
            }
        }
    }
    eprintln!("simulation shard {shard}: {} seeds, {total:?}", seeds.len());
    if !seeds.is_empty() {
        assert!(
            total.visits > 0 && total.faults > 0,
            "the simulation exercised nothing: {total:?}"
        );
    }
}

#[test]
fn no_visit_is_lost_or_duplicated_under_faults_restarts_reassignments_and_revocations_shard_0() {
    run_shard(0);
}

#[test]
fn no_visit_is_lost_or_duplicated_under_faults_restarts_reassignments_and_revocations_shard_1() {
    run_shard(1);
}

#[test]
fn no_visit_is_lost_or_duplicated_under_faults_restarts_reassignments_and_revocations_shard_2() {
    run_shard(2);
}

#[test]
fn no_visit_is_lost_or_duplicated_under_faults_restarts_reassignments_and_revocations_shard_3() {
    run_shard(3);
}
