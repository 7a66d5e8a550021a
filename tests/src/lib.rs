//! Shared helpers for fieldvisit end-to-end tests, simulation and benchmarks.
