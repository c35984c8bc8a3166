//! The report's charts, drawn by plotters as SVG: tickets per month
//! stacked by type, tickets per organisation, and how long first answers
//! took. Each is a string of SVG the HTML page carries inline.

use plotters::prelude::*;

/// The types' colours, in the order of [`crate::ticket::TicketType::ALL`].
const TYPE_COLOURS: [RGBColor; 3] = [
    RGBColor(0x2b, 0x6c, 0xb0),
    RGBColor(0xd9, 0x4f, 0x2b),
    RGBColor(0x5a, 0x9e, 0x4b),
];
const BAR: RGBColor = TYPE_COLOURS[0];
const FONT: &str = "sans-serif";

/// A chart that could not be drawn (plotters' error, as text).
#[derive(Debug, thiserror::Error)]
#[error("chart {title:?}: {why}")]
pub struct ChartError {
    title: String,
    why: String,
}

fn failed(title: &str) -> impl Fn(String) -> ChartError + '_ {
    move |why| ChartError {
        title: title.to_string(),
        why,
    }
}

/// Stacked bars: one bar per label (months), one stack per series (the
/// types), with a legend.
pub fn stacked(
    title: &str,
    labels: &[String],
    series: &[(String, Vec<usize>)],
) -> Result<String, ChartError> {
    columns(title, None, labels, series, true)
}

/// Vertical bars over ordered classes (a distribution).
pub fn histogram(
    title: &str,
    x_desc: &str,
    classes: &[String],
    counts: &[usize],
) -> Result<String, ChartError> {
    columns(
        title,
        Some(x_desc),
        classes,
        &[("tickets".to_string(), counts.to_vec())],
        false,
    )
}

/// Vertical bars, one per label, each a stack of the series' values.
fn columns(
    title: &str,
    x_desc: Option<&str>,
    labels: &[String],
    series: &[(String, Vec<usize>)],
    legend: bool,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    let err = failed(title);
    {
        let root = SVGBackend::with_string(&mut svg, (900, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let n = labels.len().max(1) as u32;
        let top = (0..labels.len())
            .map(|i| series.iter().map(|(_, v)| v[i]).sum::<usize>())
            .max()
            .unwrap_or(0)
            .max(1) as u32;
        // Room above the highest bar for the legend.
        let headroom = if legend { top / 4 } else { top / 8 };
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0..top + headroom + 1)
            .map_err(|e| err(e.to_string()))?;
        let label = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let mut mesh = chart.configure_mesh();
        mesh.disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(labels.len())
            .x_label_formatter(&label)
            .y_desc("tickets")
            .label_style((FONT, 13));
        if let Some(x_desc) = x_desc {
            mesh.x_desc(x_desc);
        }
        mesh.draw().map_err(|e| err(e.to_string()))?;
        let mut base = vec![0u32; labels.len()];
        for (k, (name, values)) in series.iter().enumerate() {
            let colour = TYPE_COLOURS[k % TYPE_COLOURS.len()];
            let bars: Vec<Rectangle<(SegmentValue<u32>, u32)>> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0)
                .map(|(i, v)| {
                    let (i, v) = (i as u32, *v as u32);
                    let y0 = base[i as usize];
                    base[i as usize] += v;
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), y0),
                            (SegmentValue::Exact(i + 1), y0 + v),
                        ],
                        colour.filled(),
                    );
                    bar.set_margin(0, 0, 6, 6);
                    bar
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(|e| err(e.to_string()))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 12, y + 6)], colour.filled())
                });
        }
        if legend {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, 13))
                .draw()
                .map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(svg)
}

/// Horizontal bars, one per label, longest first as given.
pub fn bars(title: &str, x_desc: &str, rows: &[(String, usize)]) -> Result<String, ChartError> {
    let mut svg = String::new();
    let err = failed(title);
    {
        let height = 90 + 34 * rows.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let n = rows.len().max(1) as u32;
        let top = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as u32;
        let longest = rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(4) as u32;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size((longest * 8).clamp(60, 320))
            .build_cartesian_2d(0..top + top / 8 + 1, (0..n - 1).into_segmented())
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(rows.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => rows
                    .get(*i as usize)
                    .map(|(l, _)| l.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc(x_desc)
            .label_style((FONT, 13))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
                let i = i as u32;
                let mut bar = Rectangle::new(
                    [
                        (0, SegmentValue::Exact(i)),
                        (*v as u32, SegmentValue::Exact(i + 1)),
                    ],
                    BAR.filled(),
                );
                bar.set_margin(5, 5, 0, 0);
                bar
            }))
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(svg)
}
