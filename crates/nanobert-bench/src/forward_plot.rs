//! `forward_batch_sweep.svg`: the batch-size sweep, one line per model — sequences/s (left)
//! and milliseconds per batch (right) against the batch size, both axes logarithmic.

use plotters::prelude::*;

use super::forward::ForwardReport;
use nanobert::{Error, Result};

/// Draws the sweep of `report` into `report.svg`.
pub fn plot(report: &ForwardReport) -> Result<()> {
    draw(report).map_err(|e| Error::file(&report.svg, e))
}

/// (batch, sequences/s, ms per batch)
type Point = (f64, f64, f64);
type Series = Vec<(String, Vec<Point>)>;
/// A panel: caption, the value it plots, the y axis label.
type Panel = (&'static str, fn(&Point) -> f64, &'static str);

fn draw(report: &ForwardReport) -> std::result::Result<(), Box<dyn std::error::Error>> {
    // (model, [(batch, sequences/s, ms per batch)])
    let series: Series = report
        .models
        .iter()
        .map(|m| {
            let pts = report
                .rows
                .iter()
                .filter(|r| r.model == m.name && r.case == "throughput")
                .map(|r| (r.batch as f64, r.per_second(), r.stats.median_s * 1e3))
                .collect();
            (m.name.clone(), pts)
        })
        .filter(|(_, p): &(String, Vec<_>)| !p.is_empty())
        .collect();
    let root = SVGBackend::new(&report.svg, (1200, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title
        .titled(&format!("Batch-size sweep — {} , {} threads", report.cpu.model, report.threads), ("sans-serif", 18))?;
    let panels = body.split_evenly((1, 2));
    let all: Vec<(f64, f64, f64)> = series.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    if all.is_empty() {
        root.present()?;
        return Ok(());
    }
    let bmax = all.iter().map(|p| p.0).fold(1.0, f64::max) * 1.5;
    let range = |f: fn(&Point) -> f64| {
        let lo = all.iter().map(f).fold(f64::INFINITY, f64::min).max(1e-6);
        let hi = all.iter().map(f).fold(0.0, f64::max).max(lo * 1.01);
        (lo / 1.5, hi * 1.5)
    };
    let charts: [Panel; 2] =
        [("sequences/s", |p| p.1, "sequences per second"), ("ms per batch", |p| p.2, "milliseconds per batch")];
    for (panel, (caption, pick, ydesc)) in panels.iter().zip(charts) {
        let (lo, hi) = range(pick);
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0.7f64..bmax).log_scale(), (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("batch size (sequences of 128 tokens)")
            .y_desc(ydesc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| if *y >= 10.0 { format!("{y:.0}") } else { format!("{y:.2}") })
            .draw()?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let line: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, pick(p))).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart.draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
