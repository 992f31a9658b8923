//! The page's audit section: the chain's verdict, its anchors and notes,
//! and the webhook deliveries.

use super::{cell, esc, num, pct, Page};
use crate::svg::rates;
use crate::trail::{Verdict, Webhook};
use crate::Window;
use std::fmt::Write;

pub(super) fn audit(h: &mut String, page: &Page<'_>) {
    let trail = page.trail;
    let a = page.aggregates;
    let _ = write!(
        h,
        r#"<section id="audit"><h2>Audit trail</h2><p>The check of <code>{}</code> is the one <code>genesys-compliance audit verify</code> runs: the hash chain of <code>audit.jsonl</code>, every extraction file, and the head against the anchor kept outside the log.</p>"#,
        esc(&trail.dir)
    );
    match &trail.verdict {
        Verdict::Intact {
            records,
            head,
            anchored,
            notes,
        } => {
            let _ = write!(
                h,
                r#"<div class="verdict ok" id="audit-verdict">Chain verified: intact, {} record{}</div>"#,
                num(*records),
                if *records == 1 { "" } else { "s" }
            );
            match head {
                Some(head) => {
                    let _ = write!(
                        h,
                        r#"<p>Head: seq <b id="head-seq">{}</b>, hash <span class="hash" id="head-hash">{}</span></p>"#,
                        head.seq, head.hash
                    );
                }
                None => h.push_str("<p>Head: none (empty log)</p>"),
            }
            for (source, anchor) in anchored {
                let _ = write!(
                    h,
                    r#"<p>Anchored head: seq {} hash <span class="hash anchored">{}</span> from {}: matches</p>"#,
                    anchor.seq,
                    anchor.hash,
                    esc(source)
                );
            }
            if anchored.is_empty() {
                h.push_str(r#"<p class="note">No state store was given to anchor the trail, so the removal of the newest records cannot be ruled out.</p>"#);
            }
            for note in notes {
                let _ = write!(h, r#"<p class="note">{}</p>"#, esc(note));
            }
        }
        Verdict::Broken(tampering) => {
            let _ = write!(
                h,
                r#"<div class="verdict bad" id="audit-verdict">Chain BROKEN: {}</div><p>First bad record: {}{}{}</p>"#,
                esc(&tampering.kind.to_string()),
                tampering
                    .seq
                    .map(|s| format!("seq <b id=\"bad-seq\">{s}</b>"))
                    .unwrap_or_else(|| "not on a line".into()),
                tampering
                    .extraction_id
                    .as_deref()
                    .map(|id| format!(", extraction <code>{}</code>", esc(id)))
                    .unwrap_or_default(),
                tampering
                    .line
                    .map(|l| format!(", audit.jsonl line {l}"))
                    .unwrap_or_default()
            );
            let _ = write!(
                h,
                r#"<p class="note">{}. Preserve the directory for investigation; the figures below are read from records that can no longer be trusted.</p>"#,
                esc(&tampering.detail)
            );
        }
    }

    // Reconciliation of the output with the records.
    let s = &trail.sums;
    h.push_str(r#"<h3>Output against the audit records</h3><table id="table-reconcile"><tr><th></th><th class="num">in the output</th><th class="num">in the audit records</th><th>check</th></tr>"#);
    for (what, output, audited) in [
        ("unique violations", a.tally.violations, s.fetched),
        ("validated", a.tally.validated, s.validated),
        (
            "false positives",
            a.tally.false_positives,
            s.false_positives,
        ),
        ("PII findings", a.tally.pii_exposures, s.pii),
    ] {
        let check = if output == audited {
            r#"<span class="delivered">equal</span>"#.to_string()
        } else {
            format!(
                r#"<span class="queued">differs by {}</span>"#,
                num(output.abs_diff(audited))
            )
        };
        let _ = write!(
            h,
            "<tr><td>{what}</td>{}{}<td>{check}</td></tr>",
            cell(output),
            cell(audited)
        );
    }
    h.push_str("</table>");
    if page.window != Window::default() {
        h.push_str(r#"<p class="meta">The audit side counts whole extractions whose interval overlaps the window; the output side only the violations inside it.</p>"#);
    }

    // Accuracy per extraction.
    let _ = write!(h, "<h3>Accuracy rate per extraction</h3>");
    if trail.rows.is_empty() {
        h.push_str("<p>No extraction records.</p>");
    } else {
        let labels: Vec<String> = trail
            .rows
            .iter()
            .map(|r| format!("seq {}", r.seq))
            .collect();
        let values: Vec<f64> = trail.rows.iter().map(|r| r.fields.accuracy_rate).collect();
        h.push_str(&rates(
            "chart-accuracy",
            "Accuracy rate per extraction",
            "rate",
            &labels,
            &values,
        ));
    }

    // Webhooks.
    let _ = write!(
        h,
        "<h3>Webhook delivery</h3><p><b>{}</b> delivered, <b>{}</b> still queued{}.</p>",
        num(s.delivered),
        num(s.queued),
        match trail.outbox_depth {
            Some(d) => format!(
                " (the state store's outbox holds {} undelivered, for every endpoint)",
                num(d)
            ),
            None => " (no state store given: delivery state unknown)".into(),
        }
    );

    let shown = trail.rows.len() as u64;
    let _ = write!(
        h,
        "<h3>Extraction records</h3><p class=\"meta\">{}</p>",
        if shown < s.extractions {
            format!(
                "The newest {} of {} records; all are in audit.jsonl.",
                num(shown),
                num(s.extractions)
            )
        } else {
            format!("All {} records.", num(shown))
        }
    );
    h.push_str(r#"<table id="table-extractions"><tr><th class="num">seq</th><th>finished (UTC) · extraction id</th><th>payload hash</th><th class="num">fetched</th><th class="num">validated</th><th class="num">false pos.</th><th class="num">PII</th><th class="num">accuracy</th><th>webhook</th></tr>"#);
    for r in &trail.rows {
        let f = &r.fields;
        let webhook = match &r.webhook {
            Webhook::Delivered { attempts, .. } => format!(
                r#"<span class="delivered">delivered</span> ({attempts} attempt{})"#,
                if *attempts == 1 { "" } else { "s" }
            ),
            Webhook::Queued { attempts, last } => format!(
                r#"<span class="queued">queued</span> ({attempts} attempts{})"#,
                last.as_deref()
                    .map(|l| format!(", last {}", esc(l)))
                    .unwrap_or_default()
            ),
            Webhook::Unknown => "–".into(),
        };
        let _ = write!(
            h,
            r#"<tr class="extraction"><td class="num">{}</td><td>{}<br><code>{}</code></td><td class="hash">{}</td>{}{}{}{}<td class="num" data-value="{:.4}">{}</td><td>{webhook}</td></tr>"#,
            r.seq,
            f.timestamp,
            esc(&f.extraction_id),
            esc(&f.payload_hash),
            cell(
                f.violations_fetched
                    .unwrap_or(f.total_violations + f.false_positives_filtered)
            ),
            cell(f.total_violations),
            cell(f.false_positives_filtered),
            cell(f.pii_exposures_detected),
            f.accuracy_rate,
            pct(f.accuracy_rate)
        );
    }
    h.push_str("</table>");
    if trail.unreadable_lines > 0 {
        let _ = write!(
            h,
            r#"<p class="note">{} lines of audit.jsonl could not be read as records.</p>"#,
            num(trail.unreadable_lines)
        );
    }
    h.push_str("</section>");
}
