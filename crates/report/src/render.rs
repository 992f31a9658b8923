//! The page: facts in, HTML out, no I/O. Inline CSS, inline SVG, no script
//! and no reference to any other resource, so that it renders offline and
//! prints as it shows.

use crate::aggregate::{Aggregates, Counts, Ranking};
use crate::svg::{bars, columns, Series};
use crate::trail::{Trail, Verdict};
use crate::Window;
use compliance_api::{Severity, Timestamp};
use compliance_verify::{PiiType, Reason};
use std::fmt::Write;

mod audit;
use audit::audit;

/// Everything the page shows.
pub struct Page<'a> {
    pub title: &'a str,
    pub generated_at: Timestamp,
    pub window: Window,
    /// The inputs' names.
    pub inputs: Vec<String>,
    /// What the page says about agent pseudonyms, when they replace ids.
    pub pseudonyms: Option<String>,
    pub aggregates: &'a Aggregates,
    pub trail: &'a Trail,
}

/// `text` escaped for HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A count with thousands separators (`12,345`).
pub fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// A count in a table cell, its exact value in `data-value`.
fn cell(n: u64) -> String {
    format!(r#"<td class="num" data-value="{n}">{}</td>"#, num(n))
}

const SEVERITY_SERIES: [Series; 4] = [
    Series {
        class: "s-low",
        name: "LOW",
    },
    Series {
        class: "s-medium",
        name: "MEDIUM",
    },
    Series {
        class: "s-high",
        name: "HIGH",
    },
    Series {
        class: "s-critical",
        name: "CRITICAL",
    },
];
const VERDICT_SERIES: [Series; 2] = [
    Series {
        class: "validated",
        name: "validated",
    },
    Series {
        class: "false-positive",
        name: "false positive",
    },
];

const STYLE: &str = r#"
:root{--ink:#1d2330;--muted:#5b6474;--line:#dfe3ea;--bg:#f6f7f9;--ok:#1a7f37;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
main{max-width:1060px;margin:0 auto;padding:28px 32px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:34px 0 8px;padding-top:10px;border-top:2px solid var(--ink);break-after:avoid}
h3{font-size:15px;margin:18px 0 6px}
p{margin:6px 0}
.meta{color:var(--muted);font-size:13px}
.note{background:var(--bg);border-left:4px solid #7a869a;padding:8px 12px;margin:10px 0;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin:18px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:10px 12px;background:var(--bg)}
.card b{display:block;font-size:22px}
.card span{color:var(--muted);font-size:12px}
.card.ok b{color:var(--ok)} .card.bad b{color:var(--bad)}
table{border-collapse:collapse;width:100%;margin:8px 0 4px;font-size:12.5px}
th,td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr{break-inside:avoid}
code,.hash{font:11.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
svg.chart{width:100%;height:auto;display:block;margin:8px 0 0}
svg .grid{stroke:var(--line)} svg text{font-size:11px;fill:var(--muted)} svg .label{fill:var(--ink)}
.s-low{fill:#9ecae1;background:#9ecae1}.s-medium{fill:#fdae6b;background:#fdae6b}.s-high{fill:#e6550d;background:#e6550d}.s-critical{fill:#7f0000;background:#7f0000}
.validated{fill:#2b6cb0;background:#2b6cb0}.false-positive{fill:#b8c0cc;background:#b8c0cc}.pii{fill:#6b46c1;background:#6b46c1}.rate{fill:#2f855a;background:#2f855a}
.legend{font-size:12px;color:var(--muted)} .legend span{margin-right:14px} .legend i{display:inline-block;width:10px;height:10px;margin-right:5px;vertical-align:-1px;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.verdict{font-size:18px;font-weight:700;padding:10px 14px;border-radius:6px;margin:8px 0}
.verdict.ok{background:#e6f4ea;color:var(--ok)} .verdict.bad{background:#fde8e7;color:var(--bad)}
.delivered{color:var(--ok)} .queued{color:var(--bad)}
footer{margin-top:36px;color:var(--muted);font-size:12px}
@media print{main{max-width:none;padding:0}h2{break-before:auto}section{break-inside:auto}.cards{grid-template-columns:repeat(4,1fr)}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
@page{size:A4;margin:14mm}
"#;

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let a = page.aggregates;
    let t = &a.tally;
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body><main>"#,
        esc(page.title)
    );
    let _ = write!(
        h,
        r#"<h1>{}</h1><p class="meta">Generated {} by genesys-compliance {} · {} · input: {}</p>"#,
        esc(page.title),
        page.generated_at
            .as_datetime()
            .format("%Y-%m-%d %H:%M:%S UTC"),
        env!("CARGO_PKG_VERSION"),
        esc(&page.window.describe()),
        esc(&describe_inputs(&page.inputs)),
    );
    let kept: u64 = t.pii_exposures - a.redacted_in_input.values().sum::<u64>();
    let _ = write!(
        h,
        r#"<p class="note" id="pii-note">No customer PII appears on this page. Every text taken from violations (evidence, rule names, ids) went through the redaction again before it was written here, whatever the input held{}. Findings are counted, never shown.</p>"#,
        if kept > 0 {
            format!(" (the input carried {} findings unredacted, written with --keep-pii; they are redacted here)", num(kept))
        } else {
            String::new()
        }
    );
    if let Some(note) = &page.pseudonyms {
        let _ = write!(
            h,
            r#"<p class="note" id="pseudonym-note">{}</p>"#,
            esc(note)
        );
    }

    // Key figures.
    let (verdict_class, verdict_word) = match &page.trail.verdict {
        Verdict::Intact { .. } => ("ok", "intact"),
        Verdict::Broken(_) => ("bad", "BROKEN"),
    };
    let queued = page.trail.outbox_depth.unwrap_or(page.trail.sums.queued);
    let _ = write!(
        h,
        r#"<div class="cards">
<div class="card"><b id="total-violations" data-value="{}">{}</b><span>unique violations</span></div>
<div class="card"><b id="total-validated" data-value="{}">{}</b><span>validated</span></div>
<div class="card"><b id="total-false-positives" data-value="{}">{}</b><span>false positives</span></div>
<div class="card"><b id="accuracy-rate" data-value="{:.4}">{}</b><span>accuracy rate (validated / all)</span></div>
<div class="card"><b id="total-pii" data-value="{}">{}</b><span>PII findings in evidence</span></div>
<div class="card"><b id="extractions" data-value="{}">{}</b><span>extractions audited</span></div>
<div class="card {verdict_class}"><b id="trail-verdict">{verdict_word}</b><span>audit trail</span></div>
<div class="card {}"><b id="webhooks-queued" data-value="{queued}">{}</b><span>webhooks still queued</span></div>
</div>"#,
        t.violations,
        num(t.violations),
        t.validated,
        num(t.validated),
        t.false_positives,
        num(t.false_positives),
        t.accuracy_rate(),
        pct(t.accuracy_rate()),
        t.pii_exposures,
        num(t.pii_exposures),
        page.trail.sums.extractions,
        num(page.trail.sums.extractions),
        if queued == 0 { "ok" } else { "bad" },
        num(queued),
    );

    over_time(&mut h, a);
    by_rule(&mut h, a);
    h.push_str(r#"<section id="people"><h2>Top agents and queues</h2>"#);
    ranking(&mut h, "agents", "Agent", &a.agents);
    ranking(&mut h, "queues", "Queue", &a.queues);
    h.push_str("</section>");
    false_positives(&mut h, a);
    pii(&mut h, a);
    audit(&mut h, page);
    latest(&mut h, a);
    h.push_str(r#"<footer>Made offline from the output records and the audit directory; this file loads nothing from anywhere. Print it to PDF from the browser to attach it to an audit.</footer></main></body></html>"#);
    h
}

fn describe_inputs(inputs: &[String]) -> String {
    match inputs {
        [] => "none".into(),
        [one] => one.clone(),
        many if many.len() <= 4 => many.join(", "),
        many => format!(
            "{} files, {} to {}",
            many.len(),
            many[0],
            many[many.len() - 1]
        ),
    }
}

/// Hours per bucket so that the series has at most 72 buckets.
fn bucket_hours(span_hours: i64) -> i64 {
    let needed = (span_hours + 71) / 72;
    [1, 2, 3, 6, 12, 24, 48, 168]
        .into_iter()
        .find(|h| *h >= needed)
        .unwrap_or_else(|| (needed + 23) / 24 * 24)
}

fn over_time(h: &mut String, a: &Aggregates) {
    h.push_str(r#"<section id="time"><h2>Violations over time</h2>"#);
    let (Some(first), Some(last)) = (a.hours.keys().next(), a.hours.keys().last()) else {
        h.push_str("<p>No violations.</p></section>");
        return;
    };
    let step = bucket_hours(last - first + 1);
    let start = first - first.rem_euclid(step);
    let count = ((last - start) / step + 1) as usize;
    let mut values = vec![vec![0u64; 4]; count];
    for (hour, by_severity) in &a.hours {
        let bucket = ((hour - start) / step) as usize;
        for (k, n) in by_severity.iter().enumerate() {
            values[bucket][k] += n;
        }
    }
    let label = |i: usize| {
        let at = chrono::DateTime::from_timestamp((start + step * i as i64) * 3600, 0)
            .unwrap_or_default();
        if step % 24 == 0 {
            at.format("%Y-%m-%d").to_string()
        } else {
            at.format("%m-%d %H:00").to_string()
        }
    };
    let labels: Vec<String> = (0..count).map(label).collect();
    let unit = match step {
        1 => "hour".to_string(),
        24 => "day".to_string(),
        168 => "week".to_string(),
        s if s % 24 == 0 => format!("{} days", s / 24),
        s => format!("{s} hours"),
    };
    let _ = write!(
        h,
        "<p>Violations detected per {unit} (UTC), stacked by severity.</p>"
    );
    h.push_str(&columns(
        "chart-time",
        "Violations over time by severity",
        &SEVERITY_SERIES,
        &labels,
        &values,
    ));
    h.push_str(r#"<table id="table-time"><tr><th>from (UTC)</th>"#);
    for s in Severity::ALL {
        let _ = write!(h, r#"<th class="num">{s}</th>"#);
    }
    h.push_str(r#"<th class="num">total</th></tr>"#);
    for (i, row) in values.iter().enumerate() {
        let _ = write!(h, "<tr><td>{}</td>", esc(&labels[i]));
        for n in row {
            h.push_str(&cell(*n));
        }
        h.push_str(&cell(row.iter().sum()));
        h.push_str("</tr>");
    }
    h.push_str(r#"<tr><th>all</th>"#);
    for s in Severity::ALL {
        h.push_str(&cell(a.tally.by_severity.get(&s).copied().unwrap_or(0)));
    }
    h.push_str(&cell(a.tally.violations));
    h.push_str("</tr></table></section>");
}

fn by_rule(h: &mut String, a: &Aggregates) {
    h.push_str(r#"<section id="rules"><h2>Violations by rule</h2><p>Validated and false positives per rule, with the regulations the rules file maps it to; the top rules by count.</p>"#);
    let labels: Vec<String> = a
        .rules
        .iter()
        .map(|r| r.name.as_ref().unwrap_or(&r.id).as_str().to_owned())
        .collect();
    let values: Vec<Vec<u64>> = a
        .rules
        .iter()
        .map(|r| vec![r.counts.validated, r.counts.false_positives])
        .collect();
    h.push_str(&bars(
        "chart-rules",
        "Violations by rule",
        &VERDICT_SERIES,
        &labels,
        &values,
    ));
    h.push_str(r#"<table id="table-rules"><tr><th>rule</th><th>regulations</th><th class="num">validated</th><th class="num">false positives</th><th class="num">PII findings</th><th class="num">total</th></tr>"#);
    for r in &a.rules {
        let regulations: Vec<&str> = r.regulations.iter().map(|x| x.as_str()).collect();
        let _ = write!(
            h,
            r#"<tr><td>{}<br><code>{}</code></td><td>{}</td>"#,
            esc(r.name.as_ref().map_or("", |n| n.as_str())),
            esc(r.id.as_str()),
            if regulations.is_empty() {
                "<i>none mapped</i>".to_string()
            } else {
                esc(&regulations.join(", "))
            },
        );
        counts_cells(h, &r.counts);
        h.push_str("</tr>");
    }
    if a.rules_others.total() > 0 {
        let _ = write!(
            h,
            "<tr><td><i>{} other rules{}</i></td><td></td>",
            num((a.rules_distinct - a.rules.len()) as u64),
            if a.rules_capped {
                " (and more past the count limit)"
            } else {
                ""
            }
        );
        counts_cells(h, &a.rules_others);
        h.push_str("</tr>");
    }
    h.push_str("</table></section>");
}

fn counts_cells(h: &mut String, c: &Counts) {
    h.push_str(&cell(c.validated));
    h.push_str(&cell(c.false_positives));
    h.push_str(&cell(c.pii));
    h.push_str(&cell(c.total()));
}

fn ranking(h: &mut String, id: &str, what: &str, r: &Ranking) {
    let _ = write!(h, "<h3>{what}s ({} distinct)</h3>", num(r.distinct as u64));
    let labels: Vec<String> = r.rows.iter().map(|(l, _)| l.as_str().to_owned()).collect();
    let values: Vec<Vec<u64>> = r
        .rows
        .iter()
        .map(|(_, c)| vec![c.validated, c.false_positives])
        .collect();
    h.push_str(&bars(
        &format!("chart-{id}"),
        &format!("Top {what}s"),
        &VERDICT_SERIES,
        &labels,
        &values,
    ));
    let _ = write!(
        h,
        r#"<table id="table-{id}"><tr><th>{what}</th><th class="num">validated</th><th class="num">false pos.</th><th class="num">PII</th><th class="num">total</th></tr>"#
    );
    for (label, c) in &r.rows {
        let _ = write!(h, "<tr><td><code>{}</code></td>", esc(label.as_str()));
        counts_cells(h, c);
        h.push_str("</tr>");
    }
    if r.others.total() > 0 {
        let _ = write!(
            h,
            "<tr><td><i>all others{}</i></td>",
            if r.capped {
                " (count limit reached)"
            } else {
                ""
            }
        );
        counts_cells(h, &r.others);
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

fn false_positives(h: &mut String, a: &Aggregates) {
    let t = &a.tally;
    let _ = write!(
        h,
        r#"<section id="false-positives"><h2>Validated and false positives</h2><p><b>{}</b> validated, <b>{}</b> false positives of <b>{}</b> unique violations (accuracy rate {}).</p>"#,
        num(t.validated),
        num(t.false_positives),
        num(t.violations),
        pct(t.accuracy_rate())
    );
    let reasons = a.reasons();
    let labels: Vec<String> = reasons.iter().map(|(r, _)| r.as_str().to_owned()).collect();
    let values: Vec<Vec<u64>> = reasons.iter().map(|(_, n)| vec![*n]).collect();
    h.push_str(&bars(
        "chart-reasons",
        "False positives by reason",
        &VERDICT_SERIES[1..],
        &labels,
        &values,
    ));
    h.push_str(r#"<table id="table-reasons"><tr><th>reason</th><th>meaning</th><th class="num">violations</th></tr>"#);
    for (reason, n) in reasons {
        let meaning = match reason {
            Reason::NoRegulatoryMapping => "the rule maps to no regulation in the rules file",
            Reason::BelowSeverityThreshold => {
                "LOW severity, and the rule carries no low_tolerance tag"
            }
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{meaning}</td>{}</tr>",
            reason.as_str(),
            cell(n)
        );
    }
    h.push_str("</table></section>");
}

fn pii(h: &mut String, a: &Aggregates) {
    let t = &a.tally;
    let _ = write!(
        h,
        r#"<section id="pii"><h2>PII found in evidence</h2><p><b>{}</b> findings; each is redacted on this page. “Redacted in the output” counts those the output file itself carries as <code>[REDACTED:type]</code>; the rest were kept there with --keep-pii.</p>"#,
        num(t.pii_exposures)
    );
    let labels: Vec<String> = PiiType::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    let values: Vec<Vec<u64>> = PiiType::ALL
        .iter()
        .map(|k| vec![t.pii_by_type.get(k).copied().unwrap_or(0)])
        .collect();
    h.push_str(&bars(
        "chart-pii",
        "PII findings by type",
        &[Series {
            class: "pii",
            name: "findings",
        }],
        &labels,
        &values,
    ));
    h.push_str(r#"<table id="table-pii"><tr><th>type</th><th class="num">findings</th><th class="num">redacted in the output</th><th class="num">kept in the output (--keep-pii)</th><th class="num">shown here</th></tr>"#);
    for kind in PiiType::ALL {
        let found = t.pii_by_type.get(&kind).copied().unwrap_or(0);
        let redacted = a.redacted_in_input.get(&kind).copied().unwrap_or(0);
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td>{}{}{}{}</tr>",
            kind.as_str(),
            cell(found),
            cell(redacted),
            cell(found - redacted),
            cell(0)
        );
    }
    let _ = write!(
        h,
        "<tr><th>all</th>{}{}{}{}</tr></table>",
        cell(t.pii_exposures),
        cell(a.redacted_in_input.values().sum()),
        cell(t.pii_exposures - a.redacted_in_input.values().sum::<u64>()),
        cell(0)
    );
    let _ = write!(
        h,
        "<p class=\"meta\">Violations without any evidence text to check: {}.</p></section>",
        num(t.missing_evidence)
    );
}

fn latest(h: &mut String, a: &Aggregates) {
    h.push_str(r#"<section id="latest"><h2>Newest validated HIGH and CRITICAL violations</h2><p>Evidence redacted on this page, whatever the input held.</p>"#);
    if a.latest.is_empty() {
        h.push_str("<p>None.</p></section>");
        return;
    }
    h.push_str(r#"<table id="table-latest"><tr><th>detected (UTC)</th><th>severity</th><th>rule · agent</th><th>evidence (redacted)</th></tr>"#);
    for l in &a.latest {
        let _ = write!(
            h,
            r#"<tr><td>{}<br><code>{}</code></td><td>{}</td><td>{}<br><code>{}</code></td><td>{}</td></tr>"#,
            l.detected_at,
            esc(l.id.as_str()),
            l.severity,
            esc(l.rule.as_str()),
            esc(l.agent.as_ref().map_or("", |x| x.as_str())),
            esc(l.evidence.as_str())
        );
    }
    h.push_str("</table></section>");
}
