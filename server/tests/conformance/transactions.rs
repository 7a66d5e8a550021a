//! Conformance checks for transactions: a savepoint undoes only its own work, a dropped write
//! rolls back, writers take turns, and a read keeps its snapshot and cannot write.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::CadreId;
use fieldvisit_server::storage::{FeedItem, Outcome, Storage};

use super::{T0, add_device, chain, device, token};

pub fn savepoint_rollback_undoes_only_the_inner_work(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let d = add_device(s, 1, &cadre).id;
    let ops = chain(1, 3, "visit.record");
    let mut tx = s.write().unwrap();
    tx.insert_op(&ops[0], &Outcome::Accepted, None, ServerTime(T0))
        .unwrap();
    tx.append_feed(&d, &FeedItem::Op(1)).unwrap();
    // A request that fails half-way, even on a refused statement, is undone alone.
    tx.savepoint().unwrap();
    tx.insert_op(&ops[1], &Outcome::Accepted, None, ServerTime(T0))
        .unwrap();
    tx.append_feed(&d, &FeedItem::Op(2)).unwrap();
    assert!(
        tx.insert_op(&ops[1], &Outcome::Accepted, None, ServerTime(T0))
            .is_err()
    );
    tx.rollback_to_savepoint().unwrap();
    // The transaction goes on: a released savepoint keeps its work.
    tx.savepoint().unwrap();
    tx.insert_op(&ops[2], &Outcome::Accepted, None, ServerTime(T0))
        .unwrap();
    tx.release_savepoint().unwrap();
    assert_eq!(tx.feed_head(&d).unwrap(), 1);
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    let seqs: Vec<u64> = tx
        .ops_of_device(&d, 0, 10)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(seqs, vec![1, 3]);
    assert_eq!(
        tx.feed_after(&d, 0, 10).unwrap(),
        vec![(1, FeedItem::Op(1))]
    );
}

pub fn dropped_write_rolls_back(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let d = add_device(s, 1, &cadre).id;
    {
        let mut tx = s.write().unwrap();
        tx.append_feed(&d, &FeedItem::Op(1)).unwrap();
        tx.revoke_device(&d, ServerTime(T0), "dropped").unwrap();
        // Dropped without commit.
    }
    {
        // A failed statement inside a transaction, then dropped: the next one starts clean.
        let mut tx = s.write().unwrap();
        assert!(tx.upsert_device(&device(2, &cadre), &token(1)).is_err());
    }
    let mut tx = s.write().unwrap();
    assert_eq!(tx.feed_head(&d).unwrap(), 0);
    assert_eq!(tx.device(&d).unwrap().unwrap().revoked, None);
    assert_eq!(tx.append_feed(&d, &FeedItem::Op(1)).unwrap(), 1);
    tx.commit().unwrap();
    assert_eq!(s.read().unwrap().feed_head(&d).unwrap(), 1);
}

pub fn writers_are_serialised(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let d = add_device(s, 1, &cadre).id;
    // Each writer reads the head and appends after it; interleaved writers would collide.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    let mut tx = s.write().unwrap();
                    let head = tx.feed_head(&d).unwrap();
                    std::thread::yield_now();
                    assert_eq!(
                        tx.append_feed(&d, &FeedItem::Op(head + 1)).unwrap(),
                        head + 1
                    );
                    tx.commit().unwrap();
                }
            });
        }
    });
    let mut tx = s.read().unwrap();
    let feed = tx.feed_after(&d, 0, 100).unwrap();
    assert_eq!(feed.len(), 40);
    assert!(feed.iter().all(|(pos, item)| *item == FeedItem::Op(*pos)));
}

pub fn reads_see_a_snapshot(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let d = add_device(s, 1, &cadre).id;
    let mut read = s.read().unwrap();
    assert_eq!(read.feed_head(&d).unwrap(), 0);
    let mut tx = s.write().unwrap();
    tx.append_feed(&d, &FeedItem::Op(1)).unwrap();
    assert_eq!(
        read.feed_head(&d).unwrap(),
        0,
        "uncommitted work is invisible"
    );
    tx.commit().unwrap();
    assert_eq!(read.feed_head(&d).unwrap(), 0, "a read keeps its snapshot");
    drop(read);
    assert_eq!(s.read().unwrap().feed_head(&d).unwrap(), 1);
    // A read transaction does not write.
    let mut read = s.read().unwrap();
    assert!(read.append_feed(&d, &FeedItem::Op(2)).is_err());
}
