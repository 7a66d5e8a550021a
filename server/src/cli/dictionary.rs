//! `dictionary`: the compression dictionaries for sync bodies, trained on the operations
//! phones pushed (`train`) and listed with the one phones are offered (`list`).

use std::process::ExitCode;

use clap::Subcommand;

use fieldvisit_server::{Result, dictionary, storage};

use super::{Who, now};

#[derive(Subcommand)]
pub enum DictionaryAction {
    /// Train a dictionary on the newest accepted operations; phones fetch it at their next sync.
    Train {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        /// Operations to train on (the newest).
        #[arg(long, default_value_t = dictionary::DEFAULT_SAMPLES)]
        samples: usize,
        /// The dictionary's size in bytes.
        #[arg(long, default_value_t = dictionary::DEFAULT_SIZE)]
        size: usize,
        #[command(flatten)]
        who: Who,
    },
    /// List the dictionaries; the last one is advertised to phones.
    List {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
    },
}

pub fn run(action: DictionaryAction) -> Result<ExitCode> {
    match action {
        DictionaryAction::Train {
            db,
            samples,
            size,
            who,
        } => {
            let storage = storage::open(&db)?;
            let d = dictionary::train_from_storage(
                storage.as_ref(),
                samples,
                size,
                &who.actor()?,
                now(),
            )?;
            println!(
                "dictionary {} ({} bytes, trained on {} operations) is now advertised to phones",
                d.id,
                d.bytes.len(),
                d.samples
            );
            Ok(ExitCode::SUCCESS)
        }
        DictionaryAction::List { db } => {
            let storage = storage::open(&db)?;
            let all = storage.read()?.dictionaries()?;
            if all.is_empty() {
                println!("no dictionaries: phones send plain zstd bodies");
            }
            for d in all {
                println!(
                    "{:>10}  {:>7} bytes  {:>7} samples  created {}",
                    d.id,
                    d.bytes.len(),
                    d.samples,
                    d.created_at.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
