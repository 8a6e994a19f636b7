//! How human output looks: colour (`--color`, `NO_COLOR`), tables that fit the terminal,
//! thousands separators, plurals, times to the second, CSV, and progress on stderr.
//!
//! The settings are chosen once per process from the global flags ([`set`]) and read by every
//! renderer ([`get`]), as `colored` and `console` do with their overrides: the renderers are
//! called from `run`, from the demo and from tests, and none of them has to thread a flag.
//! Without [`set`], output is plain (no colour, no progress): what tests and libraries want.

use crate::domain::Timestamp;
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
use std::io::IsTerminal;
use std::sync::OnceLock;

/// When to colour output (`--color`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when the output is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Always colour (also into pipes and files).
    Always,
    /// Never colour.
    Never,
}

/// The output settings of this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ui {
    /// Colour on standard output.
    pub color_stdout: bool,
    /// Colour on standard error (the one-line error).
    pub color_stderr: bool,
    /// Progress bars and notes on stderr are wanted (stderr is a terminal, no `--quiet`).
    pub progress: bool,
}

impl Ui {
    /// Settings from the flags and the environment.
    pub fn from_flags(color: ColorChoice, quiet: bool) -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let pick = |terminal: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        let stderr_terminal = std::io::stderr().is_terminal();
        Ui {
            color_stdout: pick(std::io::stdout().is_terminal()),
            color_stderr: pick(stderr_terminal),
            progress: stderr_terminal && !quiet,
        }
    }
}

static UI: OnceLock<Ui> = OnceLock::new();

/// Sets this process's output settings (the first call wins).
pub fn set(ui: Ui) {
    let _ = UI.set(ui);
}

/// This process's output settings (plain if never set).
pub fn get() -> Ui {
    UI.get().copied().unwrap_or_default()
}

/// A colour for text outside tables.
#[derive(Clone, Copy, Debug)]
pub enum Paint {
    /// Good news: `ok`, active.
    Green,
    /// Needs attention: suspended, pending.
    Yellow,
    /// Bad news: refused, revoked, restricted.
    Red,
    /// Headings.
    Bold,
    /// Hashes and other long, secondary text.
    Dim,
}

impl Paint {
    fn ansi(self) -> &'static str {
        match self {
            Paint::Green => "\x1b[32m",
            Paint::Yellow => "\x1b[33m",
            Paint::Red => "\x1b[31m",
            Paint::Bold => "\x1b[1m",
            Paint::Dim => "\x1b[2m",
        }
    }

    /// `text` in this colour if `on`, else as it is.
    pub fn paint(self, text: &str, on: bool) -> String {
        if on {
            format!("{}{text}\x1b[0m", self.ansi())
        } else {
            text.to_string()
        }
    }

    /// `text` in this colour if standard output is coloured.
    pub fn out(self, text: &str) -> String {
        self.paint(text, get().color_stdout)
    }

    fn cell_color(self) -> Option<Color> {
        match self {
            Paint::Green => Some(Color::Green),
            Paint::Yellow => Some(Color::Yellow),
            Paint::Red => Some(Color::Red),
            Paint::Bold | Paint::Dim => None,
        }
    }
}

/// The colour of a license status or condition status name.
pub fn status_paint(status: &str) -> Option<Paint> {
    match status {
        "active" | "final" => Some(Paint::Green),
        "suspended" | "pending" => Some(Paint::Yellow),
        "revoked" | "restricted" | "withdrawn" => Some(Paint::Red),
        _ => None,
    }
}

/// A table with a bold header and no borders, columns two spaces apart; on a terminal it fits
/// the terminal's width (long texts wrap; numbers and ids keep their width).
pub fn table(headers: &[&str]) -> Table {
    let ui = get();
    let mut t = Table::new();
    t.load_style(comfy_table::presets::NOTHING);
    if !std::io::stdout().is_terminal() {
        t.force_no_tty();
    }
    if ui.color_stdout {
        t.enforce_styling();
    }
    // Colour the text, not the padding around it: lines end without trailing spaces.
    t.style_text_only();
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(headers.iter().map(|h| cell(h, Some(Paint::Bold))));
    // Ids, numbers, times and hashes never wrap; only the columns `wrap_columns` names do.
    for c in t.column_iter_mut() {
        c.set_padding((0, 2));
        c.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
    }
    t
}

/// Lets the columns at `indexes` (free text: names, rules, effects) wrap to fit the terminal.
pub fn wrap_columns(t: &mut Table, indexes: &[usize]) {
    for &i in indexes {
        if let Some(c) = t.column_mut(i) {
            c.remove_constraint();
        }
    }
}

/// Right-aligns the columns at `indexes` (numbers) and keeps them from wrapping.
pub fn numeric_columns(t: &mut Table, indexes: &[usize]) {
    for &i in indexes {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// A cell, coloured by `paint` when stdout is coloured (comfy-table would style a terminal's
/// cells whatever `--color` and `NO_COLOR` say: no style is given unless colour is on).
pub fn cell(text: impl ToString, paint: Option<Paint>) -> Cell {
    let c = Cell::new(text);
    if !get().color_stdout {
        return c;
    }
    match paint {
        Some(Paint::Bold) => c.add_attribute(Attribute::Bold),
        Some(Paint::Dim) => c.add_attribute(Attribute::Dim),
        Some(p) => match p.cell_color() {
            Some(color) => c.fg(color),
            None => c,
        },
        None => c,
    }
}

/// The table as lines without trailing spaces, each ending in a newline.
pub fn render(t: &Table) -> String {
    let mut s = String::new();
    for line in t.lines() {
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// A table printed in chunks as rows come (a log of millions of records is never held whole):
/// the header once, and each chunk's columns at least as wide as the ones before, so the
/// columns stay aligned unless a longer value shows up.
pub struct TableStream {
    headers: Vec<String>,
    numeric: Vec<usize>,
    wrap: Vec<usize>,
    rows: Vec<Vec<Cell>>,
    widths: Vec<u16>,
    started: bool,
}

impl TableStream {
    /// Rows this many at a time.
    const CHUNK_ROWS: usize = 512;

    /// A stream of rows under `headers`, right-aligning the `numeric` columns and wrapping the
    /// `wrap` ones on a narrow terminal.
    pub fn new(headers: &[&str], numeric: &[usize], wrap: &[usize]) -> TableStream {
        let headers = headers.iter().map(|h| h.to_string()).collect();
        let (numeric, wrap) = (numeric.to_vec(), wrap.to_vec());
        TableStream { headers, numeric, wrap, rows: Vec::new(), widths: Vec::new(), started: false }
    }

    /// Adds a row, printing a chunk when one is full.
    pub fn push(&mut self, out: &mut dyn std::io::Write, row: Vec<Cell>) -> std::io::Result<()> {
        self.rows.push(row);
        if self.rows.len() >= Self::CHUNK_ROWS {
            self.flush(out)?;
        }
        Ok(())
    }

    /// Prints the rows held (and the header, before the first).
    pub fn flush(&mut self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        // No rows, no header: an empty listing prints nothing, as before.
        if self.rows.is_empty() {
            return Ok(());
        }
        let headers: Vec<&str> = self.headers.iter().map(String::as_str).collect();
        let mut t = table(&headers);
        t.add_rows(std::mem::take(&mut self.rows));
        numeric_columns(&mut t, &self.numeric);
        wrap_columns(&mut t, &self.wrap);
        for (i, w) in self.widths.iter().enumerate() {
            if let Some(c) = t.column_mut(i) {
                if !self.wrap.contains(&i) {
                    let floor = comfy_table::Width::Fixed(*w);
                    c.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(floor));
                }
            }
        }
        let widths = t.column_max_content_widths();
        self.widths =
            widths.iter().zip(self.widths.iter().chain(std::iter::repeat(&0))).map(|(a, b)| *a.max(b)).collect();
        let text = render(&t);
        // The header is the first line: printed once.
        let body = if self.started { text.split_once('\n').map_or("", |(_, rest)| rest) } else { &text };
        self.started = true;
        out.write_all(body.as_bytes())
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: impl Into<u128>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 event`, `2 events` (with thousands separators).
pub fn count(n: impl Into<u128>, noun: &str) -> String {
    count_of(n, noun, &format!("{noun}s"))
}

/// `1 index entry`, `2 index entries`: a noun whose plural is not `+s`.
pub fn count_of(n: impl Into<u128>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// An instant to the second, RFC 3339 in UTC (`2026-01-20T08:00:00Z`).
pub fn time_s(t: Timestamp) -> String {
    Timestamp { secs: t.secs, nanos: 0 }.to_string()
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// One CSV line of `fields`.
pub fn csv_line(fields: &[&str]) -> String {
    let mut s: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(fields.len());
    s.extend(fields.iter().map(|f| csv_field(f)));
    format!("{}\n", s.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators_and_plurals() {
        assert_eq!(thousands(0u64), "0");
        assert_eq!(thousands(999u64), "999");
        assert_eq!(thousands(1000u64), "1,000");
        assert_eq!(thousands(512_819_845u64), "512,819,845");
        assert_eq!(thousands(u128::MAX), "340,282,366,920,938,463,463,374,607,431,768,211,455");
        assert_eq!(count(1u64, "event"), "1 event");
        assert_eq!(count(0u64, "event"), "0 events");
        assert_eq!(count(1500u64, "record"), "1,500 records");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_line(&["a", "b,c", "say \"hi\""]), "a,\"b,c\",\"say \"\"hi\"\"\"\n");
    }
}
