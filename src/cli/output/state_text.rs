//! `state` for people (tables) and for spreadsheets (CSV).
//!
//! The text is a list of sections, one function each ([`SECTIONS`]): a new kind of state
//! (rounds, policies, headroom) is a new function added to the list, printing its own table
//! after a blank line, or nothing when it has nothing to show.

use super::{condition_status, rule_text, StateView, Sums};
use crate::cli::terminal::escape as esc;
use crate::cli::ui::{self, cell, status_paint, Paint};
use crate::domain::rules::status_name;
use crate::domain::Timestamp;
use anyhow::Result;
use std::io::Write;

/// One section of `state`'s text.
type Section = fn(&mut dyn Write, &StateView<'_>) -> Result<()>;

/// The sections, in the order they print (after the heading).
const SECTIONS: &[Section] = &[licenses, conditions, parties, totals];

/// Every section, each after a blank line, below the heading.
pub(super) fn render(out: &mut dyn Write, view: &StateView<'_>, point: Point) -> Result<()> {
    heading(out, point)?;
    for section in SECTIONS {
        section(out, view)?;
    }
    Ok(())
}

/// What a state shows: the last seq it read, the latest effective time applied, how many of
/// the records read were left out as dated after the time asked for, and how many records the
/// ledger holds.
pub(super) type Point = (Option<u64>, Option<Timestamp>, u64, u64);

fn heading(out: &mut dyn Write, point: Point) -> Result<()> {
    let title = match point {
        (Some(seq), Some(at), 0, _) => format!("quota state as of seq {seq} ({})", ui::time_s(at)),
        (Some(seq), Some(at), left_out, _) => format!(
            "quota state of the records up to seq {seq} dated at or before {} ({} dated later left out)",
            ui::time_s(at),
            ui::count(left_out, "record")
        ),
        (_, _, _, 0) => "quota state of an empty ledger".to_string(),
        // `--known-at` before the first record was recorded, `--as-of` before its time.
        (_, _, _, held) => {
            format!("quota state of no records: none of the ledger's {} is in it", ui::count(held, "record"))
        }
    };
    writeln!(out, "{}", Paint::Bold.out(&title))?;
    Ok(())
}

fn licenses(out: &mut dyn Write, view: &StateView<'_>) -> Result<()> {
    if view.licenses.is_empty() {
        return Ok(());
    }
    let headers = ["LICENSE", "LICENSEE", "STATUS", "ROUND", "QUANTITY", "ORDERED", "SHIPPED", "REMAINING", "VALID"];
    let mut t = ui::table(&headers);
    for (id, l) in &view.licenses {
        let status = status_name(l.status);
        t.add_row(vec![
            cell(esc(id), None),
            cell(esc(&l.licensee), None),
            cell(status, status_paint(status)),
            cell(l.round, None),
            cell(ui::thousands(l.quantity), None),
            cell(ui::thousands(l.ordered()), None),
            cell(ui::thousands(l.shipped), None),
            cell(ui::thousands(l.remaining()), None),
            cell(format!("{} .. {}", l.valid_from, l.valid_until), None),
        ]);
    }
    ui::numeric_columns(&mut t, &[3, 4, 5, 6, 7]);
    // VALID wraps at its space only: one date and the dots, then the other.
    if let Some(c) = t.column_mut(8) {
        c.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(comfy_table::Width::Fixed(13)));
    }
    writeln!(out)?;
    out.write_all(ui::render(&t).as_bytes())?;
    Ok(())
}

fn conditions(out: &mut dyn Write, view: &StateView<'_>) -> Result<()> {
    let mut t = ui::table(&["LICENSE", "CONDITION", "STATUS", "RULE"]);
    for (id, l) in &view.licenses {
        for c in &l.conditions {
            let status = condition_status(c);
            t.add_row(vec![
                cell(esc(id), None),
                cell(esc(&c.id), None),
                cell(status, status_paint(status)),
                cell(rule_text(&c.rule), None),
            ]);
        }
    }
    if t.row_count() == 0 {
        return Ok(());
    }
    ui::wrap_columns(&mut t, &[3]);
    writeln!(out)?;
    out.write_all(ui::render(&t).as_bytes())?;
    Ok(())
}

fn parties(out: &mut dyn Write, view: &StateView<'_>) -> Result<()> {
    if view.parties.is_empty() {
        return Ok(());
    }
    let headers = ["PARTY", "NAME", "STATUS", "LICENSED", "ORDERED", "SHIPPED", "REMAINING"];
    let mut t = ui::table(&headers);
    for (id, p, sums) in &view.parties {
        let status = if p.restricted { "restricted" } else { "" };
        let mut row = vec![cell(esc(id), None), cell(esc(&p.name), None), cell(status, status_paint(status))];
        row.extend(sum_cells(sums));
        t.add_row(row);
    }
    ui::numeric_columns(&mut t, &[3, 4, 5, 6]);
    ui::wrap_columns(&mut t, &[1]);
    writeln!(out)?;
    out.write_all(ui::render(&t).as_bytes())?;
    Ok(())
}

/// The total over the licenses shown, then, when they come from more than one authority, the
/// total of each: an order drawing on two gates (an import and an export license) counts on
/// both, so only the per-authority rows count each unit once.
fn totals(out: &mut dyn Write, view: &StateView<'_>) -> Result<()> {
    let mut t = ui::table(&["TOTAL", "LICENSED", "ORDERED", "SHIPPED", "REMAINING"]);
    let mut row = vec![cell(ui::count(view.licenses.len() as u64, "license"), None)];
    row.extend(sum_cells(&view.totals));
    t.add_row(row);
    let by_authority = view.by_authority();
    if by_authority.len() > 1 {
        for (authority, n, sums) in &by_authority {
            let mut row = vec![cell(format!("{} ({})", esc(authority), ui::count(*n, "license")), None)];
            row.extend(sum_cells(sums));
            t.add_row(row);
        }
    }
    ui::numeric_columns(&mut t, &[1, 2, 3, 4]);
    writeln!(out)?;
    out.write_all(ui::render(&t).as_bytes())?;
    Ok(())
}

fn sum_cells(s: &Sums) -> Vec<comfy_table::Cell> {
    [s.licensed, s.ordered, s.shipped, s.remaining].into_iter().map(|n| cell(ui::thousands(n), None)).collect()
}

/// `state --csv`: one header, then a row per license, per party and the total, told apart by
/// the `section` column; numbers plain, ids and texts as they are (quoted when needed).
pub(super) fn csv(out: &mut dyn Write, view: &StateView<'_>) -> Result<()> {
    let header = [
        "section",
        "id",
        "licensee",
        "status",
        "round",
        "quantity",
        "ordered",
        "shipped",
        "remaining",
        "valid_from",
        "valid_until",
    ];
    out.write_all(ui::csv_line(&header).as_bytes())?;
    for (id, l) in &view.licenses {
        let nums = [l.round, l.quantity, l.ordered(), l.shipped, l.remaining()].map(|n| n.to_string());
        let (from, until) = (l.valid_from.to_string(), l.valid_until.to_string());
        let mut row = vec!["license", id.as_str(), l.licensee.as_str(), status_name(l.status)];
        row.extend(nums.iter().map(String::as_str));
        row.extend([from.as_str(), until.as_str()]);
        out.write_all(ui::csv_line(&row).as_bytes())?;
    }
    for (id, p, sums) in &view.parties {
        let status = if p.restricted { "restricted" } else { "" };
        csv_sums(out, ["party", id.as_str(), "", status], sums)?;
    }
    csv_sums(out, ["total", "", "", ""], &view.totals)
}

fn csv_sums(out: &mut dyn Write, lead: [&str; 4], s: &Sums) -> Result<()> {
    let nums = [s.licensed, s.ordered, s.shipped, s.remaining].map(|n| n.to_string());
    let mut row = lead.to_vec();
    row.push("");
    row.extend(nums.iter().map(String::as_str));
    row.extend(["", ""]);
    out.write_all(ui::csv_line(&row).as_bytes())?;
    Ok(())
}
