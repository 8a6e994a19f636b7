//! The report page: the model as one HTML document with its CSS and SVG inline.
//!
//! Every string from the ledger goes through [`esc`]; numbers through [`thousands`]. The page
//! carries a Content-Security-Policy that forbids loading anything and running any script, so
//! a slip that referred to something outside the page would show as a blocked load, not as a
//! request.

use super::chart;
use super::model::{
    AuthorityView, ConditionView, LicenseView, PartyView, Quantities, ReportModel, RoundInfo, RoundView,
};
use crate::domain::admission::is_invisible;
use crate::domain::rules::status_name;
use crate::domain::{ConditionStatus, Rule};
use crate::format::chain::hex;
use std::borrow::Cow;
use std::fmt::{self, Write};

/// Width of a license's quota bar in its own units (the page stretches it to its column).
const BAR_WIDTH_PX: u32 = 1000;

/// `s` safe as HTML text or attribute value: `& < > " '` as entities, and every control
/// character, format character (bidi controls, zero-width characters) and line or paragraph
/// separator as a visible escape (`\u{202e}`), as on the terminal, so no id can hide itself or
/// reorder the text around it.
pub fn esc(s: &str) -> Cow<'_, str> {
    let plain = |c: char| !matches!(c, '&' | '<' | '>' | '"' | '\'') && !c.is_control() && !is_invisible(c);
    if s.chars().all(plain) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() || is_invisible(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `n` with a comma every three digits: `1,234,567`.
pub fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `n` and the noun, plural unless `n` is 1: `1 record`, `1,000 records`.
pub fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n.into()), if n == 1 { "" } else { "s" })
}

/// The page.
pub fn render(m: &ReportModel) -> String {
    let mut page = String::with_capacity(64 * 1024);
    // Writing to a String cannot fail.
    let _ = page_into(&mut page, m);
    page
}

fn page_into(w: &mut String, m: &ReportModel) -> fmt::Result {
    w.push_str(HEAD);
    writeln!(w, "<main>\n<h1>quotaledger report</h1>")?;
    head_line(w, m)?;
    totals(w, &m.authorities)?;
    verification(w, m)?;
    late_entries(w, m)?;
    rounds(w, m)?;
    timeline(w, m)?;
    parties(w, &m.parties)?;
    conditions(w, m)?;
    policies(w, m)?;
    writeln!(
        w,
        "<footer>Made by qledger {} from the ledger's records; the page loads nothing and runs no script.</footer>",
        esc(env!("CARGO_PKG_VERSION"))
    )?;
    writeln!(w, "</main>\n</body>\n</html>")
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>quotaledger report</title>
<style>
:root{--left:#e6e9ee;--granted:#c9d1de;--ordered:#3b6fd8;--shipped:#16306b;--remaining:#7cc992;--ink:#1b2430;--muted:#5b6675;--ok:#17803d;--bad:#b42318}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);margin:0;background:#f4f5f7}
main{max-width:1180px;margin:0 auto;padding:20px 24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px}
section{background:#fff;border:1px solid #e1e4e9;border-radius:8px;padding:14px 18px;margin:14px 0;overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eef0f3;text-align:left;vertical-align:middle}
th{font-size:12px;color:var(--muted);font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td{font-weight:600;border-bottom:none}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;white-space:nowrap}.hash{white-space:normal;word-break:break-all}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;background:#eef0f3;white-space:nowrap}
.active,.final,.open{background:#dcf3e3;color:#135c2c}.suspended,.pending{background:#fff1d6;color:#7a4b00}
.revoked,.withdrawn,.restricted{background:#fde2e0;color:#8a1c12}.state-backed{background:#e4e9f7;color:#24407a}
.verdict.ok{border-left:6px solid var(--ok)}.verdict.bad{border-left:6px solid var(--bad)}
.verdict strong.ok{color:var(--ok)}.verdict strong.bad{color:var(--bad)}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}.card{flex:1;min-width:150px;background:#fff;border:1px solid #e1e4e9;border-radius:8px;padding:10px 16px}
.card.who{flex:0 0 170px}.card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}.card .k{font-size:12px;color:var(--muted)}
.legend{font-size:12px;color:var(--muted);margin:4px 0 8px}.legend span{margin-right:14px;white-space:nowrap}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:4px}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
td.bar{width:34%;min-width:120px}svg.bar{display:block;width:100%;height:16px}
footer{font-size:12px;color:var(--muted);margin:8px 0 24px}
</style>
</head>
<body>
"#;

fn head_line(w: &mut String, m: &ReportModel) -> fmt::Result {
    let seq = m.head.last_seq().map_or_else(|| "none (empty ledger)".to_string(), |s| thousands(s.into()));
    let at = m.last_at.map_or_else(|| "-".to_string(), |t| t.to_string());
    writeln!(
        w,
        "<p class=\"muted\">Head seq <strong id=\"head-seq\">{seq}</strong> · {} · last event at {} · head hash <span class=\"mono hash\" id=\"head-hash\">{}</span></p>",
        count(m.head.records, "record"),
        esc(&at),
        hex(&m.head.last_hash)
    )
}

fn totals(w: &mut String, authorities: &[AuthorityView]) -> fmt::Result {
    writeln!(w, "<div id=\"totals\">")?;
    for a in authorities {
        let id = esc(&a.authority);
        writeln!(
            w,
            "<div class=\"cards\"><div class=\"card who\"><div class=\"k\">{}</div><div class=\"v mono\">{id}</div></div>",
            count(a.licenses, "license")
        )?;
        let t = a.totals;
        for (key, value) in
            [("granted", t.granted), ("ordered", t.ordered), ("shipped", t.shipped), ("remaining", t.remaining)]
        {
            writeln!(
                w,
                "<div class=\"card\"><div class=\"k\">{key}</div><div class=\"v\" data-total=\"{id}/{key}\">{}</div></div>",
                thousands(value)
            )?;
        }
        writeln!(w, "</div>")?;
    }
    writeln!(
        w,
        "<p class=\"muted\">Totals per authority, never added together: an order draws on one license of each authority it must pass (the buyer's import license and the supplier's export license), so it counts once under each.</p></div>"
    )
}

fn verification(w: &mut String, m: &ReportModel) -> fmt::Result {
    match &m.verification {
        Ok(r) => {
            let rules = if r.rules { ", every record within the rules" } else { "" };
            writeln!(
                w,
                "<section class=\"verdict ok\" id=\"verification\"><h2>Verification</h2><p><strong class=\"ok\">Verified</strong>: {} in {}{rules}; {} {} a fresh replay; the Merkle tree of {} and {} {} the records. Head hash <span class=\"mono hash\">{}</span>.</p></section>",
                count(r.records, "record"),
                count(r.blocks, "block"),
                count(r.snapshots, "snapshot"),
                if r.snapshots == 1 { "matches" } else { "match" },
                count(r.tree_leaves, "record"),
                count(r.checkpoints, "signed checkpoint"),
                if r.checkpoints == 1 { "matches" } else { "match" },
                hex(&r.head.last_hash)
            )
        }
        Err(e) => writeln!(
            w,
            "<section class=\"verdict bad\" id=\"verification\"><h2>Verification</h2><p><strong class=\"bad\">Verification FAILED</strong>: {}. The numbers below are a replay of records that did not verify: do not rely on them.</p></section>",
            esc(&e.to_string())
        ),
    }
}

fn late_entries(w: &mut String, m: &ReportModel) -> fmt::Result {
    writeln!(w, "<section id=\"late\"><h2>Late entries</h2>")?;
    if m.late_total == 0 {
        return writeln!(
            w,
            "<p class=\"muted\">None: every record is dated no earlier than the records before it.</p></section>"
        );
    }
    writeln!(
        w,
        "<p class=\"muted\">{}: records dated before records already in the ledger. Every total and the timeline below count each on its effective day.</p>",
        if m.late_total == 1 { "1 late entry".to_string() } else { format!("{} late entries", thousands(m.late_total.into())) }
    )?;
    writeln!(
        w,
        "<table><thead><tr><th class=\"n\">seq</th><th>effective</th><th>recorded</th><th>type</th><th>subject</th><th>why late</th></tr></thead><tbody>"
    )?;
    for l in &m.late {
        let recorded = l.recorded_at.map_or_else(|| "-".to_string(), |t| t.to_string());
        writeln!(
            w,
            "<tr><td class=\"n\" data-late-seq=\"{}\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            l.seq,
            l.seq,
            esc(&l.at.to_string()),
            esc(&recorded),
            esc(l.kind),
            esc(&l.subject),
            esc(&l.reason)
        )?;
    }
    if m.late_total > m.late.len() as u64 {
        writeln!(
            w,
            "<tr><td colspan=\"6\" class=\"muted\">and {} more (qledger log lists them all)</td></tr>",
            thousands(u128::from(m.late_total - m.late.len() as u64))
        )?;
    }
    writeln!(w, "</tbody></table></section>")
}

fn rounds(w: &mut String, m: &ReportModel) -> fmt::Result {
    writeln!(w, "<section id=\"quotas\"><h2>Quota by round</h2>")?;
    if m.rounds.is_empty() {
        return writeln!(w, "<p class=\"muted\">No license has been granted.</p></section>");
    }
    writeln!(
        w,
        "<div class=\"legend\"><span>bar length: granted</span><span><i class=\"sw\" style=\"background:var(--ordered)\"></i>ordered</span><span><i class=\"sw\" style=\"background:var(--shipped)\"></i>shipped (inside ordered)</span><span><i class=\"sw\" style=\"background:var(--remaining)\"></i>remaining</span><span><i class=\"sw\" style=\"background:var(--left)\"></i>left to grant, up to the round's ceiling <i class=\"sw\" style=\"background:var(--bad);width:3px\"></i></span><span>one scale for the page</span></div>"
    )?;
    let scale = m
        .rounds
        .iter()
        .flat_map(|r| {
            let ceiling = r.info.map_or(0, |i| u128::from(i.ceiling.max(i.granted)));
            r.licenses.iter().map(|l| l.quantities.granted.max(l.quantities.ordered)).chain([ceiling])
        })
        .max()
        .unwrap_or(0);
    for round in &m.rounds {
        round_table(w, round, scale)?;
    }
    writeln!(w, "</section>")
}

fn round_table(w: &mut String, r: &RoundView, scale: u128) -> fmt::Result {
    let licenses = count(r.licenses.len() as u64, "license");
    match (r.round, r.info) {
        (Some(n), Some(i)) => {
            let status = if i.open { "open" } else { "closed" };
            writeln!(
                w,
                "<h3>{} · {} · round {n} <span class=\"badge {status}\">{status}</span><span class=\"muted\"> · ceiling {} · granted {} · left to grant {} · {licenses}</span></h3>",
                esc(&r.authority),
                esc(&r.product),
                thousands(i.ceiling.into()),
                thousands(i.granted.into()),
                thousands(i.left.into()),
            )?;
        }
        (Some(n), None) => writeln!(
            w,
            "<h3>{} · {} · round {n}<span class=\"muted\"> (never opened) · {licenses}</span></h3>",
            esc(&r.authority),
            esc(&r.product),
        )?,
        (None, _) => writeln!(
            w,
            "<h3>{} · {}<span class=\"muted\"> · no rounds · {licenses}</span></h3>",
            esc(&r.authority),
            esc(&r.product),
        )?,
    }
    writeln!(
        w,
        "<table><thead><tr><th>license</th><th>licensee</th><th>status</th><th>quota</th><th class=\"n\">granted</th><th class=\"n\">ordered</th><th class=\"n\">shipped</th><th class=\"n\">remaining</th></tr></thead><tbody>"
    )?;
    for l in &r.licenses {
        license_row(w, l, scale)?;
    }
    let t = r.totals;
    let (label, bar) = match r.info {
        Some(i) => ("round total", round_bar(i, t, scale)),
        None => ("total", String::new()),
    };
    writeln!(
        w,
        "</tbody><tfoot><tr><td colspan=\"3\">{label}</td><td class=\"bar\">{bar}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr></tfoot></table>",
        thousands(t.granted),
        thousands(t.ordered),
        thousands(t.shipped),
        thousands(t.remaining)
    )
}

fn license_row(w: &mut String, l: &LicenseView, scale: u128) -> fmt::Result {
    let q = l.quantities;
    let status = status_name(l.status);
    writeln!(
        w,
        "<tr><td class=\"mono\" title=\"valid {} to {}\">{}</td><td class=\"mono\">{}</td><td><span class=\"badge {status}\">{status}</span></td><td class=\"bar\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\" data-remaining=\"{}\">{}</td></tr>",
        l.valid_from,
        l.valid_until,
        esc(&l.id),
        esc(&l.licensee),
        quota_bar(&l.id, q, scale),
        thousands(q.granted),
        thousands(q.ordered),
        thousands(q.shipped),
        esc(&l.id),
        thousands(q.remaining)
    )
}

/// A license's bar: its length is the quota (on the page's scale); ordered fills it from the
/// left, shipped sits inside ordered, and remaining fills the rest.
fn quota_bar(id: &str, q: Quantities, scale: u128) -> String {
    let px = |n: u128| chart::scaled(n, scale, BAR_WIDTH_PX);
    let (granted, ordered, shipped) = (px(q.granted), px(q.ordered.min(q.granted)), px(q.shipped.min(q.ordered)));
    format!(
        "<svg class=\"bar\" viewBox=\"0 0 {BAR_WIDTH_PX} 16\" preserveAspectRatio=\"none\" role=\"img\"><title>{}: granted {}, ordered {}, shipped {}, remaining {}</title><rect x=\"0\" y=\"0\" width=\"{granted}\" height=\"16\" fill=\"#7cc992\"/><rect x=\"0\" y=\"0\" width=\"{ordered}\" height=\"16\" fill=\"#3b6fd8\"/><rect x=\"0\" y=\"4\" width=\"{shipped}\" height=\"8\" fill=\"#16306b\"/></svg>",
        esc(id),
        thousands(q.granted),
        thousands(q.ordered),
        thousands(q.shipped),
        thousands(q.remaining)
    )
}

/// A round's bar: its licenses' bar (granted, ordered inside, shipped inside that), then what
/// is left to grant, and a red line at the ceiling.
fn round_bar(i: RoundInfo, t: Quantities, scale: u128) -> String {
    let px = |n: u128| chart::scaled(n, scale, BAR_WIDTH_PX);
    let granted = u128::from(i.granted);
    let limit = px(i.ceiling.into());
    let (g, o, s) = (px(granted), px(t.ordered.min(granted)), px(t.shipped.min(t.ordered)));
    let mark = (limit - 3.0).max(0.0);
    format!(
        "<svg class=\"bar\" viewBox=\"0 0 {BAR_WIDTH_PX} 16\" preserveAspectRatio=\"none\" role=\"img\"><title>ceiling {}: granted {}, left to grant {}</title><rect x=\"0\" y=\"0\" width=\"{limit}\" height=\"16\" fill=\"#e6e9ee\"/><rect x=\"0\" y=\"0\" width=\"{g}\" height=\"16\" fill=\"#7cc992\"/><rect x=\"0\" y=\"0\" width=\"{o}\" height=\"16\" fill=\"#3b6fd8\"/><rect x=\"0\" y=\"4\" width=\"{s}\" height=\"8\" fill=\"#16306b\"/><rect x=\"{mark}\" y=\"0\" width=\"3\" height=\"16\" fill=\"#b42318\"/></svg>",
        thousands(i.ceiling.into()),
        thousands(granted),
        thousands(i.left.into())
    )
}

fn parties(w: &mut String, parties: &[PartyView]) -> fmt::Result {
    writeln!(w, "<section id=\"parties\"><h2>Headroom by party</h2>")?;
    writeln!(
        w,
        "<p class=\"muted\">What each party can still order, as <span class=\"mono\">qledger state</span> says: the least over every gate an order must pass (its own active licenses from each authority that licensed it; for an authority that licensed only others, such as an export gate held by the supplier, the most any one licensee has left), 0 if it is restricted or a policy denies it. Suspended and revoked licenses give nothing.</p>"
    )?;
    if parties.is_empty() {
        return writeln!(w, "<p class=\"muted\">No party is registered.</p></section>");
    }
    writeln!(
        w,
        "<table><thead><tr><th>party</th><th>name</th><th></th><th>product</th><th class=\"n\">active licenses</th><th class=\"n\">left on them</th><th class=\"n\">can order</th></tr></thead><tbody>"
    )?;
    for p in parties {
        party_rows(w, p)?;
    }
    writeln!(w, "</tbody></table></section>")
}

fn party_rows(w: &mut String, p: &PartyView) -> fmt::Result {
    let mut marks = String::new();
    if p.restricted {
        marks.push_str("<span class=\"badge restricted\">restricted</span> ");
    }
    if p.state_backed {
        marks.push_str("<span class=\"badge state-backed\">state-backed</span>");
    }
    let lead = format!("<td class=\"mono\">{}</td><td>{}</td><td>{marks}</td>", esc(&p.id), esc(&p.name));
    if p.headroom.is_empty() {
        return writeln!(
            w,
            "<tr>{lead}<td class=\"muted\">no active license</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td></tr>"
        );
    }
    for h in &p.headroom {
        writeln!(
            w,
            "<tr>{lead}<td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\" data-headroom=\"{}\"><strong>{}</strong></td></tr>",
            esc(&h.product),
            thousands(h.active_licenses.into()),
            thousands(h.own_remaining),
            esc(&p.id),
            thousands(h.can_order.into())
        )?;
    }
    Ok(())
}

fn timeline(w: &mut String, m: &ReportModel) -> fmt::Result {
    writeln!(w, "<section id=\"timeline\"><h2>Orders and shipments over time, per authority</h2>")?;
    let Some(span) = m.span.filter(|_| !m.authorities.is_empty()) else {
        return writeln!(w, "<p class=\"muted\">No license has been granted.</p></section>");
    };
    writeln!(
        w,
        "<div class=\"legend\"><span><i class=\"sw\" style=\"background:#9aa5b5\"></i>granted</span><span><i class=\"sw\" style=\"background:var(--ordered)\"></i>ordered (net of cancellations)</span><span><i class=\"sw\" style=\"background:#e07b1a\"></i>shipped</span><span>cumulative, at the end of each effective day (UTC), late entries on the day they are dated; one scale for every chart</span></div>"
    )?;
    let top = m.authorities.iter().map(|a| chart::peak(&a.timeline)).max().unwrap_or(0);
    for a in &m.authorities {
        writeln!(w, "<h3 class=\"mono\">{}</h3>", esc(&a.authority))?;
        let label = format!("{}: cumulative granted, ordered and shipped by day", a.authority);
        w.push_str(&chart::step_chart(&a.timeline, span, top, &label));
        writeln!(
            w,
            "<details><summary>{}'s numbers by day</summary><table><thead><tr><th>day</th><th class=\"n\">granted</th><th class=\"n\">ordered</th><th class=\"n\">shipped</th></tr></thead><tbody>",
            esc(&a.authority)
        )?;
        for p in &a.timeline {
            writeln!(
                w,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                p.day,
                thousands(p.granted),
                thousands(p.ordered),
                thousands(p.shipped)
            )?;
        }
        writeln!(w, "</tbody></table></details>")?;
    }
    writeln!(w, "</section>")
}

fn conditions(w: &mut String, m: &ReportModel) -> fmt::Result {
    writeln!(w, "<section id=\"conditions\"><h2>Conditions</h2>")?;
    let licenses: Vec<&LicenseView> =
        m.rounds.iter().flat_map(|r| &r.licenses).filter(|l| !l.conditions.is_empty()).collect();
    if licenses.is_empty() {
        return writeln!(w, "<p class=\"muted\">No license has conditions.</p></section>");
    }
    writeln!(
        w,
        "<p class=\"muted\">A pending condition blocks every order on its license until it is final or withdrawn.</p>"
    )?;
    writeln!(
        w,
        "<table><thead><tr><th>license</th><th>condition</th><th>rule</th><th>status</th></tr></thead><tbody>"
    )?;
    for l in licenses {
        for c in &l.conditions {
            condition_row(w, &l.id, c)?;
        }
    }
    writeln!(w, "</tbody></table></section>")
}

fn policies(w: &mut String, m: &ReportModel) -> fmt::Result {
    writeln!(w, "<section id=\"policies\"><h2>Policies, caps and held orders</h2>")?;
    if m.policies.is_empty() {
        writeln!(w, "<p class=\"muted\">No policy.</p>")?;
    } else {
        writeln!(
            w,
            "<table><thead><tr><th>policy</th><th>status</th><th>authority · product</th><th>denies</th><th>catches</th><th>exempted</th></tr></thead><tbody>"
        )?;
        for p in &m.policies {
            let mut denies: Vec<String> = Vec::new();
            if p.state_backed {
                denies.push("state-backed".to_string());
            }
            denies.extend(p.sectors.iter().map(|x| esc(x).into_owned()));
            let (status, class) = if p.lifted { ("lifted", "withdrawn") } else { ("in force", "active") };
            writeln!(
                w,
                "<tr><td class=\"mono\">{}</td><td><span class=\"badge {class}\">{status}</span></td><td>{} · {}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
                esc(&p.id),
                esc(&p.authority),
                esc(&p.product),
                list(&denies),
                list(&p.caught.iter().map(|x| esc(x).into_owned()).collect::<Vec<_>>()),
                list(&p.exempted.iter().map(|x| esc(x).into_owned()).collect::<Vec<_>>()),
            )?;
        }
        writeln!(w, "</tbody></table>")?;
    }
    if m.caps.is_empty() {
        writeln!(w, "<p class=\"muted\">No cap.</p>")?;
    }
    for c in &m.caps {
        let holds: Vec<String> = c
            .holdings
            .iter()
            .map(|(party, h)| {
                format!(
                    "<span class=\"mono\">{}</span> {} (room {})",
                    esc(party),
                    thousands((*h).into()),
                    thousands(c.per_party.saturating_sub(*h).into())
                )
            })
            .collect();
        writeln!(
            w,
            "<p>Cap <strong>{}</strong> per party on {} · {}: {}.</p>",
            thousands(c.per_party.into()),
            esc(&c.authority),
            esc(&c.product),
            if holds.is_empty() { "nobody holds any".to_string() } else { holds.join(", ") }
        )?;
    }
    if m.held.is_empty() {
        writeln!(w, "<p class=\"muted\">No order is held.</p>")?;
    } else {
        writeln!(
            w,
            "<table><thead><tr><th>held order</th><th>placed</th><th>licenses</th><th class=\"n\">reserved</th></tr></thead><tbody>"
        )?;
        for h in &m.held {
            writeln!(
                w,
                "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&h.order),
                esc(&h.at.to_string()),
                h.licenses.iter().map(|l| esc(l).into_owned()).collect::<Vec<_>>().join(", "),
                thousands(h.quantity.into())
            )?;
        }
        writeln!(w, "</tbody></table>")?;
    }
    writeln!(w, "</section>")
}

/// Already-escaped items joined with commas, or "none".
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// A rule in words, unescaped (the caller escapes it).
fn rule_text(r: &Rule) -> String {
    match r {
        Rule::BundleRatio { domestic, per } => format!("bundle {domestic} domestic per {per}"),
        Rule::MaxPerOrder { units } => format!("at most {} per order", thousands(u128::from(*units))),
        Rule::EndUse { text } => format!("end use: {text}"),
        Rule::Reporting { text } => format!("reporting: {text}"),
        Rule::MaxShipments { count } => format!("at most {} shipments", thousands(u128::from(*count))),
    }
}

fn condition_row(w: &mut String, license: &str, c: &ConditionView) -> fmt::Result {
    let status = match c.status {
        ConditionStatus::Pending => "pending",
        ConditionStatus::Final => "final",
        ConditionStatus::Withdrawn => "withdrawn",
    };
    writeln!(
        w,
        "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td><span class=\"badge {status}\">{status}</span></td></tr>",
        esc(license),
        esc(&c.id),
        esc(&rule_text(&c.rule))
    )
}

#[cfg(test)]
mod tests {
    use super::{esc, thousands};

    #[test]
    fn html_specials_are_entities_and_invisible_characters_show() {
        assert_eq!(esc("CN-IMP-2026-0001"), "CN-IMP-2026-0001");
        assert_eq!(esc("字节跳动"), "字节跳动");
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(esc("a\u{202e}b\u{1b}c"), "a\\u{202e}b\\u{1b}c");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(150_000), "150,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u128::from(u64::MAX)), "18,446,744,073,709,551,615");
    }
}
