//! Issue 10 rows: the Merkle tree's cost in bulk append, a checkpoint, and `prove --seq` on
//! the benchmark's ledger against the same on 1,000 records.

use crate::ours::REPEATS;
use crate::runner::{median, Runner};
use crate::table::{info_row, ms, verdict, Row};
use crate::Res;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Issue 10: what the Merkle tree costs a bulk append (the same input appended again with the
/// tree and without it, `QLEDGER_TREE_OFF=1`, interleaved, best of the rounds), what a
/// checkpoint costs, and `prove --seq` on this ledger against the same on 1,000 records.
pub fn audit_rows(r: &mut Runner, qledger: &Path, dir: &Path, chunks: &[PathBuf], n_events: u64) -> Res<Vec<Row>> {
    let rounds = if n_events > 2_000_000 { 1 } else { 2 };
    let (tree_ledger, plain) = (dir.join("qledger-tree"), dir.join("qledger-notree"));
    let (mut with, mut without) = (f64::MAX, f64::MAX);
    for round in 0..rounds {
        for (ledger, off) in [(&tree_ledger, false), (&plain, true)] {
            if ledger.exists() {
                fs::remove_dir_all(ledger)?;
            }
            let mut secs = 0.0;
            for chunk in chunks {
                let env: &OsStr = if off { "QLEDGER_TREE_OFF=1".as_ref() } else { "QLEDGER_TREE_OFF=0".as_ref() };
                let args = [
                    env,
                    qledger.as_os_str(),
                    "--ledger".as_ref(),
                    ledger.as_os_str(),
                    "append".as_ref(),
                    "--create".as_ref(),
                    chunk.as_os_str(),
                ];
                let label = format!("qledger append (bulk, tree {}) #{round}", if off { "off" } else { "on" });
                secs += r.run(&label, Path::new("env"), &args, false, None)?.secs;
            }
            let best = if off { &mut without } else { &mut with };
            *best = best.min(secs);
        }
    }
    let _ = fs::remove_dir_all(&plain);

    let key = dir.join("bench.key");
    let _ = fs::remove_file(&key);
    let keygen =
        ["keygen".as_ref(), "--name".as_ref(), "bench.example/quotaledger".as_ref(), "--out".as_ref(), key.as_os_str()];
    r.run("qledger keygen", qledger, &keygen, false, None)?;
    let checkpoint = |r: &mut Runner, ledger: &Path, label: &str| -> Res<f64> {
        let args = ["--ledger".as_ref(), ledger.as_os_str(), "checkpoint".as_ref(), "--key".as_ref(), key.as_os_str()];
        Ok(r.run(label, qledger, &args, false, None)?.secs)
    };
    let checkpoint_secs = checkpoint(r, &tree_ledger, "qledger checkpoint (bulk ledger)")?;

    let small = dir.join("qledger-1k");
    if small.exists() {
        fs::remove_dir_all(&small)?;
    }
    let first = chunks.first().ok_or("no input")?;
    let lines: Vec<String> =
        std::io::BufRead::lines(std::io::BufReader::new(File::open(first)?)).take(1000).collect::<Result<_, _>>()?;
    let small_input = dir.join("events-1k.jsonl");
    fs::write(&small_input, lines.join("\n") + "\n")?;
    r.run(
        "qledger append (1k)",
        qledger,
        &["--ledger".as_ref(), small.as_os_str(), "append".as_ref(), "--create".as_ref(), small_input.as_os_str()],
        false,
        None,
    )?;
    checkpoint(r, &small, "qledger checkpoint (1k)")?;

    let prove = |r: &mut Runner, ledger: &Path, n: u64, label: &str| -> Res<f64> {
        let mut times = Vec::new();
        for i in 0..REPEATS as u64 {
            let seq = (i * 7_919 + n / 3) % n;
            let seq = seq.to_string();
            let args = ["--ledger".as_ref(), ledger.as_os_str(), "prove".as_ref(), "--seq".as_ref(), seq.as_ref()];
            times.push(r.run(&format!("{label} #{i}"), qledger, &args, false, None)?.secs);
        }
        Ok(median(times))
    };
    let prove_n = prove(r, &tree_ledger, n_events, "qledger prove --seq (bulk ledger)")?;
    let prove_1k = prove(r, &small, 1000, "qledger prove --seq (1k)")?;
    let _ = fs::remove_dir_all(&tree_ledger);
    let _ = fs::remove_dir_all(&small);
    let _ = fs::remove_file(&small_input);

    let cost = with / without;
    let prove_ratio = prove_n / prove_1k;
    Ok(vec![
        Row {
            figure: format!("bulk append: Merkle tree on ÷ off (QLEDGER_TREE_OFF=1), best of {rounds}"),
            ours: format!("{cost:.2}×"),
            target: "≤ 1.10×".into(),
            result: verdict(Some(cost <= 1.10)),
            ..info_row()
        },
        Row {
            figure: format!("checkpoint at {n_events} records (sign, index blocks)"),
            ours: ms(checkpoint_secs),
            ..info_row()
        },
        Row {
            figure: format!("prove --seq at {n_events} records, median of {REPEATS}"),
            ours: ms(prove_n),
            ..info_row()
        },
        Row { figure: format!("prove --seq at 1000 records, median of {REPEATS}"), ours: ms(prove_1k), ..info_row() },
        Row {
            figure: "prove --seq: this size ÷ 1000 records".into(),
            ours: format!("{prove_ratio:.2}×"),
            target: "≤ 1.5× (at 10M)".into(),
            result: verdict(Some(prove_ratio <= 1.5)),
            ..info_row()
        },
    ])
}
