//! The device's sync engine: enrolls a device, and runs a sync as a loop of rounds — build a
//! request from the store, send it through a [`Transport`] (retrying what is worth retrying),
//! apply the response to the store in one transaction — until nothing is left to push and the
//! server has no more pages.
//!
//! The engine holds no network code and no async runtime: the caller supplies a transport (the
//! FFI layer's HTTP client, a test's in-memory server) and a [`Sleeper`](super::transport::Sleeper)
//! for the backoff. It
//! keeps no state between rounds either: every round is rebuilt from the store, so a round
//! whose response was lost is simply done again, and the server's idempotence makes the second
//! time a repeat of the first.

use super::options::SyncOptions;
use super::transport::{Transport, TransportError, send_with_retries, transport_error};
use crate::error::{Error, Result};
use crate::protocol::{EnrollRequest, ErrorCode, PROTOCOL_VERSION, PushProblem};
use crate::report::SyncReport;
use crate::store::{Enrollment, Identity, Store};

/// Enrolls this device with a one-time code: sends the device id and public key, and stores
/// the cadre, the plate authorities' keys, the server address and the token the server grants.
///
/// Sent once, without retries: the cadre is standing there and taps again. A server that
/// committed an enrollment whose response was lost should answer the same device, key and
/// code again rather than refuse the code as used.
pub fn enroll(
    store: &Store,
    transport: &dyn Transport,
    server_url: &str,
    code: &str,
    app_version: &str,
) -> Result<Identity> {
    let req = EnrollRequest {
        protocol: PROTOCOL_VERSION,
        code: code.to_string(),
        device: store.device_id(),
        public_key: store.device_public_key(),
        app_version: app_version.to_string(),
    };
    let resp = transport.enroll(&req).map_err(transport_error)?.body;
    if resp.protocol != PROTOCOL_VERSION {
        return Err(Error::Protocol(format!(
            "the server answered in protocol version {}, this app speaks {PROTOCOL_VERSION}",
            resp.protocol
        )));
    }
    if resp.device != req.device {
        return Err(Error::Protocol(
            "the enrollment names another device".into(),
        ));
    }
    let token = resp.token.clone();
    store.enroll_for_sync(&Enrollment {
        cadre: resp.cadre,
        authority_keys: resp.authority_keys,
        server_url: Some(server_url.to_string()),
        token: Some(resp.token),
    })?;
    // Enrolling happens at the county office, usually on a good link: the moment to fetch the
    // dictionary. Without it the phone still syncs, only with larger bodies.
    // Enrolling forgot any dictionary the phone held (it belonged to the previous server).
    let mut report = SyncReport::empty();
    adopt_dictionary(store, transport, &token, None, resp.dictionary, &mut report)?;
    store.identity()
}

/// Gives the transport the dictionary the store holds and returns the id the store holds
/// afterwards; a stored dictionary the transport cannot use is forgotten (the server
/// advertises it again and the phone fetches it anew). A transport that does not compress
/// leaves the stored one alone.
fn load_dictionary(store: &Store, transport: &dyn Transport) -> Result<Option<u32>> {
    let Some((id, bytes)) = store.compression_dictionary()? else {
        transport.use_dictionary(None).map_err(transport_error)?;
        return Ok(None);
    };
    match transport.use_dictionary(Some(&bytes)) {
        Ok(None) => Ok(Some(id)),
        Ok(found) if found == Some(id) => Ok(Some(id)),
        _ => forget_dictionary(store, transport),
    }
}

fn forget_dictionary(store: &Store, transport: &dyn Transport) -> Result<Option<u32>> {
    store.forget_compression_dictionary()?;
    transport.use_dictionary(None).map_err(transport_error)?;
    Ok(None)
}

/// Fetches and keeps the dictionary the server advertised, when the phone does not hold it
/// (`held`: the id the store holds). One attempt, after the sync's own work: failing costs
/// only compression, so it is noted in the report's counts and not raised.
fn adopt_dictionary(
    store: &Store,
    transport: &dyn Transport,
    token: &str,
    held: Option<u32>,
    advertised: Option<u32>,
    report: &mut SyncReport,
) -> Result<()> {
    report.dictionary = held;
    let Some(id) = advertised else {
        return Ok(());
    };
    if held == Some(id) {
        return Ok(());
    }
    report.requests = report.requests.saturating_add(1);
    let Ok(exchange) = transport.fetch_dictionary(token, id) else {
        return Ok(());
    };
    report.bytes_down += exchange.bytes_down;
    report.bytes_up += exchange.bytes_up;
    // Keep it only if the transport can use it and it is the one advertised.
    match transport.use_dictionary(Some(&exchange.body)) {
        Ok(Some(found)) if found == id => {
            store.save_compression_dictionary(id, &exchange.body)?;
            report.dictionary = Some(id);
        }
        _ => report.dictionary = forget_dictionary(store, transport)?,
    }
    Ok(())
}

fn is_unknown_dictionary<T>(result: &Result<T, TransportError>) -> bool {
    matches!(
        result,
        Err(TransportError::Http { body: Some(body), .. }) if body.error == ErrorCode::UnknownDictionary
    )
}

/// Syncs the store with the server: pushes every pending operation and pulls every waiting
/// page, committing progress after each page. The report is kept in the store; a failure is
/// kept too (for the "stuck phones" view), and everything the failed sync had applied stays
/// applied.
pub fn sync(store: &Store, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
    let _one_at_a_time = store.sync_guard();
    match run(store, transport, options) {
        Ok(report) => {
            store.save_sync_report(&report)?;
            Ok(report)
        }
        Err(e) => {
            // The sync's own error is what the caller must see; failing to note it (a full
            // disk, a closed store) must not replace it.
            let _ = store.record_sync_failure(&e.to_string());
            Err(e)
        }
    }
}

fn run(store: &Store, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
    let mut report = SyncReport::empty();
    // Set once the server has refused the chain itself (a broken or diverged journal, or a
    // gap it cannot resume from): pushing again cannot help within this sync, but pulling can.
    let mut push_blocked = false;
    let mut idle_rounds = 0u32;
    let mut last_position = store.sync_position()?;
    let mut dictionary = load_dictionary(store, transport)?;
    let mut advertised = None;
    let mut token_used = String::new();
    for _ in 0..options.max_rounds.max(1) {
        let (req, exchange) = send_with_retries(
            &options.retry,
            options.sleeper.as_ref(),
            &mut report,
            |_| {
                let (mut req, token) = store.sync_request(
                    options.page_bytes,
                    options.max_push_ops,
                    &options.app_version,
                )?;
                if push_blocked {
                    let held = u32::try_from(req.push.len()).unwrap_or(u32::MAX);
                    req.pending = req.pending.saturating_add(held);
                    req.push.clear();
                }
                let mut result = transport.sync(&token, &req);
                // The server no longer knows the phone's dictionary (a restored server, another
                // server): drop it and say the same thing without it.
                if dictionary.is_some() && is_unknown_dictionary(&result) {
                    dictionary = forget_dictionary(store, transport)?;
                    result = transport.sync(&token, &req);
                }
                token_used = token;
                Ok(result.map(|exchange| (req, exchange)))
            },
        )?;
        let resp = &exchange.body;
        let outcome = store.apply_sync_response(&req, resp)?;

        report.pushed += u64::try_from(req.push.len()).unwrap_or(u64::MAX);
        report.acknowledged += outcome.acknowledged;
        report.rejected += outcome.rejected;
        report.pulled += outcome.pulled;
        report.conflicts += outcome.conflicts;
        report.purged += outcome.purged;
        report.bytes_up += exchange.bytes_up;
        report.bytes_down += exchange.bytes_down;
        report.clock_skew_ms = resp.clock_skew_ms;
        report.server_time = resp.server_time;
        advertised = resp.dictionary;
        if matches!(
            outcome.problem,
            Some(
                PushProblem::Broken { .. } | PushProblem::Diverged { .. } | PushProblem::Gap { .. }
            )
        ) {
            push_blocked = true;
        }

        let position = store.sync_position()?;
        if position.backlog == 0 && !resp.more {
            report.complete = true;
            break;
        }
        if push_blocked && !resp.more {
            break;
        }
        // A server that answers without moving the acknowledgement or the cursor, and sends
        // nothing, would be asked the same thing forever. One such round is allowed (a gap
        // resend starts from where the device already was); two in a row end the sync.
        if position == last_position && resp.changes.is_empty() {
            idle_rounds += 1;
            if idle_rounds >= 2 {
                break;
            }
        } else {
            idle_rounds = 0;
        }
        last_position = position;
    }
    adopt_dictionary(
        store,
        transport,
        &token_used,
        dictionary,
        advertised,
        &mut report,
    )?;
    // Visits first, photos after: a photo is accepted only for a visit the server holds.
    super::photos::upload(store, transport, &token_used, options, &mut report)?;
    Ok(report)
}
