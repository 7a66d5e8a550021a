//! Visit photos: complete, hash-checked photos (one row per hash however many visits name
//! it), the chunks of photos being uploaded, and which accepted visits name which photo — the
//! server takes a photo's bytes only from a device one of whose accepted visits names it.
//!
//! Conformance: server/tests/conformance/photos.rs.

use serde::{Deserialize, Serialize};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::{DeviceId, VisitId};

use super::Db;
use super::decode::{corrupt, device_id};
use crate::error::Result;

/// An accepted visit naming a photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoLink {
    pub visit: VisitId,
    /// SHA-256 of the photo, 64 lowercase hex digits.
    pub sha256: String,
    pub device: DeviceId,
    /// The size the visit declared.
    pub size: u64,
}

/// A complete photo the server holds (its hash checked when it was assembled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPhoto {
    pub sha256: String,
    pub size: u64,
    pub stored_at: ServerTime,
}

/// The photo tables.
pub trait Photos {
    /// Notes that an accepted visit names a photo (a second call for the same visit and hash
    /// changes nothing).
    fn link_photo(&mut self, link: &PhotoLink) -> Result<()>;
    /// Every accepted visit naming the photo, by visit id.
    fn photo_links(&mut self, sha256: &str) -> Result<Vec<PhotoLink>>;
    /// The complete photo's description, when the server holds it.
    fn photo(&mut self, sha256: &str) -> Result<Option<StoredPhoto>>;
    fn photo_bytes(&mut self, sha256: &str) -> Result<Option<Vec<u8>>>;
    /// Stores a complete photo; storing one already held changes nothing.
    fn put_photo(&mut self, photo: &StoredPhoto, bytes: &[u8]) -> Result<()>;
    /// Stores (or replaces) one chunk of a photo being uploaded.
    fn put_photo_chunk(&mut self, sha256: &str, index: u32, bytes: &[u8]) -> Result<()>;
    /// The indexes of the chunks held for a photo being uploaded, ascending.
    fn photo_chunk_indexes(&mut self, sha256: &str) -> Result<Vec<u32>>;
    /// Removes and returns every chunk held for a photo, by ascending index.
    fn take_photo_chunks(&mut self, sha256: &str) -> Result<Vec<(u32, Vec<u8>)>>;
}

impl<D: Db + ?Sized> Photos for D {
    fn link_photo(&mut self, l: &PhotoLink) -> Result<()> {
        self.execute(
            "INSERT INTO visit_photo (visit, sha256, device, size) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            &[
                &l.visit.to_string(),
                &l.sha256,
                &l.device.to_string(),
                &l.size,
            ],
        )?;
        Ok(())
    }

    fn photo_links(&mut self, sha256: &str) -> Result<Vec<PhotoLink>> {
        self.query(
            "SELECT visit, sha256, device, size FROM visit_photo WHERE sha256 = ?1
             ORDER BY visit COLLATE BINARY, device COLLATE BINARY",
            &[&sha256],
            |r| {
                Ok(PhotoLink {
                    visit: VisitId::parse(&r.get::<String>(0)?).map_err(corrupt("visit id"))?,
                    sha256: r.get(1)?,
                    device: device_id(&r.get::<String>(2)?)?,
                    size: r.get(3)?,
                })
            },
        )
    }

    fn photo(&mut self, sha256: &str) -> Result<Option<StoredPhoto>> {
        self.query_opt(
            "SELECT sha256, size, stored_at FROM photo WHERE sha256 = ?1",
            &[&sha256],
            |r| {
                Ok(StoredPhoto {
                    sha256: r.get(0)?,
                    size: r.get(1)?,
                    stored_at: ServerTime(r.get(2)?),
                })
            },
        )
    }

    fn photo_bytes(&mut self, sha256: &str) -> Result<Option<Vec<u8>>> {
        self.query_opt(
            "SELECT bytes FROM photo WHERE sha256 = ?1",
            &[&sha256],
            |r| Ok(r.get(0)?),
        )
    }

    fn put_photo(&mut self, photo: &StoredPhoto, bytes: &[u8]) -> Result<()> {
        self.execute(
            "INSERT INTO photo (sha256, size, bytes, stored_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            &[&photo.sha256, &photo.size, &bytes, &photo.stored_at.0],
        )?;
        Ok(())
    }

    fn put_photo_chunk(&mut self, sha256: &str, index: u32, bytes: &[u8]) -> Result<()> {
        self.execute(
            "INSERT INTO photo_chunk (sha256, idx, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT (sha256, idx) DO UPDATE SET bytes = excluded.bytes",
            &[&sha256, &index, &bytes],
        )?;
        Ok(())
    }

    fn photo_chunk_indexes(&mut self, sha256: &str) -> Result<Vec<u32>> {
        self.query(
            "SELECT idx FROM photo_chunk WHERE sha256 = ?1 ORDER BY idx",
            &[&sha256],
            |r| Ok(r.get(0)?),
        )
    }

    fn take_photo_chunks(&mut self, sha256: &str) -> Result<Vec<(u32, Vec<u8>)>> {
        let chunks = self.query(
            "SELECT idx, bytes FROM photo_chunk WHERE sha256 = ?1 ORDER BY idx",
            &[&sha256],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        self.execute("DELETE FROM photo_chunk WHERE sha256 = ?1", &[&sha256])?;
        Ok(chunks)
    }
}
