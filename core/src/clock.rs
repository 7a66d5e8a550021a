//! Time on the device: wall-clock readings and the hybrid logical clock (HLC) that orders
//! operations.
//!
//! Phone clocks are wrong in the field (dead batteries, manual settings, no network time for
//! days), so ordering never rests on the wall clock alone. Every operation carries an HLC: the
//! largest physical time the device has seen (its own or a peer's) plus a counter, so causally
//! later operations always sort later even when a clock jumps backwards. Wall time is recorded
//! beside it as evidence, never used to decide a merge.
//!
//! `WallTime` (this device's clock) and `ServerTime` (the server's clock, learnt at sync) are
//! separate types so they cannot be mixed by accident.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, read from this device's own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct WallTime(pub i64);

/// Milliseconds since the Unix epoch, as reported by the sync server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct ServerTime(pub i64);

impl WallTime {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The calendar date in China Standard Time (UTC+8), the zone every user of the system works
    /// in; dates of visits, assignments and follow-ups are all local dates.
    pub fn local_date(self) -> chrono::NaiveDate {
        const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;
        chrono::DateTime::from_timestamp_millis(self.0.saturating_add(CST_OFFSET_MS))
            .unwrap_or_default()
            .date_naive()
    }
}

/// A source of wall-clock time. Tests and the simulation use [`ManualClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> WallTime;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> WallTime {
        WallTime(chrono::Utc::now().timestamp_millis())
    }
}

/// A clock that moves only when told to; shared by reference between a test and a store.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: WallTime) -> Self {
        Self(AtomicI64::new(start.0))
    }

    pub fn set(&self, to: WallTime) {
        self.0.store(to.0, Ordering::SeqCst);
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> WallTime {
        WallTime(self.0.load(Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> WallTime {
        (**self).now()
    }
}

const COUNTER_BITS: u32 = 16;
const COUNTER_MAX: u64 = (1 << COUNTER_BITS) - 1;
/// The largest physical time an HLC can hold (48 bits of milliseconds: the year 10889).
const PHYSICAL_MAX: u64 = (1 << (64 - COUNTER_BITS)) - 1;

/// A hybrid logical clock timestamp: 48 bits of physical milliseconds and a 16-bit counter,
/// packed so that integer order is causal order.
///
/// On the wire it is a 16-digit lower-case hex string: fixed width sorts as text too, and it
/// stays exact in clients whose JSON numbers are doubles.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc(u64);

impl Hlc {
    pub const ZERO: Hlc = Hlc(0);

    pub fn new(physical_ms: u64, counter: u16) -> Self {
        Hlc((physical_ms.min(PHYSICAL_MAX) << COUNTER_BITS) | u64::from(counter))
    }

    pub fn from_u64(raw: u64) -> Self {
        Hlc(raw)
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// For SQLite, whose integers are signed; the top bit is never set for real dates.
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    pub fn from_i64(raw: i64) -> Self {
        Hlc(u64::try_from(raw).unwrap_or(0))
    }

    pub fn physical_ms(self) -> u64 {
        self.0 >> COUNTER_BITS
    }

    pub fn counter(self) -> u16 {
        // Masked to 16 bits, so the conversion cannot fail.
        u16::try_from(self.0 & COUNTER_MAX).unwrap_or(u16::MAX)
    }

    /// The timestamp for a new local event, given the last one issued and the wall clock.
    pub fn tick(last: Hlc, now: WallTime) -> Hlc {
        let wall = u64::try_from(now.0).unwrap_or(0).min(PHYSICAL_MAX);
        if wall > last.physical_ms() {
            Hlc::new(wall, 0)
        } else {
            last.successor()
        }
    }

    /// The timestamp after seeing a remote timestamp: later than both it and anything local.
    pub fn receive(last: Hlc, remote: Hlc, now: WallTime) -> Hlc {
        let newest = last.max(remote);
        Hlc::tick(newest, now)
    }

    fn successor(self) -> Hlc {
        if u64::from(self.counter()) < COUNTER_MAX {
            Hlc(self.0 + 1)
        } else {
            // Counter exhausted within one millisecond: borrow the next millisecond.
            Hlc::new(self.physical_ms().saturating_add(1), 0)
        }
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({}.{})", self.physical_ms(), self.counter())
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for Hlc {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(format!(
                "an HLC is 16 hex digits, found {} characters",
                s.len()
            ));
        }
        // from_str_radix alone would also take a sign ("+" and 15 digits).
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("an HLC is 16 hex digits".to_string());
        }
        u64::from_str_radix(s, 16)
            .map(Hlc)
            .map_err(|_| "an HLC is 16 hex digits".to_string())
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Hlc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::hlc()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Hlc {}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_is_strictly_increasing_when_the_clock_goes_backwards() {
        let mut last = Hlc::ZERO;
        let mut seen = Vec::new();
        for wall in [1_000, 2_000, 1_500, 1_500, 900, 3_000] {
            let next = Hlc::tick(last, WallTime(wall));
            assert!(next > last, "{next:?} after {last:?}");
            seen.push(next);
            last = next;
        }
        assert_eq!(seen[2], Hlc::new(2_000, 1));
        assert_eq!(seen[5], Hlc::new(3_000, 0));
    }

    #[test]
    fn counter_overflow_borrows_the_next_millisecond() {
        let full = Hlc::new(5, u16::MAX);
        assert_eq!(Hlc::tick(full, WallTime(5)), Hlc::new(6, 0));
    }

    #[test]
    fn receive_orders_after_the_remote_timestamp() {
        let remote = Hlc::new(10_000, 7);
        let got = Hlc::receive(Hlc::new(100, 0), remote, WallTime(50));
        assert!(got > remote);
    }

    #[test]
    fn text_form_round_trips_and_sorts_like_the_number() {
        let a = Hlc::new(1_700_000_000_000, 3);
        let b = Hlc::new(1_700_000_000_001, 0);
        assert_eq!(a.to_string().parse::<Hlc>().unwrap(), a);
        assert!(a.to_string() < b.to_string());
        assert!("xyz".parse::<Hlc>().is_err());
        // Exactly 16 hex digits: no sign, either case.
        assert!("+00000000000000f".parse::<Hlc>().is_err());
        assert_eq!("000000000000000F".parse::<Hlc>(), Ok(Hlc(15)));
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
    }

    #[test]
    fn negative_wall_time_does_not_panic() {
        assert_eq!(Hlc::tick(Hlc::ZERO, WallTime(i64::MIN)), Hlc::new(0, 1));
    }

    #[test]
    fn local_date_is_china_standard_time() {
        // 2024-03-01T17:00:00Z is already 2 March in Beijing.
        let t = WallTime(1_709_312_400_000);
        assert_eq!(
            t.local_date(),
            chrono::NaiveDate::from_ymd_opt(2024, 3, 2).unwrap()
        );
    }
}
