"""The phone flow, driven from Python through the generated uniffi bindings.

Run by `ffi/tests/python_bindings.rs` (part of `cargo test --workspace`), which starts a real
sync server, generates the bindings from the freshly built library and sets:

FV_SERVER_URL, FV_CODE, FV_CODE_2,    the server and three one-time enrollment codes
FV_CODE_3
FV_HOUSEHOLD_ID, FV_HOUSEHOLD_CODE    a household in the cadre's scope
FV_PLATE                              that household's real, signed door-plate text
FV_VILLAGE_SEARCH                     part of its village's (Chinese) name
FV_OFFLINE_STORE                      a store that synced before FV_MOVED_HOUSEHOLD_CODE was
FV_MOVED_HOUSEHOLD_CODE               moved to another cadre on the server
FV_WORK_DIR                           a temporary directory
"""

import asyncio
import datetime
import json
import os
import unittest

import fieldvisit_ffi as fv

ENV = os.environ


def path(name):
    return os.path.join(ENV["FV_WORK_DIR"], name)


def draft(diary="入户走访，了解家庭收入和就医情况。", **changes):
    d = fv.new_draft()
    d.diary = diary
    d.checklist = [
        fv.ChecklistAnswer(item="food", status=fv.ChecklistStatus.OK, note=None),
        fv.ChecklistAnswer(item="housing", status=fv.ChecklistStatus.PROBLEM, note="屋顶漏雨"),
    ]
    for key, value in changes.items():
        setattr(d, key, value)
    return d


def manual(code=None, reason="门牌被风刮掉了"):
    return fv.Identification.MANUAL(code=code or ENV["FV_HOUSEHOLD_CODE"], reason=reason)


def sync(store):
    """`sync` is an async export: awaited on an asyncio loop, as an app awaits it."""
    return asyncio.run(store.sync())


class PhoneFlowTest(unittest.TestCase):
    """One enrolled phone shared by the tests; each test leaves it synced."""

    @classmethod
    def setUpClass(cls):
        cls.store = fv.FieldvisitStore.open(path("phone.db"), None)
        cls.identity = cls.store.enroll(ENV["FV_SERVER_URL"], ENV["FV_CODE"])
        cls.first_sync = sync(cls.store)

    @classmethod
    def tearDownClass(cls):
        cls.store.close_store()

    def test_enrolling_binds_the_device_to_its_cadre_and_the_first_sync_pulls_its_households(self):
        self.assertEqual(self.identity.device_id, self.store.device_id())
        self.assertEqual(self.identity.cadre_id, ENV["FV_CADRE"])
        self.assertTrue(self.first_sync.complete)
        self.assertGreater(self.first_sync.pulled, 0)
        self.assertTrue(self.store.households(None, 100))

    def test_households_are_found_by_part_of_a_chinese_village_name(self):
        found = self.store.households(ENV["FV_VILLAGE_SEARCH"], 100)
        self.assertIn(ENV["FV_HOUSEHOLD_CODE"], [h.code for h in found])
        self.assertTrue(any(ENV["FV_VILLAGE_SEARCH"] in (h.village_name or "") for h in found))
        self.assertEqual(self.store.households("不存在的村庄名字", 100), [])

    def test_a_household_moved_to_another_cadre_is_not_listed(self):
        found = self.store.households(ENV["FV_MOVED_HOUSEHOLD_CODE"], 100)
        self.assertEqual(found, [])

    def test_a_manual_visit_is_pending_until_an_async_sync_marks_it_synced(self):
        before = self.store.pending_count()
        visit = self.store.commit_visit(manual(), draft(), None)
        self.assertEqual(visit.household_id, ENV["FV_HOUSEHOLD_ID"])
        self.assertEqual(visit.sync_state, fv.OperationState.PENDING)
        self.assertIsInstance(visit.identified_by, fv.IdentifiedBy.MANUAL)
        self.assertEqual(self.store.pending_count(), before + 1)
        op = self.store.operations()[-1]
        self.assertEqual((op.kind, op.state), ("visit.record", fv.OperationState.PENDING))

        report = sync(self.store)
        self.assertTrue(report.complete)
        self.assertGreaterEqual(report.acknowledged, 1)
        self.assertEqual(self.store.pending_count(), 0)
        self.assertEqual(self.store.visit(visit.id).sync_state, fv.OperationState.SYNCED)
        self.assertEqual(self.store.operations()[-1].state, fv.OperationState.SYNCED)
        self.assertEqual(self.store.last_sync_report(), report)

    def test_a_scanned_door_plate_identifies_its_household_and_records_a_visit(self):
        scanned = self.store.scan(ENV["FV_PLATE"])
        self.assertEqual(scanned.household.id, ENV["FV_HOUSEHOLD_ID"])
        identification = fv.Identification.SCANNED(
            payload=ENV["FV_PLATE"], scanned_at_ms=scanned.scanned_at_ms
        )
        location = fv.Location(
            lat=49.21, lon=119.73, accuracy_m=8.0, provider="gps", fix_at_ms=scanned.scanned_at_ms
        )
        visit = self.store.commit_visit(identification, draft(), location)
        self.assertIsInstance(visit.identified_by, fv.IdentifiedBy.SCAN)
        self.assertEqual(visit.location.provider, "gps")
        self.assertTrue(sync(self.store).complete)

    def test_a_forged_plate_is_refused_as_forged_or_unreadable(self):
        forged = "FV1" + "A" * 119
        with self.assertRaises((fv.FieldvisitError.PlateForged, fv.FieldvisitError.PlateUnreadable)):
            self.store.scan(forged)
        with self.assertRaises(fv.FieldvisitError.PlateUnreadable):
            self.store.scan("https://example.invalid/not-a-plate")
        # A real plate with one character of its signature changed no longer verifies.
        plate = ENV["FV_PLATE"]
        tampered = plate[:100] + ("A" if plate[100] != "A" else "B") + plate[101:]
        with self.assertRaises(fv.FieldvisitError.PlateForged):
            self.store.scan(tampered)

    def test_a_diary_that_is_too_short_is_a_validation_error_naming_the_diary(self):
        pending = self.store.pending_count()
        with self.assertRaises(fv.FieldvisitError.Validation) as caught:
            self.store.commit_visit(manual(), draft(diary="好"), None)
        self.assertEqual(caught.exception.field, "diary")
        self.assertIn("at least", caught.exception.reason)
        self.assertNotIn("好", str(caught.exception), "no typed text in error messages")
        self.assertEqual(self.store.pending_count(), pending, "nothing was written")

    def test_a_problem_answer_without_a_note_names_the_checklist_field(self):
        d = draft()
        d.checklist = [fv.ChecklistAnswer(item="water", status=fv.ChecklistStatus.PROBLEM, note=None)]
        with self.assertRaises(fv.FieldvisitError.Validation) as caught:
            self.store.commit_visit(manual(), d, None)
        self.assertEqual(caught.exception.field, "checklist.water.note")

    def test_an_unknown_household_code_and_a_mistyped_code_are_told_apart(self):
        with self.assertRaises(fv.FieldvisitError.UnknownHousehold):
            self.store.commit_visit(manual(code=ENV["FV_MOVED_HOUSEHOLD_CODE"]), draft(), None)
        code = ENV["FV_HOUSEHOLD_CODE"]
        mistyped = code[:-1] + ("0" if code[-1] != "0" else "1")
        with self.assertRaises(fv.FieldvisitError.Validation) as caught:
            self.store.commit_visit(manual(code=mistyped), draft(), None)
        self.assertEqual(caught.exception.field, "code")

    def test_amending_a_visit_changes_what_is_shown_and_keeps_the_reason(self):
        visit = self.store.commit_visit(manual(), draft(), None)
        changes = fv.VisitChanges(diary="补充：已联系村医上门复诊。")
        amended = self.store.amend_visit(visit.id, "补充复诊情况", changes)
        self.assertEqual(amended.diary, "补充：已联系村医上门复诊。")
        self.assertEqual([a.reason for a in amended.amendments], ["补充复诊情况"])
        self.assertEqual(self.store.operations()[-1].kind, "visit.amend")
        self.assertTrue(sync(self.store).complete)

    def test_a_follow_up_date_puts_the_visit_on_the_due_list(self):
        due = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
        visit = self.store.commit_visit(manual(), draft(follow_up_due=due), None)
        listed = self.store.follow_ups_due(due)
        self.assertIn(visit.id, [v.id for v in listed])
        self.assertNotIn(visit.id, [v.id for v in self.store.follow_ups_due("2000-01-01")])
        with self.assertRaises(fv.FieldvisitError.Validation):
            self.store.follow_ups_due("next week")
        self.assertTrue(sync(self.store).complete)

    def test_household_detail_shows_members_and_visit_history(self):
        self.store.commit_visit(manual(), draft(), None)
        detail = self.store.household(ENV["FV_HOUSEHOLD_ID"])
        self.assertEqual(detail.code, ENV["FV_HOUSEHOLD_CODE"])
        self.assertTrue(detail.in_scope)
        self.assertTrue(detail.members)
        self.assertTrue(detail.visits)
        self.assertIsNone(self.store.household("no-such-household"))
        self.assertTrue(sync(self.store).complete)


class RejectionTest(unittest.TestCase):
    def test_a_visit_the_server_refuses_is_kept_as_rejected_with_its_reason(self):
        # This phone last synced before the household was moved to another cadre, so it
        # still lets the cadre record the visit offline.
        store = fv.FieldvisitStore.open(ENV["FV_OFFLINE_STORE"], None)
        try:
            visit = store.commit_visit(manual(code=ENV["FV_MOVED_HOUSEHOLD_CODE"]), draft(), None)
            self.assertEqual(visit.sync_state, fv.OperationState.PENDING)
            report = sync(store)
            self.assertEqual(report.rejected, 1)
            op = store.operations()[-1]
            self.assertEqual(op.state, fv.OperationState.REJECTED)
            self.assertTrue(op.reject_reason.startswith("not_assigned"), op.reject_reason)
            self.assertEqual(store.pending_count(), 0)
            self.assertEqual(store.sync_status().rejected, 1)
            # The household has left the phone, and nothing else is blocked.
            self.assertEqual(store.households(ENV["FV_MOVED_HOUSEHOLD_CODE"], 10), [])
            later = store.commit_visit(manual(), draft(), None)
            sync(store)
            self.assertEqual(store.visit(later.id).sync_state, fv.OperationState.SYNCED)
        finally:
            store.close_store()


class LifecycleTest(unittest.TestCase):
    def test_a_store_not_yet_enrolled_says_so(self):
        store = fv.FieldvisitStore.open(path("unenrolled.db"), None)
        with self.assertRaises(fv.FieldvisitError.NotEnrolled):
            store.households(None, 10)
        with self.assertRaises(fv.FieldvisitError.NotEnrolled):
            store.commit_visit(manual(), draft(), None)
        with self.assertRaises(fv.FieldvisitError.NotEnrolled):
            sync(store)
        store.close_store()

    def test_an_unknown_enrollment_code_is_refused(self):
        store = fv.FieldvisitStore.open(path("refused.db"), None)
        with self.assertRaises(fv.FieldvisitError.EnrollmentRefused):
            store.enroll(ENV["FV_SERVER_URL"], "0000-0000-0000-0000")
        store.close_store()

    def test_an_unreachable_server_is_network_unavailable(self):
        store = fv.FieldvisitStore.open(path("unreachable.db"), None)
        with self.assertRaises(fv.FieldvisitError.NetworkUnavailable):
            store.enroll("http://127.0.0.1:9", "0000-0000-0000-0000")
        store.close_store()

    def test_a_passphrase_without_encryption_support_is_refused_clearly(self):
        try:
            store = fv.FieldvisitStore.open(path("encrypted.db"), "s3cret")
        except fv.FieldvisitError.EncryptionUnavailable:
            return
        store.close_store()  # built with SQLCipher: the store opened encrypted

    def test_a_closed_and_reopened_store_still_holds_everything(self):
        db = path("reopened.db")
        store = fv.FieldvisitStore.open(db, None)
        identity = store.enroll(ENV["FV_SERVER_URL"], ENV["FV_CODE_2"])
        sync(store)
        visit = store.commit_visit(manual(), draft(), None)
        households = store.households(None, 100)
        store.close_store()
        with self.assertRaises(fv.FieldvisitError.StoreClosed):
            store.households(None, 100)

        store = fv.FieldvisitStore.open(db, None)
        try:
            self.assertEqual(store.identity(), identity)
            self.assertEqual(store.households(None, 100), households)
            self.assertEqual(store.visit(visit.id).diary, visit.diary)
            self.assertEqual(store.pending_count(), 1)
            sync(store)
            self.assertEqual(store.visit(visit.id).sync_state, fv.OperationState.SYNCED)
        finally:
            store.close_store()

    def test_unsynced_work_is_exported_as_signed_operations_for_an_admin(self):
        store = fv.FieldvisitStore.open(path("exporting.db"), None)
        try:
            store.enroll(ENV["FV_SERVER_URL"], ENV["FV_CODE_3"])
            sync(store)
            store.commit_visit(manual(), draft(), None)
            store.commit_visit(manual(), draft(), None)
            out = path("export.json")
            self.assertEqual(store.export_unsynced(out), 2)
            with open(out, encoding="utf-8") as f:
                exported = json.load(f)
            self.assertEqual(exported["format"], "fieldvisit-unsynced-v1")
            self.assertEqual(exported["device"], store.device_id())
            op = exported["operations"][-1]
            self.assertEqual(op["kind"], "visit.record")
            self.assertTrue(op["signature"] and op["prev_hash"])
            self.assertEqual(op["payload"]["diary"], draft().diary)
        finally:
            store.close_store()


if __name__ == "__main__":
    unittest.main()
