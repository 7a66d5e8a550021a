//! Latency samples and their summary. Benchmarks report medians of several runs, never a
//! single timing, because the machine they run on is shared and noisy.

use std::time::Duration;

use serde::Serialize;

/// Percentiles of one run's samples, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
}

/// Summarises samples; an empty set summarises to zeros.
pub fn summarize(samples: &[Duration]) -> Summary {
    if samples.is_empty() {
        return Summary {
            samples: 0,
            p50_us: 0.0,
            p90_us: 0.0,
            p99_us: 0.0,
            mean_us: 0.0,
        };
    }
    let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        let rank = ((us.len() as f64 - 1.0) * q).round() as usize;
        us[rank.min(us.len() - 1)]
    };
    Summary {
        samples: us.len(),
        p50_us: pick(0.50),
        p90_us: pick(0.90),
        p99_us: pick(0.99),
        mean_us: us.iter().sum::<f64>() / us.len() as f64,
    }
}

/// The median of each field across runs (the figure docs/benchmarks.md reports).
pub fn median_of_runs(runs: &[Summary]) -> Summary {
    let med = |f: fn(&Summary) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        if v.is_empty() { 0.0 } else { v[v.len() / 2] }
    };
    Summary {
        samples: runs.iter().map(|r| r.samples).sum(),
        p50_us: med(|s| s.p50_us),
        p90_us: med(|s| s.p90_us),
        p99_us: med(|s| s.p99_us),
        mean_us: med(|s| s.mean_us),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_ranks() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let s = summarize(&samples);
        assert_eq!((s.p50_us.round(), s.p99_us.round()), (51.0, 99.0));
        assert_eq!(s.mean_us, 50.5);
        assert_eq!(summarize(&[]).samples, 0);
    }

    #[test]
    fn the_median_run_is_reported() {
        let run = |p50| Summary {
            samples: 1,
            p50_us: p50,
            p90_us: p50,
            p99_us: p50,
            mean_us: p50,
        };
        let m = median_of_runs(&[run(3.0), run(1.0), run(2.0)]);
        assert_eq!((m.p50_us, m.samples), (2.0, 3));
    }
}
