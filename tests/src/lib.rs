//! Shared pieces of fieldvisit's end-to-end tests, simulation and benchmarks: measuring
//! latencies and summarising them the way docs/benchmarks.md reports them; a headless browser
//! for the dashboard (`browser`).

pub mod admin_web;
pub mod browser;
pub mod harness;
pub mod proxy;
pub mod server_process;
pub mod sim;
pub mod stats;
