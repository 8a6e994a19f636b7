//! `state` sections of the licensing world (issue 9): rounds, headroom, policies, caps, held
//! orders, late entries and refusals, as text and as additive `--json` fields.

use crate::cli::terminal::escape as esc;
use crate::cli::ui;
use crate::domain::{License, QuotaState};
use serde::Serialize;
use serde_json::{json, Value};
use std::io::{self, Write};

/// Per-license fields added by issue 9, flattened into each license's JSON object.
#[derive(Serialize)]
pub struct LicenseExtra {
    /// Units reserved by held orders (part of `ordered`).
    held: u64,
    /// Shipments recorded on it.
    shipments: u64,
    /// Shipments a final `max_shipments` condition allows (`null`: no limit).
    shipments_allowed: Option<u64>,
}

impl LicenseExtra {
    /// The extra fields of `l`.
    pub fn of(l: &License) -> LicenseExtra {
        LicenseExtra { held: l.held, shipments: l.shipments, shipments_allowed: l.shipments_allowed() }
    }
}

/// The licensing sections of `state --json` (each filtered like the licenses: by party).
#[derive(Serialize)]
pub struct LicensingJson {
    rounds: Vec<Value>,
    headroom: Vec<Value>,
    policies: Vec<Value>,
    caps: Vec<Value>,
    held_orders: Vec<Value>,
    late_entries: u64,
    refusals: u64,
}

/// The parties a `state` call shows.
fn shown<'s>(s: &'s QuotaState, party: Option<&'s str>) -> impl Iterator<Item = &'s String> + 's {
    s.parties.keys().filter(move |id| party.is_none_or(|p| p == id.as_str()))
}

impl LicensingJson {
    /// The sections of `s`, for every party or one.
    pub fn of(s: &QuotaState, party: Option<&str>) -> LicensingJson {
        let rounds = s
            .rounds
            .iter()
            .map(|((authority, n), r)| {
                let u = s.round_usage(authority, *n).unwrap_or_default();
                json!({ "authority": authority, "round": n, "product": r.product, "ceiling": r.ceiling,
                        "open": r.open, "granted": u.granted, "ordered": u.ordered, "shipped": u.shipped,
                        "left": u.left })
            })
            .collect();
        let headroom = shown(s, party)
            .flat_map(|p| {
                s.headroom(p)
                    .into_iter()
                    .map(move |(product, h)| json!({ "party": p, "product": product, "headroom": h }))
            })
            .collect();
        let policies = s
            .policies
            .iter()
            .map(|(id, p)| {
                let caught: Vec<&str> = s.caught_by(p).collect();
                json!({ "policy": id, "authority": p.authority, "product": p.product, "deny": p.deny,
                        "reason": p.reason, "lifted": p.lifted, "caught": caught, "exemptions": p.exemptions })
            })
            .collect();
        let caps = s
            .caps
            .iter()
            .map(|((authority, product), cap)| {
                let holdings: Vec<Value> = shown(s, party)
                    .map(|p| (p, s.holding(p, authority, product)))
                    .filter(|(_, h)| *h > 0)
                    .map(|(p, h)| json!({ "party": p, "held": h, "room": cap.saturating_sub(h) }))
                    .collect();
                json!({ "authority": authority, "product": product, "per_party": cap, "holdings": holdings })
            })
            .collect();
        let held_orders = s
            .held
            .iter()
            .map(|(id, h)| json!({ "order": id, "licenses": h.licenses.0, "quantity": h.quantity, "seq": h.seq }))
            .collect();
        LicensingJson {
            rounds,
            headroom,
            policies,
            caps,
            held_orders,
            late_entries: s.late_entries,
            refusals: s.refusals,
        }
    }
}

/// The text sections after the parties: license usage (held units, shipments), rounds,
/// headroom, policies, caps, held orders, and the counts of late entries and refusals. Each
/// prints its own table after a blank line, or nothing when it has nothing to show.
pub fn sections(out: &mut dyn Write, s: &QuotaState, party: Option<&str>) -> io::Result<()> {
    usage(out, s, party)?;
    rounds(out, s)?;
    headroom(out, s, party)?;
    policies(out, s)?;
    caps(out, s, party)?;
    held(out, s)?;
    if s.late_entries > 0 || s.refusals > 0 {
        writeln!(out)?;
        writeln!(out, "{} and {} recorded", ui::count(s.late_entries, "late entry"), ui::count(s.refusals, "refusal"))?;
    }
    Ok(())
}

fn table_out(out: &mut dyn Write, t: &comfy_table::Table) -> io::Result<()> {
    writeln!(out)?;
    out.write_all(ui::render(t).as_bytes())
}

fn usage(out: &mut dyn Write, s: &QuotaState, party: Option<&str>) -> io::Result<()> {
    let mut t = ui::table(&["LICENSE", "HELD", "SHIPMENTS", "ALLOWED"]);
    let shown = s.licenses.iter().filter(|(_, l)| party.is_none_or(|p| p == l.licensee));
    for (id, l) in shown.filter(|(_, l)| l.held > 0 || l.shipments_allowed().is_some()) {
        let allowed = l.shipments_allowed().map_or("-".to_string(), ui::thousands);
        t.add_row(vec![
            ui::cell(esc(id), None),
            ui::cell(ui::thousands(l.held), None),
            ui::cell(ui::thousands(l.shipments), None),
            ui::cell(allowed, None),
        ]);
    }
    if t.row_count() == 0 {
        return Ok(());
    }
    ui::numeric_columns(&mut t, &[1, 2, 3]);
    table_out(out, &t)
}

fn rounds(out: &mut dyn Write, s: &QuotaState) -> io::Result<()> {
    if s.rounds.is_empty() {
        return Ok(());
    }
    let headers = ["ROUND OF", "NO.", "PRODUCT", "STATUS", "CEILING", "GRANTED", "ORDERED", "SHIPPED", "LEFT"];
    let mut t = ui::table(&headers);
    for ((authority, n), r) in &s.rounds {
        let u = s.round_usage(authority, *n).unwrap_or_default();
        let status = if r.open { "open" } else { "closed" };
        t.add_row(vec![
            ui::cell(esc(authority), None),
            ui::cell(n, None),
            ui::cell(esc(&r.product), None),
            ui::cell(status, None),
            ui::cell(ui::thousands(r.ceiling), None),
            ui::cell(ui::thousands(u.granted), None),
            ui::cell(ui::thousands(u.ordered), None),
            ui::cell(ui::thousands(u.shipped), None),
            ui::cell(ui::thousands(u.left), None),
        ]);
    }
    ui::numeric_columns(&mut t, &[1, 4, 5, 6, 7, 8]);
    table_out(out, &t)
}

fn headroom(out: &mut dyn Write, s: &QuotaState, party: Option<&str>) -> io::Result<()> {
    let mut t = ui::table(&["HEADROOM OF", "PRODUCT", "CAN ORDER"]);
    for p in shown(s, party) {
        for (product, h) in s.headroom(p) {
            t.add_row(vec![ui::cell(esc(p), None), ui::cell(esc(&product), None), ui::cell(ui::thousands(h), None)]);
        }
    }
    if t.row_count() == 0 {
        return Ok(());
    }
    ui::numeric_columns(&mut t, &[2]);
    table_out(out, &t)
}

fn policies(out: &mut dyn Write, s: &QuotaState) -> io::Result<()> {
    if s.policies.is_empty() {
        return Ok(());
    }
    let mut t = ui::table(&["POLICY", "STATUS", "AUTHORITY", "PRODUCT", "DENIES", "CATCHES", "EXEMPTED"]);
    for (id, p) in &s.policies {
        let mut deny = Vec::new();
        if p.deny.state_backed {
            deny.push("state-backed".to_string());
        }
        deny.extend(p.deny.sectors.iter().map(|x| esc(x).into_owned()));
        let caught: Vec<String> = s.caught_by(p).map(|c| esc(c).into_owned()).collect();
        let exempt: Vec<String> = p.exemptions.iter().map(|c| esc(c).into_owned()).collect();
        t.add_row(vec![
            ui::cell(esc(id), None),
            ui::cell(if p.lifted { "lifted" } else { "in force" }, None),
            ui::cell(esc(&p.authority), None),
            ui::cell(esc(&p.product), None),
            ui::cell(deny.join(", "), None),
            ui::cell(list(&caught), None),
            ui::cell(list(&exempt), None),
        ]);
    }
    ui::wrap_columns(&mut t, &[4, 5, 6]);
    table_out(out, &t)
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn caps(out: &mut dyn Write, s: &QuotaState, party: Option<&str>) -> io::Result<()> {
    if s.caps.is_empty() {
        return Ok(());
    }
    let mut t = ui::table(&["CAP OF", "PRODUCT", "PER PARTY", "PARTY", "HOLDS", "ROOM"]);
    for ((authority, product), cap) in &s.caps {
        for p in shown(s, party) {
            let h = s.holding(p, authority, product);
            if h == 0 {
                continue;
            }
            t.add_row(vec![
                ui::cell(esc(authority), None),
                ui::cell(esc(product), None),
                ui::cell(ui::thousands(*cap), None),
                ui::cell(esc(p), None),
                ui::cell(ui::thousands(h), None),
                ui::cell(ui::thousands(cap.saturating_sub(h)), None),
            ]);
        }
    }
    ui::numeric_columns(&mut t, &[2, 4, 5]);
    table_out(out, &t)
}

fn held(out: &mut dyn Write, s: &QuotaState) -> io::Result<()> {
    if s.held.is_empty() {
        return Ok(());
    }
    let mut t = ui::table(&["HELD ORDER", "QUANTITY", "LICENSES", "SEQ"]);
    for (id, h) in &s.held {
        let licenses: Vec<String> = h.licenses.iter().map(|l| esc(l).into_owned()).collect();
        t.add_row(vec![
            ui::cell(esc(id), None),
            ui::cell(ui::thousands(h.quantity), None),
            ui::cell(licenses.join(", "), None),
            ui::cell(h.seq, None),
        ]);
    }
    ui::numeric_columns(&mut t, &[1, 3]);
    table_out(out, &t)
}

/// What an event that names no license did, for `replay`.
fn headline(event: &crate::domain::Event) -> Option<String> {
    use crate::domain::Event;
    let n = ui::thousands;
    Some(match event {
        Event::RoundOpened { product, ceiling, .. } => format!("opened for {}: ceiling {}", esc(product), n(*ceiling)),
        Event::RoundClosed { .. } => "closed".to_string(),
        Event::PolicySet { authority, product, deny, .. } => {
            let mut what: Vec<String> = deny.sectors.iter().map(|x| esc(x).into_owned()).collect();
            if deny.state_backed {
                what.insert(0, "state-backed".into());
            }
            format!("denies {} licenses and orders of {} {}", what.join(", "), esc(authority), esc(product))
        }
        Event::PolicyLifted { .. } => "lifted".to_string(),
        Event::ExemptionGranted { party, .. } => format!("{} exempted", esc(party)),
        Event::CapSet { per_party, .. } => format!("cap {} per party", n(*per_party)),
        Event::Refused { rule, .. } => format!("refused ({rule}); no quota changed"),
        _ => return None,
    })
}

/// What `replay` discloses about one fact beyond its first license (CITES-style cumulative
/// disclosure): every further gate's remaining before and after, the round and the cap a
/// grant or amendment counts against, the held orders a settled condition opened or released,
/// and whether it is a late entry.
pub struct Disclosure {
    /// `(license, remaining before, remaining after)` of every gate after the first.
    pub gates: Vec<(String, u64, u64)>,
    /// `(authority, round, granted, ceiling)` after the fact.
    pub round: Option<(String, u64, u64, u64)>,
    /// `(authority, product, party, held, per_party)` after the fact.
    pub cap: Option<(String, String, String, u64, u64)>,
    /// Held orders opened.
    pub opened: Vec<String>,
    /// Held orders released, with the rule.
    pub released: Vec<(String, String)>,
    /// The late entry's reason.
    pub late_reason: Option<String>,
    /// What an event that names no license did (a round, a policy, a cap, a refusal).
    pub headline: Option<String>,
}

impl Disclosure {
    /// The remaining of every gate of `fact` after the first, in `before` (the state the fact
    /// is applied to): taken before applying it, for [`Disclosure::of`].
    pub fn gates_before(before: &QuotaState, fact: &crate::domain::Fact) -> Vec<(String, u64)> {
        let first = fact.license();
        fact.licenses_touched()
            .into_iter()
            .filter(|l| Some(*l) != first)
            .map(|l| (l.to_string(), before.licenses.get(l).map_or(0, License::remaining)))
            .collect()
    }

    /// The disclosure of `fact`, whose further gates had `gates_before` remaining, with the
    /// state `after` it.
    pub fn of(gates_before: Vec<(String, u64)>, after: &QuotaState, fact: &crate::domain::Fact) -> Disclosure {
        use crate::domain::{Context, Event};
        let gates = gates_before
            .into_iter()
            .map(|(l, b)| {
                let a = after.licenses.get(&l).map_or(0, License::remaining);
                (l, b, a)
            })
            .collect();
        let granted = match &fact.event {
            Event::LicenseGranted { license, .. } | Event::QuotaAmended { license, .. } => after.licenses.get(license),
            _ => None,
        };
        let round =
            granted.and_then(|l| after.round_of(l).map(|r| (l.authority.clone(), l.round, r.granted, r.ceiling)));
        let cap = granted.and_then(|l| {
            let cap = after.caps.get(&(l.authority.clone(), l.product.clone()))?;
            let held = after.holding(&l.licensee, &l.authority, &l.product);
            Some((l.authority.clone(), l.product.clone(), l.licensee.clone(), held, *cap))
        });
        let (opened, released) = match &fact.context {
            Context::Resolved { opened, released, .. } => {
                (opened.clone(), released.iter().map(|r| (r.order.clone(), r.rule.clone())).collect())
            }
            _ => (Vec::new(), Vec::new()),
        };
        let late_reason = fact.stamp.late_reason.clone();
        Disclosure { gates, round, cap, opened, released, late_reason, headline: headline(&fact.event) }
    }

    /// As `replay` text: ` | `-separated parts, empty when there is nothing to add.
    pub fn text(&self) -> String {
        let n = ui::thousands;
        let mut parts: Vec<String> = self.headline.iter().cloned().collect();
        for (l, b, a) in &self.gates {
            parts.push(if b == a {
                format!("{} remaining {}", esc(l), n(*a))
            } else {
                format!("{} remaining {} -> {}", esc(l), n(*b), n(*a))
            });
        }
        if let Some((authority, round, granted, ceiling)) = &self.round {
            parts.push(format!("round {}/{round} granted {} of {}", esc(authority), n(*granted), n(*ceiling)));
        }
        if let Some((authority, product, party, held, cap)) = &self.cap {
            let (party, authority, product) = (esc(party), esc(authority), esc(product));
            parts.push(format!("{party} holds {} of cap {} ({authority} {product})", n(*held), n(*cap)));
        }
        if !self.opened.is_empty() {
            let ids: Vec<String> = self.opened.iter().map(|o| esc(o).into_owned()).collect();
            parts.push(format!("opened held {}", ids.join(", ")));
        }
        for (o, rule) in &self.released {
            parts.push(format!("released held {} ({rule})", esc(o)));
        }
        if let Some(r) = &self.late_reason {
            parts.push(format!("LATE: {}", esc(r)));
        }
        parts.join(" | ")
    }

    /// As `replay --json` fields.
    pub fn json(&self) -> Value {
        json!({
            "gates": self.gates.iter().map(|(l, b, a)| json!({ "license": l, "remaining_before": b, "remaining_after": a })).collect::<Vec<_>>(),
            "round": self.round.as_ref().map(|(a, n, g, c)| json!({ "authority": a, "round": n, "granted": g, "ceiling": c })),
            "cap": self.cap.as_ref().map(|(a, p, party, h, c)| json!({ "authority": a, "product": p, "party": party, "held": h, "per_party": c })),
            "opened": self.opened,
            "released": self.released.iter().map(|(o, r)| json!({ "order": o, "rule": r })).collect::<Vec<_>>(),
            "late_reason": self.late_reason,
            "headline": self.headline,
        })
    }
}
