//! The profile picture: where the time goes in one warm forward of the real all-MiniLM-L6-v2,
//! per op, as recorded by nanobert's own profiler (`nanobert::profile::record`, the same
//! recording `nanobert --profile` prints as a table; see docs/profiling.md).
//!
//! Unlike the other pictures this one is a measurement: its bars depend on the CPU, the
//! thread count and the load, so the caption states all three.

use nanobert::bert::BertInput;
use nanobert::pipeline::Embedder;
use nanobert::profile::{self, OUTSIDE_OPS};
use nanobert_bench::machine::{Cpu, load_average};
use nanobert_bench::profiling::FORWARD_SPAN;

/// Forwards recorded (their op times are summed, so one slow call weighs less).
const PASSES: usize = 5;
/// Tokens of the input, [CLS] and [SEP] included: the length the attention chapter counts at.
const TOKENS: usize = 128;

/// The op rows of `PASSES` warm forwards of `embedder` at 1 x `TOKENS`: (op name, share of the
/// forward in %), largest first, "(outside any op)" last; and the mean forward in ms.
fn shares(embedder: &Embedder) -> nanobert::Result<(Vec<(String, f64)>, f64)> {
    let text = "The river bank was flooded after the heavy rain, so the town moved its market uphill. ";
    let batch = embedder.tokenizer.encode_batch(&[text.repeat(12).as_str()])?;
    let n = batch.seq_len.min(TOKENS);
    // The first n - 1 tokens and the closing [SEP]: a real sentence of exactly n tokens.
    let mut ids = batch.input_ids[..n - 1].to_vec();
    ids.push(batch.input_ids[batch.seq_len - 1]);
    let mask = vec![1u32; n];
    let types = vec![0u32; n];
    let input = BertInput::new(&ids, Some(&mask), Some(&types), 1, n)?;
    embedder.model.forward(&input, false)?; // warm-up: pages the weights in, packs them once
    let (result, prof) =
        profile::record(|| (0..PASSES).try_for_each(|_| embedder.model.forward(&input, false).map(drop)));
    result?;
    let forward = prof.scoped(FORWARD_SPAN);
    let total = forward.total_ns.max(1) as f64;
    let rows = forward.ops().into_iter().map(|r| (r.name.to_string(), 100.0 * r.total_ns as f64 / total)).collect();
    Ok((rows, total / 1e6 / PASSES as f64))
}

/// The bar chart, as an SVG string.
pub fn profile_svg(embedder: &Embedder) -> nanobert::Result<String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let load_before = load_average();
    let (rows, ms) = shares(embedder)?;
    let cover = 100.0 - rows.iter().find(|r| r.0 == OUTSIDE_OPS).map_or(0.0, |r| r.1);
    let cpu = Cpu::detect();
    let threads = rayon::current_num_threads();
    let err = |e: &dyn std::fmt::Display| nanobert::Error::Input(format!("plot: {e}"));
    let n = rows.len() as i32;
    let xmax = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1.0) * 1.2;
    // Bar i (0 = largest) is drawn in segment n-1-i, so the largest is at the top.
    let names: Vec<String> = rows.iter().rev().map(|r| r.0.clone()).collect();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 135 + 26 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (chart_area, footer) = root.split_vertically(80 + 26 * n as u32);
        let mut c = ChartBuilder::on(&chart_area)
            .caption(
                format!("Where the time goes: one warm all-MiniLM-L6-v2 forward, 1 x {TOKENS} tokens, {ms:.1} ms"),
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(170)
            .build_cartesian_2d(0f64..xmax, (0..n - 1).into_segmented()) // integer ranges are inclusive
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("% of the forward")
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    names.get(*i as usize).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .draw()
            .map_err(|e| err(&e))?;
        let color = |name: &str| match name {
            "gemm" | "attention heads" => RGBColor(0x4C, 0x78, 0xA8), // matrix multiplications
            OUTSIDE_OPS => RGBColor(0xBA, 0xB0, 0xAC),
            _ => RGBColor(0xF5, 0x85, 0x18), // memory-bound elementwise work
        };
        c.draw_series(rows.iter().enumerate().map(|(i, (name, pct))| {
            let y = n - 1 - i as i32;
            let mut bar = Rectangle::new(
                [(0.0, SegmentValue::Exact(y)), (*pct, SegmentValue::Exact(y + 1))],
                color(name).filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))
        .map_err(|e| err(&e))?;
        c.draw_series(rows.iter().enumerate().map(|(i, (_, pct))| {
            let pos = (*pct + xmax * 0.01, SegmentValue::CenterOf(n - 1 - i as i32));
            Text::new(
                format!("{pct:.1}%"),
                pos,
                TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))
        .map_err(|e| err(&e))?;
        let lines = [
            "blue: matrix multiplications (GEMMs, attention heads); orange: memory-bound ops; grey: glue between ops"
                .to_string(),
            format!(
                "{PASSES} forwards recorded by nanobert::profile::record after one warm-up; ops cover {cover:.1}% of it"
            ),
            format!(
                "{}, GEMM kernel {}, {threads} thread(s); load average before / after {load_before} / {}",
                cpu.model,
                cpu.best_kernel,
                load_average()
            ),
        ];
        for (k, line) in lines.iter().enumerate() {
            footer
                .draw_text(line, &("sans-serif", 12).into_font().color(&BLACK), (12, 4 + 15 * k as i32))
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}
