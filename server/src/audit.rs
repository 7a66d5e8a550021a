//! The end-to-end audit of the server database: every device's stored operations are checked
//! as a chain — gap-free sequence numbers, each operation's signature under the key the device
//! enrolled with, each link to the digest before it, and the end against the device's recorded
//! head. A break names the device and the first broken operation.

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use fieldvisit_core::ids::DeviceId;
use fieldvisit_core::journal::{BreakKind, ChainPoint, JournalBreak, verify_chain};

use crate::error::Result;
use crate::storage::Storage;

const PAGE: usize = 1000;

/// One device's chain that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub device: DeviceId,
    pub cadre: String,
    #[serde(flatten)]
    pub at: JournalBreak,
}

/// What the audit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub devices: usize,
    pub operations: u64,
    pub breaks: Vec<Break>,
}

pub fn audit(storage: &dyn Storage) -> Result<AuditReport> {
    let mut tx = storage.read()?;
    let devices = tx.devices()?;
    let mut report = AuditReport {
        devices: devices.len(),
        operations: 0,
        breaks: Vec::new(),
    };
    for device in devices {
        let broken = |at: JournalBreak| Break {
            device: device.id,
            cadre: device.cadre.to_string(),
            at,
        };
        let Ok(key) = VerifyingKey::from_bytes(&device.public_key) else {
            report.breaks.push(broken(JournalBreak {
                seq: 0,
                op: None,
                problem: BreakKind::BadSignature,
            }));
            continue;
        };
        let mut at = ChainPoint::START;
        let mut failed = false;
        loop {
            let page = tx.ops_of_device(&device.id, at.seq, PAGE)?;
            if page.is_empty() {
                break;
            }
            report.operations += page.len() as u64;
            match verify_chain(&device.id, &key, at, &page) {
                Ok(end) => at = end,
                Err(b) => {
                    report.breaks.push(broken(b));
                    failed = true;
                    break;
                }
            }
        }
        if !failed && at != device.head {
            report.breaks.push(broken(JournalBreak {
                seq: at.seq,
                op: None,
                problem: BreakKind::Truncated {
                    expected: device.head.seq,
                    found: at.seq,
                },
            }));
        }
    }
    Ok(report)
}
