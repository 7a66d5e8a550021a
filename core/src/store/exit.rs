//! Poverty-status steps on the phone (exit verification, [`crate::domain::exit`]). The step is
//! checked here with the same rules the server applies, so a cadre who may not move a status
//! is told at once and nothing is journaled; the server checks the step again on push.
//!
//! A step is journaled as a `household.status` operation and applied to the local household
//! row in the same transaction. It never bypasses the rules: there is no "force" here. The
//! step to exited is never a phone's (the county approves it on the server after the village
//! notice); the phone learns that status from its feed.

use super::Store;
use super::journal_log::append;
use super::registry::household_by_id;
use super::visits::visit_on;
use crate::domain::exit::{self, StatusStep, Verification};
use crate::error::{Error, Result};
use crate::ids::{HouseholdId, VisitId};
use crate::journal::OpBody;
use crate::rows;

impl Store {
    /// Moves a household's poverty status to `to` (a `poverty_status` code), resting the step
    /// on the exit-verification visit `verification` where the step needs one. Only the
    /// village's first secretary may do this; anyone else gets [`Error::StatusStep`].
    pub fn move_poverty_status(
        &self,
        household: &HouseholdId,
        to: &str,
        verification: Option<VisitId>,
    ) -> Result<StatusStep> {
        let now = self.clock.now();
        let day = now.local_date();
        self.write(|tx| {
            let cadre_id = Store::cadre(tx)?;
            let found = household_by_id(tx, household)?.ok_or(Error::UnknownHousehold)?;
            // A phone that does not know its own cadre's role cannot show it is allowed.
            let cadre = rows::cadre(tx, &cadre_id)?.ok_or_else(|| {
                exit::StepRefusal::Forbidden(
                    "this phone does not know its cadre's role yet; sync and try again".into(),
                )
            })?;
            let posts = rows::posts_of_cadre(tx, &cadre_id)?;
            exit::check_role(&cadre, &posts, &found.village, day)?;
            let step = StatusStep {
                household: household.clone(),
                from: found.poverty_status.clone(),
                to: to.to_string(),
                verification,
            };
            let visit = match verification {
                Some(id) => visit_on(tx, id)?,
                None => None,
            };
            let checked = visit.as_ref().map(|v| Verification {
                household: &v.household,
                cadre: &v.cadre,
                day: v.recorded_at.local_date(),
                content: &v.content,
            });
            exit::check_step(&step, &found.poverty_status, day, &cadre_id, checked)?;
            append(self, tx, &OpBody::StatusChanged(step.clone()))?;
            let exit_year = (to == exit::EXITED).then(|| chrono::Datelike::year(&day));
            rows::set_poverty_status(tx, household, to, exit_year)?;
            Ok(step)
        })
    }
}
