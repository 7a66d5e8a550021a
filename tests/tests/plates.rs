//! Door plates as printed: a village's sheet is rasterised the way a printer would (resvg, from
//! the SVG files the command writes) and read back by decoders that share no code with the
//! encoder (the rqrr crate, and Debian's zbarimg when it is installed). Every plate must decode,
//! verify under the region's authority key, and name exactly the village's households — and a
//! reissued plate must retire the old one on a phone as soon as that phone syncs.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fieldvisit_core::Error as CoreError;
use fieldvisit_core::codes::HumanCode;
use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::domain::{Household, Member};
use fieldvisit_core::plate::{PlateError, VerifiedPlate, verify_plate};
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::Error;
use fieldvisit_server::plates;
use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::sqlite::SqliteStorage;
use fieldvisit_tests::harness::{TestServer, admin, now};
use resvg::tiny_skia::{Color, Pixmap, Transform};

/// Pixels per millimetre of the raster: 6 is about 150 dpi, a cheap office printer's worst.
const PX_PER_MM: f32 = 6.0;

/// A county database with a small synthetic region loaded, and no HTTP server.
struct County {
    _dir: tempfile::TempDir,
    out: PathBuf,
    storage: SqliteStorage,
    region: Region,
}

fn county(seed: u64) -> County {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("county.db")).unwrap();
    let region = Region::generate(RegionSpec::small(seed));
    fieldvisit_server::admin::load_region(&storage, &region, &admin(), now()).unwrap();
    let out = dir.path().join("sheets");
    std::fs::create_dir(&out).unwrap();
    County {
        _dir: dir,
        out,
        storage,
        region,
    }
}

/// The region's households by village code.
fn villages(region: &Region) -> BTreeMap<String, Vec<Household>> {
    let mut by_village: BTreeMap<String, Vec<Household>> = BTreeMap::new();
    for h in &region.households {
        by_village
            .entry(h.village.clone())
            .or_default()
            .push(h.clone());
    }
    by_village
}

/// Renders one SVG page on white at [`PX_PER_MM`].
fn rasterise(svg: &str) -> Pixmap {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).unwrap();
    let size = tree.size();
    // The page is 210 mm wide; usvg reports it in CSS pixels (96 per inch).
    let scale = PX_PER_MM * 210.0 / size.width();
    let width = (size.width() * scale).ceil() as u32;
    let height = (size.height() * scale).ceil() as u32;
    let mut pixmap = Pixmap::new(width, height).unwrap();
    pixmap.fill(Color::WHITE);
    resvg::render(
        &tree,
        Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
}

/// Every QR code rqrr finds on a page, or in one cell of it, decoded; a code found but not
/// decodable fails the test.
///
/// rqrr is given one plate at a time: on a whole page it pairs finder patterns of neighbouring
/// codes (they line up on a grid) into grids that are no code at all.
fn rqrr_decode(page: &Pixmap, cell: Option<plates::sheet::Cell>) -> Vec<String> {
    let px = |mm: f64| (mm * f64::from(PX_PER_MM)).round() as usize;
    let (left, top, width, height) = match cell {
        Some(c) => (px(c.x_mm), px(c.y_mm), px(c.width_mm), px(c.height_mm)),
        None => (0, 0, page.width() as usize, page.height() as usize),
    };
    let stride = page.width() as usize;
    let data = page.data();
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        // Opaque RGBA on white: the red channel is as good a luminance as any here.
        data.get(4 * ((top + y) * stride + left + x))
            .copied()
            .unwrap_or(255)
    });
    image
        .detect_grids()
        .iter()
        .map(|grid| grid.decode().unwrap().1)
        .collect()
}

/// Verifies each decoded payload and checks that together they are exactly one current plate
/// per household of the village.
fn check_village_plates(payloads: &[String], region: &Region, households: &[Household]) {
    let keys = region.authority_keys();
    let plates: Vec<VerifiedPlate> = payloads
        .iter()
        .map(|p| verify_plate(p, &keys).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect();
    let decoded: BTreeSet<&HumanCode> = plates.iter().map(|p| &p.code).collect();
    let expected: BTreeSet<&HumanCode> = households.iter().map(|h| &h.code).collect();
    assert_eq!(plates.len(), households.len(), "one plate per household");
    assert_eq!(decoded, expected);
    for plate in &plates {
        let h = households.iter().find(|h| h.code == plate.code).unwrap();
        assert_eq!(plate.issue, h.plate_issue, "{}", h.code.as_str());
    }
}

fn print(county: &County, village: &str) -> plates::Printed {
    let out = county.out.join(format!("{village}.svg"));
    plates::print_village(&county.storage, village, &out, &admin(), now()).unwrap()
}

#[test]
fn every_plate_on_every_village_sheet_is_read_by_rqrr_and_verifies_on_a_device() {
    let county = county(21);
    let villages = villages(&county.region);
    assert_eq!(villages.len(), 3);
    let mut pages_seen = 0;
    let mut written = BTreeSet::new();
    for (village, households) in &villages {
        let printed = print(&county, village);
        written.extend(printed.files.iter().cloned());
        assert_eq!(
            printed.files.len(),
            households.len().div_ceil(plates::PLATES_PER_PAGE)
        );
        let mut payloads = Vec::new();
        for file in &printed.files {
            let svg = std::fs::read_to_string(file).unwrap();
            let on_page = svg.matches(r#"<g class="plate">"#).count();
            assert!((1..=plates::PLATES_PER_PAGE).contains(&on_page));
            let page = rasterise(&svg);
            // Each plate as it is cut out along its cut lines: exactly one QR code, decoded.
            for cell in plates::sheet::cells(on_page) {
                let found = rqrr_decode(&page, Some(cell));
                assert_eq!(found.len(), 1, "{}: {cell:?}", file.display());
                payloads.extend(found);
            }
            pages_seen += 1;
        }
        check_village_plates(&payloads, &county.region, households);
    }
    assert!(pages_seen > villages.len(), "some village needs two pages");
    // The pages and nothing else: no temporary file is left behind.
    let in_folder: BTreeSet<PathBuf> = std::fs::read_dir(&county.out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(in_folder, written);
}

fn zbarimg_available() -> bool {
    std::process::Command::new("zbarimg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn zbarimg(png: &Path) -> Vec<String> {
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zbarimg failed on {}: {}",
        png.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_plate_on_a_village_sheet_is_read_by_zbarimg_when_it_is_installed() {
    if !zbarimg_available() {
        println!(
            "SKIPPED: zbarimg is not installed (apt-get install zbar-tools); the rqrr test still \
             decodes every plate"
        );
        return;
    }
    let county = county(22);
    for (village, households) in villages(&county.region) {
        let printed = print(&county, &village);
        let mut payloads = Vec::new();
        for file in &printed.files {
            let png = file.with_extension("png");
            let pixmap = rasterise(&std::fs::read_to_string(file).unwrap());
            std::fs::write(&png, pixmap.encode_png().unwrap()).unwrap();
            payloads.extend(zbarimg(&png));
        }
        check_village_plates(&payloads, &county.region, &households);
    }
}

/// The text nodes of an SVG page.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let start = t.find('>')? + 1;
            let end = t.find("</text>")?;
            t.get(start..end).map(str::to_string)
        })
        .collect()
}

#[test]
fn a_sheet_shows_codes_issues_and_the_village_name_and_no_personal_data() {
    let county = county(23);
    for (village, households) in villages(&county.region) {
        let name = county
            .region
            .areas
            .iter()
            .find(|a| a.code == village)
            .unwrap()
            .name
            .clone();
        let printed = print(&county, &village);
        let sheet: String = printed
            .files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        // Every text on the sheet is the village name, a human code, an issue, or a footer.
        let codes: BTreeSet<String> = households.iter().map(|h| h.code.grouped()).collect();
        for text in texts(&sheet) {
            let allowed = text == name
                || codes.contains(&text)
                || (text.starts_with("第 ") && text.ends_with(" 版"))
                || (text.starts_with(&format!("{name} {village} · 门牌 第 "))
                    && text.ends_with("页 · 沿虚线剪下"));
            assert!(allowed, "unexpected text on a plate sheet: {text:?}");
        }
        // And nothing personal anywhere in the file (attributes and titles included).
        let members: Vec<&Member> = county
            .region
            .members
            .iter()
            .filter(|m| households.iter().any(|h| h.id == m.household))
            .collect();
        assert!(!members.is_empty());
        for m in members {
            if !name.contains(&m.name) {
                assert!(!sheet.contains(&m.name), "a member's name is on the sheet");
            }
            if let Some(id) = &m.resident_id {
                assert!(
                    !sheet.contains(id.as_str()),
                    "a resident ID is on the sheet"
                );
            }
        }
        for h in &households {
            if let Some(phone) = &h.phone {
                assert!(
                    !sheet.contains(phone.as_str()),
                    "a phone number is on the sheet"
                );
            }
            assert!(
                !sheet.contains(h.id.as_str()),
                "a household id is on the sheet"
            );
        }
    }
}

#[test]
fn an_unknown_village_code_is_refused_by_name() {
    let county = county(24);
    let err = plates::print_village(
        &county.storage,
        "150799999999",
        &county.out.join("x.svg"),
        &admin(),
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("no village with code '150799999999'"),
        "{err}"
    );
    assert!(std::fs::read_dir(&county.out).unwrap().next().is_none());
}

#[test]
fn an_area_without_households_has_no_plates_to_print() {
    let county = county(25);
    // A county-level area: in the registry, but households live in villages.
    let county_area = county
        .region
        .areas
        .iter()
        .find(|a| {
            a.parent.is_some() && !county.region.households.iter().any(|h| h.village == a.code)
        })
        .unwrap();
    let err = plates::print_village(
        &county.storage,
        &county_area.code,
        &county.out.join("x.svg"),
        &admin(),
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    assert!(err.to_string().contains("has no households"), "{err}");
}

#[test]
fn a_sheet_to_a_missing_folder_or_a_non_svg_name_is_refused_before_printing() {
    let county = county(26);
    let village = county.region.households[0].village.clone();
    let missing = county.out.join("no-such-folder").join("v.svg");
    let err =
        plates::print_village(&county.storage, &village, &missing, &admin(), now()).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(err.to_string().contains("cannot write to"), "{err}");
    let err = plates::print_village(
        &county.storage,
        &village,
        &county.out.join("v.pdf"),
        &admin(),
        now(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("ending in .svg"), "{err}");
    // Nothing was printed, so nothing was logged but the region load.
    let log = county.storage.read().unwrap().admin_log(10).unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
}

#[test]
fn reissuing_an_unknown_household_is_refused_and_changes_nothing() {
    let county = county(27);
    for input in ["h-no-such-household", "H0000-0000X", ""] {
        let err =
            plates::reissue(&county.storage, input, Some("lost"), &admin(), now()).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{input}: {err:?}");
        assert!(
            err.to_string()
                .contains("no household with id or door-plate code")
        );
    }
    let log = county.storage.read().unwrap().admin_log(10).unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
}

#[test]
fn a_household_is_found_for_reissue_by_its_door_plate_code_as_typed() {
    let county = county(28);
    let h = &county.region.households[3];
    let typed = h.code.grouped().to_lowercase();
    let reissued = plates::reissue(&county.storage, &typed, None, &admin(), now()).unwrap();
    assert_eq!(reissued.household, h.id);
    assert_eq!(reissued.previous_issue, h.plate_issue);
    assert_eq!(reissued.plate.issue, h.plate_issue + 1);
    // The reprinted village sheet carries the new issue.
    let (_, labels) = plates::village_plates(&county.storage, &h.village).unwrap();
    let label = labels.iter().find(|l| l.code == h.code).unwrap();
    assert_eq!(label.issue, h.plate_issue + 1);
    assert_eq!(label.payload, reissued.plate.payload);
}

#[test]
fn a_reissued_plate_is_accepted_and_the_old_one_refused_once_the_phone_syncs() {
    let server = TestServer::start(29);
    let household = server.region.households[0].clone();
    let cadres = server.cadres_of(&household);
    assert!(!cadres.is_empty());
    let phones: Vec<_> = cadres.iter().map(|c| server.device(c)).collect();
    let old_plate = server.region.plate(&household);

    for phone in &phones {
        let scanned = phone.scan(&old_plate).unwrap();
        assert_eq!(scanned.plate_issue, household.plate_issue);
    }

    let reissued = plates::reissue(
        server.storage.as_ref(),
        household.id.as_str(),
        Some("plate torn off in a storm"),
        &admin(),
        now(),
    )
    .unwrap();
    let new_plate = &reissued.plate.payload;
    assert_ne!(new_plate, &old_plate);
    // The new plate prints to a one-page sheet that a decoder reads back.
    let out = server.dir.path().join("reissued.svg");
    let file = plates::write_reissued(&reissued, &out).unwrap();
    let decoded = rqrr_decode(&rasterise(&std::fs::read_to_string(file).unwrap()), None);
    assert_eq!(&decoded, std::slice::from_ref(new_plate));

    for phone in &phones {
        // Before it syncs, a phone knows nothing of the reissue: the old plate still opens.
        assert!(phone.scan(&old_plate).is_ok());
        server.sync(phone).unwrap();
        match phone.scan(&old_plate) {
            Err(CoreError::Plate(e @ PlateError::Superseded { scanned, current })) => {
                assert_eq!(scanned, household.plate_issue);
                assert_eq!(current, household.plate_issue + 1);
                assert!(
                    e.to_string().contains("replaced by a newer issue"),
                    "unclear message: {e}"
                );
            }
            other => panic!("the old plate was not refused as superseded: {other:?}"),
        }
        // A visit cannot be recorded on the old plate either.
        let at = phone.now();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5);
        let (content, location) = server.region.visit(&mut rng, &household, at);
        let refused = phone.record_visit(
            Identification::Scanned {
                payload: old_plate.clone(),
                scanned_at: at,
            },
            content,
            Some(location),
        );
        assert!(
            matches!(
                refused,
                Err(CoreError::Plate(PlateError::Superseded { .. }))
            ),
            "{refused:?}"
        );
        let scanned = phone.scan(new_plate).unwrap();
        assert_eq!(scanned.plate_issue, household.plate_issue + 1);
        assert_eq!(scanned.household.id, household.id);
    }

    // The reissue is in the admin log, with who did it and why.
    let log = server.storage.read().unwrap().admin_log(5).unwrap();
    let entry = log.iter().find(|e| e.action == "plate.reissue").unwrap();
    assert_eq!(entry.actor, "test");
    assert_eq!(entry.subject, household.id.as_str());
    assert_eq!(entry.detail["reason"], "plate torn off in a storm");
    assert_eq!(entry.detail["issue"], household.plate_issue + 1);
}
