//! The table: number formats, rows, Markdown output.

pub fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

pub fn ms(secs: f64) -> String {
    let m = secs * 1e3;
    if m >= 100.0 {
        format!("{m:.0} ms")
    } else {
        format!("{m:.1} ms")
    }
}

pub fn mib(v: f64) -> String {
    if v >= 1024.0 {
        format!("{:.2} GiB", v / 1024.0)
    } else {
        format!("{v:.1} MiB")
    }
}

pub fn ratio(ours: Option<f64>, peer: Option<f64>) -> String {
    match (ours, peer) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    }
}

pub fn verdict(ok: Option<bool>) -> String {
    match ok {
        Some(true) => "PASS".to_string(),
        Some(false) => "**FAIL**".to_string(),
        None => "n/a".to_string(),
    }
}

#[derive(Default)]
pub struct Row {
    pub figure: String,
    pub ours: String,
    pub sqlite: String,
    pub raw: String,
    pub vs_sqlite: String,
    pub vs_raw: String,
    pub target: String,
    pub result: String,
}

pub fn print_table(rows: &[Row]) {
    let header = ["figure", "quotaledger", "sqlite-chain", "raw-sled", "÷ sqlite", "÷ raw-sled", "target", "result"];
    let cells: Vec<[&str; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.figure.as_str(),
                r.ours.as_str(),
                r.sqlite.as_str(),
                r.raw.as_str(),
                r.vs_sqlite.as_str(),
                r.vs_raw.as_str(),
                r.target.as_str(),
                r.result.as_str(),
            ]
        })
        .collect();
    let mut w = header.map(|h| h.chars().count());
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    let line = |c: &[&str; 8]| {
        let mut s = String::from("|");
        for (i, v) in c.iter().enumerate() {
            let pad = w[i] - v.chars().count();
            if i == 0 || i >= 6 {
                s.push_str(&format!(" {v}{} |", " ".repeat(pad)));
            } else {
                s.push_str(&format!(" {}{v} |", " ".repeat(pad)));
            }
        }
        s
    };
    println!("{}", line(&header));
    let mut sep = String::from("|");
    for (i, n) in w.iter().enumerate() {
        if i == 0 || i >= 6 {
            sep.push_str(&format!("{}|", "-".repeat(n + 2)));
        } else {
            sep.push_str(&format!("{}:|", "-".repeat(n + 1)));
        }
    }
    println!("{sep}");
    for c in &cells {
        println!("{}", line(c));
    }
}

pub fn info_row() -> Row {
    Row {
        ours: "–".into(),
        sqlite: "–".into(),
        raw: "–".into(),
        vs_sqlite: "–".into(),
        vs_raw: "–".into(),
        target: "–".into(),
        result: "–".into(),
        ..Row::default()
    }
}
