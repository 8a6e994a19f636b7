//! The rows of the table, from the measurements; the targets are issue 7's unless marked.

use crate::ours::{Ours, REPEATS, SMALL_LEDGER_EVENTS};
use crate::peer_runs::Peers;
use crate::rw::RwResult;
use crate::table::{info_row, mib, ms, rate, ratio, verdict, Row};

/// Peak RSS bound of issue 7 (decimal megabytes, the stricter reading of "MB").
const RSS_MAX_MB: f64 = 100.0;
const MIB: f64 = 1024.0 * 1024.0;
/// Issue 3's bound on `state` at the head (stated for 10M events).
const STATE_HEAD_MAX_MS: f64 = 50.0;
/// The largest slowdown of a bulk append by readers running beside it.
const WRITER_SLOWDOWN_MAX: f64 = 0.20;

fn opt(v: Option<f64>, f: fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "–".into())
}

/// A rate row against sqlite-chain (and raw-sled where given), with a "≥ k× sqlite" target.
fn rate_row(figure: String, ours: f64, sqlite: Option<f64>, raw: Option<f64>, min_vs_sqlite: Option<f64>) -> Row {
    Row {
        figure,
        ours: rate(ours),
        sqlite: opt(sqlite, rate),
        raw: opt(raw, rate),
        vs_sqlite: ratio(Some(ours), sqlite),
        vs_raw: ratio(Some(ours), raw),
        target: min_vs_sqlite.map_or("–".into(), |k| format!("≥ {k}× sqlite")),
        result: match min_vs_sqlite {
            Some(k) => verdict(sqlite.map(|s| ours >= k * s)),
            None => "–".into(),
        },
    }
}

pub fn rate_rows(n: f64, o: &Ours, p: &Peers) -> Vec<Row> {
    let raw_best_load = match (p.raw_load, p.raw_insert) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let calls =
        if o.append_calls == 1 { "one append call".to_string() } else { format!("{} append calls", o.append_calls) };
    let mut bulk =
        rate_row(format!("bulk append, events/s ({calls})"), n / o.append.secs, p.sq_load, raw_best_load, Some(2.0));
    bulk.raw = match (p.raw_load, p.raw_insert) {
        (Some(a), Some(b)) if b > a => format!("{} (insert; batch {})", rate(b), rate(a)),
        (Some(a), Some(b)) => format!("{} (batch; insert {})", rate(a), rate(b)),
        _ => "–".into(),
    };
    vec![
        bulk,
        rate_row(
            "verify --chain-only, events/s (raw-sled: scan + BLAKE3)".into(),
            n / o.reads.verify_chain.secs,
            p.sq_verify,
            p.raw_scan,
            Some(2.0),
        ),
        rate_row(
            "verify with rules and index rebuild (default), events/s".into(),
            n / o.reads.verify_rules.secs,
            p.sq_verify,
            None,
            Some(1.5),
        ),
        rate_row(
            "state by full replay from genesis, events/s (`state --full-replay`)".into(),
            n / o.reads.full_replay.secs,
            p.sq_replay,
            None,
            Some(5.0),
        ),
        Row { figure: "export --out FILE, events/s".into(), ours: rate(n / o.reads.export.secs), ..info_row() },
        Row { figure: "log --json, events/s".into(), ours: rate(n / o.reads.log.secs), ..info_row() },
        Row { figure: "replay --json, events/s".into(), ours: rate(n / o.reads.replay.secs), ..info_row() },
    ]
}

pub fn core_rows(o: &Ours, p: &Peers) -> Vec<Row> {
    let cores = |v: Option<f64>| v.map(|c| format!("{c:.2}")).unwrap_or_else(|| "–".into());
    vec![
        Row {
            figure: "bulk append: cores busy (CPU s ÷ wall s)".into(),
            ours: cores(o.append.cores()),
            sqlite: cores(p.sq_load_cores),
            raw: cores(p.raw_load_cores),
            ..info_row()
        },
        Row {
            figure: "verify: cores busy (CPU s ÷ wall s)".into(),
            ours: cores(o.reads.verify_chain.cores()),
            sqlite: cores(p.sq_verify_cores),
            raw: cores(p.raw_scan_cores),
            ..info_row()
        },
    ]
}

/// A "loaded ÷ small" ratio row with the ≤ 1.5× target.
fn growth_row(figure: String, loaded_secs: f64, small_secs: f64) -> Row {
    let r = loaded_secs / small_secs;
    Row { figure, ours: format!("{r:.2}×"), target: "≤ 1.5×".into(), result: verdict(Some(r <= 1.5)), ..info_row() }
}

pub fn latency_rows(n_events: u64, o: &Ours) -> Vec<Row> {
    let k = SMALL_LEDGER_EVENTS;
    let median_row = |figure: String, secs: f64| Row { figure, ours: ms(secs), ..info_row() };
    vec![
        Row {
            figure: format!("state at the head, median of {REPEATS} (whole process)"),
            ours: ms(o.state_head_secs),
            target: format!("< {STATE_HEAD_MAX_MS:.0} ms (at 10M; issue 3)"),
            result: verdict(Some(o.state_head_secs * 1e3 < STATE_HEAD_MAX_MS)),
            ..info_row()
        },
        median_row(format!("state at the head, {k}-event ledger, median of {REPEATS}"), o.state_head_small_secs),
        growth_row(format!("state at the head: {n_events} ÷ {k} events"), o.state_head_secs, o.state_head_small_secs),
        median_row(format!("state --as-of seq {} (from nearest snapshot)", o.reads.near_end), o.reads.as_of_end.secs),
        median_row(format!("state --as-of seq {} (from nearest snapshot)", o.reads.mid), o.reads.as_of_mid.secs),
        median_row(format!("append 1 event, loaded ledger ({n_events}), median of {REPEATS}"), o.one_loaded_secs),
        median_row(format!("append 1 event, {k}-event ledger, median of {REPEATS}"), o.one_small_secs),
        median_row(format!("append 1 event, empty ledger, median of {REPEATS}"), o.one_empty_secs),
        growth_row(format!("append 1 event: {n_events} ÷ {k} events"), o.one_loaded_secs, o.one_small_secs),
        Row {
            figure: "append 1 event: loaded ÷ empty".into(),
            ours: format!("{:.2}×", o.one_loaded_secs / o.one_empty_secs),
            ..info_row()
        },
    ]
}

fn rss_row(figure: &str, ours: Option<f64>, sqlite: Option<f64>, raw: Option<f64>) -> Row {
    Row {
        figure: figure.into(),
        ours: opt(ours, mib),
        sqlite: opt(sqlite, mib),
        raw: opt(raw, mib),
        vs_sqlite: ratio(ours, sqlite),
        vs_raw: ratio(ours, raw),
        target: format!("< {RSS_MAX_MB:.0} MB = {:.1} MiB", RSS_MAX_MB * 1e6 / MIB),
        result: verdict(ours.map(|m| m * MIB < RSS_MAX_MB * 1e6)),
    }
}

pub fn rss_rows(o: &Ours, p: &Peers) -> Vec<Row> {
    let mut rows = vec![
        rss_row("peak RSS, bulk append (raw-sled: batch load)", o.append.rss_mib(), p.sq_load_rss, p.raw_load_rss),
        rss_row(
            "peak RSS, verify --chain-only (raw-sled: scan)",
            o.reads.verify_chain.rss_mib(),
            p.sq_verify_rss,
            p.raw_scan_rss,
        ),
        rss_row("peak RSS, verify with rules (default)", o.reads.verify_rules.rss_mib(), None, None),
        rss_row("peak RSS, state at the head", o.reads.state.rss_mib(), None, None),
        rss_row(&format!("peak RSS, state --as-of seq {}", o.reads.mid), o.reads.as_of_mid.rss_mib(), None, None),
        rss_row("peak RSS, state --full-replay (sqlite: replay)", o.reads.full_replay.rss_mib(), p.sq_replay_rss, None),
        rss_row("peak RSS, log --json", o.reads.log.rss_mib(), None, None),
        rss_row("peak RSS, replay --json", o.reads.replay.rss_mib(), None, None),
        rss_row("peak RSS, export", o.reads.export.rss_mib(), None, None),
    ];
    if p.raw_insert_rss.is_some() {
        rows.push(Row {
            figure: "peak RSS, raw-sled load-insert".into(),
            raw: opt(p.raw_insert_rss, mib),
            ..info_row()
        });
    }
    rows
}

pub fn disk_rows(n: f64, o: &Ours, p: &Peers) -> Vec<Row> {
    let ql_disk = o.disk_len as f64 / n;
    let mut rows = vec![
        Row {
            figure: "disk bytes per event (file sizes; raw-sled: batch load)".into(),
            ours: format!("{ql_disk:.0}"),
            sqlite: opt(p.sq_disk, |v| format!("{v:.0}")),
            raw: opt(p.raw_disk, |v| format!("{v:.0}")),
            vs_sqlite: ratio(Some(ql_disk), p.sq_disk),
            vs_raw: ratio(Some(ql_disk), p.raw_disk),
            target: "≤ 0.6× sqlite".into(),
            result: verdict(p.sq_disk.map(|s| ql_disk <= 0.6 * s)),
        },
        Row {
            figure: "disk bytes per event, allocated (du)".into(),
            ours: format!("{:.0}", o.disk_alloc as f64 / n),
            ..info_row()
        },
    ];
    if let Some(d) = p.raw_insert_disk {
        rows.push(Row {
            figure: "disk bytes per event, raw-sled load-insert".into(),
            raw: format!("{d:.0}"),
            ..info_row()
        });
    }
    rows
}

pub fn rw_rows(rw: &RwResult) -> Vec<Row> {
    let total = rw.readers.len();
    let ok = rw.readers_ok();
    let slowdown = rw.slowdown();
    let committed_ok = rw.all_committed() && ok > 0;
    vec![
        Row {
            figure: "reader beside a bulk append: readers that succeeded".into(),
            ours: format!("{ok} of {total}"),
            target: "all, and the writer too".into(),
            result: verdict(Some(total > 0 && ok == total && rw.writer_ok && rw.same_head)),
            ..info_row()
        },
        Row {
            figure: "reader beside a bulk append: every reader saw a committed prefix".into(),
            ours: if ok == 0 {
                "no reader succeeded".into()
            } else if rw.all_committed() {
                "yes".into()
            } else {
                "NO".into()
            },
            target: "yes".into(),
            result: verdict(Some(committed_ok)),
            ..info_row()
        },
        Row {
            figure: "reader beside a bulk append: slowest reader".into(),
            ours: opt(rw.max_reader_secs(), ms),
            ..info_row()
        },
        Row {
            figure: "reader beside a bulk append: writer slowdown vs the same load alone".into(),
            ours: if rw.writer_ok {
                format!("{:+.1}%", slowdown * 100.0)
            } else {
                format!("writer failed: {}", rw.writer_error)
            },
            target: format!("< {:.0}%", WRITER_SLOWDOWN_MAX * 100.0),
            result: verdict(Some(rw.writer_ok && slowdown < WRITER_SLOWDOWN_MAX)),
            ..info_row()
        },
    ]
}
