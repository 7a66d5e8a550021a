//! Exit verification (退出): the household's poverty status as a state machine, who may move
//! it, and what a move needs. Pure rules, no storage: the phone checks a step with them before
//! journaling it, and the server checks the same step again before accepting it, so a modified
//! app cannot skip a step (docs/protocol.md, "Poverty status and exit verification").
//!
//! Steps (codes of the `poverty_status` list):
//!
//! | from | to | who | needs |
//! |---|---|---|---|
//! | 0 not exited | 1 pre-exit | first secretary | a qualifying verification visit |
//! | 1 pre-exit | 2 exited | county (admin) | [`check_approval`]: the acknowledged verification, the village notice ≥ 7 days |
//! | 1 pre-exit | 0 not exited | first secretary | nothing (verification failed) |
//! | 2 exited | 4 relapsed | first secretary | nothing (返贫) |
//! | 4 relapsed | 1 pre-exit | first secretary | a qualifying verification visit |
//!
//! Anything else — skipping pre-exit, deregistration (3, a county procedure), moving back from
//! exited to pre-exit — is refused. Only a first secretary whose post covers the household's
//! village on the day of the step may move a status from a phone; an assisting cadre never may.
//! The step to exited is never a phone's: the procedure (pre-exit → verification visit →
//! household signs → village notice (公示) ≥ 7 days → county approval) ends with the county's
//! approval, which a sync admin records on the server and which moves the status there.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::visit::{ChecklistStatus, VisitContent};
use super::{Cadre, VillagePost, period_covers};
use crate::ids::{CadreId, HouseholdId, VisitId};

pub const NOT_EXITED: &str = "0";
pub const PRE_EXIT: &str = "1";
pub const EXITED: &str = "2";
pub const DEREGISTERED: &str = "3";
pub const RELAPSED: &str = "4";

/// The `visit_kind` code of an exit-verification visit.
pub const VERIFICATION_KIND: &str = "exit_verification";
/// The `cadre_role` code of the only role that moves a status from a phone.
pub const FIRST_SECRETARY: &str = "first_secretary";
/// A verification visit supports a step for this many days after it was recorded (and a
/// village notice for this many days after it).
pub const VERIFICATION_VALID_DAYS: i64 = 30;
/// The village notice (公示) runs at least this many full days before the county may approve.
pub const NOTICE_DAYS: u64 = 7;

/// The two-no-worries-three-guarantees items (两不愁三保障) a verification must answer `ok`.
pub const MUST_BE_OK: &[&str] = &["food", "clothing", "medical", "housing", "water"];
/// Items that may also be `na`: compulsory education does not apply to a household with no
/// child of school age (6–15). `problem` still disqualifies.
pub const OK_OR_NOT_APPLICABLE: &[&str] = &["education"];

/// One step of a household's status, as the `household.status` operation carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusStep {
    pub household: HouseholdId,
    /// The status the device saw; the server refuses the step if the household has moved since.
    pub from: String,
    pub to: String,
    /// The exit-verification visit the step rests on (required for pre-exit and exited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VisitId>,
}

/// Why a step is refused: the role (`forbidden`) or the step itself (`invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepRefusal {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
}

/// A verification visit as the checks need it: who recorded it, when, and its current content
/// (amendments applied).
#[derive(Debug, Clone, Copy)]
pub struct Verification<'a> {
    pub household: &'a HouseholdId,
    pub cadre: &'a CadreId,
    pub day: NaiveDate,
    pub content: &'a VisitContent,
}

/// Whether the status may go from `from` to `to` at all.
pub fn transition_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        (NOT_EXITED, PRE_EXIT)
            | (PRE_EXIT, EXITED)
            | (PRE_EXIT, NOT_EXITED)
            | (EXITED, RELAPSED)
            | (RELAPSED, PRE_EXIT)
    )
}

/// Whether a step to `to` must rest on a verification visit.
pub fn needs_verification(to: &str) -> bool {
    to == PRE_EXIT || to == EXITED
}

/// The status label for messages.
pub fn label(status: &str) -> &'static str {
    match status {
        NOT_EXITED => "not exited",
        PRE_EXIT => "pre-exit",
        EXITED => "exited",
        DEREGISTERED => "deregistered",
        RELAPSED => "relapsed",
        _ => "unknown",
    }
}

/// The role check: `cadre` must be a first secretary with a post in `village` on `day`.
pub fn check_role(
    cadre: &Cadre,
    posts: &[VillagePost],
    village: &str,
    day: NaiveDate,
) -> Result<(), StepRefusal> {
    if cadre.role != FIRST_SECRETARY {
        return Err(StepRefusal::Forbidden(
            "only the village's first secretary may move a household's poverty status".into(),
        ));
    }
    if !posts
        .iter()
        .any(|p| p.cadre == cadre.id && p.village == village && period_covers(p.from, p.to, day))
    {
        return Err(StepRefusal::Forbidden(format!(
            "this first secretary holds no post in village {village} on {day}"
        )));
    }
    Ok(())
}

/// Checks a step made on `day` by `mover` against the household's `current` status and, where
/// needed, its verification visit, which `mover` must have recorded themself (the first
/// secretary answers for the verification they rest the step on). The role is checked apart
/// ([`check_role`]).
pub fn check_step(
    step: &StatusStep,
    current: &str,
    day: NaiveDate,
    mover: &CadreId,
    verification: Option<Verification<'_>>,
) -> Result<(), StepRefusal> {
    let invalid = |m: String| Err(StepRefusal::Invalid(m));
    if step.from != current {
        return invalid(format!(
            "the household is {} ({current}), not {} ({}): its status moved since this step was made",
            label(current),
            label(&step.from),
            step.from
        ));
    }
    if !transition_allowed(&step.from, &step.to) {
        return invalid(format!(
            "a household cannot go from {} ({}) to {} ({}) in one step",
            label(&step.from),
            step.from,
            label(&step.to),
            step.to
        ));
    }
    if step.to == EXITED {
        return invalid(format!(
            "a household becomes exited only by county approval, after the village notice (公示) \
             of at least {NOTICE_DAYS} days that follows the acknowledged verification visit; \
             no approval is recorded for this household"
        ));
    }
    if !needs_verification(&step.to) {
        return Ok(());
    }
    let Some(v) = verification else {
        return invalid(match &step.verification {
            None => format!(
                "a step to {} needs an exit-verification visit",
                label(&step.to)
            ),
            Some(id) => format!("the verification visit {id} is not known"),
        });
    };
    if v.household != &step.household {
        return invalid("the verification visit is of another household".into());
    }
    if v.cadre != mover {
        return invalid("the verification visit was recorded by another cadre".into());
    }
    if v.content.kind != VERIFICATION_KIND {
        return invalid("the visit named as verification is not an exit-verification visit".into());
    }
    if v.day > day || (day - v.day).num_days() > VERIFICATION_VALID_DAYS {
        return invalid(format!(
            "the verification visit of {} is not within the {VERIFICATION_VALID_DAYS} days before the step",
            v.day
        ));
    }
    checklist_passes(v.content).map_err(StepRefusal::Invalid)?;
    if step.to == EXITED && !v.content.acknowledged {
        return invalid(
            "the household has not acknowledged (signed) the verification visit".into(),
        );
    }
    Ok(())
}

/// The first day the county may approve an exit whose village notice started on `notice_from`:
/// the notice must have run [`NOTICE_DAYS`] full days.
pub fn approval_possible_from(notice_from: NaiveDate) -> NaiveDate {
    notice_from + chrono::Days::new(NOTICE_DAYS)
}

/// Checks recording a village notice (公示) starting `from`, on `today`, for a household whose
/// status is `current` and that became pre-exit on `pre_exit_since` (when known).
pub fn check_notice(
    current: &str,
    from: NaiveDate,
    today: NaiveDate,
    pre_exit_since: Option<NaiveDate>,
) -> Result<(), StepRefusal> {
    if current != PRE_EXIT {
        return Err(StepRefusal::Invalid(format!(
            "the household is {} ({current}), not pre-exit (1): only a pre-exit household \
             has an exit notice",
            label(current)
        )));
    }
    if from > today {
        return Err(StepRefusal::Invalid(format!(
            "the notice cannot start on {from}, after today ({today}): record it once it is published"
        )));
    }
    if let Some(since) = pre_exit_since.filter(|since| from < *since) {
        return Err(StepRefusal::Invalid(format!(
            "the notice cannot start on {from}, before the household became pre-exit on {since}"
        )));
    }
    Ok(())
}

/// Checks the county's approval on `day` of a household whose status is `current`, whose
/// latest exit-verification visit is `verification` (its recorder's role is checked apart, with
/// [`check_role`] on the visit's day) and whose village notice started on `notice_from`.
///
/// The approval needs, in the procedure's order: pre-exit; a verification visit whose
/// checklist passes and that the household acknowledged; a notice that started on or after the
/// verification and at most [`VERIFICATION_VALID_DAYS`] after it; and [`NOTICE_DAYS`] full days
/// of notice.
pub fn check_approval(
    current: &str,
    day: NaiveDate,
    verification: Option<Verification<'_>>,
    notice_from: Option<NaiveDate>,
) -> Result<(), StepRefusal> {
    let invalid = |m: String| Err(StepRefusal::Invalid(m));
    if current != PRE_EXIT {
        return invalid(format!(
            "the household is {} ({current}), not pre-exit (1): only a pre-exit household can \
             be approved to exit",
            label(current)
        ));
    }
    let Some(v) = verification else {
        return invalid(
            "the household has no exit-verification visit: the first secretary records one \
             with the full checklist before the notice"
                .into(),
        );
    };
    checklist_passes(v.content).map_err(|m| {
        StepRefusal::Invalid(format!(
            "the latest verification visit of {} fails: {m}",
            v.day
        ))
    })?;
    if !v.content.acknowledged {
        return invalid(format!(
            "the household has not acknowledged (signed) the verification visit of {}",
            v.day
        ));
    }
    let Some(from) = notice_from else {
        return invalid(
            "no village notice (公示) is recorded since the household became pre-exit: record \
             it with `fieldvisit-server exit notice HOUSEHOLD --from DATE`"
                .into(),
        );
    };
    if v.day > from {
        return invalid(format!(
            "the verification visit of {} is after the village notice started on {from}: the \
             notice must publish the verified result; record the new notice",
            v.day
        ));
    }
    if (from - v.day).num_days() > VERIFICATION_VALID_DAYS {
        return invalid(format!(
            "the verification visit of {} is more than {VERIFICATION_VALID_DAYS} days before \
             the village notice started on {from}; verify again",
            v.day
        ));
    }
    let possible = approval_possible_from(from);
    if day < possible {
        return invalid(format!(
            "the village notice started on {from}; county approval is possible from {possible}"
        ));
    }
    Ok(())
}

/// Whether a verification's checklist meets the exit standard: every item answered, each
/// `ok` (education may be `na`).
pub fn checklist_passes(content: &VisitContent) -> Result<(), String> {
    for item in MUST_BE_OK.iter().chain(OK_OR_NOT_APPLICABLE) {
        match content.checklist.get(*item).map(|e| e.status) {
            None => return Err(format!("the verification does not answer '{item}'")),
            Some(ChecklistStatus::Ok) => {}
            Some(ChecklistStatus::NotApplicable) if OK_OR_NOT_APPLICABLE.contains(item) => {}
            Some(ChecklistStatus::NotApplicable) => {
                return Err(format!(
                    "'{item}' cannot be 'not applicable' in an exit verification"
                ));
            }
            Some(ChecklistStatus::Problem) => {
                return Err(format!("the verification found a problem with '{item}'"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::visit::{Checklist, ChecklistEntry};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn content(education: ChecklistStatus, acknowledged: bool) -> VisitContent {
        let mut checklist = Checklist::new();
        for item in MUST_BE_OK {
            checklist.insert(
                (*item).into(),
                ChecklistEntry {
                    status: ChecklistStatus::Ok,
                    note: None,
                },
            );
        }
        checklist.insert(
            "education".into(),
            ChecklistEntry {
                status: education,
                note: None,
            },
        );
        VisitContent {
            kind: VERIFICATION_KIND.into(),
            checklist,
            problems: vec![],
            help: vec![],
            diary: "入户核验两不愁三保障".into(),
            follow_up_due: None,
            acknowledged,
        }
    }

    fn step(from: &str, to: &str) -> StatusStep {
        StatusStep {
            household: HouseholdId::new("h1").unwrap(),
            from: from.into(),
            to: to.into(),
            verification: Some(VisitId::generate(crate::clock::WallTime(1_700_000_000_000))),
        }
    }

    #[test]
    fn only_the_documented_steps_are_allowed() {
        let all = [NOT_EXITED, PRE_EXIT, EXITED, DEREGISTERED, RELAPSED];
        let allowed: Vec<_> = all
            .iter()
            .flat_map(|f| all.iter().map(move |t| (*f, *t)))
            .filter(|(f, t)| transition_allowed(f, t))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (NOT_EXITED, PRE_EXIT),
                (PRE_EXIT, NOT_EXITED),
                (PRE_EXIT, EXITED),
                (EXITED, RELAPSED),
                (RELAPSED, PRE_EXIT),
            ]
        );
    }

    #[test]
    fn pre_exit_needs_a_passing_recent_verification_and_exited_is_never_a_phone_step() {
        let h = HouseholdId::new("h1").unwrap();
        let cadre = CadreId::new("c1").unwrap();
        let good = content(ChecklistStatus::NotApplicable, true);
        let v = |day, content| Verification {
            household: &h,
            cadre: &cadre,
            day,
            content,
        };
        let s = step(NOT_EXITED, PRE_EXIT);
        let today = d("2025-06-30");
        assert_eq!(
            check_step(
                &s,
                NOT_EXITED,
                today,
                &cadre,
                Some(v(d("2025-06-01"), &good))
            ),
            Ok(())
        );
        // Too old, in the future, missing, with a problem, unanswered, by another cadre.
        for (day, c) in [(d("2025-05-30"), &good), (d("2025-07-01"), &good)] {
            assert!(check_step(&s, NOT_EXITED, today, &cadre, Some(v(day, c))).is_err());
        }
        assert!(check_step(&s, NOT_EXITED, today, &cadre, None).is_err());
        let problem = content(ChecklistStatus::Problem, true);
        assert!(check_step(&s, NOT_EXITED, today, &cadre, Some(v(today, &problem))).is_err());
        let mut no_water = good.clone();
        no_water.checklist.remove("water");
        assert!(check_step(&s, NOT_EXITED, today, &cadre, Some(v(today, &no_water))).is_err());
        let other = CadreId::new("c2").unwrap();
        assert!(check_step(&s, NOT_EXITED, today, &other, Some(v(today, &good))).is_err());
        assert!(matches!(
            check_step(&s, PRE_EXIT, today, &cadre, Some(v(today, &good))),
            Err(StepRefusal::Invalid(_))
        ));
        // Pre-exit does not need the household's signature; relapse needs no visit at all.
        let unsigned = content(ChecklistStatus::Ok, false);
        assert_eq!(
            check_step(&s, NOT_EXITED, today, &cadre, Some(v(today, &unsigned))),
            Ok(())
        );
        assert_eq!(
            check_step(&step(EXITED, RELAPSED), EXITED, today, &cadre, None),
            Ok(())
        );
        // Even with a perfect, signed verification, exited is the county's approval.
        match check_step(
            &step(PRE_EXIT, EXITED),
            PRE_EXIT,
            today,
            &cadre,
            Some(v(today, &good)),
        ) {
            Err(StepRefusal::Invalid(why)) => {
                assert!(
                    why.contains("county approval") && why.contains("notice"),
                    "{why}"
                );
            }
            other => panic!("expected an invalid step, got {other:?}"),
        }
    }

    #[test]
    fn approval_needs_pre_exit_a_signed_verification_and_seven_full_days_of_notice() {
        let h = HouseholdId::new("h1").unwrap();
        let cadre = CadreId::new("c1").unwrap();
        let good = content(ChecklistStatus::NotApplicable, true);
        let v = |day, content| {
            Some(Verification {
                household: &h,
                cadre: &cadre,
                day,
                content,
            })
        };
        let reason = |r: Result<(), StepRefusal>| match r {
            Err(StepRefusal::Invalid(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let verified = d("2026-11-20");
        let notice = Some(d("2026-11-25"));
        assert_eq!(approval_possible_from(d("2026-11-25")), d("2026-12-02"));
        assert_eq!(
            check_approval(PRE_EXIT, d("2026-12-02"), v(verified, &good), notice),
            Ok(())
        );
        assert_eq!(
            reason(check_approval(
                PRE_EXIT,
                d("2026-12-01"),
                v(verified, &good),
                notice
            )),
            "the village notice started on 2026-11-25; county approval is possible from 2026-12-02"
        );
        let later = d("2026-12-10");
        assert!(
            reason(check_approval(
                NOT_EXITED,
                later,
                v(verified, &good),
                notice
            ))
            .contains("not pre-exit")
        );
        assert!(
            reason(check_approval(EXITED, later, v(verified, &good), notice))
                .contains("not pre-exit")
        );
        assert!(
            reason(check_approval(PRE_EXIT, later, None, notice))
                .contains("no exit-verification visit")
        );
        assert!(
            reason(check_approval(PRE_EXIT, later, v(verified, &good), None))
                .contains("no village notice")
        );
        let unsigned = content(ChecklistStatus::Ok, false);
        assert!(
            reason(check_approval(
                PRE_EXIT,
                later,
                v(verified, &unsigned),
                notice
            ))
            .contains("acknowledged")
        );
        let problem = content(ChecklistStatus::Problem, true);
        assert!(
            reason(check_approval(
                PRE_EXIT,
                later,
                v(verified, &problem),
                notice
            ))
            .contains("education")
        );
        // The notice publishes a verified result, not an older or a later one.
        assert!(
            reason(check_approval(
                PRE_EXIT,
                later,
                v(d("2026-11-26"), &good),
                notice
            ))
            .contains("after the village notice")
        );
        assert!(
            reason(check_approval(
                PRE_EXIT,
                later,
                v(d("2026-10-20"), &good),
                notice
            ))
            .contains("more than 30 days")
        );
    }

    #[test]
    fn a_notice_is_for_a_pre_exit_household_and_starts_neither_in_the_future_nor_before_pre_exit() {
        let today = d("2026-11-29");
        assert_eq!(
            check_notice(PRE_EXIT, d("2026-11-25"), today, Some(d("2026-11-20"))),
            Ok(())
        );
        assert_eq!(check_notice(PRE_EXIT, today, today, None), Ok(()));
        assert!(check_notice(NOT_EXITED, today, today, None).is_err());
        assert!(check_notice(EXITED, today, today, None).is_err());
        assert!(check_notice(PRE_EXIT, d("2026-11-30"), today, None).is_err());
        assert!(check_notice(PRE_EXIT, d("2026-11-19"), today, Some(d("2026-11-20"))).is_err());
    }

    #[test]
    fn an_assisting_cadre_or_a_secretary_of_another_village_is_forbidden() {
        let secretary = Cadre {
            id: CadreId::new("c1").unwrap(),
            name: "书记".into(),
            phone: None,
            work_unit: None,
            title: None,
            rank: None,
            role: FIRST_SECRETARY.into(),
        };
        let post = VillagePost {
            id: crate::ids::PostId::new("p1").unwrap(),
            cadre: secretary.id.clone(),
            village: "150726102200".into(),
            from: d("2024-01-01"),
            to: None,
        };
        let day = d("2025-01-01");
        assert_eq!(
            check_role(&secretary, std::slice::from_ref(&post), "150726102200", day),
            Ok(())
        );
        assert!(matches!(
            check_role(&secretary, std::slice::from_ref(&post), "150726102201", day),
            Err(StepRefusal::Forbidden(_))
        ));
        let cadre = Cadre {
            role: "assisting".into(),
            ..secretary
        };
        assert!(matches!(
            check_role(&cadre, &[post], "150726102200", day),
            Err(StepRefusal::Forbidden(_))
        ));
    }
}
