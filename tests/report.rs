//! `qledger report` (issue 11): the demo's report holds the story's numbers, every ledger
//! string is escaped, the page is written as `export --out` writes, a ledger that fails
//! verification gets a report that says so (exit 3), and the page renders in headless Chromium
//! with no console message (the page runs no script and loads nothing, so any message is an
//! error: a blocked load, a parse problem) and shows the numbers.
//!
//! The browser test needs Chromium (`apt-get install chromium`; `.ci/run` installs it); it fails
//! without it unless `QLEDGER_SKIP_BROWSER=1`; `QLEDGER_CHROMIUM=PATH` names another browser
//! binary. `QLEDGER_UPDATE_SCREENSHOT=1` also writes the README's screenshot, `docs/report.png`.
//!
//! `cargo test --test report`.

mod qa_util;

use qa_util::segments::{flip_file, head_snapshot_path};
use qa_util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What the demo's report must show: (what, HTML fragment). Derived by hand from
/// examples/h200.jsonl (the story is in tests/story.rs; L1..L5 = CN-IMP-2026-0001..0005,
/// US = US-BIS-D000001, nvidia's export license that every order also draws on). Seq n is
/// line n + 1 of the file.
const DEMO_NUMBERS: &[(&str, &str)] = &[
    // L1 150000 - O-BD-1 40000 (O-BD-2 25000 cancelled on 02-25).
    ("remaining of CN-IMP-2026-0001", r#"data-remaining="CN-IMP-2026-0001">110,000<"#),
    // L2 amended 130000 -> 120000, minus O-AL-1 30000.
    ("remaining of the amended CN-IMP-2026-0002", r#"data-remaining="CN-IMP-2026-0002">90,000<"#),
    // L3 110000 - O-TC-1 50000.
    ("remaining of CN-IMP-2026-0003", r#"data-remaining="CN-IMP-2026-0003">60,000<"#),
    // L4 60000 - O-BA-1 20000 (opened by the finalization); O-BA-2 10000 released.
    ("remaining of round 2's CN-IMP-2026-0004", r#"data-remaining="CN-IMP-2026-0004">40,000<"#),
    ("remaining of the exempted laboratory's CN-IMP-2026-0005", r#"data-remaining="CN-IMP-2026-0005">20,000<"#),
    // US 150000 - (40000 + 30000 + 50000 + 20000).
    ("remaining of the US export gate", r#"data-remaining="US-BIS-D000001">10,000<"#),
    // Headroom as `qledger state` has it: the least over the gates an order passes. Every order
    // needs nvidia's US gate, which has 10000 left: it binds every party below its own
    // remaining (bytedance 110000, tencent 60000, the exempted laboratory 20000, nvidia 10000).
    ("bytedance's headroom", r#"data-headroom="bytedance"><strong>10,000<"#),
    ("tencent's headroom", r#"data-headroom="tencent"><strong>10,000<"#),
    ("the laboratory's headroom", r#"data-headroom="cn-univ-lab"><strong>10,000<"#),
    ("nvidia's headroom", r#"data-headroom="nvidia"><strong>10,000<"#),
    // Totals per authority, each order once under each. CN-MOFCOM: L1..L5 granted 150000 +
    // 120000 + 110000 + 60000 + 20000; ordered 40000 + 30000 + 50000 + 20000; shipped 20000 +
    // 10000 (late) on O-BD-1 and 29000 (after the correction) on O-AL-1; remaining 110000 +
    // 90000 + 60000 + 40000 + 20000.
    ("CN granted", r#"data-total="CN-MOFCOM/granted">460,000<"#),
    ("CN ordered", r#"data-total="CN-MOFCOM/ordered">140,000<"#),
    ("CN shipped", r#"data-total="CN-MOFCOM/shipped">59,000<"#),
    ("CN remaining", r#"data-total="CN-MOFCOM/remaining">320,000<"#),
    // US-BIS: the one license, carrying the same orders and shipments.
    ("US granted", r#"data-total="US-BIS/granted">150,000<"#),
    ("US ordered", r#"data-total="US-BIS/ordered">140,000<"#),
    ("US shipped", r#"data-total="US-BIS/shipped">59,000<"#),
    ("US remaining", r#"data-total="US-BIS/remaining">10,000<"#),
    // Round 1 (seq 9, ceiling 400000, closed at seq 41): L1 + L2 (amended) + L3 + L5 = 400000.
    (
        "round 1's heading",
        r#"CN-MOFCOM · H200 · round 1 <span class="badge closed">closed</span><span class="muted"> · ceiling 400,000 · granted 400,000 · left to grant 0 · 4 licenses"#,
    ),
    // Round 2 (seq 42, ceiling 200000, open): L4 60000.
    (
        "round 2's heading",
        r#"CN-MOFCOM · H200 · round 2 <span class="badge open">open</span><span class="muted"> · ceiling 200,000 · granted 60,000 · left to grant 140,000 · 1 license"#,
    ),
    // US-BIS opened no round: its licenses are grouped by authority and product only.
    ("the US gate's group", r#"US-BIS · H200<span class="muted"> · no rounds · 1 license"#),
    // Round 1: granted 400000; ordered 40000 + 30000 + 50000; shipped 30000 + 29000; remaining
    // 110000 + 90000 + 60000 + 20000.
    (
        "round 1's total",
        r#"<td class="n">400,000</td><td class="n">120,000</td><td class="n">59,000</td><td class="n">280,000</td>"#,
    ),
    // Round 2 = L4: 60000, 20000, 0, 40000.
    (
        "round 2's total",
        r#"<td class="n">60,000</td><td class="n">20,000</td><td class="n">0</td><td class="n">40,000</td>"#,
    ),
    // The US group: 150000, 140000, 59000, 10000.
    (
        "the US gate's total",
        r#"<td class="n">150,000</td><td class="n">140,000</td><td class="n">59,000</td><td class="n">10,000</td>"#,
    ),
    ("the verification", "Verified</strong>: 48 records"),
    ("the head seq", r#"id="head-seq">47<"#),
    // Seq 40 (line 41): the shipment of 2026-03-01, recorded after 03-13.
    ("the late entry", r#"data-late-seq="40">40<"#),
    ("the late entry's reason", "customs declaration of 1 March was filed two weeks late"),
    ("a final condition", "bundle 1 domestic per 3"),
    ("round 2's bundle condition", "bundle 1 domestic per 2"),
    ("the max-per-order rule", "at most 50,000 per order"),
    ("the max-shipments rule", "at most 12 shipments"),
    ("the restricted party", r#"<span class="badge restricted">restricted</span>"#),
    ("a state-backed party", r#"<span class="badge state-backed">state-backed</span>"#),
    // P-SOE denies state-backed and telecom: china-mobile, china-telecom and the laboratory
    // (state-backed research), which is exempted.
    ("the policy's catch", "china-mobile, china-telecom, cn-univ-lab</td><td class=\"mono\">cn-univ-lab</td>"),
    // Cap 150000: bytedance holds 150000 (L1).
    ("the cap", "Cap <strong>150,000</strong> per party on CN-MOFCOM · H200"),
    ("bytedance at its cap", r#"bytedance</span> 150,000 (room 0)"#),
    // O-BA-1 opened and O-BA-2 released by seq 47.
    ("no held order at the head", "No order is held."),
    ("the chart", "<path d=\"M"),
    // The end of 2026-04-03 (the finalization released O-BA-2), per authority: CN-MOFCOM
    // 460000 granted, 140000 ordered, 59000 shipped; US-BIS 150000, 140000, 59000.
    (
        "CN's last day",
        "<td>2026-04-03</td><td class=\"n\">460,000</td><td class=\"n\">140,000</td><td class=\"n\">59,000</td>",
    ),
    (
        "US's last day",
        "<td>2026-04-03</td><td class=\"n\">150,000</td><td class=\"n\">140,000</td><td class=\"n\">59,000</td>",
    ),
    // The late shipment counts on its own day: by the end of 03-01, 20000 + 30000 + 10000.
    (
        "CN's late day",
        "<td>2026-03-01</td><td class=\"n\">390,000</td><td class=\"n\">70,000</td><td class=\"n\">60,000</td>",
    ),
];

/// What the demo's report must not show: totals across authorities and a round the US-BIS
/// never opened.
const DEMO_ABSENT: &[(&str, &str)] = &[
    ("the US gate under a round", "US-BIS · H200 · round"),
    ("a grand total over both gates", "610,000"),
    // (280,000, once per gate, is round 1's remaining: only the old grand-total card is absent.)
    ("orders counted on both gates", r#"id="total-ordered""#),
    ("shipments counted on both gates", "118,000"),
];

/// A ledger holding the demo's story, in `dir`.
fn demo_ledger(dir: &Path) -> PathBuf {
    let ledger = ledger_in(dir);
    ok(&ledger, &["demo"]);
    ledger
}

/// `qledger report --out dir/report.html` on `ledger`, asserting exit 0; the page.
fn report_file(ledger: &Path, dir: &Path) -> (PathBuf, String) {
    let path = dir.join("report.html");
    let out = run(ledger, &["report", "--out", &path.to_string_lossy()]);
    assert_eq!(out.code, Some(0), "report failed: {}", out.stderr);
    assert!(out.stdout.is_empty(), "report --out writes nothing to stdout");
    let page = std::fs::read_to_string(&path).expect("the report file");
    (path, page)
}

#[test]
fn the_demo_report_shows_the_story_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = demo_ledger(dir.path());
    let (path, page) = report_file(&ledger, dir.path());
    for (what, fragment) in DEMO_NUMBERS {
        assert!(page.contains(fragment), "{what}: {fragment:?} is not in the page");
    }
    for (what, fragment) in DEMO_ABSENT {
        assert!(!page.contains(fragment), "{what}: {fragment:?} is in the page");
    }
    assert!(page.contains(&head_hash(&ledger)), "the head hash");
    let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "written like export --out: a new owner-only file");
}

#[test]
fn the_page_is_self_contained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, page) = report_file(&demo_ledger(dir.path()), dir.path());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    for outside in ["<script", "http://", "https://", "src=", "href=", "@import", "url("] {
        assert!(!page.contains(outside), "the page refers outside itself or runs a script: {outside:?}");
    }
}

#[test]
fn report_to_stdout_is_the_same_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = demo_ledger(dir.path());
    let (_, page) = report_file(&ledger, dir.path());
    let out = run(&ledger, &["report", "--out", "-"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.text(), page, "the page depends only on the ledger");
}

#[test]
fn a_report_inside_the_ledger_directory_is_refused_as_export_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = demo_ledger(dir.path());
    let inside = ledger.join("report.html");
    let out = run(&ledger, &["report", "--out", &inside.to_string_lossy()]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    out.assert_one_line_error("report inside the ledger");
    assert!(!inside.exists());
}

/// Ids and texts full of HTML: `<`, `&`, quotes, a bidi override.
const HOSTILE: &str = concat!(
    r#"{"type":"party_registered","at":"2026-01-10T00:00:00Z","party":"<script>alert(1)</script>","name":"<img src=x onerror=alert(2)> & \"Co\" 'Ltd'","country":"CN","state_backed":true,"sector":"x&y"}"#,
    "\n",
    r#"{"type":"license_granted","at":"2026-01-10T00:00:01Z","license":"L<i>&\"'1","authority":"A&B","licensee":"<script>alert(1)</script>","product":"H<200>","quantity":1234567,"valid_from":"2026-01-01","valid_until":"2030-12-31"}"#,
    "\n",
    r#"{"type":"condition_added","at":"2026-01-10T00:00:02Z","license":"L<i>&\"'1","condition":"C<1>","rule":{"kind":"end_use","text":"<b>bold</b> & </td></table>"},"final":true}"#,
    "\n",
);

#[test]
fn every_ledger_string_is_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = ledger_in(dir.path());
    let input = dir.path().join("hostile.jsonl");
    write(&input, HOSTILE);
    ok(&ledger, &["append", "--create", &input.to_string_lossy(), "--actor", "clerk"]);
    let (_, page) = report_file(&ledger, dir.path());
    for raw in ["<script>", "<img", "<i>", "<b>", "</td></table>", "H<200>", "A&B"] {
        assert!(!page.contains(raw), "{raw:?} reached the page unescaped");
    }
    for escaped in [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&lt;img src=x onerror=alert(2)&gt; &amp; &quot;Co&quot; &#39;Ltd&#39;",
        "L&lt;i&gt;&amp;&quot;&#39;1",
        "C&lt;1&gt;",
        "end use: &lt;b&gt;bold&lt;/b&gt; &amp; &lt;/td&gt;&lt;/table&gt;",
        "H&lt;200&gt;",
        r#"data-remaining="L&lt;i&gt;&amp;&quot;&#39;1">1,234,567<"#,
    ] {
        assert!(page.contains(escaped), "{escaped:?} is not in the page");
    }
}

#[test]
fn a_ledger_that_fails_verification_gets_a_report_that_says_so_and_exit_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = demo_ledger(dir.path());
    let snapshot = head_snapshot_path(&ledger);
    let len = std::fs::metadata(&snapshot).expect("the head snapshot").len();
    flip_file(&snapshot, len / 2, 0x01);
    let path = dir.path().join("report.html");
    let out = run(&ledger, &["report", "--out", &path.to_string_lossy()]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    out.assert_one_line_error("report of a damaged ledger");
    assert!(out.stderr.contains("verification failed"), "{}", out.stderr);
    let page = std::fs::read_to_string(&path).expect("the report is written all the same");
    assert!(page.contains("Verification FAILED"));
    assert!(page.contains(r#"data-remaining="CN-IMP-2026-0001">110,000<"#), "the records still replay");
}

#[test]
fn an_empty_ledger_has_a_report_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = ledger_in(dir.path());
    ok(&ledger, &["init"]);
    let (_, page) = report_file(&ledger, dir.path());
    assert!(page.contains("No license has been granted."));
    assert!(page.contains("none (empty ledger)"));
}

/// The view model, through the library, of `input` (JSON lines).
fn model_of(input: &str) -> quotaledger::report::ReportModel {
    use quotaledger::jsonl::Defaults;
    use quotaledger::ledger::{AppendOptions, Ledger};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger =
        Ledger::open(&ledger_in(dir.path()), quotaledger::store::OpenMode::CreateIfMissing, None).expect("open");
    let defaults = Defaults { at: Default::default(), actor: "clerk".into() };
    quotaledger::cli::append_from(&mut ledger, input.as_bytes(), &defaults, AppendOptions::default()).expect("append");
    quotaledger::report::build(&ledger).expect("the model")
}

/// The story with CN-IMP-2026-0003 suspended at the end (after the story's last record,
/// 2026-04-03T03:00:00Z).
fn story_model() -> quotaledger::report::ReportModel {
    let suspend = r#"{"type":"license_suspended","at":"2026-04-04T00:00:00Z","license":"CN-IMP-2026-0003","reason":"inspection"}"#;
    model_of(&format!("{}{suspend}\n", quotaledger::cli::demo::STORY_JSONL))
}

/// One authority's timeline as (day, granted, ordered, shipped).
fn by_day(m: &quotaledger::report::ReportModel, authority: &str) -> Vec<(String, u128, u128, u128)> {
    let a = m.authorities.iter().find(|a| a.authority == authority).expect("the authority");
    a.timeline.iter().map(|p| (p.day.to_string(), p.granted, p.ordered, p.shipped)).collect()
}

#[test]
fn the_model_counts_per_authority_and_takes_headroom_from_the_state() {
    let m = story_model();
    assert!(m.verification.is_ok());
    assert_eq!(m.head.records, 49);
    let totals: Vec<(&str, u64, u128, u128, u128, u128)> = m
        .authorities
        .iter()
        .map(|a| {
            (a.authority.as_str(), a.licenses, a.totals.granted, a.totals.ordered, a.totals.shipped, a.totals.remaining)
        })
        .collect();
    // CN: see DEMO_NUMBERS; L3's 60000 still counts as remaining while suspended.
    assert_eq!(
        totals,
        [("CN-MOFCOM", 5, 460_000, 140_000, 59_000, 320_000), ("US-BIS", 1, 150_000, 140_000, 59_000, 10_000)]
    );
    // (authority, round, (ceiling, open, left to grant), licenses).
    type Group<'a> = (&'a str, Option<u64>, Option<(u64, bool, u64)>, usize);
    let rounds: Vec<Group> = m
        .rounds
        .iter()
        .map(|r| (r.authority.as_str(), r.round, r.info.map(|i| (i.ceiling, i.open, i.left)), r.licenses.len()))
        .collect();
    assert_eq!(
        rounds,
        [
            ("CN-MOFCOM", Some(1), Some((400_000, false, 0)), 4),
            ("CN-MOFCOM", Some(2), Some((200_000, true, 140_000)), 1),
            ("US-BIS", None, None, 1),
        ]
    );
    // Round 1: L1 110000 + L2 90000 + L3 60000 (suspended, still counted) + L5 20000.
    assert_eq!(m.rounds[0].totals.remaining, 280_000);
    assert_eq!(m.rounds[0].totals.granted, 400_000);
    let headroom = |party: &str| {
        let p = m.parties.iter().find(|p| p.id == party).expect("party");
        p.headroom
            .iter()
            .map(|h| (h.product.clone(), h.active_licenses, h.own_remaining, h.can_order))
            .collect::<Vec<_>>()
    };
    // The US gate's 10000 binds below the party's own remaining.
    assert_eq!(headroom("bytedance"), [("H200".to_string(), 1, 110_000, 10_000)]);
    assert_eq!(headroom("cn-univ-lab"), [("H200".to_string(), 1, 20_000, 10_000)]);
    assert!(headroom("tencent").is_empty(), "a suspended license gives no headroom");
    assert!(headroom("china-mobile").is_empty());
    assert!(headroom("china-telecom").is_empty());
    assert_eq!(m.late_total, 1);
    assert_eq!(
        m.late.iter().map(|l| (l.seq, l.kind, l.subject.as_str())).collect::<Vec<_>>(),
        [(40, "shipment_recorded", "O-BD-1")]
    );
    let policy = &m.policies[0];
    assert_eq!(policy.caught, ["china-mobile", "china-telecom", "cn-univ-lab"]);
    assert_eq!(policy.exempted, ["cn-univ-lab"]);
    assert_eq!(m.caps[0].per_party, 150_000);
    assert!(m.held.is_empty());
}

/// The timeline by effective time: the late shipment (seq 40, dated 2026-03-01, recorded after
/// 2026-03-13) counts on 03-01, and the days run forward.
#[test]
fn the_timeline_runs_forward_in_effective_time_with_the_late_shipment_on_its_own_day() {
    let m = story_model();
    assert_eq!(m.span.map(|(a, b)| (a.to_string(), b.to_string())), Some(("2026-01-14".into(), "2026-04-04".into())));
    let cn = by_day(&m, "CN-MOFCOM");
    let us = by_day(&m, "US-BIS");
    for t in [&cn, &us] {
        let days: Vec<&str> = t.iter().map(|p| p.0.as_str()).collect();
        assert!(days.windows(2).all(|w| w[0] < w[1]), "days out of order: {days:?}");
    }
    let day = |t: &[(String, u128, u128, u128)], d: &str| t.iter().find(|p| p.0 == d).map(|p| (p.1, p.2, p.3));
    // CN-MOFCOM, day by day (each order and shipment once: one CN license per order).
    // 01-20: L1 150000 + L2 130000 + L3 110000.
    assert_eq!(cn.first().map(|p| p.0.as_str()), Some("2026-01-20"), "party registrations move no total");
    assert_eq!(day(&cn, "2026-01-20"), Some((390_000, 0, 0)));
    assert_eq!(day(&cn, "2026-02-03"), Some((390_000, 70_000, 0)), "O-BD-1 40,000 and O-AL-1 30,000");
    assert_eq!(day(&cn, "2026-02-04"), Some((390_000, 95_000, 0)), "O-BD-2 25,000");
    assert_eq!(day(&cn, "2026-02-20"), Some((390_000, 95_000, 20_000)));
    assert_eq!(day(&cn, "2026-02-21"), Some((390_000, 95_000, 50_000)));
    assert_eq!(day(&cn, "2026-02-25"), Some((390_000, 70_000, 50_000)), "the cancellation returns 25,000");
    // The late shipment of 10000 on its own day: 20000 + 30000 + 10000.
    assert_eq!(day(&cn, "2026-03-01"), Some((390_000, 70_000, 60_000)));
    assert_eq!(day(&cn, "2026-03-02"), Some((380_000, 70_000, 60_000)), "L2 amended down by 10,000");
    assert_eq!(day(&cn, "2026-03-03"), Some((400_000, 70_000, 60_000)), "L5 20,000");
    assert_eq!(day(&cn, "2026-03-04"), Some((400_000, 70_000, 59_000)), "the correction takes 1,000");
    assert_eq!(day(&cn, "2026-03-13"), Some((400_000, 120_000, 59_000)), "O-TC-1 50,000");
    assert_eq!(day(&cn, "2026-04-01"), Some((460_000, 120_000, 59_000)), "L4 60,000");
    assert_eq!(day(&cn, "2026-04-02"), Some((460_000, 150_000, 59_000)), "the held O-BA-1 20,000 and O-BA-2 10,000");
    assert_eq!(day(&cn, "2026-04-03"), Some((460_000, 140_000, 59_000)), "the release of O-BA-2 returns 10,000");
    assert_eq!(cn.len(), 14, "one point per day on which a CN total moved: {cn:?}");
    for quiet in ["2026-01-14", "2026-02-02", "2026-03-05", "2026-03-31", "2026-04-04"] {
        assert_eq!(
            day(&cn, quiet),
            None,
            "{quiet}: registrations, finalizations, suspensions and round events move no total"
        );
    }
    // US-BIS: its one license, granted 150000 on 01-20, carries the same orders and shipments.
    for (d, (_, o, s)) in cn
        .iter()
        .map(|p| (p.0.as_str(), (p.1, p.2, p.3)))
        .filter(|(d, _)| !["2026-03-02", "2026-03-03", "2026-04-01"].contains(d))
    {
        assert_eq!(day(&us, d), Some((150_000, o, s)), "US-BIS on {d}");
    }
    assert_eq!(us.len(), 11, "no US point on the CN-only days 03-02, 03-03 and 04-01: {us:?}");
}

#[test]
fn held_orders_show_until_their_condition_is_settled() {
    // The story up to seq 46: O-BA-1 and O-BA-2 placed with hold on L4 (pending C1), seq 47
    // (the finalization) left out.
    let story = quotaledger::cli::demo::STORY_JSONL;
    let upto: String = story.lines().take(47).map(|l| format!("{l}\n")).collect();
    let m = model_of(&upto);
    let held: Vec<(&str, u64, Vec<String>)> =
        m.held.iter().map(|h| (h.order.as_str(), h.quantity, h.licenses.clone())).collect();
    let gates = vec!["CN-IMP-2026-0004".to_string(), "US-BIS-D000001".to_string()];
    assert_eq!(held, [("O-BA-1", 20_000, gates.clone()), ("O-BA-2", 10_000, gates)]);
    // Held orders reserve their quantity: CN ordered 120000 + 30000.
    let cn = m.authorities.iter().find(|a| a.authority == "CN-MOFCOM").expect("CN");
    assert_eq!(cn.totals.ordered, 150_000);
    let page = quotaledger::report::html::render(&m);
    assert!(page.contains("<td class=\"mono\">O-BA-2</td>"), "the held order is listed");
}

// ---- in a real browser ----

/// Chromium: `$QLEDGER_CHROMIUM` if set (and only that), else `/usr/bin/chromium`, else
/// `chromium` or `chromium-browser` on the PATH. None only with QLEDGER_SKIP_BROWSER=1: without
/// it, a missing Chromium fails the test.
fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("QLEDGER_CHROMIUM") {
        Some(named) => vec![PathBuf::from(named)],
        None => std::iter::once(PathBuf::from("/usr/bin/chromium"))
            .chain(std::env::var_os("PATH").into_iter().flat_map(|p| {
                std::env::split_paths(&p)
                    .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
                    .collect::<Vec<_>>()
            }))
            .collect(),
    };
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        let skip = std::env::var("QLEDGER_SKIP_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            skip,
            "Chromium is needed to check the report in a browser and was not found: install it \
             (`apt-get install chromium`, as .ci/run does), or set QLEDGER_SKIP_BROWSER=1 to skip this test"
        );
        eprintln!("report: no Chromium; QLEDGER_SKIP_BROWSER=1: the browser test is skipped");
    }
    found
}

/// Runs headless Chromium on `page` with `args` (a fresh profile, nothing fetched); its
/// stdout, after asserting exit 0 and that the page logged nothing to the console.
fn browse(chromium: &Path, page: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.path().display())).args(args);
    cmd.arg(format!("file://{}", page.display()));
    let out = run_cmd(cmd, None, Duration::from_secs(120), "chromium");
    assert_eq!(out.code, Some(0), "chromium failed: {}", out.stderr);
    // The page runs no script: any console line is an error (a blocked load, an uncaught error).
    let console: Vec<&str> = out.stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect();
    assert!(console.is_empty(), "the page logged to the console: {console:#?}");
    out.text()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |at: usize| png.get(at..at + 4)?.try_into().ok().map(u32::from_be_bytes);
    Some((be(16)?, be(20)?))
}

#[test]
fn the_demo_report_renders_in_chromium_and_shows_the_numbers() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (page, _) = report_file(&demo_ledger(dir.path()), dir.path());
    let dom = browse(&chromium, &page, &["--dump-dom".to_string()]);
    assert!(dom.contains("<h1>quotaledger report</h1>"), "the page loaded: {}", shown(dom.as_bytes()));
    for (what, fragment) in DEMO_NUMBERS {
        assert!(dom.contains(fragment), "{what}: {fragment:?} is not in the rendered DOM");
    }
    let png = dir.path().join("report.png");
    browse(&chromium, &page, &[format!("--screenshot={}", png.display()), "--window-size=1100,1860".to_string()]);
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(png_size(&bytes), Some((1100, 1860)), "a PNG of the window's size");
    // A blank page compresses to a few kilobytes; this one has text, bars and a chart.
    assert!(bytes.len() > 40_000, "the screenshot is nearly empty: {} bytes", bytes.len());
    if std::env::var("QLEDGER_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.png");
        std::fs::copy(&png, &docs).expect("writing docs/report.png");
    }
}

#[test]
fn hostile_strings_stay_text_in_the_browser() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = ledger_in(dir.path());
    let input = dir.path().join("hostile.jsonl");
    write(&input, HOSTILE);
    ok(&ledger, &["append", "--create", &input.to_string_lossy(), "--actor", "clerk"]);
    let (page, _) = report_file(&ledger, dir.path());
    let dom = browse(&chromium, &page, &["--dump-dom".to_string()]);
    // The DOM holds the ids as text (serialized with entities again), never as elements.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", shown(dom.as_bytes()));
    assert!(!dom.contains("<script") && !dom.contains("<img") && !dom.contains("<b>"));
    assert!(dom.contains("1,234,567"));
}
