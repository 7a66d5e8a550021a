//! A TCP proxy on 127.0.0.1 that damages traffic on purpose: it passes connections through,
//! or cuts the request or the response after a random number of bytes, or holds them back
//! for a while first. Faults are drawn per connection from a seeded generator; connections
//! are not reused by the test clients, so each request meets its own fate.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What happened to the connections that went through.
#[derive(Debug, Default)]
pub struct ProxyCounts {
    pub passed: AtomicU64,
    pub requests_cut: AtomicU64,
    pub responses_cut: AtomicU64,
    pub delayed: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    Pass,
    CutRequest(usize),
    CutResponse(usize),
    Delay(u64),
}

/// A running proxy; it stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    pub address: SocketAddr,
    pub counts: Arc<ProxyCounts>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Proxies to `upstream`; `fault_rate` of connections meet a fault.
    pub fn start(upstream: SocketAddr, seed: u64, fault_rate: f64) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let counts = Arc::new(ProxyCounts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let rng = Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed)));
        let (c, s) = (counts.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let fate = {
                            let mut rng = rng.lock().unwrap_or_else(|p| p.into_inner());
                            if rng.random_bool(fault_rate.clamp(0.0, 1.0)) {
                                match rng.random_range(0..3) {
                                    0 => Fate::CutRequest(rng.random_range(0..600)),
                                    1 => Fate::CutResponse(rng.random_range(0..600)),
                                    _ => Fate::Delay(rng.random_range(50..400)),
                                }
                            } else {
                                Fate::Pass
                            }
                        };
                        let counts = c.clone();
                        std::thread::spawn(move || {
                            let _ = relay(client, upstream, fate, &counts);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => break,
                }
            }
        });
        Ok(FaultProxy {
            address,
            counts,
            stop,
            thread: Some(thread),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Copies `from` to `to`, stopping after `limit` bytes if given; true when it was cut.
fn copy(mut from: TcpStream, mut to: TcpStream, limit: Option<usize>) -> bool {
    let mut buf = [0u8; 4096];
    let mut sent = 0usize;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let n = match limit {
            Some(limit) if sent + n >= limit => {
                let _ = to.write_all(&buf[..limit - sent]);
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
                return true;
            }
            _ => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n;
    }
    let _ = to.shutdown(Shutdown::Write);
    false
}

fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    fate: Fate,
    counts: &ProxyCounts,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    if let Fate::Delay(ms) = fate {
        counts.delayed.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(ms));
    }
    let server = TcpStream::connect(upstream)?;
    let (c2, s2) = (client.try_clone()?, server.try_clone()?);
    let (req_limit, resp_limit) = match fate {
        Fate::CutRequest(n) => (Some(n), None),
        Fate::CutResponse(n) => (None, Some(n)),
        _ => (None, None),
    };
    let up = std::thread::spawn(move || copy(client, server, req_limit));
    let cut_response = copy(s2, c2, resp_limit);
    let cut_request = up.join().unwrap_or(false);
    if cut_request {
        counts.requests_cut.fetch_add(1, Ordering::Relaxed);
    } else if cut_response {
        counts.responses_cut.fetch_add(1, Ordering::Relaxed);
    } else if matches!(fate, Fate::Pass) {
        counts.passed.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
