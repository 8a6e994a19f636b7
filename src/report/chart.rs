//! SVG for the report: the step charts of cumulative totals by day (one per authority, on one
//! frame of days and values), and the scaling they share with the quota bars. Pure arithmetic
//! and text; nothing here comes from the ledger but numbers, days and a chart's label, which
//! goes through [`esc`].

use super::html::{esc, thousands};
use super::model::DayPoint;
use crate::domain::Day;
use std::fmt::Write;

const WIDTH: u32 = 1100;
const HEIGHT: u32 = 200;
const LEFT: u32 = 80;
const RIGHT: u32 = 20;
const TOP: u32 = 12;
const BOTTOM: u32 = 28;
/// Day labels: at most about this many.
const X_TICKS_MAX: i64 = 8;
/// Value grid lines above zero: at most this many.
const Y_TICKS_MAX: u128 = 4;

/// `n` out of `of`, in pixels of a `px`-wide axis (0 when `of` is 0), as f64 with one decimal.
pub fn scaled(n: u128, of: u128, px: u32) -> f64 {
    if of == 0 {
        return 0.0;
    }
    // f64 is exact enough for pixels, even for sums beyond 2^53.
    let v = (n as f64 / of as f64 * f64::from(px)).clamp(0.0, f64::from(px));
    (v * 10.0).round() / 10.0
}

/// The smallest "round" number (1, 2 or 5 times a power of ten) at least `raw`.
fn nice_step(raw: u128) -> u128 {
    let mut magnitude: u128 = 1;
    while magnitude.saturating_mul(10) <= raw {
        magnitude *= 10;
    }
    for m in [1, 2, 5, 10] {
        let step = magnitude.saturating_mul(m);
        if step >= raw {
            return step.max(1);
        }
    }
    magnitude.saturating_mul(10)
}

/// Maps days and values to pixels.
struct Frame {
    first: i64,
    days: i64,
    top_value: u128,
}

impl Frame {
    fn x(&self, day: Day) -> f64 {
        let offset = (i64::from(day.0) - self.first).clamp(0, self.days);
        f64::from(LEFT) + scaled(offset as u128, self.days as u128, WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: u128) -> f64 {
        f64::from(HEIGHT - BOTTOM) - scaled(v, self.top_value, HEIGHT - TOP - BOTTOM)
    }
}

/// The largest value of `points`, for a scale shared by several charts.
pub fn peak(points: &[DayPoint]) -> u128 {
    points.iter().map(|p| p.granted.max(p.ordered).max(p.shipped)).max().unwrap_or(0)
}

/// A step chart of cumulative granted, ordered and shipped by day over `span` (first and last
/// day, inclusive; every chart of the page gets the same), on a scale that reaches at least
/// `top`; `points` ascend by day and lie in the span. Before its first point a line is at 0.
/// `label` (the chart's accessible name) is escaped here.
pub fn step_chart(points: &[DayPoint], span: (Day, Day), top: u128, label: &str) -> String {
    let (first, last) = span;
    let max = top.max(peak(points)).max(1);
    let step = nice_step(max.div_ceil(Y_TICKS_MAX));
    let ticks = max.div_ceil(step);
    // One day past the last, so that the last day's step shows.
    let days = (i64::from(last.0) - i64::from(first.0) + 1).max(1);
    let frame = Frame { first: first.0.into(), days, top_value: step.saturating_mul(ticks) };
    let mut svg = String::with_capacity(8 * 1024);
    let _ =
        write!(svg, "<svg width=\"100%\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">", esc(label));
    y_axis(&mut svg, &frame, step, ticks);
    x_axis(&mut svg, &frame, last);
    for (color, dash, value) in [
        ("#9aa5b5", " stroke-dasharray=\"6 4\"", (|p: &DayPoint| p.granted) as fn(&DayPoint) -> u128),
        ("#3b6fd8", "", |p: &DayPoint| p.ordered),
        ("#e07b1a", "", |p: &DayPoint| p.shipped),
    ] {
        let _ = write!(
            svg,
            "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\"{dash}/>",
            step_path(&frame, points, last, value)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Horizontal grid lines with their values.
fn y_axis(svg: &mut String, frame: &Frame, step: u128, ticks: u128) {
    for i in 0..=ticks {
        let v = step.saturating_mul(i);
        let y = frame.y(v);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#e6e9ee\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6,
            y + 4.0,
            thousands(v)
        );
    }
}

/// Day labels: the first day, the last, and evenly spaced ones between.
fn x_axis(svg: &mut String, frame: &Frame, last: Day) {
    let base = f64::from(HEIGHT - BOTTOM);
    let _ =
        write!(svg, "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#9aa5b5\"/>", WIDTH - RIGHT);
    let stride = (frame.days / X_TICKS_MAX).max(1);
    let last = i64::from(last.0);
    let mut day = frame.first;
    while day <= last {
        // Keep the last label clear of the one before it.
        if day == last || (last - day) * 10 >= stride * 7 {
            let Ok(d) = i32::try_from(day) else { break };
            let x = frame.x(Day(d));
            let _ = write!(
                svg,
                "<line x1=\"{x}\" y1=\"{base}\" x2=\"{x}\" y2=\"{}\" stroke=\"#9aa5b5\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                base + 4.0,
                base + 18.0,
                Day(d)
            );
        }
        day = if day < last && day + stride > last { last } else { day + stride };
    }
}

/// A path from 0 at the first day that holds each day's value until the next point, and the
/// last one to the end of the span.
fn step_path(frame: &Frame, points: &[DayPoint], last: Day, value: fn(&DayPoint) -> u128) -> String {
    let mut d = String::with_capacity(points.len() * 24 + 32);
    let _ = write!(d, "M{LEFT} {}", frame.y(0));
    for p in points {
        let _ = write!(d, "H{}V{}", frame.x(p.day), frame.y(value(p)));
    }
    let _ = write!(d, "H{}", frame.x(Day(last.0.saturating_add(1))));
    d
}

#[cfg(test)]
mod tests {
    use super::{nice_step, scaled};

    #[test]
    fn steps_are_round_numbers_at_least_the_raw_one() {
        assert_eq!(nice_step(1), 1);
        assert_eq!(nice_step(3), 5);
        assert_eq!(nice_step(117_500), 200_000);
        assert_eq!(nice_step(40_000), 50_000);
        assert_eq!(nice_step(100_000), 100_000);
    }

    #[test]
    fn scaling_clamps_and_survives_zero() {
        assert_eq!(scaled(5, 0, 100), 0.0);
        assert_eq!(scaled(50, 100, 300), 150.0);
        assert_eq!(scaled(500, 100, 300), 300.0);
    }
}
