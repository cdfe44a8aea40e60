//! Tables, CSV and plot of a [`BenchReport`].

use std::fmt::Write;

use plotters::prelude::*;

use super::matmul::{BenchReport, Implementation, Measurement, Shape};
use nanobert::ops::matmul::Rung;
use nanobert::{Error, Result};

/// Short column name of a configuration.
fn short(imp: Implementation, threads: usize) -> String {
    match imp {
        Implementation::Rung(Rung::Simd(k)) => k.name().to_string(),
        Implementation::Rung(Rung::Parallel(_)) => format!("par ×{threads}"),
        Implementation::Rung(r) => r.name(),
        Implementation::MatrixMultiply => format!("mm ×{threads}"),
        Implementation::Prepacked(_) => format!("prepacked ×{threads}"),
    }
}

fn find<'a>(results: &'a [Measurement], shape: &Shape, imp: Implementation, t: usize) -> Option<&'a Measurement> {
    results.iter().find(|r| r.shape.name == shape.name && r.implementation == imp && r.threads == t)
}

fn shapes(results: &[Measurement]) -> Vec<Shape> {
    let mut out: Vec<Shape> = Vec::new();
    for r in results {
        if !out.contains(&r.shape) {
            out.push(r.shape.clone());
        }
    }
    out
}

/// One progress line: a shape and its GFLOP/s per configuration (from the fastest time).
pub fn shape_line_times(shape: &Shape, configs: &[(Implementation, usize)], times: &[Vec<f64>], quick: bool) -> String {
    let cells: Vec<String> = configs
        .iter()
        .zip(times)
        .filter(|(_, ts)| !ts.is_empty())
        .map(|(&(imp, t), ts)| {
            let rows = imp.rows_timed(shape.m, quick);
            let best = ts.iter().copied().fold(f64::INFINITY, f64::min);
            let flops = shape.flops() * rows as f64 / shape.m.max(1) as f64;
            format!("{} {:.1}", short(imp, t), flops / best / 1e9)
        })
        .collect();
    format!("{:<34} {}", shape.name, cells.join(" | "))
}

/// The Markdown tables: GFLOP/s per configuration, then % of peak and ratios, then the
/// targets of the GEMM issue checked against this run.
pub fn tables(report: &BenchReport, configs: &[(Implementation, usize)]) -> String {
    let res = &report.results;
    let mut s = String::new();
    let peak = &report.peak;
    let _ = writeln!(
        s,
        "FMA peak ({}, highest of the run): {}. Per core by instruction set: {}. \
         The {} microkernel alone (panels in L1): {:.1} GFLOP/s. Load average before / after: {} / {}.\n",
        peak.kernel.name(),
        peak.best.iter().map(|(t, g)| format!("{g:.1} GFLOP/s on {t} thread(s)")).collect::<Vec<_>>().join(", "),
        peak.per_kernel.iter().map(|(k, g)| format!("{} {g:.1}", k.name())).collect::<Vec<_>>().join(", "),
        peak.kernel.name(),
        peak.kernel_only,
        report.load_before,
        report.load_after,
    );
    // Table 1: GFLOP/s.
    let _ = write!(s, "| shape (GFLOP/s) |");
    for &(imp, t) in configs {
        let _ = write!(s, " {} |", short(imp, t));
    }
    let _ = write!(s, "\n|---|");
    for _ in configs {
        let _ = write!(s, "---:|");
    }
    s.push('\n');
    for shape in shapes(res) {
        let _ = write!(s, "| {} |", shape.name);
        for &(imp, t) in configs {
            match find(res, &shape, imp, t) {
                Some(r) if r.rows_timed < shape.m => {
                    let _ = write!(s, " {:.1}* |", r.gflops);
                }
                Some(r) => {
                    let _ = write!(s, " {:.1} |", r.gflops);
                }
                None => s.push_str(" - |"),
            }
        }
        s.push('\n');
    }
    s.push_str(
        "\n\\* timed on the first rows of A only (16 for naive, 64 for reordered; see crates/nanobert-bench/src/matmul.rs).\n\n",
    );
    s.push_str(
        "`prepacked`: rung 4 with B packed once ahead of time, as `Linear` does with its weight \
         (`sgemm_prepacked`); the time excludes that one-off packing (below). Linear shapes only.\n\n",
    );
    s.push_str("Percentages are of the FMA peak measured interleaved with each shape (column `peak`).\n\n");

    // Table 2: % of peak and ratios, for the configurations that matter for BERT.
    let best = Implementation::Rung(Rung::best());
    let mm = Implementation::MatrixMultiply;
    let pre = Implementation::Prepacked(report.peak.kernel);
    let threads: Vec<usize> = report.peak.best.iter().map(|(t, _)| *t).collect();
    let _ = write!(s, "| shape |");
    for &t in &threads {
        let _ = write!(s, " peak ×{t} | ours ×{t} % peak | prepacked ×{t} % peak | mm ×{t} % peak | ours/mm ×{t} |");
    }
    if threads.len() > 1 {
        let _ = write!(s, " ours ×{}/×{} |", threads[threads.len() - 1], threads[0]);
    }
    let _ = write!(s, "\n|---|");
    for _ in &threads {
        s.push_str("---:|---:|---:|---:|---:|");
    }
    if threads.len() > 1 {
        s.push_str("---:|");
    }
    s.push('\n');
    for shape in shapes(res) {
        let _ = write!(s, "| {} |", shape.name);
        for &t in &threads {
            let (o, m) = (find(res, &shape, best, t), find(res, &shape, mm, t));
            let pct = |r: Option<&Measurement>| r.map_or("-".into(), |r| format!("{:.0}%", r.pct_of_peak));
            let ratio = o.zip(m).map_or("-".into(), |(o, m)| format!("{:.2}", o.gflops / m.gflops));
            let pk = o.map_or("-".into(), |o| format!("{:.0}", o.peak_gflops));
            let p = find(res, &shape, pre, t);
            let _ = write!(s, " {pk} | {} | {} | {} | {} |", pct(o), pct(p), pct(m), ratio);
        }
        if threads.len() > 1 {
            let (lo, hi) = (find(res, &shape, best, threads[0]), find(res, &shape, best, threads[threads.len() - 1]));
            let sp = lo.zip(hi).map_or("-".into(), |(lo, hi)| format!("{:.2}", hi.gflops / lo.gflops));
            let _ = write!(s, " {sp} |");
        }
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&packing(report));
    s.push_str(&targets(report));
    s
}

/// The one-off cost of packing B for the prepacked rows, next to one prepacked call.
fn packing(report: &BenchReport) -> String {
    let pre = Implementation::Prepacked(report.peak.kernel);
    let mut s = String::from(
        "One-off packing of B for `prepacked` (one thread, fastest of the passes; \
         not included in the prepacked times):\n\n| shape | pack B (ms) | one prepacked call ×1 (ms) | ratio |\n|---|---:|---:|---:|\n",
    );
    for (name, secs) in &report.packing {
        let call = report.results.iter().find(|r| &r.shape.name == name && r.implementation == pre && r.threads == 1);
        let (call_ms, ratio) = call.map_or(("-".into(), "-".into()), |r| {
            (format!("{:.3}", r.best_s * 1e3), format!("{:.2}", secs / r.best_s))
        });
        let _ = writeln!(s, "| {name} | {:.3} | {call_ms} | {ratio} |", secs * 1e3);
    }
    s.push('\n');
    s
}

/// The targets of the GEMM work, checked on this run's numbers: on every Linear shape (both
/// layouts of the weight), rung 4 and the pre-packed weight at >= 85% of the peak at M = 1024
/// and >= 80% at M = 128, on every thread count; rung 4 never slower than `matrixmultiply` at
/// the same thread count; two threads >= 1.85x one at M = 1024.
fn targets(report: &BenchReport) -> String {
    let res = &report.results;
    let best = Implementation::Rung(Rung::best());
    let mm = Implementation::MatrixMultiply;
    let pre = Implementation::Prepacked(report.peak.kernel);
    let mut s = String::from("Targets (this run):\n");
    let mut line = |ok: bool, text: String| {
        let _ = writeln!(s, "- [{}] {text}", if ok { "x" } else { " " });
    };
    let all = shapes(res);
    let threads: Vec<usize> = report.peak.best.iter().map(|(t, _)| *t).collect();
    for shape in all.iter().filter(|s| s.batch == 1) {
        let want = if shape.m >= 1024 { 85.0 } else { 80.0 };
        for &t in &threads {
            for (imp, what) in [(best, "sgemm"), (pre, "prepacked")] {
                if let Some(r) = find(res, shape, imp, t) {
                    line(
                        r.pct_of_peak >= want,
                        format!("{}: {what} x{t} {:.1}% of peak (want >= {want}%)", shape.name, r.pct_of_peak),
                    );
                }
            }
        }
    }
    let slower: Vec<String> = all
        .iter()
        .flat_map(|shape| threads.iter().map(move |&t| (shape, t)))
        .filter_map(|(shape, t)| {
            let (o, m) = (find(res, shape, best, t)?, find(res, shape, mm, t)?);
            (o.gflops < m.gflops).then(|| format!("{} x{t} ({:.2}x)", shape.name, o.gflops / m.gflops))
        })
        .collect();
    line(
        slower.is_empty(),
        format!("sgemm at least as fast as matrixmultiply on every shape and thread count; slower on: {slower:?}"),
    );
    if threads.contains(&1) && threads.contains(&2) {
        for shape in &all {
            let (Some(one), Some(two)) = (find(res, shape, best, 1), find(res, shape, best, 2)) else { continue };
            let speedup = two.gflops / one.gflops;
            if shape.m >= 1024 {
                line(speedup >= 1.85, format!("{}: 2 threads {speedup:.2}x one thread (want >= 1.85)", shape.name));
            } else {
                line(speedup >= 1.0, format!("{}: 2 threads {speedup:.2}x one thread (want >= 1)", shape.name));
            }
        }
    }
    // The ladder at M = 1024: rung 4 is compared at its highest thread count (on one thread it
    // is rung 3 plus a threshold check).
    let top = threads.iter().copied().max().unwrap_or(1);
    for shape in all.iter().filter(|s| s.m >= 1024) {
        let ladder: Vec<&Measurement> = Rung::ladder()
            .into_iter()
            .filter_map(|r| {
                let t = if matches!(r, Rung::Parallel(_)) { top } else { 1 };
                find(res, shape, Implementation::Rung(r), t)
            })
            .collect();
        let bad: Vec<String> = ladder
            .windows(2)
            .skip(1)
            .filter(|w| w[1].gflops <= w[0].gflops)
            .map(|w| format!("{} <= {}", w[1].implementation.name(), w[0].implementation.name()))
            .collect();
        line(
            bad.is_empty(),
            format!("{}: each rung above naive faster than the one below; exceptions: {bad:?}", shape.name),
        );
    }
    s
}

/// `matmul.csv`: one line per configuration and shape.
pub fn write_csv(report: &BenchReport) -> Result<()> {
    let mut s = String::from(
        "shape,batch,m,k,n,transpose_b,implementation,threads,rows_timed,reps,best_s,median_s,gflops,pct_of_peak,peak_gflops\n",
    );
    for r in &report.results {
        let sh = &r.shape;
        let _ = writeln!(
            s,
            "\"{}\",{},{},{},{},{},{},{},{},{},{:.6e},{:.6e},{:.2},{:.1},{:.1}",
            sh.name,
            sh.batch,
            sh.m,
            sh.k,
            sh.n,
            sh.transpose_b,
            r.implementation.name(),
            r.threads,
            r.rows_timed,
            r.reps,
            r.best_s,
            r.median_s,
            r.gflops,
            r.pct_of_peak,
            r.peak_gflops,
        );
    }
    std::fs::write(&report.csv, s).map_err(|e| Error::file(&report.csv, e))
}

/// `matmul.svg`: GFLOP/s (log scale) up the ladder, one line per shape, peaks as dashed lines.
pub fn plot(report: &BenchReport, configs: &[(Implementation, usize)]) -> Result<()> {
    plot_inner(report, configs).map_err(|e| Error::file(&report.svg, e))
}

fn plot_inner(
    report: &BenchReport,
    configs: &[(Implementation, usize)],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let labels: Vec<String> = configs.iter().map(|&(imp, t)| short(imp, t)).collect();
    let top = report.peak.best.iter().map(|(_, g)| *g).fold(1.0, f64::max) * 1.5;
    let low = report.results.iter().map(|r| r.gflops).fold(top, f64::min).max(0.01) / 1.5;
    let root = SVGBackend::new(&report.svg, (1100, 650)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("SGEMM: GFLOP/s up the ladder (log scale)", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(labels.len() as f64 - 0.5), (low..top).log_scale())?;
    let label_of = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 0.01 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .y_labels(12)
        .y_label_formatter(&|y| if *y >= 1.0 { format!("{y:.0}") } else { format!("{y:.1}") })
        .x_labels(labels.len() * 4)
        .x_label_formatter(&label_of)
        .y_desc("GFLOP/s")
        .disable_x_mesh()
        .draw()?;
    let x_end = labels.len() as f64 - 0.5;
    for (i, (t, g)) in report.peak.best.iter().enumerate() {
        let color = if i == 0 { BLACK } else { RGBColor(120, 120, 120) };
        chart
            .draw_series(DashedLineSeries::new(vec![(-0.5, *g), (x_end, *g)], 6, 4, color.stroke_width(2)))?
            .label(format!("FMA peak, {t} thread(s): {g:.0}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    for (si, shape) in shapes(&report.results).iter().enumerate() {
        let color = Palette99::pick(si).to_rgba();
        let points: Vec<(f64, f64)> = configs
            .iter()
            .enumerate()
            .filter_map(|(x, &(imp, t))| find(&report.results, shape, imp, t).map(|r| (x as f64, r.gflops)))
            .collect();
        let ladder: Vec<(f64, f64)> = configs
            .iter()
            .zip(&points)
            .filter(|((imp, _), _)| matches!(imp, Implementation::Rung(_)))
            .map(|(_, p)| *p)
            .collect();
        chart
            .draw_series(LineSeries::new(ladder, color.stroke_width(2)))?
            .label(shape.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}
