//! A household's exit history (退出) for admins and supervisors: every accepted poverty-status
//! step, oldest first, with who made it, when, and the verification visit it rests on. Read
//! from the journal (accepted `household.status` operations), so it cannot disagree with what
//! was accepted; this module only reads.

use serde::Serialize;

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::domain::exit::{self, StatusStep};
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, VisitId};
use fieldvisit_core::journal::OpBody;

use crate::error::Result;
use crate::storage::Tx;

/// One accepted step of a household's poverty status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExitStep {
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<VisitId>,
    /// The cadre the device belonged to when the step was received (`None` if the device is
    /// no longer known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cadre: Option<CadreId>,
    pub device: DeviceId,
    /// The device's clock when the step was made (evidence, not ordering).
    pub made_at: WallTime,
    pub received_at: ServerTime,
}

impl ExitStep {
    /// "pre-exit (1) → exited (2)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({}) → {} ({})",
            exit::label(&self.from),
            self.from,
            exit::label(&self.to),
            self.to
        )
    }
}

/// The accepted status steps of `household`, oldest first.
pub fn exit_history(tx: &mut dyn Tx, household: &HouseholdId) -> Result<Vec<ExitStep>> {
    let mut out = Vec::new();
    for (op, received_at) in tx.status_ops_of_household(household)? {
        // Only accepted, checked steps are stored under this kind; anything else is skipped
        // rather than failing the whole history.
        let Ok(OpBody::StatusChanged(StatusStep {
            from,
            to,
            verification,
            ..
        })) = op.body()
        else {
            continue;
        };
        let cadre = tx.device(&op.device)?.map(|d| d.cadre);
        out.push(ExitStep {
            from,
            to,
            verification,
            cadre,
            device: op.device,
            made_at: op.wall,
            received_at,
        });
    }
    Ok(out)
}
