//! Group commit: sync requests that arrive while a transaction is being written wait for the
//! next one and are written together — one commit (one fsync) for many phones. Each request
//! runs inside its own savepoint, so one request's failure undoes only its own work; no
//! response is sent before the transaction holding it has committed.
//!
//! The single writer thread does only what must be serial: storing and applying operations.
//! Everything else runs in parallel around it on the request's own blocking task — signature
//! and chain verification before ([`super::precheck`]), the page of changes after the commit
//! ([`super::respond`]).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::protocol::{SyncRequest, SyncResponse};
use tokio::sync::oneshot;

use super::{Prechecked, Pull, Pushed, handle_in, precheck, respond};
use crate::error::{Error, Result};
use crate::reference::Reference;
use crate::runtime::blocking;
use crate::storage::{DeviceRecord, Storage};

/// The most requests written in one transaction: bounds the latency one slow batch adds.
pub const MAX_BATCH: usize = 64;

struct Job {
    device: DeviceRecord,
    req: SyncRequest,
    prechecked: Prechecked,
    now: ServerTime,
    reply: oneshot::Sender<Result<Pushed>>,
}

/// Hands sync requests to the writer thread.
#[derive(Clone)]
pub struct GroupCommitter {
    jobs: Sender<Job>,
    storage: Arc<dyn Storage>,
}

impl std::fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter")
            .field("storage", &self.storage.describe())
            .finish()
    }
}

impl GroupCommitter {
    /// Starts the writer thread; it ends when the last handle is dropped.
    pub fn start(storage: Arc<dyn Storage>) -> std::io::Result<GroupCommitter> {
        let (jobs, queue) = channel();
        let writer_storage = storage.clone();
        std::thread::Builder::new()
            .name("fieldvisit-writer".into())
            .spawn(move || writer(writer_storage.as_ref(), &queue))?;
        Ok(GroupCommitter { jobs, storage })
    }

    /// Handles a request in the next group commit and answers once it is durable.
    pub async fn sync(
        &self,
        device: DeviceRecord,
        req: SyncRequest,
        now: ServerTime,
    ) -> Result<SyncResponse> {
        let (device, req, prechecked) = blocking(move || {
            let prechecked = precheck(&device, &req.push);
            Ok((device, req, prechecked))
        })
        .await?;
        let pull = Pull::of(&req);
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                device: device.clone(),
                req,
                prechecked,
                now,
                reply,
            })
            .map_err(|_| writer_gone())?;
        let pushed = answer.await.map_err(|_| writer_gone())??;
        let storage = self.storage.clone();
        blocking(move || respond(storage.as_ref(), &device, pull, pushed, now)).await
    }
}

/// The writer thread has stopped (the server is shutting down): the phone retries later.
fn writer_gone() -> Error {
    Error::Unavailable("the writer thread has stopped".into())
}

fn writer(storage: &dyn Storage, queue: &Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        write_batch(storage, batch);
    }
}

fn write_batch(storage: &dyn Storage, batch: Vec<Job>) {
    let mut tx = match storage.write() {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            for job in batch {
                let _ = job.reply.send(Err(Error::Unavailable(message.clone())));
            }
            return;
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    let mut reference = Reference::default();
    for job in batch {
        let result = tx.savepoint().and_then(|()| {
            let result = handle_in(
                tx.as_mut(),
                &mut reference,
                &job.device,
                job.req,
                Some(job.prechecked),
                job.now,
            );
            let closed = if result.is_ok() {
                tx.release_savepoint()
            } else {
                tx.rollback_to_savepoint()
            };
            closed.and(result)
        });
        done.push((job.reply, result));
    }
    match tx.commit() {
        Ok(()) => {
            for (reply, result) in done {
                // A caller that went away (timeout, dropped connection) will retry; its work
                // is committed and the retry is acknowledged without being stored twice.
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let message = e.to_string();
            for (reply, _) in done {
                let _ = reply.send(Err(Error::Unavailable(message.clone())));
            }
        }
    }
}
