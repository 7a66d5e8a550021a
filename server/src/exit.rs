//! A household's exit procedure (退出) on the server: its history for admins and supervisors,
//! and the two steps no phone makes — the village notice (公示) and the county's approval,
//! recorded by a sync admin with `fieldvisit-server exit notice|approve` (docs/protocol.md,
//! "Poverty status and exit verification").
//!
//! The history merges the accepted `household.status` operations of the journal (the first
//! secretary's steps) with the stored exit events (notices and approvals), oldest first, so it
//! cannot disagree with what was accepted. The approval is checked with the same rules the
//! phone knows ([`exit::check_approval`]) and, once accepted, moves the status to exited in the
//! same transaction as its event, its admin-log entry and the feed entries that bring the new
//! status to every phone holding the household.

use std::process::ExitCode;

use chrono::{Datelike, NaiveDate};
use clap::Subcommand;
use serde::Serialize;

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::domain::Household;
use fieldvisit_core::domain::exit::{self, StatusStep, StepRefusal, Verification};
use fieldvisit_core::domain::visit::{VisitContent, VisitRecord};
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, VisitId};
use fieldvisit_core::journal::{OpBody, OpKind};

use crate::admin_log::{self, Action, Actor};
use crate::error::{Error, Result};
use crate::storage::{self, ExitEvent, ExitEventKind, Registry, Storage, Tx};

/// One accepted step of a household's poverty status made from a phone.
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
        describe(&self.from, &self.to)
    }
}

fn describe(from: &str, to: &str) -> String {
    format!(
        "{} ({from}) → {} ({to})",
        exit::label(from),
        exit::label(to)
    )
}

/// One entry of a household's exit history: a first secretary's step, a village notice, or the
/// county's approval (which moved the status from pre-exit to exited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitRecord {
    Step(ExitStep),
    Notice(ExitEvent),
    Approval(ExitEvent),
}

impl ExitRecord {
    /// When the server took it in.
    pub fn at(&self) -> ServerTime {
        match self {
            ExitRecord::Step(s) => s.received_at,
            ExitRecord::Notice(e) | ExitRecord::Approval(e) => e.at,
        }
    }

    /// One line for a list: what happened, by whom.
    pub fn describe(&self) -> String {
        match self {
            ExitRecord::Step(s) => format!(
                "{:<28} by {:<12} verification {}",
                s.describe(),
                s.cadre.as_ref().map_or("?", |c| c.as_str()),
                s.verification
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into())
            ),
            ExitRecord::Notice(e) => format!(
                "{:<28} by {:<12} notice from {}, approval possible from {}",
                "village notice (公示)",
                e.actor,
                e.day,
                exit::approval_possible_from(e.day)
            ),
            ExitRecord::Approval(e) => format!(
                "{:<28} by {:<12} county approval of {}",
                describe(exit::PRE_EXIT, exit::EXITED),
                e.actor,
                e.day
            ),
        }
    }
}

/// The accepted phone steps of `household`, oldest first.
pub fn exit_history(tx: &mut dyn Tx, household: &HouseholdId) -> Result<Vec<ExitStep>> {
    let mut out = Vec::new();
    for (op, received_at) in tx.ops_of_household(household, &[OpKind::HouseholdStatus])? {
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

/// The whole exit history of `household`: phone steps, notices and approvals, oldest first.
pub fn exit_record(tx: &mut dyn Tx, household: &HouseholdId) -> Result<Vec<ExitRecord>> {
    let mut out: Vec<ExitRecord> = exit_history(tx, household)?
        .into_iter()
        .map(ExitRecord::Step)
        .collect();
    for event in tx.exit_events_of_household(household)? {
        out.push(match event.kind {
            ExitEventKind::Notice => ExitRecord::Notice(event),
            ExitEventKind::Approval => ExitRecord::Approval(event),
        });
    }
    // Stable: equal times keep steps before events, each in its stored order.
    out.sort_by_key(ExitRecord::at);
    Ok(out)
}

/// The local (China Standard Time) day of a server time.
fn day_of(at: ServerTime) -> NaiveDate {
    WallTime(at.0).local_date()
}

/// Where the household's current pre-exit period began (its last step to pre-exit, or its
/// last approval, whichever is later; `None` when neither exists, e.g. a household imported
/// as pre-exit), and the village notice recorded since then, if any (the latest counts).
fn current_period(
    tx: &mut dyn Tx,
    household: &HouseholdId,
) -> Result<(Option<ServerTime>, Option<ExitEvent>)> {
    let entered = exit_history(tx, household)?
        .into_iter()
        .filter(|s| s.to == exit::PRE_EXIT)
        .map(|s| s.received_at)
        .max();
    let events = tx.exit_events_of_household(household)?;
    let approved = events
        .iter()
        .filter(|e| e.kind == ExitEventKind::Approval)
        .map(|e| e.at)
        .max();
    let since = entered.max(approved);
    let notice = events
        .into_iter()
        .rfind(|e| e.kind == ExitEventKind::Notice && since.is_none_or(|s| e.at >= s));
    Ok((since, notice))
}

/// The household's latest exit-verification visit up to `day` that the village's first
/// secretary recorded (amendments applied). Visits of that kind by anyone else never count.
fn latest_verification(
    tx: &mut dyn Tx,
    household: &Household,
    day: NaiveDate,
) -> Result<Option<(VisitRecord, VisitContent)>> {
    let mut verifications: Vec<_> = crate::visits::of_household(tx, &household.id)?
        .into_iter()
        .filter(|v| v.record.content.kind == exit::VERIFICATION_KIND)
        .collect();
    verifications.sort_by_key(|v| v.record.recorded_at);
    for visit in verifications.into_iter().rev() {
        let visited = visit.record.recorded_at.local_date();
        if visited > day {
            continue;
        }
        let Some(cadre) = tx.cadre(&visit.record.cadre)? else {
            continue;
        };
        let posts = tx.posts_of_cadre(&visit.record.cadre)?;
        if exit::check_role(&cadre, &posts, &household.village, visited).is_err() {
            continue;
        }
        let content = visit.content();
        return Ok(Some((visit.record, content)));
    }
    Ok(None)
}

fn refused(household: &HouseholdId, r: StepRefusal) -> Error {
    match r {
        StepRefusal::Forbidden(m) | StepRefusal::Invalid(m) => {
            Error::refused(format!("household {household}: {m}"))
        }
    }
}

fn registered(tx: &mut dyn Registry, household: &HouseholdId) -> Result<Household> {
    tx.household(household)?
        .ok_or_else(|| Error::NotFound(format!("no household {household}")))
}

/// Records that the village published the exit notice (公示) of a pre-exit household, starting
/// on `from`, with its admin-log entry. Phones are not told: the notice changes no status.
///
/// # Errors
/// [`Error::NotFound`] for an unknown household; [`Error::Refused`] (with the reason) when the
/// household is not pre-exit or the date is in the future or before the household became
/// pre-exit.
pub fn record_notice(
    storage: &dyn Storage,
    household: &HouseholdId,
    from: NaiveDate,
    actor: &Actor,
    now: ServerTime,
) -> Result<ExitEvent> {
    let mut tx = storage.write()?;
    let found = registered(tx.as_mut(), household)?;
    let (since, _) = current_period(tx.as_mut(), household)?;
    exit::check_notice(&found.poverty_status, from, day_of(now), since.map(day_of))
        .map_err(|r| refused(household, r))?;
    let mut event = ExitEvent {
        id: 0,
        household: household.clone(),
        kind: ExitEventKind::Notice,
        day: from,
        at: now,
        actor: actor.as_str().to_string(),
    };
    event.id = tx.insert_exit_event(&event)?;
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::ExitNotice,
        household.as_str(),
        serde_json::json!({
            "from": from.to_string(),
            "approval_possible_from": exit::approval_possible_from(from).to_string(),
        }),
    )?;
    tx.commit()?;
    Ok(event)
}

/// What an approval did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approved {
    pub event: ExitEvent,
    /// The notice it rests on.
    pub notice_from: NaiveDate,
    /// The verification visit it rests on.
    pub verification: VisitId,
    pub exit_year: i32,
}

/// Records the county's approval of a household's exit on today's date (of `now`) and moves
/// its status from pre-exit to exited, if [`exit::check_approval`] allows it: the household is
/// pre-exit, its latest verification visit by the village's first secretary passes and was
/// acknowledged, and the village notice recorded since it became pre-exit has run 7 full days.
/// The status change, the approval event, its admin-log entry and the feed entries for every
/// phone holding the household commit together.
///
/// # Errors
/// [`Error::NotFound`] for an unknown household; [`Error::Refused`] naming what is missing.
pub fn approve(
    storage: &dyn Storage,
    household: &HouseholdId,
    actor: &Actor,
    now: ServerTime,
) -> Result<Approved> {
    let mut tx = storage.write()?;
    let found = registered(tx.as_mut(), household)?;
    let day = day_of(now);
    let (_, notice) = current_period(tx.as_mut(), household)?;
    let verification = latest_verification(tx.as_mut(), &found, day)?;
    let checked = verification.as_ref().map(|(record, content)| Verification {
        household: &record.household,
        cadre: &record.cadre,
        day: record.recorded_at.local_date(),
        content,
    });
    exit::check_approval(
        &found.poverty_status,
        day,
        checked,
        notice.as_ref().map(|n| n.day),
    )
    .map_err(|r| refused(household, r))?;
    let (Some((record, _)), Some(notice)) = (verification, notice) else {
        return Err(Error::Corrupt(
            "an approval passed its checks without a verification and a notice".into(),
        ));
    };
    let exit_year = day.year();
    tx.set_poverty_status(household, exit::EXITED, Some(exit_year))?;
    let mut event = ExitEvent {
        id: 0,
        household: household.clone(),
        kind: ExitEventKind::Approval,
        day,
        at: now,
        actor: actor.as_str().to_string(),
    };
    event.id = tx.insert_exit_event(&event)?;
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::ExitApprove,
        household.as_str(),
        serde_json::json!({
            "from": exit::PRE_EXIT,
            "to": exit::EXITED,
            "notice_from": notice.day.to_string(),
            "verification": record.id.to_string(),
            "exit_year": exit_year,
        }),
    )?;
    crate::feed::household_changed(tx.as_mut(), household, None, now)?;
    tx.commit()?;
    Ok(Approved {
        event,
        notice_from: notice.day,
        verification: record.id,
        exit_year,
    })
}

/// `fieldvisit-server exit ...`: the admin steps of the exit procedure.
#[derive(Debug, Subcommand)]
pub enum ExitCommand {
    /// Record that the village published a pre-exit household's exit notice (公示) starting
    /// on DATE; county approval is possible 7 full days later.
    Notice {
        /// The household id.
        household: String,
        /// The first day of the notice (YYYY-MM-DD), not after today.
        #[arg(long = "from")]
        from: NaiveDate,
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        /// The admin's name in the admin log (default: the operating system user).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Record the county's approval today: the household becomes exited, and the phones
    /// holding it receive the new status on their next sync.
    Approve {
        /// The household id.
        household: String,
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long)]
        actor: Option<String>,
    },
}

/// Runs an `exit` command at `now`.
pub fn run_cli(command: ExitCommand, now: ServerTime) -> Result<ExitCode> {
    match command {
        ExitCommand::Notice {
            household,
            from,
            db,
            actor,
        } => {
            let actor = Actor::from_flag_or_os(actor.as_deref())?;
            let id = HouseholdId::new(household)?;
            let storage = storage::open(&db)?;
            let event = record_notice(storage.as_ref(), &id, from, &actor, now)?;
            println!(
                "household {id}: village notice from {}; county approval is possible from {}",
                event.day,
                exit::approval_possible_from(event.day)
            );
        }
        ExitCommand::Approve {
            household,
            db,
            actor,
        } => {
            let actor = Actor::from_flag_or_os(actor.as_deref())?;
            let id = HouseholdId::new(household)?;
            let storage = storage::open(&db)?;
            let approved = approve(storage.as_ref(), &id, &actor, now)?;
            println!(
                "household {id}: approved on {} (notice from {}, verification {}); status {}, \
                 exit year {}",
                approved.event.day,
                approved.notice_from,
                approved.verification,
                describe(exit::PRE_EXIT, exit::EXITED),
                approved.exit_year
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `fieldvisit-server household ID`: the household's status and its whole exit history.
pub fn show_household(db: &str, household: &str, json: bool) -> Result<ExitCode> {
    let id = HouseholdId::new(household)?;
    let storage = storage::open(db)?;
    let mut tx = storage.read()?;
    let Some(found) = tx.household(&id)? else {
        eprintln!("no household {id} in {db}");
        return Ok(ExitCode::FAILURE);
    };
    let history = exit_record(tx.as_mut(), &id)?;
    if json {
        let out = serde_json::json!({ "household": found, "exit_history": history });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} {}  village {}  status {} ({}){}",
        found.id,
        found.code,
        found.village,
        exit::label(&found.poverty_status),
        found.poverty_status,
        found
            .exit_year
            .map(|y| format!("  exit year {y}"))
            .unwrap_or_default()
    );
    if history.is_empty() {
        println!("no exit steps");
    }
    for entry in &history {
        println!("{}  {}", china_time(entry.at()), entry.describe());
    }
    Ok(ExitCode::SUCCESS)
}

/// A server time as China Standard Time (UTC+8), to the second, for admins reading a list.
fn china_time(at: ServerTime) -> String {
    let cst = chrono::FixedOffset::east_opt(8 * 3600);
    match (chrono::DateTime::from_timestamp_millis(at.0), cst) {
        (Some(t), Some(cst)) => t
            .with_timezone(&cst)
            .format("%Y-%m-%d %H:%M:%S%:z")
            .to_string(),
        _ => at.0.to_string(),
    }
}
