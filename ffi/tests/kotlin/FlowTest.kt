// The phone flow, driven from Kotlin through the generated uniffi bindings (JNA), as the
// Android app drives it. Run by `ffi/tests/kotlin_bindings.rs` (see `.ci/kotlin.sh`), which
// starts a real sync server and sets the same FV_* environment as the Python suite
// (`ffi/tests/python/test_flow.py` documents each variable).
//
// No test framework is available offline, so this is a plain program: each check is a named
// test; the last line is "N passed, M failed" and the exit status is non-zero on any failure.

import java.io.File
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking
import uniffi.fieldvisit_ffi.*

val env: Map<String, String> = System.getenv()
fun env(name: String): String = env[name] ?: error("$name is not set: run this through ffi/tests/kotlin_bindings.rs")
fun path(name: String): String = File(env("FV_WORK_DIR"), name).path

var passed = 0
var failed = 0

fun test(name: String, body: () -> Unit) {
    try {
        body()
        passed++
        println("ok   $name")
    } catch (t: Throwable) {
        failed++
        println("FAIL $name: $t")
        t.printStackTrace()
    }
}

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

inline fun <reified E : Throwable> assertThrows(body: () -> Unit): E {
    try {
        body()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${E::class.simpleName}, nothing was thrown")
}

fun draft(diary: String = "入户走访，了解家庭收入和就医情况。"): VisitDraft =
    newDraft().copy(
        diary = diary,
        checklist = listOf(
            ChecklistAnswer("food", ChecklistStatus.OK, null),
            ChecklistAnswer("housing", ChecklistStatus.PROBLEM, "屋顶漏雨"),
        ),
    )

fun manual(code: String = env("FV_HOUSEHOLD_CODE")) = Identification.Manual(code, "门牌被风刮掉了")

// `sync` is a suspend function: the app calls it from a coroutine; here one blocks on it.
fun sync(store: FieldvisitStore): SyncReport = runBlocking { store.sync() }

fun main() {
    val store = FieldvisitStore.open(path("kotlin-phone.db"), null)

    test("enrolling binds the device to its cadre and the first sync pulls its households") {
        val identity = store.enroll(env("FV_SERVER_URL"), env("FV_CODE"))
        check(identity.cadreId == env("FV_CADRE")) { "cadre ${identity.cadreId}" }
        check(identity.deviceId == store.deviceId()) { "device id" }
        val report = sync(store)
        check(report.complete && report.pulled > 0UL) { "first sync $report" }
    }

    test("households are found by part of a Chinese village name") {
        val found = store.households(env("FV_VILLAGE_SEARCH"), 100u)
        check(found.any { it.code == env("FV_HOUSEHOLD_CODE") }) { "found ${found.map { it.code }}" }
        check(store.households("不存在的村庄名字", 100u).isEmpty()) { "nothing matches" }
    }

    test("a manual visit is pending until a coroutine sync marks it synced") {
        val visit = store.commitVisit(manual(), draft(), null)
        check(visit.householdId == env("FV_HOUSEHOLD_ID")) { "household" }
        check(visit.syncState == OperationState.PENDING) { "state ${visit.syncState}" }
        check(store.pendingCount() == 1UL) { "pending ${store.pendingCount()}" }
        val report = sync(store)
        check(report.complete && report.acknowledged == 1UL) { "sync $report" }
        check(store.pendingCount() == 0UL) { "nothing pending" }
        check(store.visit(visit.id)?.syncState == OperationState.SYNCED) { "synced" }
        check(store.operations().last().state == OperationState.SYNCED) { "operation synced" }
        check(store.lastSyncReport() == report) { "last report kept" }
    }

    test("a scanned door plate identifies its household and records a visit") {
        val scanned = store.scan(env("FV_PLATE"))
        check(scanned.household.id == env("FV_HOUSEHOLD_ID")) { "scanned ${scanned.household.id}" }
        val location = Location(49.21, 119.73, 8.0, "gps", scanned.scannedAtMs)
        val visit = store.commitVisit(
            Identification.Scanned(env("FV_PLATE"), scanned.scannedAtMs), draft(), location,
        )
        check(visit.identifiedBy is IdentifiedBy.Scan) { "identified ${visit.identifiedBy}" }
        check(sync(store).complete) { "synced" }
    }

    test("a forged plate is refused") {
        val plate = env("FV_PLATE")
        val tampered = plate.substring(0, 100) + (if (plate[100] != 'A') "A" else "B") + plate.substring(101)
        assertThrows<FieldvisitException.PlateForged> { store.scan(tampered) }
        assertThrows<FieldvisitException.PlateUnreadable> { store.scan("https://example.invalid/x") }
    }

    test("a diary that is too short is a validation error naming the diary") {
        val e = assertThrows<FieldvisitException.Validation> { store.commitVisit(manual(), draft("好"), null) }
        check(e.field == "diary") { "field ${e.field}" }
        check(!e.reason.contains("好")) { "no typed text in the reason" }
        check(store.pendingCount() == 0UL) { "nothing written" }
    }

    test("amending a visit changes what is shown and keeps the reason") {
        val visit = store.commitVisit(manual(), draft(), null)
        val amended = store.amendVisit(visit.id, "补充复诊情况", VisitChanges(diary = "补充：已联系村医上门复诊。"))
        check(amended.diary == "补充：已联系村医上门复诊。") { "diary" }
        check(amended.amendments.map { it.reason } == listOf("补充复诊情况")) { "reason kept" }
        check(sync(store).complete) { "synced" }
    }

    test("a visit the server refuses is kept as rejected with its reason") {
        val offline = FieldvisitStore.open(env("FV_OFFLINE_STORE"), null)
        try {
            offline.commitVisit(manual(env("FV_MOVED_HOUSEHOLD_CODE")), draft(), null)
            val report = sync(offline)
            check(report.rejected == 1UL) { "report $report" }
            val op = offline.operations().last()
            check(op.state == OperationState.REJECTED) { "state ${op.state}" }
            check(op.rejectReason?.startsWith("not_assigned") == true) { "reason ${op.rejectReason}" }
            check(offline.pendingCount() == 0UL) { "the rejection blocks nothing" }
        } finally {
            offline.closeStore()
        }
    }

    test("a closed and reopened store still holds everything") {
        val before = store.households(null, 100u)
        val visits = store.household(env("FV_HOUSEHOLD_ID"))!!.visits
        val identity = store.identity()
        store.closeStore()
        assertThrows<FieldvisitException.StoreClosed> { store.households(null, 100u) }
        FieldvisitStore.open(path("kotlin-phone.db"), null).use { reopened ->
            check(reopened.identity() == identity) { "identity" }
            check(reopened.households(null, 100u) == before) { "households" }
            check(reopened.household(env("FV_HOUSEHOLD_ID"))!!.visits == visits) { "visits" }
            reopened.closeStore()
        }
    }

    store.close()
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
