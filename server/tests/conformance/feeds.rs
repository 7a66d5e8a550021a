//! Conformance checks for [`Feeds`](fieldvisit_server::storage::Feeds): each device's feed
//! keeps its entries in order at consecutive positions.

use fieldvisit_core::ids::{AssignmentId, CadreId, HouseholdId, PostId};
use fieldvisit_server::storage::{FeedItem, Storage};

use super::{add_device, device_id};

pub fn feeds(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let (a, b) = (add_device(s, 1, &cadre).id, add_device(s, 2, &cadre).id);
    let items = vec![
        FeedItem::Op(17),
        FeedItem::Household(HouseholdId::new("h-2").unwrap()),
        FeedItem::Purge(HouseholdId::new("h-9").unwrap()),
        FeedItem::Cadre(cadre.clone()),
        FeedItem::Area("150702100200".into()),
        FeedItem::Assignment(AssignmentId::new("a-1").unwrap()),
        FeedItem::Post(PostId::new("p-1").unwrap()),
        FeedItem::AuthorityKey(3),
        FeedItem::Household(HouseholdId::new("h-1").unwrap()),
        FeedItem::Household(HouseholdId::new("h-2").unwrap()),
    ];
    let mut tx = s.write().unwrap();
    assert_eq!(tx.feed_head(&a).unwrap(), 0);
    assert_eq!(tx.feed_head(&device_id(99)).unwrap(), 0, "unknown device");
    for (i, item) in items.iter().enumerate() {
        assert_eq!(tx.append_feed(&a, item).unwrap(), i as u64 + 1);
    }
    assert_eq!(
        tx.append_feed(&b, &FeedItem::Op(1)).unwrap(),
        1,
        "per device"
    );
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.feed_head(&a).unwrap(), 10);
    assert_eq!(tx.feed_head(&b).unwrap(), 1);
    let all = tx.feed_after(&a, 0, 100).unwrap();
    let expected: Vec<(u64, FeedItem)> = (1..).zip(items.iter().cloned()).collect();
    assert_eq!(all, expected);
    assert_eq!(tx.feed_after(&a, 3, 2).unwrap(), expected[3..5]);
    assert!(tx.feed_after(&a, 10, 100).unwrap().is_empty());
    assert_eq!(
        tx.households_sent(&a).unwrap(),
        vec![
            HouseholdId::new("h-1").unwrap(),
            HouseholdId::new("h-2").unwrap()
        ]
    );
    assert!(tx.households_sent(&b).unwrap().is_empty());
}

pub fn feed_runs_take_consecutive_positions(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let (a, b) = (add_device(s, 1, &cadre).id, add_device(s, 2, &cadre).id);
    let run = vec![
        FeedItem::Op(5),
        FeedItem::Household(HouseholdId::new("h-1").unwrap()),
        FeedItem::Op(6),
    ];
    let mut tx = s.write().unwrap();
    assert_eq!(tx.append_feed(&a, &FeedItem::Op(1)).unwrap(), 1);
    assert_eq!(
        tx.append_feed_run(&a, &run).unwrap(),
        4,
        "the last entry's position"
    );
    assert_eq!(
        tx.append_feed_run(&a, &[]).unwrap(),
        4,
        "an empty run appends nothing"
    );
    assert_eq!(tx.append_feed_run(&b, &[]).unwrap(), 0);
    assert_eq!(
        tx.append_feed(&a, &FeedItem::Op(7)).unwrap(),
        5,
        "after the run"
    );
    tx.savepoint().unwrap();
    assert_eq!(tx.append_feed_run(&b, &run).unwrap(), 3);
    tx.rollback_to_savepoint().unwrap();
    assert!(
        tx.append_feed_run(&device_id(99), &run).is_err(),
        "an unknown device has no feed to append to"
    );
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    let expected: Vec<(u64, FeedItem)> = (1..)
        .zip(
            std::iter::once(FeedItem::Op(1))
                .chain(run.iter().cloned())
                .chain([FeedItem::Op(7)]),
        )
        .collect();
    assert_eq!(tx.feed_after(&a, 0, 100).unwrap(), expected);
    assert_eq!(
        tx.feed_head(&b).unwrap(),
        0,
        "the rolled-back run left nothing"
    );
    assert!(tx.feed_after(&b, 0, 100).unwrap().is_empty());
}
