//! The rest of the PostgreSQL backend: conflicts, plate secrets, the admin log, compression
//! dictionaries, visits and feeds.

use postgres::Row;

use fieldvisit_core::clock::{Hlc, ServerTime};
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, VisitId};
use fieldvisit_core::plate::PlateAuthority;
use fieldvisit_core::protocol::FieldClock;

use super::{Conn, corrupt, device_id, limit_sql, seq_of, seq_sql};
use crate::error::{Error, Result};
use crate::storage::sqlite::feed::{feed_item, feed_parts};
use crate::storage::{AdminLogEntry, Conflict, FeedItem, ServerVisit, StoredDictionary};

pub(super) fn log_conflict(c: &mut Conn, k: &Conflict) -> Result<()> {
    c.execute(
        "INSERT INTO conflict (entity, entity_id, field, losing_value, losing_hlc,
             losing_device, winning_value, winning_hlc, winning_device, at)
         VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7::text::jsonb, $8, $9, $10)",
        &[
            &k.entity,
            &k.entity_id,
            &k.field,
            &k.losing_value.to_string(),
            &k.losing_clock.hlc.as_i64(),
            &k.losing_clock.device.to_string(),
            &k.winning_value.to_string(),
            &k.winning_clock.hlc.as_i64(),
            &k.winning_clock.device.to_string(),
            &k.at.0,
        ],
    )?;
    Ok(())
}

pub(super) fn conflicts(c: &mut Conn, limit: usize) -> Result<Vec<Conflict>> {
    c.query(
        "SELECT entity, entity_id, field, losing_value::text, losing_hlc, losing_device,
                winning_value::text, winning_hlc, winning_device, at
         FROM conflict ORDER BY id DESC LIMIT $1",
        &[&limit_sql(limit)],
    )?
    .iter()
    .map(|r| {
        let json = |i: usize| -> Result<serde_json::Value> {
            Ok(serde_json::from_str(r.try_get::<_, &str>(i)?)?)
        };
        Ok(Conflict {
            entity: r.try_get(0)?,
            entity_id: r.try_get(1)?,
            field: r.try_get(2)?,
            losing_value: json(3)?,
            losing_clock: FieldClock {
                hlc: Hlc::from_i64(r.try_get(4)?),
                device: device_id(r.try_get(5)?)?,
            },
            winning_value: json(6)?,
            winning_clock: FieldClock {
                hlc: Hlc::from_i64(r.try_get(7)?),
                device: device_id(r.try_get(8)?)?,
            },
            at: ServerTime(r.try_get(9)?),
        })
    })
    .collect()
}

/// The held plate secret with the highest key id (see `storage::sqlite::authority`).
pub(super) fn plate_authority(c: &mut Conn) -> Result<Option<PlateAuthority>> {
    let Some(r) = c.query_opt(
        "SELECT key_id, secret FROM authority_secret ORDER BY key_id DESC LIMIT 1",
        &[],
    )?
    else {
        return Ok(None);
    };
    let key_id = u16::try_from(r.try_get::<_, i32>(0)?).map_err(corrupt("plate key id"))?;
    let secret: [u8; 32] = r
        .try_get::<_, Vec<u8>>(1)?
        .try_into()
        .map_err(|_| Error::Corrupt(format!("the secret of plate key {key_id} is not 32 bytes")))?;
    Ok(Some(PlateAuthority::from_secret(key_id, secret)))
}

pub(super) fn put_authority_secret(
    c: &mut Conn,
    key_id: u16,
    secret: &[u8; 32],
    at: ServerTime,
) -> Result<()> {
    c.execute(
        "INSERT INTO authority_secret (key_id, secret, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (key_id) DO UPDATE SET secret = excluded.secret,
             created_at = excluded.created_at",
        &[&i32::from(key_id), &secret.as_slice(), &at.0],
    )?;
    Ok(())
}

/// Appends an entry (its `id` is ignored); the table's triggers refuse any change to it later.
pub(super) fn append_admin_log(c: &mut Conn, e: &AdminLogEntry) -> Result<u64> {
    let r = c.query_one(
        "INSERT INTO admin_log (at, actor, action, subject, detail)
         VALUES ($1, $2, $3, $4, $5::text::jsonb) RETURNING id",
        &[
            &e.at.0,
            &e.actor,
            &e.action,
            &e.subject,
            &e.detail.to_string(),
        ],
    )?;
    u64::try_from(r.try_get::<_, i64>(0)?)
        .map_err(|_| Error::Corrupt("admin log id is negative".into()))
}

pub(super) fn admin_log(c: &mut Conn, limit: usize) -> Result<Vec<AdminLogEntry>> {
    c.query(
        "SELECT id, at, actor, action, subject, detail::text FROM admin_log
         ORDER BY id DESC LIMIT $1",
        &[&limit_sql(limit)],
    )?
    .iter()
    .map(|r| {
        Ok(AdminLogEntry {
            id: u64::try_from(r.try_get::<_, i64>(0)?)
                .map_err(|_| Error::Corrupt("admin log id is negative".into()))?,
            at: ServerTime(r.try_get(1)?),
            actor: r.try_get(2)?,
            action: r.try_get(3)?,
            subject: r.try_get(4)?,
            detail: serde_json::from_str(r.try_get::<_, &str>(5)?)?,
        })
    })
    .collect()
}

fn dictionary_id(id: i64) -> Result<u32> {
    u32::try_from(id).map_err(|_| Error::Corrupt(format!("dictionary id {id}")))
}

fn dictionary_from_row(r: &Row) -> Result<StoredDictionary> {
    Ok(StoredDictionary {
        id: dictionary_id(r.try_get(0)?)?,
        bytes: r.try_get(1)?,
        samples: seq_of(r.try_get(2)?),
        created_at: ServerTime(r.try_get(3)?),
    })
}

pub(super) fn put_dictionary(c: &mut Conn, d: &StoredDictionary) -> Result<()> {
    c.execute(
        "INSERT INTO compression_dictionary (id, bytes, samples, created_at)
         VALUES ($1, $2, $3, $4)",
        &[
            &i64::from(d.id),
            &d.bytes,
            &seq_sql(d.samples),
            &d.created_at.0,
        ],
    )?;
    Ok(())
}

pub(super) fn dictionary(c: &mut Conn, id: u32) -> Result<Option<StoredDictionary>> {
    c.query_opt(
        "SELECT id, bytes, samples, created_at FROM compression_dictionary WHERE id = $1",
        &[&i64::from(id)],
    )?
    .map(|r| dictionary_from_row(&r))
    .transpose()
}

/// The newest dictionary (ties in `created_at` broken by id, as the embedded backend's rowid).
pub(super) fn current_dictionary(c: &mut Conn) -> Result<Option<u32>> {
    c.query_opt(
        "SELECT id FROM compression_dictionary ORDER BY created_at DESC, id DESC LIMIT 1",
        &[],
    )?
    .map(|r| dictionary_id(r.try_get(0)?))
    .transpose()
}

pub(super) fn dictionaries(c: &mut Conn) -> Result<Vec<StoredDictionary>> {
    c.query(
        "SELECT id, bytes, samples, created_at FROM compression_dictionary
         ORDER BY created_at, id",
        &[],
    )?
    .iter()
    .map(dictionary_from_row)
    .collect()
}

pub(super) fn insert_visit(c: &mut Conn, v: &ServerVisit) -> Result<()> {
    c.execute(
        "INSERT INTO visit (id, household, cadre, device, server_seq, recorded_at, received_at,
             kind, manual, distance_m, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &v.id.to_string(),
            &v.household.as_str(),
            &v.cadre.as_str(),
            &v.device.to_string(),
            &seq_sql(v.server_seq),
            &v.recorded_at.0,
            &v.received_at.0,
            &v.kind,
            &v.manual,
            &v.distance_m,
            &v.record,
        ],
    )?;
    Ok(())
}

pub(super) fn visit_count(c: &mut Conn) -> Result<u64> {
    Ok(seq_of(
        c.query_one("SELECT count(*) FROM visit", &[])?.try_get(0)?,
    ))
}

pub(super) fn visit_owner(c: &mut Conn, id: &VisitId) -> Result<Option<(CadreId, HouseholdId)>> {
    c.query_opt(
        "SELECT cadre, household FROM visit WHERE id = $1",
        &[&id.to_string()],
    )?
    .map(|r| {
        Ok((
            CadreId::new(r.try_get::<_, String>(0)?).map_err(corrupt("cadre id"))?,
            HouseholdId::new(r.try_get::<_, String>(1)?).map_err(corrupt("household id"))?,
        ))
    })
    .transpose()
}

pub(super) fn append_feed_run(c: &mut Conn, device: &DeviceId, items: &[FeedItem]) -> Result<u64> {
    if items.is_empty() {
        return feed_head(c, device);
    }
    // No slice in memory holds 2^63 entries.
    let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let id = device.to_string();
    // The device row's counter allocates positions inside the writers' lock, so one device's
    // positions become visible in order (docs/protocol.md).
    let head: i64 = c
        .query_one(
            "UPDATE device SET feed_head = feed_head + $2 WHERE id = $1 RETURNING feed_head",
            &[&id, &count],
        )?
        .try_get(0)?;
    let positions: Vec<i64> = (head - count + 1..=head).collect();
    let (kinds, refs): (Vec<&str>, Vec<String>) = items.iter().map(feed_parts).unzip();
    // The whole run in one statement: one round trip however many entries.
    c.execute(
        "INSERT INTO feed (device, pos, kind, ref)
         SELECT $1, pos, kind, ref FROM UNNEST($2::bigint[], $3::text[], $4::text[])
             AS run (pos, kind, ref)",
        &[&id, &positions, &kinds, &refs],
    )?;
    Ok(seq_of(head))
}

pub(super) fn feed_after(
    c: &mut Conn,
    device: &DeviceId,
    after: u64,
    limit: usize,
) -> Result<Vec<(u64, FeedItem)>> {
    c.query(
        "SELECT pos, kind, ref FROM feed WHERE device = $1 AND pos > $2 ORDER BY pos LIMIT $3",
        &[&device.to_string(), &seq_sql(after), &limit_sql(limit)],
    )?
    .iter()
    .map(|r| {
        Ok((
            seq_of(r.try_get(0)?),
            feed_item(r.try_get(1)?, r.try_get(2)?)?,
        ))
    })
    .collect()
}

pub(super) fn feed_head(c: &mut Conn, device: &DeviceId) -> Result<u64> {
    Ok(c.query_opt(
        "SELECT feed_head FROM device WHERE id = $1",
        &[&device.to_string()],
    )?
    .map(|r| r.try_get::<_, i64>(0))
    .transpose()?
    .map(seq_of)
    .unwrap_or(0))
}

pub(super) fn households_sent(c: &mut Conn, device: &DeviceId) -> Result<Vec<HouseholdId>> {
    c.query(
        "SELECT ref FROM feed WHERE device = $1 AND kind = 'household'
         GROUP BY ref ORDER BY ref COLLATE \"C\"",
        &[&device.to_string()],
    )?
    .iter()
    .map(|r| HouseholdId::new(r.try_get::<_, String>(0)?).map_err(corrupt("household id")))
    .collect()
}
