//! Door plates from the county's side: print a village's plates as an A4 sheet, and reissue a
//! household's plate when the old one is lost or damaged.
//!
//! Plates are signed here with the plate authority's secret (`authority_secret`); phones verify
//! them offline with the public key they received at enrollment. A reissue bumps the
//! household's issue number and puts the household back in the feed of every phone responsible
//! for it, so once a phone has synced, the old plate is refused there as superseded. Printing and
//! reissuing are admin actions and go to the admin log.
//!
//! A plate carries nothing personal: [`sheet::PlateLabel`] holds the signed payload, the human
//! code and the issue number, and the sheet adds only the village name.

pub mod sheet;

use std::path::{Path, PathBuf};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::codes::{CodeKind, HumanCode};
use fieldvisit_core::domain::{Area, Household, RegistryRecord};
use fieldvisit_core::ids::HouseholdId;
use fieldvisit_core::plate::PlateAuthority;

use crate::admin_log::{self, Action, Actor};
use crate::error::{Error, Result};
use crate::feed::household_changed;
use crate::storage::{Registry, Storage, Tx};

pub use sheet::{PLATES_PER_PAGE, PlateLabel, Village};

/// A printed sheet: the village, its plates, and the files written.
#[derive(Debug, Clone)]
pub struct Printed {
    pub village: Area,
    pub plates: Vec<PlateLabel>,
    pub files: Vec<PathBuf>,
}

/// What a reissue did.
#[derive(Debug, Clone)]
pub struct Reissued {
    pub household: HouseholdId,
    pub village: Area,
    pub previous_issue: u16,
    /// The new plate (its `issue` is the household's issue now).
    pub plate: PlateLabel,
}

/// The authority that signs new plates. Its public key must be one the phones receive, or the
/// plates it signs would be refused everywhere.
fn signing_authority(tx: &mut dyn Tx) -> Result<PlateAuthority> {
    let authority = tx.plate_authority()?.ok_or_else(|| {
        Error::refused(
            "this server holds no plate-signing key, so it cannot sign plates; load the registry \
             with its plate key first (`fieldvisit-server seed`)",
        )
    })?;
    if !tx.authority_keys()?.contains(&authority.public()) {
        return Err(Error::Corrupt(format!(
            "the secret of plate key {} does not match the public key phones receive",
            authority.key_id()
        )));
    }
    Ok(authority)
}

fn label(authority: &PlateAuthority, household: &Household) -> PlateLabel {
    PlateLabel {
        payload: authority.issue(&household.code, household.plate_issue),
        code: household.code.clone(),
        issue: household.plate_issue,
    }
}

/// At most this much of what an admin typed is echoed back in an error.
fn shown(input: &str) -> String {
    input.trim().chars().take(40).collect()
}

/// A village's plates, signed, in door-plate code order.
///
/// # Errors
/// [`Error::NotFound`] for an unknown area code; [`Error::Refused`] for an area without
/// households (a township or county code, or an empty village) or a server without a plate key.
pub fn village_plates(storage: &dyn Storage, village: &str) -> Result<(Area, Vec<PlateLabel>)> {
    let mut tx = storage.read()?;
    let code = village.trim();
    let area = tx.area(code)?.ok_or_else(|| {
        Error::NotFound(format!(
            "no village with code '{}' in the registry (a village code has 12 digits)",
            shown(village)
        ))
    })?;
    let households = tx.households_of_village(code)?;
    if households.is_empty() {
        return Err(Error::refused(format!(
            "{} ({}) has no households, so there are no plates to print; plates are printed per \
             village",
            area.name, area.code
        )));
    }
    let authority = signing_authority(tx.as_mut())?;
    let plates = households.iter().map(|h| label(&authority, h)).collect();
    Ok((area, plates))
}

/// The files a sheet of `pages` pages is written to: `out` itself for one page, else
/// `STEM-1.svg`, `STEM-2.svg`, … beside it (numbers padded to the same width).
pub fn page_paths(out: &Path, pages: usize) -> Vec<PathBuf> {
    if pages <= 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plates".into());
    let digits = pages.to_string().len();
    (1..=pages)
        .map(|p| out.with_file_name(format!("{stem}-{p:0digits$}.svg")))
        .collect()
}

/// Checks that a sheet can go to `out` before anything is signed or changed: the name ends in
/// `.svg` and its folder accepts a new file.
///
/// # Errors
/// [`Error::Refused`] for another extension; [`Error::Io`] (naming the folder) when the folder
/// does not exist or is not writable.
pub fn check_out_path(out: &Path) -> Result<()> {
    let is_svg = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if !is_svg {
        return Err(Error::refused(format!(
            "plate sheets are written as SVG: give a file name ending in .svg, not '{}' (to make \
             a PDF, convert the SVG pages: see docs/plates.md)",
            out.display()
        )));
    }
    // A probe file, created and removed: the only sure test that the folder takes new files.
    let probe = temporary_beside(out);
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| io_at(folder_of(out), e))
}

/// A hidden temporary name in the folder of `path`, unique to this process.
fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plates.svg".into());
    folder_of(path).join(format!(".{name}.{}.tmp", std::process::id()))
}

fn folder_of(out: &Path) -> &Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn io_at(path: &Path, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("cannot write to {}: {e}", path.display()),
    ))
}

/// Writes each page to a temporary file in the same folder and renames it into place, so a
/// failed write never leaves half a page under the final name. Files get the usual
/// permissions (the umask's), so whoever prints them can read them.
fn write_pages(out: &Path, pages: &[String]) -> Result<Vec<PathBuf>> {
    let paths = page_paths(out, pages.len());
    for (path, page) in paths.iter().zip(pages) {
        let tmp = temporary_beside(path);
        let written =
            std::fs::write(&tmp, page.as_bytes()).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            // The temporary file may or may not exist; either way it must not stay behind.
            let _ = std::fs::remove_file(&tmp);
            return Err(io_at(path, e));
        }
    }
    Ok(paths)
}

/// Prints a village's plates to `out` (see [`page_paths`]) and logs the print.
///
/// # Errors
/// As [`check_out_path`] and [`village_plates`]; [`Error::Io`] when a page cannot be written.
pub fn print_village(
    storage: &dyn Storage,
    village: &str,
    out: &Path,
    actor: &Actor,
    now: ServerTime,
) -> Result<Printed> {
    check_out_path(out)?;
    let (area, plates) = village_plates(storage, village)?;
    let pages = sheet::render_pages(
        Village {
            code: &area.code,
            name: &area.name,
        },
        &plates,
    )?;
    let files = write_pages(out, &pages)?;
    let mut tx = storage.write()?;
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::PlatesPrint,
        &area.code,
        serde_json::json!({ "plates": plates.len(), "pages": pages.len() }),
    )?;
    tx.commit()?;
    Ok(Printed {
        village: area,
        plates,
        files,
    })
}

/// Finds a household by id or by door-plate code (as typed: case, spaces and hyphens ignored).
fn find_household(tx: &mut dyn Registry, household: &str) -> Result<Household> {
    let input = household.trim();
    if let Ok(id) = HouseholdId::new(input) {
        if let Some(h) = tx.household(&id)? {
            return Ok(h);
        }
    }
    if let Ok(code) = HumanCode::parse(input) {
        if code.kind() == CodeKind::Household {
            if let Some(h) = tx.household_by_code(&code)? {
                return Ok(h);
            }
        }
    }
    Err(Error::NotFound(format!(
        "no household with id or door-plate code '{}'",
        shown(household)
    )))
}

/// Reissues a household's plate: the issue number goes up by one, every phone responsible for
/// the household receives it at its next sync (and from then on refuses the older plates), and
/// the reissue is logged with `reason`. Returns the new plate, to print.
///
/// # Errors
/// [`Error::NotFound`] for an unknown household; [`Error::Refused`] when the issue numbers are
/// used up or the server holds no plate key.
pub fn reissue(
    storage: &dyn Storage,
    household: &str,
    reason: Option<&str>,
    actor: &Actor,
    now: ServerTime,
) -> Result<Reissued> {
    let mut tx = storage.write()?;
    let mut h = find_household(tx.as_mut(), household)?;
    let authority = signing_authority(tx.as_mut())?;
    let previous_issue = h.plate_issue;
    h.plate_issue = previous_issue.checked_add(1).ok_or_else(|| {
        Error::refused(format!(
            "household {} has used every plate issue number",
            h.id
        ))
    })?;
    tx.put_record(&RegistryRecord::Household(h.clone()))?;
    household_changed(tx.as_mut(), &h.id, None, now)?;
    let village = tx
        .area(&h.village)?
        .ok_or_else(|| Error::Corrupt(format!("household {} names an unknown village", h.id)))?;
    let plate = label(&authority, &h);
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::PlateReissue,
        h.id.as_str(),
        serde_json::json!({
            "code": h.code.as_str(),
            "village": h.village,
            "previous_issue": previous_issue,
            "issue": h.plate_issue,
            "key_id": authority.key_id(),
            "reason": reason,
        }),
    )?;
    tx.commit()?;
    Ok(Reissued {
        household: h.id,
        village,
        previous_issue,
        plate,
    })
}

/// Writes the sheet of a reissued plate (one plate on one page) to `out`.
///
/// # Errors
/// As [`check_out_path`]; [`Error::Io`] when the page cannot be written.
pub fn write_reissued(reissued: &Reissued, out: &Path) -> Result<PathBuf> {
    check_out_path(out)?;
    let pages = sheet::render_pages(
        Village {
            code: &reissued.village.code,
            name: &reissued.village.name,
        },
        std::slice::from_ref(&reissued.plate),
    )?;
    let mut files = write_pages(out, &pages)?;
    files
        .pop()
        .ok_or_else(|| Error::Corrupt("a one-plate sheet has no page".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_goes_to_the_named_file_and_more_are_numbered() {
        assert_eq!(
            page_paths(Path::new("out/v.svg"), 1),
            vec![PathBuf::from("out/v.svg")]
        );
        assert_eq!(
            page_paths(Path::new("out/v.svg"), 2),
            vec![PathBuf::from("out/v-1.svg"), PathBuf::from("out/v-2.svg")]
        );
        let many = page_paths(Path::new("v.svg"), 12);
        assert_eq!(many[0], PathBuf::from("v-01.svg"));
        assert_eq!(many[11], PathBuf::from("v-12.svg"));
    }

    #[test]
    fn only_svg_paths_in_writable_folders_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_out_path(&dir.path().join("a.svg")).is_ok());
        assert!(check_out_path(&dir.path().join("a.SVG")).is_ok());
        let pdf = check_out_path(&dir.path().join("a.pdf")).unwrap_err();
        assert!(pdf.to_string().contains("ending in .svg"), "{pdf}");
        let missing = check_out_path(&dir.path().join("no/such/folder/a.svg")).unwrap_err();
        assert!(missing.to_string().contains("cannot write to"), "{missing}");
    }
}
