//! `guichet report` on the real servers: a small year of the seed desk,
//! made by mail at fixed times, whose figures are known by hand; then the
//! HTML report as headless Chromium renders it.

use std::path::Path;
use std::process::Command;

use crate::app::{mail, Db, TestApp};
use crate::on_both_databases;

on_both_databases!(the_report_counts_a_desks_year_as_done_by_hand);

/// The seed desk's hours, in Paris: durations are business time.
const DESK: &str = r#"timezone = "Europe/Paris"

[hours]
monday = ["08:30-12:00", "13:30-17:00"]
tuesday = ["08:30-12:00", "13:30-17:00"]
wednesday = ["08:30-12:00", "13:30-17:00"]
thursday = ["08:30-12:00", "13:30-17:00"]
friday = ["08:30-12:00", "13:30-17:00"]
holidays = "fr"

[[organisation]]
name = "Ville de Bobigny"
domains = ["ville-bobigny.fr"]

[[organisation]]
name = "Syndicat des eaux"
domains = ["eaux-idf.example"]

[sla]
first_answer = { normal = "2h" }
resolution = { normal = "2d" }
"#;

const MARC: &str = "Marc Agent <marc.agent@example.test>";

fn notice_of(app: &TestApp, number: &str) -> crate::app::Sent {
    app.sent_to("sau@example.test")
        .into_iter()
        .find(|m| m.subject.contains(number))
        .unwrap_or_else(|| panic!("no notice of {number}"))
}

/// Three requests in 2026, timed so that each figure is known:
/// 1. Jeanne (Bobigny), Monday 2 March 9:00 Paris; Marc answers at 10:00
///    (1 h), proposes a solution on Tuesday 3 at 9:30 (one business day
///    and half an hour: 7 h 30), she validates at 11:00.
/// 2. Paul (Syndicat des eaux), Tuesday 10 March 9:00; Marc closes it at
///    14:00 (resolution: 3 h 30 of business time; no first answer within
///    the 2 h target).
/// 3. Jeanne again, Wednesday 1 April 9:00: still open.
fn the_report_counts_a_desks_year_as_done_by_hand(db: Db) {
    let app = TestApp::start_with(db, DESK);
    app.ok(&["agents", "add", "marc.agent@example.test", "--name", "Marc"]);
    let jeanne = "Jeanne Martin <jeanne.martin@ville-bobigny.fr>";
    app.append(&mail(
        jeanne,
        "Imprimante bloquée",
        "r1@ville-bobigny.fr",
        "",
        "L'imprimante de l'accueil est bloquée.",
    ));
    app.run_at("2026-03-02T09:00:00+01:00");
    app.reply(
        &notice_of(&app, "#000001"),
        MARC,
        "Bonjour, je regarde.",
        "",
    );
    app.run_at("2026-03-02T10:00:00+01:00");
    app.reply(
        &notice_of(&app, "#000001"),
        MARC,
        "#solution Le pilote est réinstallé.",
        "",
    );
    app.run_at("2026-03-03T09:30:00+01:00");
    let solution = app
        .sent_to("jeanne.martin@ville-bobigny.fr")
        .into_iter()
        .find(|m| m.body.contains("pilote"))
        .expect("the solution");
    app.reply(&solution, jeanne, "VALIDER", "");
    app.run_at("2026-03-03T11:00:00+01:00");

    app.append(&mail(
        "Paul <paul@eaux-idf.example>",
        "Compteur illisible",
        "r2@eaux-idf.example",
        "",
        "Le logiciel des compteurs ne s'ouvre plus.",
    ));
    app.run_at("2026-03-10T09:00:00+01:00");
    app.reply(
        &notice_of(&app, "#000002"),
        MARC,
        "#close Réinstallé ce midi.",
        "",
    );
    app.run_at("2026-03-10T14:00:00+01:00");

    app.append(&mail(
        jeanne,
        "Scanner du 2e",
        "r3@ville-bobigny.fr",
        "",
        "Le scanner du 2e étage n'envoie plus rien.",
    ));
    app.run_at("2026-04-01T09:00:00+02:00");

    let json: serde_json::Value = serde_json::from_str(&app.ok(&[
        "report",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--by",
        "organisation",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(json["business_time"], true);
    let line = |org: &str| {
        json["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["key"]["organisation"] == org)
            .unwrap_or_else(|| panic!("no {org}: {json}"))
            .clone()
    };
    let bobigny = line("Ville de Bobigny");
    assert_eq!(
        (
            &bobigny["opened"],
            &bobigny["closed_validated"],
            &bobigny["backlog"]
        ),
        (
            &serde_json::json!(2),
            &serde_json::json!(1),
            &serde_json::json!(1)
        ),
        "{bobigny}"
    );
    assert_eq!(bobigny["first_answer"]["count"], 1, "{bobigny}");
    assert_eq!(bobigny["first_answer"]["median_hours"], 1.0, "{bobigny}");
    assert_eq!(bobigny["resolution"]["median_hours"], 7.5, "{bobigny}");
    // Met: answered in 1 h of 2 h; resolved in 7 h 30 of 2 days (14 h).
    // Ticket 3's targets fell due on 1 and 3 April: both missed since.
    assert_eq!(bobigny["first_answer_sla"]["due"], 2, "{bobigny}");
    assert_eq!(bobigny["first_answer_sla"]["met"], 1, "{bobigny}");
    assert_eq!(bobigny["resolution_sla"]["percent"], 50.0, "{bobigny}");
    let eaux = line("Syndicat des eaux");
    assert_eq!(eaux["closed_agent"], 1, "{eaux}");
    assert_eq!(eaux["resolution"]["median_hours"], 3.5, "{eaux}");
    assert_eq!(eaux["first_answer_sla"]["met"], 0, "{eaux}");
    assert_eq!(json["total"]["opened"], 3);
    assert_eq!(json["total"]["closed"], 2);

    // By month: March opened 2 and closed 2, April opened 1.
    let csv = app.ok(&[
        "report",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--by",
        "month",
        "--format",
        "csv",
    ]);
    let rows: Vec<&str> = csv.split("\r\n").collect();
    assert!(
        rows[0].starts_with("month,opened,closed,validated,auto,agent,reopened,backlog,"),
        "{csv}"
    );
    assert!(
        rows.iter().any(|r| r.starts_with("2026-03,2,2,1,0,1,0,0,")),
        "{csv}"
    );
    assert!(
        rows.iter().any(|r| r.starts_with("2026-04,1,0,0,0,0,0,1,")),
        "{csv}"
    );
    assert!(rows.iter().any(|r| r.starts_with("total,3,2,")), "{csv}");
    // The yearly table: per year and member organisation.
    let table = app.ok(&["report", "--year"]);
    assert!(
        table.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.starts_with(&["2026", "Ville", "de", "Bobigny", "2"])
        }),
        "{table}"
    );

    // The HTML page, rendered by a real browser.
    let page = app.path().join("report.html");
    app.ok(&[
        "report",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--by",
        "organisation",
        "--format",
        "html",
        "--output",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    for outside in ["<script", "<link", "<img", "src=", "@import", "url("] {
        assert!(
            !html.contains(outside),
            "the page fetches nothing: {outside}"
        );
    }
    check_in_chromium(&page, app.path());
}

/// Opens the page in headless Chromium: the DOM it built has the charts'
/// titles and SVG, and its screenshot shows each chart, not a blank area.
fn check_in_chromium(page: &Path, dir: &Path) {
    let url = format!("file://{}", page.display());
    let chromium = |args: &[&str]| {
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(["--window-size=1000,1900"])
            .args(args)
            .arg(&url)
            .output()
            .expect("chromium (scripts/install-deps installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let dom = String::from_utf8(chromium(&["--dump-dom"]).stdout).unwrap();
    for title in [
        "Tickets opened per month, by type",
        "Tickets opened per organisation",
        "Time to first answer",
    ] {
        assert!(
            dom.contains(&format!("<h2>{title}</h2>")),
            "{title} not in the DOM"
        );
    }
    assert_eq!(dom.matches("<svg").count(), 3, "three charts");
    assert!(
        dom.contains(">Ville de Bobigny<"),
        "the organisations are named"
    );

    let shot = dir.join("report.png");
    chromium(&[&format!("--screenshot={}", shot.display())]);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    // The share of a band of rows that is not white (the bars, axes, text).
    let ink = |top: usize, bottom: usize| {
        let mut coloured = 0usize;
        for y in top..bottom.min(h) {
            for x in 0..w {
                let p = &buf[(y * w + x) * channels..][..3];
                if p.iter().any(|&c| c < 200) {
                    coloured += 1;
                }
            }
        }
        coloured as f64 / ((bottom.min(h) - top) * w) as f64
    };
    // Blue bars: the charts drew their series, not only empty axes.
    let blue = (0..w * h)
        .filter(|i| {
            let p = &buf[i * channels..][..3];
            p[2] > 150 && p[0] < 80 && p[1] < 140
        })
        .count();
    assert!(blue > 5_000, "{blue} pixels of the bars' blue");
    // Each third of the page below the table carries ink.
    for band in [(300, 800), (800, 1300), (1300, 1800)] {
        let share = ink(band.0, band.1);
        assert!(
            share > 0.01,
            "rows {band:?}: {share:.4} of the pixels are drawn"
        );
    }
}
