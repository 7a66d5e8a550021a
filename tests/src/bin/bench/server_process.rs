//! The server under benchmark in a process of its own, so that its CPU time and peak memory
//! are its own and not the simulated phones'. The bench binary re-runs itself as
//! `bench serve-db --db FILE`, which serves the embedded database on an ephemeral port,
//! prints the address, and exits when its standard input closes (so it never outlives the
//! benchmark, even one that is killed).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use fieldvisit_core::clock::SystemClock;
use fieldvisit_server::http::AppState;
use fieldvisit_server::storage::sqlite::SqliteStorage;

type BoxError = Box<dyn std::error::Error>;

/// `bench serve-db`: the child's side.
pub fn serve(db: &Path) -> Result<(), BoxError> {
    let storage = Arc::new(SqliteStorage::open(db)?);
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
    runtime.block_on(fieldvisit_server::http::serve(
        listener,
        state,
        stdin_closed,
    ))?;
    Ok(())
}

/// The parent's handle on a server child process.
pub struct ServerProcess {
    child: Child,
    pub url: String,
}

impl ServerProcess {
    pub fn start(db: &Path) -> Result<ServerProcess, BoxError> {
        let mut child = Command::new(std::env::current_exe()?)
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
            return Err(format!("the server process did not start: {line:?}").into());
        }
        Ok(ServerProcess { child, url })
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id())).unwrap_or_default()
    }

    /// User and system CPU seconds the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        super::fleet::cpu_seconds_of(&self.proc_file("stat"))
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
