//! The charts: small inline SVG drawn by hand. Every mark is a `rect` with
//! class `mark`, a `data-value` and a `title`, so that people can hover it and
//! tests can count it.

use crate::render::{esc, num};
use std::fmt::Write;

/// One series of a chart: its CSS class and its name in the legend.
pub struct Series {
    pub class: &'static str,
    pub name: &'static str,
}

const WIDTH: f64 = 960.0;

/// Stacked columns, one per bucket: `values[i][s]` for series `s`.
pub fn columns(
    id: &str,
    caption: &str,
    series: &[Series],
    labels: &[String],
    values: &[Vec<u64>],
) -> String {
    let (left, top, height, bottom) = (56.0, 10.0, 200.0, 36.0);
    let max = values
        .iter()
        .map(|v| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = nice(max);
    let n = values.len().max(1) as f64;
    let step = (WIDTH - left - 10.0) / n;
    let bar = (step * 0.8).clamp(1.0, 48.0);
    let mut s = open(id, caption, WIDTH, top + height + bottom);
    axis_y(&mut s, left, top, height, scale, num);
    for (i, column) in values.iter().enumerate() {
        let x = left + step * i as f64 + (step - bar) / 2.0;
        let mut y = top + height;
        for (k, value) in column.iter().enumerate() {
            if *value == 0 {
                continue;
            }
            let h = height * *value as f64 / scale as f64;
            y -= h;
            mark(
                &mut s,
                &series[k],
                x,
                y,
                bar,
                h,
                *value,
                &format!("{} {}", labels[i], series[k].name),
            );
        }
    }
    x_labels(&mut s, labels, left, step, top + height + 16.0);
    s.push_str("</svg>");
    s + &legend(series)
}

/// Stacked horizontal bars, one per row: `values[i][s]` for series `s`.
pub fn bars(
    id: &str,
    caption: &str,
    series: &[Series],
    labels: &[String],
    values: &[Vec<u64>],
) -> String {
    let (left, row, right) = (280.0, 24.0, 70.0);
    let max = values
        .iter()
        .map(|v| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let span = WIDTH - left - right;
    let mut s = open(id, caption, WIDTH, row * values.len().max(1) as f64 + 4.0);
    for (i, row_values) in values.iter().enumerate() {
        let y = 2.0 + row * i as f64;
        let _ = write!(
            s,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + 15.0,
            esc(&shorten(&labels[i], 40))
        );
        let mut x = left;
        for (k, value) in row_values.iter().enumerate() {
            if *value == 0 {
                continue;
            }
            let w = span * *value as f64 / max as f64;
            mark(
                &mut s,
                &series[k],
                x,
                y + 3.0,
                w,
                row - 8.0,
                *value,
                &format!("{} {}", labels[i], series[k].name),
            );
            x += w;
        }
        let total: u64 = row_values.iter().sum();
        let _ = write!(
            s,
            r#"<text class="value" x="{:.1}" y="{:.1}">{}</text>"#,
            x + 6.0,
            y + 15.0,
            num(total)
        );
    }
    s.push_str("</svg>");
    if series.len() > 1 {
        s + &legend(series)
    } else {
        s
    }
}

/// Columns of rates between 0 and 1 (accuracy per extraction).
pub fn rates(
    id: &str,
    caption: &str,
    class: &'static str,
    labels: &[String],
    values: &[f64],
) -> String {
    let (left, top, height, bottom) = (56.0, 10.0, 160.0, 36.0);
    let n = values.len().max(1) as f64;
    let step = (WIDTH - left - 10.0) / n;
    let bar = (step * 0.8).clamp(1.0, 48.0);
    let mut s = open(id, caption, WIDTH, top + height + bottom);
    axis_y(&mut s, left, top, height, 100, |v| format!("{v}%"));
    let series = Series {
        class,
        name: "accuracy",
    };
    for (i, rate) in values.iter().enumerate() {
        let h = height * rate.clamp(0.0, 1.0);
        let x = left + step * i as f64 + (step - bar) / 2.0;
        let _ = write!(
            s,
            r#"<rect class="mark {}" x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}" data-value="{rate:.4}"><title>{}: {:.1}%</title></rect>"#,
            series.class,
            top + height - h,
            esc(&labels[i]),
            rate * 100.0
        );
    }
    x_labels(&mut s, labels, left, step, top + height + 16.0);
    s.push_str("</svg>");
    s
}

/// About a dozen of the column labels, under their columns at height `y`.
fn x_labels(s: &mut String, labels: &[String], left: f64, step: f64, y: f64) {
    let every = (labels.len() / 12).max(1);
    for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let x = left + step * i as f64 + step / 2.0;
        let _ = write!(
            s,
            r#"<text class="tick" x="{x:.1}" y="{y:.1}" text-anchor="middle">{}</text>"#,
            esc(label)
        );
    }
}

fn open(id: &str, caption: &str, width: f64, height: f64) -> String {
    format!(
        r#"<svg class="chart" id="{id}" role="img" aria-label="{}" viewBox="0 0 {width:.0} {height:.0}" preserveAspectRatio="xMinYMin meet">"#,
        esc(caption)
    )
}

#[allow(clippy::too_many_arguments)]
fn mark(s: &mut String, series: &Series, x: f64, y: f64, w: f64, h: f64, value: u64, title: &str) {
    let _ = write!(
        s,
        r#"<rect class="mark {}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" data-value="{value}"><title>{}: {}</title></rect>"#,
        series.class,
        esc(title),
        num(value)
    );
}

/// Grid lines and labels at 0, a half and the top of the scale.
fn axis_y(
    s: &mut String,
    left: f64,
    top: f64,
    height: f64,
    scale: u64,
    label: impl Fn(u64) -> String,
) {
    for k in 0..=2u64 {
        let value = scale * k / 2;
        let y = top + height - height * k as f64 / 2.0;
        let _ = write!(
            s,
            r#"<line class="grid" x1="{left:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - 10.0,
            left - 6.0,
            y + 4.0,
            label(value)
        );
    }
}

/// A round number at or above `max` for the top of an axis.
fn nice(max: u64) -> u64 {
    let mut unit = 1u64;
    while unit.saturating_mul(10) <= max {
        unit *= 10;
    }
    [1, 2, 3, 4, 5, 6, 8, 10]
        .into_iter()
        .map(|m| m * unit)
        .find(|v| *v >= max)
        .unwrap_or(max)
}

fn legend(series: &[Series]) -> String {
    let mut s = String::from(r#"<p class="legend">"#);
    for item in series {
        let _ = write!(
            s,
            r#"<span><i class="{}"></i>{}</span>"#,
            item.class,
            esc(item.name)
        );
    }
    s + "</p>"
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max - 1).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice(1), 1);
        assert_eq!(nice(7), 8);
        assert_eq!(nice(130), 200);
        assert_eq!(nice(239), 300);
        assert_eq!(nice(4_999), 5_000);
    }

    #[test]
    fn each_nonzero_value_is_one_mark() {
        let series = [
            Series {
                class: "a",
                name: "A",
            },
            Series {
                class: "b",
                name: "B",
            },
        ];
        let svg = columns(
            "c",
            "caption",
            &series,
            &["x".into(), "y".into()],
            &[vec![3, 0], vec![1, 2]],
        );
        assert_eq!(svg.matches("class=\"mark ").count(), 3);
        assert!(svg.contains(r#"data-value="3""#));
    }
}
