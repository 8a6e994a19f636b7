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
/// examples/h200.jsonl (the derivation is in tests/story.rs; L1..L5 = CN-IMP-2026-0001..0005,
/// US = US-BIS-D000001, the supplier's export license that every order also draws on).
const DEMO_NUMBERS: &[(&str, &str)] = &[
    // L1 150000 - O-BD-1 40000 (O-BD-2 cancelled).
    ("remaining of CN-IMP-2026-0001", r#"data-remaining="CN-IMP-2026-0001">110,000<"#),
    // L2 amended 130000 -> 120000, minus O-AL-1 30000.
    ("remaining of the amended CN-IMP-2026-0002", r#"data-remaining="CN-IMP-2026-0002">90,000<"#),
    // L3 110000 - O-TC-1 50000.
    ("remaining of CN-IMP-2026-0003", r#"data-remaining="CN-IMP-2026-0003">60,000<"#),
    // L4 60000 - O-BA-1 20000 (opened); O-BA-2 released.
    ("remaining of round 2's CN-IMP-2026-0004", r#"data-remaining="CN-IMP-2026-0004">40,000<"#),
    ("remaining of the exempted laboratory's CN-IMP-2026-0005", r#"data-remaining="CN-IMP-2026-0005">20,000<"#),
    // US 150000 - (40000 + 30000 + 50000 + 20000).
    ("remaining of the US export gate", r#"data-remaining="US-BIS-D000001">10,000<"#),
    // The report's headroom: the remaining of the party's own active licenses.
    ("bytedance's headroom", r#"data-headroom="bytedance">110,000<"#),
    ("tencent's headroom", r#"data-headroom="tencent">60,000<"#),
    ("nvidia's headroom", r#"data-headroom="nvidia">10,000<"#),
    // 150000 + 120000 + 110000 + 60000 + 20000 + 150000.
    ("total granted", r#"id="total-granted">610,000<"#),
    // Summed over licenses, so each order on both its gates: (40000 + 30000 + 50000 + 20000) * 2.
    ("total ordered", r#"id="total-ordered">280,000<"#),
    // (30000 on O-BD-1 + 29000 on O-AL-1 after the correction) * 2.
    ("total shipped", r#"id="total-shipped">118,000<"#),
    // 110000 + 90000 + 60000 + 40000 + 20000 + 10000.
    ("total remaining", r#"id="total-remaining">330,000<"#),
    ("round 1's heading", "CN-MOFCOM · H200 · round 1"),
    ("round 2's heading", "CN-MOFCOM · H200 · round 2"),
    // Round 1 = L1, L2, L3, L5: granted 150000 + 120000 + 110000 + 20000 = 400000 (the ceiling);
    // ordered 40000 + 30000 + 50000 = 120000; shipped 30000 + 29000 = 59000; remaining 280000.
    (
        "round 1's total",
        r#"<td class="n">400,000</td><td class="n">120,000</td><td class="n">59,000</td><td class="n">280,000</td>"#,
    ),
    // Round 2 = L4: 60000, 20000, 0, 40000.
    (
        "round 2's total",
        r#"<td class="n">60,000</td><td class="n">20,000</td><td class="n">0</td><td class="n">40,000</td>"#,
    ),
    ("the verification", "Verified</strong>: 48 records"),
    ("the head seq", r#"id="head-seq">47<"#),
    ("a final condition", "bundle 1 domestic per 3"),
    ("round 2's bundle condition", "bundle 1 domestic per 2"),
    ("the max-per-order rule", "at most 50,000 per order"),
    ("the max-shipments rule", "at most 12 shipments"),
    ("the restricted party", r#"<span class="badge restricted">restricted</span>"#),
    ("a state-backed party", r#"<span class="badge state-backed">state-backed</span>"#),
    ("the chart", "<path d=\"M"),
    // The end of 2026-04-03 (the finalization released O-BA-2): granted 610000; the timeline
    // counts each order and shipment once: ordered 40000 + 30000 + 50000 + 20000 = 140000,
    // shipped 30000 + 29000 = 59000.
    (
        "the last day of the timeline",
        "<td>2026-04-03</td><td class=\"n\">610,000</td><td class=\"n\">140,000</td><td class=\"n\">59,000</td>",
    ),
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

/// The view model, through the library: the story with CN-IMP-2026-0003 suspended at the end
/// (after the story's last record, 2026-04-03T03:00:00Z).
fn story_model() -> quotaledger::report::ReportModel {
    use quotaledger::jsonl::Defaults;
    use quotaledger::ledger::{AppendOptions, Ledger};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger =
        Ledger::open(&ledger_in(dir.path()), quotaledger::store::OpenMode::CreateIfMissing, None).expect("open");
    let suspend = r#"{"type":"license_suspended","at":"2026-04-04T00:00:00Z","license":"CN-IMP-2026-0003","reason":"inspection"}"#;
    let input = format!("{}{suspend}\n", quotaledger::cli::demo::STORY_JSONL);
    let defaults = Defaults { at: Default::default(), actor: "clerk".into() };
    quotaledger::cli::append_from(&mut ledger, input.as_bytes(), &defaults, AppendOptions::default()).expect("append");
    quotaledger::report::build(&ledger).expect("the model")
}

/// The timeline as (day, granted, ordered, shipped).
fn by_day(m: &quotaledger::report::ReportModel) -> Vec<(String, u128, u128, u128)> {
    m.timeline.iter().map(|p| (p.day.to_string(), p.granted, p.ordered, p.shipped)).collect()
}

#[test]
fn the_model_replays_the_story_by_day_and_counts_only_active_licenses_as_headroom() {
    let m = story_model();
    assert!(m.verification.is_ok());
    assert_eq!(m.head.records, 49);
    let by_day = by_day(&m);
    let day = |d: &str| by_day.iter().find(|p| p.0 == d).map(|p| (p.1, p.2, p.3));
    // Granted sums every license (the US gate too); ordered and shipped count each order and
    // shipment once, held orders included, cancellations and releases returned.
    assert_eq!(by_day.first().map(|p| p.0.as_str()), Some("2026-01-14"), "the first day, all zero");
    assert_eq!(day("2026-01-14"), Some((0, 0, 0)));
    // L1 150000 + L2 130000 + L3 110000 + US 150000.
    assert_eq!(day("2026-01-20"), Some((540_000, 0, 0)));
    assert_eq!(day("2026-02-03"), Some((540_000, 70_000, 0)), "O-BD-1 40,000 and O-AL-1 30,000");
    assert_eq!(day("2026-02-04"), Some((540_000, 95_000, 0)), "O-BD-2 25,000");
    assert_eq!(day("2026-02-20"), Some((540_000, 95_000, 20_000)));
    assert_eq!(day("2026-02-21"), Some((540_000, 95_000, 50_000)));
    assert_eq!(day("2026-02-25"), Some((540_000, 70_000, 50_000)), "the cancellation returns 25,000");
    assert_eq!(day("2026-04-01"), Some((610_000, 120_000, 59_000)), "L4 60,000");
    assert_eq!(day("2026-04-02"), Some((610_000, 150_000, 59_000)), "the held O-BA-1 20,000 and O-BA-2 10,000");
    assert_eq!(day("2026-04-03"), Some((610_000, 140_000, 59_000)), "the release of O-BA-2 returns 10,000");
    assert_eq!(day("2026-02-02"), None, "a day on which no total moved has no point");
    assert_eq!(day("2026-03-05"), None, "a suspension moves no total");
    assert_eq!(day("2026-04-04"), None, "a suspension moves no total");
    let rounds: Vec<(&str, u64, usize)> =
        m.rounds.iter().map(|r| (r.authority.as_str(), r.round, r.licenses.len())).collect();
    assert_eq!(rounds, [("CN-MOFCOM", 1, 4), ("CN-MOFCOM", 2, 1), ("US-BIS", 1, 1)]);
    // Round 1: L1 110000 + L2 90000 + L3 60000 (suspended, still counted) + L5 20000.
    assert_eq!(m.rounds[0].totals.remaining, 280_000);
    assert_eq!(m.rounds[0].totals.granted, 400_000);
    let headroom = |party: &str| {
        let p = m.parties.iter().find(|p| p.id == party).expect("party");
        p.headroom.iter().map(|h| (h.product.clone(), h.remaining)).collect::<Vec<_>>()
    };
    assert_eq!(headroom("bytedance"), [("H200".to_string(), 110_000)]);
    assert_eq!(headroom("cn-univ-lab"), [("H200".to_string(), 20_000)]);
    assert!(headroom("tencent").is_empty(), "a suspended license gives no headroom");
    assert!(headroom("china-mobile").is_empty());
    assert!(headroom("china-telecom").is_empty());
    assert_eq!(m.totals.remaining, 330_000, "the totals still count every license");
}

/// The timeline by effective time. Regression: the late shipment (seq 40, dated 2026-03-01,
/// recorded after 2026-03-13) was plotted after 2026-03-13 and counted on 03-04 and 03-13 only
/// from its own row on, so the days went backwards and the step chart with them.
#[test]
fn the_timeline_runs_forward_in_effective_time_with_the_late_shipment_on_its_own_day() {
    let m = story_model();
    let by_day = by_day(&m);
    let days: Vec<&str> = by_day.iter().map(|p| p.0.as_str()).collect();
    assert!(days.windows(2).all(|w| w[0] < w[1]), "days out of order: {days:?}");
    let day = |d: &str| by_day.iter().find(|p| p.0 == d).map(|p| (p.1, p.2, p.3));
    // By the end of 03-01: 540000 granted (the amendment is 03-02, L5 03-03), 70000 ordered,
    // 20000 + 30000 + 10000 (late) = 60000 shipped.
    assert_eq!(day("2026-03-01"), Some((540_000, 70_000, 60_000)));
    assert_eq!(day("2026-03-02"), Some((530_000, 70_000, 60_000)));
    assert_eq!(day("2026-03-03"), Some((550_000, 70_000, 60_000)));
    // The correction takes 1000: 59000.
    assert_eq!(day("2026-03-04"), Some((550_000, 70_000, 59_000)));
    assert_eq!(day("2026-03-13"), Some((550_000, 120_000, 59_000)));
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
