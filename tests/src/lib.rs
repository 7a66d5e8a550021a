//! Shared pieces of fieldvisit's end-to-end tests, simulation and benchmarks: measuring
//! latencies and summarising them the way docs/benchmarks.md reports them; a headless browser
//! for the dashboard (`browser`); small real JPEG files for photo tests (`jpeg`).

pub mod admin_web;
pub mod browser;
pub mod harness;
pub mod jpeg;
pub mod layers;
pub mod proxy;
pub mod server_process;
pub mod sim;
pub mod stats;
