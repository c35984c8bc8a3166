//! `guichet report`'s formats: an aligned table for a terminal, CSV
//! (RFC 4180) for a spreadsheet, JSON, and one self-contained HTML page
//! with the table and SVG charts. The figures come from
//! [`crate::ticket::report`].

pub mod chart;

use std::fmt::Write as _;

use chrono::Duration;
use serde_json::{json, Value};

use chrono_tz::Tz;

use crate::ticket::report::{
    build, first_answer_distribution, By, Line, Measured, Met, Period, Report, Stats,
};
use crate::ticket::TicketType;

/// The columns after the group's keys, as the table, CSV and JSON name
/// them.
const COLUMNS: [&str; 14] = [
    "opened",
    "closed",
    "validated",
    "auto",
    "agent",
    "reopened",
    "backlog",
    "first_answer_median_h",
    "first_answer_p90_h",
    "resolution_median_h",
    "resolution_p90_h",
    "first_answer_sla_met_pct",
    "resolution_sla_met_pct",
    "first_answer_count",
];

fn hours(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.num_seconds() as f64 / 3600.0)
}

/// A line's figures in [`COLUMNS`] order, as text ("" for none).
fn cells(line: &Line) -> Vec<String> {
    let h = |d: Option<Duration>| hours(d).map(|h| format!("{h:.1}")).unwrap_or_default();
    let pct = |m: &Met| m.percent().map(|p| format!("{p:.0}")).unwrap_or_default();
    vec![
        line.opened.to_string(),
        line.closed().to_string(),
        line.validated.to_string(),
        line.auto.to_string(),
        line.by_agent.to_string(),
        line.reopened.to_string(),
        line.backlog.to_string(),
        h(line.first_answer.median),
        h(line.first_answer.p90),
        h(line.resolution.median),
        h(line.resolution.p90),
        pct(&line.first_answer_met),
        pct(&line.resolution_met),
        line.first_answer.count.to_string(),
    ]
}

fn key_cells(report: &Report, line: &Line, total: bool) -> Vec<String> {
    if total {
        let mut k = vec![String::new(); report.by.len()];
        if let Some(first) = k.first_mut() {
            *first = "total".into();
        }
        return k;
    }
    line.key
        .iter()
        .map(|v| v.clone().unwrap_or_else(|| "-".into()))
        .collect()
}

/// The table's header names: shorter than the CSV's.
const SHORT: [&str; 14] = [
    "opened",
    "closed",
    "valid.",
    "auto",
    "agent",
    "reop.",
    "backlog",
    "1st ans. med",
    "p90",
    "resol. med",
    "p90",
    "SLA 1st %",
    "SLA res. %",
    "answered",
];

/// An aligned table for a terminal: one line per group, then the total.
pub fn table(report: &Report) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = report.by.iter().map(|b| b.as_str().to_string()).collect();
    header.extend(SHORT.iter().map(|s| s.to_string()));
    rows.push(header);
    for line in &report.lines {
        let mut r = key_cells(report, line, false);
        r.extend(cells(line));
        rows.push(r);
    }
    let mut total = key_cells(report, &report.total, true);
    total.extend(cells(&report.total));
    let n = rows[0].len();
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .chain(std::iter::once(&total))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let keys = report.by.len();
    let mut out = String::new();
    let (first, last) = report.period.days(report.zone);
    let _ = writeln!(
        out,
        "Tickets from {first} to {last} ({}); durations in {}hours",
        report.zone,
        if report.business_time {
            "business "
        } else {
            ""
        }
    );
    let write_row = |out: &mut String, r: &[String]| {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = w - c.chars().count();
                if i < keys {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    };
    for r in &rows {
        write_row(&mut out, r);
    }
    let rule: usize = widths.iter().sum::<usize>() + 2 * (n.saturating_sub(1));
    let _ = writeln!(out, "{}", "-".repeat(rule));
    write_row(&mut out, &total);
    out
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a
/// line break, its quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV for a spreadsheet (RFC 4180: CRLF line ends, UTF-8): a header,
/// one row per group, the total last (its first key column "total").
pub fn csv(report: &Report) -> String {
    let mut out = String::new();
    let mut header: Vec<&str> = report.by.iter().map(|b| b.as_str()).collect();
    header.extend(COLUMNS);
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    let mut row = |keys: Vec<String>, line: &Line| {
        let fields: Vec<String> = keys
            .into_iter()
            .chain(cells(line))
            .map(|f| csv_field(&f))
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    };
    for line in &report.lines {
        let keys = line
            .key
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect();
        row(keys, line);
    }
    row(key_cells(report, &report.total, true), &report.total);
    out
}

fn stats_json(s: &Stats) -> Value {
    json!({
        "count": s.count,
        "median_hours": hours(s.median),
        "p90_hours": hours(s.p90),
    })
}

fn met_json(m: &Met) -> Value {
    json!({ "met": m.met, "due": m.due, "percent": m.percent() })
}

fn line_json(by: &[By], line: &Line) -> Value {
    let key: serde_json::Map<String, Value> = by
        .iter()
        .zip(&line.key)
        .map(|(b, v)| (b.as_str().to_string(), json!(v)))
        .collect();
    json!({
        "key": key,
        "opened": line.opened,
        "closed": line.closed(),
        "closed_validated": line.validated,
        "closed_auto": line.auto,
        "closed_agent": line.by_agent,
        "reopened": line.reopened,
        "backlog": line.backlog,
        "first_answer": stats_json(&line.first_answer),
        "resolution": stats_json(&line.resolution),
        "first_answer_sla": met_json(&line.first_answer_met),
        "resolution_sla": met_json(&line.resolution_met),
    })
}

pub fn json(report: &Report) -> Value {
    json!({
        "from": crate::clock::rfc3339(report.period.from),
        "to": crate::clock::rfc3339(report.period.to),
        "by": report.by.iter().map(|b| b.as_str()).collect::<Vec<_>>(),
        "business_time": report.business_time,
        "lines": report.lines.iter().map(|l| line_json(&report.by, l)).collect::<Vec<_>>(),
        "total": line_json(&[], &report.total),
    })
}

/// What the HTML page's charts show, computed apart from the table's
/// grouping.
pub struct Charts {
    /// Each chart's title.
    pub titles: [String; 3],
    /// Months (or years), then for each type its tickets opened in each.
    pub months: Vec<String>,
    pub by_type: Vec<(String, Vec<usize>)>,
    /// Tickets opened per organisation, most first.
    pub organisations: Vec<(String, usize)>,
    /// First answers per class of duration.
    pub answer_classes: Vec<String>,
    pub answers: Vec<usize>,
}

/// First answers are shown in these classes (business time with hours).
const ANSWER_LIMITS: [(i64, &str); 5] = [
    (1, "≤ 1 h"),
    (4, "1–4 h"),
    (8, "4–8 h"),
    (24, "8–24 h"),
    (72, "24–72 h"),
];

/// The HTML page's charts, from the measured tickets of `period`: opened
/// per month (per year beyond two years) by type, per organisation (the
/// twenty first), and the first answers' distribution.
pub fn charts(measured: &Measured, period: Period, zone: Tz) -> Charts {
    // Months while they fit a chart, else years.
    let months = (period.to - period.from).num_days() <= 2 * 366;
    let time = if months { By::Month } else { By::Year };
    let per_time = build(measured, period, &[time, By::Type], zone);
    let mut labels: Vec<String> = per_time
        .lines
        .iter()
        .filter_map(|l| l.key[0].clone())
        .collect();
    labels.dedup();
    let by_type = TicketType::ALL
        .iter()
        .map(|t| {
            let counts = labels
                .iter()
                .map(|m| {
                    per_time
                        .lines
                        .iter()
                        .filter(|l| {
                            l.key[0].as_deref() == Some(m)
                                && l.key[1].as_deref() == Some(t.as_str())
                        })
                        .map(|l| l.opened)
                        .sum()
                })
                .collect();
            (t.as_str().to_string(), counts)
        })
        .collect();
    let per_org = build(measured, period, &[By::Organisation], zone);
    let mut organisations: Vec<(String, usize)> = per_org
        .lines
        .iter()
        .filter(|l| l.opened > 0)
        .map(|l| {
            let name = l.key[0].clone().unwrap_or_else(|| "(none)".into());
            (name, l.opened)
        })
        .collect();
    organisations.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    organisations.truncate(20);
    let limits: Vec<Duration> = ANSWER_LIMITS
        .iter()
        .map(|(h, _)| Duration::hours(*h))
        .collect();
    let mut classes: Vec<String> = ANSWER_LIMITS.iter().map(|(_, l)| l.to_string()).collect();
    classes.push("> 72 h".into());
    Charts {
        titles: [
            format!(
                "Tickets opened per {}, by type",
                if months { "month" } else { "year" }
            ),
            "Tickets opened per organisation".into(),
            "Time to first answer".into(),
        ],
        months: labels,
        by_type,
        organisations,
        answers: first_answer_distribution(measured, period, &limits),
        answer_classes: classes,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One page, nothing outside it (no script, font, stylesheet or image to
/// fetch): the table, then the charts as inline SVG.
pub fn html(report: &Report, charts: &Charts, desk: &str) -> Result<String, chart::ChartError> {
    let unit = if report.business_time {
        "business hours"
    } else {
        "hours"
    };
    let svgs = [
        chart::stacked(&charts.titles[0], &charts.months, &charts.by_type)?,
        chart::bars(&charts.titles[1], "tickets", &charts.organisations)?,
        chart::histogram(
            &charts.titles[2],
            unit,
            &charts.answer_classes,
            &charts.answers,
        )?,
    ];
    let mut page = String::new();
    let (first, last) = report.period.days(report.zone);
    let title = format!("{desk} — activity from {first} to {last}");
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em; color: #222; }}\n\
         table {{ border-collapse: collapse; font-size: 14px; margin-bottom: 2em; }}\n\
         th, td {{ border-bottom: 1px solid #ddd; padding: 4px 8px; }}\n\
         td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}\n\
         tr.total td {{ font-weight: bold; border-top: 2px solid #555; }}\n\
         section.chart {{ margin: 1.5em 0; }}\n\
         </style>\n</head>\n<body>\n<h1>{t}</h1>\n<p>Durations in {unit}. Generated by guichet.</p>\n<table>\n<tr>",
        t = escape(&title),
    );
    for b in &report.by {
        let _ = write!(page, "<th>{}</th>", b.as_str());
    }
    for c in SHORT {
        let _ = write!(page, "<th>{}</th>", escape(c));
    }
    page.push_str("</tr>\n");
    let mut row = |keys: Vec<String>, line: &Line, class: &str| {
        let _ = write!(page, "<tr class=\"{class}\">");
        for k in keys {
            let _ = write!(page, "<td>{}</td>", escape(&k));
        }
        for c in cells(line) {
            let _ = write!(page, "<td class=\"n\">{}</td>", escape(&c));
        }
        page.push_str("</tr>\n");
    };
    for line in &report.lines {
        row(key_cells(report, line, false), line, "group");
    }
    row(
        key_cells(report, &report.total, true),
        &report.total,
        "total",
    );
    page.push_str("</table>\n");
    for (title, svg) in charts.titles.iter().zip(svgs) {
        let _ = write!(
            page,
            "<section class=\"chart\">\n<h2>{}</h2>\n{}\n</section>\n",
            escape(title),
            svg
        );
    }
    page.push_str("</body>\n</html>\n");
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(csv_field("Ville de Bobigny"), "Ville de Bobigny");
        assert_eq!(
            csv_field("Eaux, assainissement"),
            "\"Eaux, assainissement\""
        );
        assert_eq!(csv_field("dit \"SAU\""), "\"dit \"\"SAU\"\"\"");
        assert_eq!(csv_field("a\nb"), "\"a\nb\"");
    }

    #[test]
    fn html_escapes_what_it_is_given() {
        assert_eq!(escape("<script>&\""), "&lt;script&gt;&amp;&quot;");
    }
}
