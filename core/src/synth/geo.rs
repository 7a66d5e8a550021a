//! The region's geography: the 14 counties with rough centres and the ethnic mix of their rural
//! population, the real township list (data/hulunbuir_townships.csv), and the synthetic poor
//! villages placed in them.

use std::collections::{BTreeMap, HashSet};

use rand::Rng;

use super::{RegionSpec, allocate, names};
use crate::domain::{Area, GeoPoint};

/// The city: 呼伦贝尔市, seat in Hailar.
pub(super) const CITY_CODE: &str = "150700000000";
pub(super) const CITY_NAME: &str = "呼伦贝尔市";
const CITY_CENTRE: GeoPoint = GeoPoint {
    lat: 49.2116,
    lon: 119.7365,
};
const PROVINCE_CODE: &str = "150000000000";

/// Hulunbuir's extent; synthetic points are kept inside it.
const LAT_RANGE: (f64, f64) = (47.0, 53.3);
const LON_RANGE: (f64, f64) = (115.5, 126.0);

/// Metres per degree of latitude on the sphere `GeoPoint::distance_m` uses, so that offsets
/// made here measure back to what was asked.
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

pub(super) struct County {
    pub code6: &'static str,
    pub name: &'static str,
    pub centre: GeoPoint,
    /// Half-extent in degrees (lat, lon) around the centre where its townships lie.
    spread: (f64, f64),
    /// Share of the city's poor villages. Weighted toward the national-level poor banners
    /// (鄂伦春, 莫力达瓦) and the regional-level ones (鄂温克, 阿荣, 扎兰屯, 新巴尔虎左旗).
    poor_weight: u32,
    /// Pastoral banners have gacha (嘎查) rather than villages (村).
    pub pastoral: bool,
    /// Ethnic mix of the rural poor population: (GB 3304 code, weight).
    pub ethnicities: &'static [(&'static str, u32)],
}

const fn pt(lat: f64, lon: f64) -> GeoPoint {
    GeoPoint { lat, lon }
}

const HAN_MOSTLY: &[(&str, u32)] = &[("01", 78), ("02", 15), ("11", 4), ("03", 3)];
const PASTORAL_MIX: &[(&str, u32)] = &[("02", 78), ("01", 16), ("45", 4), ("31", 2)];

pub(super) const COUNTIES: &[County] = &[
    County {
        code6: "150702",
        name: "海拉尔区",
        centre: pt(49.21, 119.74),
        spread: (0.10, 0.18),
        poor_weight: 2,
        pastoral: false,
        ethnicities: HAN_MOSTLY,
    },
    County {
        code6: "150703",
        name: "扎赉诺尔区",
        centre: pt(49.48, 117.70),
        spread: (0.06, 0.10),
        poor_weight: 0,
        pastoral: false,
        ethnicities: HAN_MOSTLY,
    },
    County {
        code6: "150721",
        name: "阿荣旗",
        centre: pt(48.30, 123.30),
        spread: (0.40, 0.60),
        poor_weight: 45,
        pastoral: false,
        ethnicities: &[
            ("01", 84),
            ("31", 4),
            ("45", 3),
            ("10", 3),
            ("02", 3),
            ("11", 3),
        ],
    },
    County {
        code6: "150722",
        name: "莫力达瓦达斡尔族自治旗",
        centre: pt(48.70, 124.40),
        spread: (0.55, 0.55),
        poor_weight: 70,
        pastoral: false,
        ethnicities: &[("01", 60), ("31", 25), ("02", 5), ("45", 5), ("11", 5)],
    },
    County {
        code6: "150723",
        name: "鄂伦春自治旗",
        centre: pt(50.40, 123.70),
        spread: (0.80, 1.00),
        poor_weight: 50,
        pastoral: false,
        ethnicities: &[
            ("01", 80),
            ("52", 6),
            ("02", 5),
            ("31", 4),
            ("11", 3),
            ("45", 2),
        ],
    },
    County {
        code6: "150724",
        name: "鄂温克族自治旗",
        centre: pt(48.80, 120.00),
        spread: (0.45, 0.60),
        poor_weight: 15,
        pastoral: true,
        ethnicities: &[("02", 35), ("01", 30), ("45", 25), ("31", 10)],
    },
    County {
        code6: "150725",
        name: "陈巴尔虎旗",
        centre: pt(49.60, 119.80),
        spread: (0.45, 0.80),
        poor_weight: 8,
        pastoral: true,
        ethnicities: PASTORAL_MIX,
    },
    County {
        code6: "150726",
        name: "新巴尔虎左旗",
        centre: pt(48.20, 118.40),
        spread: (0.45, 0.80),
        poor_weight: 20,
        pastoral: true,
        ethnicities: PASTORAL_MIX,
    },
    County {
        code6: "150727",
        name: "新巴尔虎右旗",
        centre: pt(48.60, 116.90),
        spread: (0.45, 0.80),
        poor_weight: 8,
        pastoral: true,
        ethnicities: PASTORAL_MIX,
    },
    County {
        code6: "150781",
        name: "满洲里市",
        centre: pt(49.55, 117.45),
        spread: (0.06, 0.12),
        poor_weight: 0,
        pastoral: false,
        ethnicities: HAN_MOSTLY,
    },
    County {
        code6: "150782",
        name: "牙克石市",
        centre: pt(49.40, 121.30),
        spread: (0.55, 0.90),
        poor_weight: 8,
        pastoral: false,
        ethnicities: HAN_MOSTLY,
    },
    County {
        code6: "150783",
        name: "扎兰屯市",
        centre: pt(48.00, 122.50),
        spread: (0.40, 0.70),
        poor_weight: 45,
        pastoral: false,
        ethnicities: &[
            ("01", 80),
            ("02", 7),
            ("31", 5),
            ("11", 4),
            ("52", 2),
            ("45", 2),
        ],
    },
    County {
        code6: "150784",
        name: "额尔古纳市",
        centre: pt(51.00, 120.30),
        spread: (0.80, 0.80),
        poor_weight: 6,
        pastoral: false,
        ethnicities: &[("01", 80), ("44", 8), ("02", 7), ("03", 5)],
    },
    County {
        code6: "150785",
        name: "根河市",
        centre: pt(51.40, 121.60),
        spread: (0.60, 0.70),
        poor_weight: 3,
        pastoral: false,
        ethnicities: &[("01", 85), ("45", 8), ("02", 7)],
    },
];

/// One row of the township table.
pub(super) struct Township {
    code9: String,
    name: String,
    county: usize,
}

/// A synthetic poor village and what later phases need to know about it.
pub(super) struct Village {
    pub code: String,
    pub name: String,
    pub county: usize,
    pub centre: GeoPoint,
}

pub(super) struct Geography {
    pub areas: Vec<Area>,
    pub villages: Vec<Village>,
}

const TOWNSHIPS_CSV: &str = include_str!("../../data/hulunbuir_townships.csv");

/// Splits one CSV line, honouring double quotes (and `""` inside them).
pub(super) fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    fields
}

/// The township table; rows that are malformed or outside the 14 counties are skipped, since
/// the file is data and must not be able to crash the generator.
pub(super) fn townships() -> Vec<Township> {
    TOWNSHIPS_CSV
        .lines()
        .filter_map(|line| {
            let fields = split_csv(line.trim_end_matches('\r'));
            let code9 = fields.first()?.trim();
            let name = fields.get(1)?.trim();
            if code9.len() != 9 || !code9.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
                return None;
            }
            let county = COUNTIES.iter().position(|c| code9.starts_with(c.code6))?;
            Some(Township {
                code9: code9.to_string(),
                name: name.to_string(),
                county,
            })
        })
        .collect()
}

/// Townships (镇/乡/苏木, codes x100–x399) have villages; streets (街道) have residents'
/// committees and x400+ are farms and development zones.
fn is_rural(code9: &str) -> bool {
    code9
        .get(6..9)
        .and_then(|s| s.parse::<u16>().ok())
        .is_some_and(|n| (100..400).contains(&n))
}

/// The point `dist_m` metres from `from` in direction `bearing` (radians from north).
pub(super) fn offset(from: GeoPoint, dist_m: f64, bearing: f64) -> GeoPoint {
    let dlat = dist_m * bearing.cos() / M_PER_DEG;
    let dlon = dist_m * bearing.sin() / (M_PER_DEG * from.lat.to_radians().cos().max(0.01));
    GeoPoint {
        lat: from.lat + dlat,
        lon: from.lon + dlon,
    }
}

/// A point uniformly spread over a disc of `radius_m` around `centre`.
pub(super) fn scatter_around<R: Rng + ?Sized>(
    rng: &mut R,
    centre: GeoPoint,
    radius_m: f64,
) -> GeoPoint {
    let dist = radius_m * rng.random_range(0.0..1.0f64).sqrt();
    offset(centre, dist, rng.random_range(0.0..std::f64::consts::TAU))
}

fn clamp_to_region(p: GeoPoint) -> GeoPoint {
    GeoPoint {
        lat: p.lat.clamp(LAT_RANGE.0, LAT_RANGE.1),
        lon: p.lon.clamp(LON_RANGE.0, LON_RANGE.1),
    }
}

/// Rounds to 6 decimals (about 0.1 m), as a registry export would store coordinates.
pub(super) fn round6(p: GeoPoint) -> GeoPoint {
    GeoPoint {
        lat: (p.lat * 1e6).round() / 1e6,
        lon: (p.lon * 1e6).round() / 1e6,
    }
}

pub(super) fn build<R: Rng + ?Sized>(rng: &mut R, spec: &RegionSpec) -> Geography {
    let townships = townships();
    // Every township gets a centre inside its county, drawn whether or not it is used, so that
    // a township's place does not depend on how many villages were asked for.
    let centres: Vec<GeoPoint> = townships
        .iter()
        .map(|t| {
            let county = COUNTIES
                .get(t.county)
                .map_or((CITY_CENTRE, (0.1, 0.1)), |c| (c.centre, c.spread));
            let (centre, (dlat, dlon)) = county;
            round6(clamp_to_region(GeoPoint {
                lat: centre.lat + rng.random_range(-dlat..=dlat),
                lon: centre.lon + rng.random_range(-dlon..=dlon),
            }))
        })
        .collect();

    let weights: Vec<f64> = COUNTIES.iter().map(|c| f64::from(c.poor_weight)).collect();
    let per_county = allocate(spec.villages, &weights);

    // (township index) -> next free village number; numbers run 200..=999.
    let mut next_number: BTreeMap<usize, u16> = BTreeMap::new();
    let mut names_used: HashSet<(usize, String)> = HashSet::new();
    let mut villages = Vec::with_capacity(spec.villages);
    for (county_idx, &count) in per_county.iter().enumerate() {
        let Some(county) = COUNTIES.get(county_idx) else {
            continue;
        };
        let mut candidates: Vec<usize> = (0..townships.len())
            .filter(|&i| {
                townships
                    .get(i)
                    .is_some_and(|t| t.county == county_idx && is_rural(&t.code9))
            })
            .collect();
        if candidates.is_empty() {
            candidates = (0..townships.len())
                .filter(|&i| townships.get(i).is_some_and(|t| t.county == county_idx))
                .collect();
        }
        for _ in 0..count {
            // A township whose numbers are exhausted drops out; a county with no room left
            // simply gets fewer villages.
            candidates.retain(|i| next_number.get(i).is_none_or(|&n| n <= 999));
            if candidates.is_empty() {
                break;
            }
            let t_idx = candidates
                .get(rng.random_range(0..candidates.len()))
                .copied()
                .unwrap_or(0);
            let Some(township) = townships.get(t_idx) else {
                continue;
            };
            let number = next_number.entry(t_idx).or_insert(200);
            let code = format!("{}{:03}", township.code9, *number);
            *number += 1;

            let pastoral = county.pastoral || township.name.ends_with("苏木");
            let suffix = if pastoral { "嘎查" } else { "村" };
            let mut name = String::new();
            for attempt in 0..30 {
                name = format!("{}{suffix}", names::village_stem(rng, pastoral, attempt));
                if names_used.insert((t_idx, name.clone())) {
                    break;
                }
            }
            let centre_t = centres.get(t_idx).copied().unwrap_or(county.centre);
            let centre = round6(clamp_to_region(scatter_around(rng, centre_t, 12_000.0)));
            villages.push((
                t_idx,
                Village {
                    code,
                    name,
                    county: county_idx,
                    centre,
                },
            ));
        }
    }
    villages.sort_by(|a, b| a.1.code.cmp(&b.1.code));

    let mut areas = vec![Area {
        code: CITY_CODE.to_string(),
        name: CITY_NAME.to_string(),
        parent: Some(PROVINCE_CODE.to_string()),
        is_poor_village: false,
        location: Some(CITY_CENTRE),
    }];
    areas.extend(COUNTIES.iter().map(|c| Area {
        code: format!("{}000000", c.code6),
        name: c.name.to_string(),
        parent: Some(CITY_CODE.to_string()),
        is_poor_village: false,
        location: Some(c.centre),
    }));
    let used: std::collections::BTreeSet<usize> = villages.iter().map(|(t, _)| *t).collect();
    for &t_idx in &used {
        let Some(t) = townships.get(t_idx) else {
            continue;
        };
        let county = COUNTIES.get(t.county).map_or("150700", |c| c.code6);
        areas.push(Area {
            code: format!("{}000", t.code9),
            name: t.name.clone(),
            parent: Some(format!("{county}000000")),
            is_poor_village: false,
            location: centres.get(t_idx).copied(),
        });
    }
    for (_, v) in &villages {
        areas.push(Area {
            code: v.code.clone(),
            name: v.name.clone(),
            parent: v.code.get(..9).map(|t| format!("{t}000")),
            is_poor_village: true,
            location: Some(v.centre),
        });
    }
    Geography {
        areas,
        villages: villages.into_iter().map(|(_, v)| v).collect(),
    }
}
