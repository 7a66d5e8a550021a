//! Byte-level damage on the wire: phones sync through a TCP proxy that cuts requests and
//! responses mid-body (compressed streams included) and holds connections back. Whatever was
//! cut, after a final clean sync every operation is on the server exactly once and every
//! phone's journal verifies.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::protocol::PhotoStatus;
use fieldvisit_core::protocol::{EnrollRequest, EnrollResponse, SyncRequest, SyncResponse};
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{Exchange, Transport, TransportError};
use fieldvisit_tests::harness::{TestServer, today};
use fieldvisit_tests::proxy::FaultProxy;
use std::sync::atomic::Ordering;

/// A new connection for every exchange, so that each meets the proxy's fate on its own.
struct FreshConnections(String);

impl Transport for FreshConnections {
    fn enroll(&self, req: &EnrollRequest) -> Result<Exchange<EnrollResponse>, TransportError> {
        HttpTransport::new(&self.0)?.enroll(req)
    }

    fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> Result<Exchange<SyncResponse>, TransportError> {
        HttpTransport::with_timeout(&self.0, std::time::Duration::from_secs(5))?.sync(token, req)
    }

    fn photo_status(
        &self,
        token: &str,
        sha256: &str,
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        HttpTransport::new(&self.0)?.photo_status(token, sha256)
    }

    fn put_photo_chunk(
        &self,
        token: &str,
        sha256: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        HttpTransport::new(&self.0)?.put_photo_chunk(token, sha256, index, bytes)
    }

    fn fetch_dictionary(&self, token: &str, id: u32) -> Result<Exchange<Vec<u8>>, TransportError> {
        HttpTransport::new(&self.0)?.fetch_dictionary(token, id)
    }

    /// A fresh client per exchange keeps no dictionary: bodies go as plain zstd.
    fn use_dictionary(&self, _: Option<&[u8]>) -> Result<Option<u32>, TransportError> {
        Ok(None)
    }
}

#[test]
fn bodies_cut_mid_stream_lose_and_double_nothing() {
    let server = TestServer::start(41);
    let upstream = server.url.trim_start_matches("http://").parse().unwrap();
    let proxy = FaultProxy::start(upstream, 41, 0.5).unwrap();
    let damaged = FreshConnections(proxy.url());
    let cadres: Vec<_> = server
        .region
        .cadres
        .iter()
        .filter(|c| c.role == "assisting")
        .take(4)
        .map(|c| c.id.clone())
        .collect();
    let phones: Vec<_> = cadres.iter().map(|c| server.device(c)).collect();

    let mut failed = 0;
    for round in 0..8 {
        for (i, phone) in phones.iter().enumerate() {
            let households = server.region.households_of(&cadres[i], today());
            server
                .record_visit(
                    phone,
                    households[round % households.len()],
                    (round * 10 + i) as u64,
                )
                .unwrap();
            if server.sync_via(phone, &damaged).is_err() {
                failed += 1;
            }
        }
    }
    let counts = &proxy.counts;
    let cuts =
        counts.requests_cut.load(Ordering::Relaxed) + counts.responses_cut.load(Ordering::Relaxed);
    assert!(cuts > 0, "the proxy cut nothing");

    let mut tx_ops = 0;
    for phone in &phones {
        assert!(server.sync(phone).unwrap().complete);
        let local = phone.operations(0, usize::MAX).unwrap();
        let stored = server
            .storage
            .read()
            .unwrap()
            .ops_of_device(&phone.device_id(), 0, usize::MAX)
            .unwrap();
        assert_eq!(local, stored, "each operation on the server exactly once");
        assert!(phone.unsynced().unwrap().is_empty());
        phone.verify_journal().unwrap();
        tx_ops += local.len();
    }
    eprintln!(
        "proxy: {cuts} bodies cut ({} requests, {} responses), {} delayed, {} passed; {failed} syncs failed on the damaged link; {tx_ops} operations intact",
        counts.requests_cut.load(Ordering::Relaxed),
        counts.responses_cut.load(Ordering::Relaxed),
        counts.delayed.load(Ordering::Relaxed),
        counts.passed.load(Ordering::Relaxed),
    );
}
