//! A household's visits as the server's journal holds them: each accepted visit record with its
//! accepted amendments in clock order. The sync checks (an exit step names its verification
//! visit), the exit procedure (the latest verification visit) and the dashboard's visit page
//! all read a visit's record and amendments this one way.

use fieldvisit_core::domain::visit::{VisitAmendment, VisitContent, VisitRecord};
use fieldvisit_core::ids::{HouseholdId, VisitId};
use fieldvisit_core::journal::{OpBody, OpKind};

use crate::error::Result;
use crate::storage::Journal;

/// An accepted visit record and the accepted amendments of it, oldest clock first.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalVisit {
    pub record: VisitRecord,
    pub amendments: Vec<VisitAmendment>,
}

impl JournalVisit {
    /// The visit's content as it stands: the record's with every amendment applied in order.
    pub fn content(&self) -> VisitContent {
        self.amendments
            .iter()
            .fold(self.record.content.clone(), |c, a| c.amended(&a.changes))
    }
}

/// Every accepted visit of `household`, in the order the server accepted them.
pub fn of_household(tx: &mut dyn Journal, household: &HouseholdId) -> Result<Vec<JournalVisit>> {
    let mut visits = Vec::new();
    let mut amendments = Vec::new();
    for (op, _) in tx.ops_of_household(household, &[OpKind::VisitRecord, OpKind::VisitAmend])? {
        match op.body() {
            Ok(OpBody::VisitRecorded(record)) => visits.push(JournalVisit {
                record,
                amendments: Vec::new(),
            }),
            Ok(OpBody::VisitAmended(a)) => amendments.push((op.hlc, a)),
            _ => {}
        }
    }
    // Stable: amendments with equal clocks keep the order the server accepted them in.
    amendments.sort_by_key(|(hlc, _)| *hlc);
    for (_, amendment) in amendments {
        if let Some(visit) = visits.iter_mut().find(|v| v.record.id == amendment.visit) {
            visit.amendments.push(amendment);
        }
    }
    Ok(visits)
}

/// The accepted visit `id` of `household`, if the journal holds it.
pub fn find(
    tx: &mut dyn Journal,
    household: &HouseholdId,
    id: VisitId,
) -> Result<Option<JournalVisit>> {
    Ok(of_household(tx, household)?
        .into_iter()
        .find(|v| v.record.id == id))
}
