//! A sync server in a process of its own: for benchmarks, so that its CPU time and peak
//! memory are its own and not the simulated phones'; for the multi-instance tests, so that
//! several servers share nothing but their database.
//!
//! The child is the `bench` binary re-run as `bench serve-db --db DB`: it opens `DB` with
//! [`fieldvisit_server::storage::open`] (a SQLite file or a `postgres://` URL, exactly as
//! `fieldvisit-server serve --db` does), serves it on an ephemeral port of 127.0.0.1, prints the
//! address on its first line of output, and exits when its standard input closes, so it never
//! outlives its parent, even one that is killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use fieldvisit_core::clock::SystemClock;
use fieldvisit_server::app::AppState;

type BoxError = Box<dyn std::error::Error>;

/// `bench serve-db`: the child's side.
pub fn serve(db: &str) -> Result<(), BoxError> {
    let storage = fieldvisit_server::storage::open(db)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let mut out = std::io::stdout();
    writeln!(out, "http://{}", listener.local_addr()?)?;
    out.flush()?;
    let state = AppState::new(storage, Arc::new(SystemClock))?;
    let stdin_closed = async {
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
    };
    runtime.block_on(fieldvisit_server::app::serve(listener, state, stdin_closed))?;
    Ok(())
}

/// The parent's handle on a server child process; dropping it stops the child.
pub struct ServerProcess {
    child: Child,
    pub url: String,
}

impl std::fmt::Debug for ServerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerProcess")
            .field("pid", &self.child.id())
            .field("url", &self.url)
            .finish()
    }
}

impl ServerProcess {
    /// Starts `bench serve-db --db DB`, `bench` being the executable at `bench`, and waits
    /// until it listens.
    pub fn start(bench: &Path, db: &str) -> Result<ServerProcess, BoxError> {
        let mut child = Command::new(bench)
            .arg("serve-db")
            .arg("--db")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("the server's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line.trim().to_string();
        if !url.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the server process did not start: {line:?}").into());
        }
        Ok(ServerProcess { child, url })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id())).unwrap_or_default()
    }

    /// User and system CPU seconds the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&self.proc_file("stat"))
    }

    /// The server's peak resident memory so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.proc_file("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Closing stdin asks it to stop; killing makes sure.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime from a `/proc/PID/stat` line, in clock ticks (100 per second on Linux).
pub fn cpu_seconds_of(stat: &str) -> f64 {
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
