//! The book's pictures, drawn by code: every SVG in `docs/img/` except the measured benchmark
//! plots (those are written by the `nanobert bench` commands, see docs/pictures.md).
//!
//! ```sh
//! cargo run --release --example pictures                 # rewrites docs/img/*.svg
//! cargo run --release --example pictures -- --out DIR    # somewhere else (CI uses a temp dir)
//! ```
//!
//! The attention heatmap and the profile run the real all-MiniLM-L6-v2 (fetched into
//! ~/.cache/nanobert on first use, like `cargo run --release -- fetch`); the profile
//! (`pictures_parts/profile.rs`) is a measurement of this machine, and says so in its caption. Everything else is drawn from nanobert's own ops
//! (GELU) or from plain geometry (strides, GEMM blocking, the BERT block). The diagrams are
//! hand-written SVG: a few rectangles and labels are easier to read as code than as a plot.

use nanobert::bert::BertInput;
use nanobert::io::{Checkpoint, fetch};
use nanobert::pipeline::Embedder;
use nanobert::{Tensor, ops};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "pictures_parts/profile.rs"]
mod profile;

const FONT: &str = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";
const BLUE: &str = "#4C78A8";
const ORANGE: &str = "#F58518";
const GREEN: &str = "#54A24B";
const RED: &str = "#E45756";
const PALETTE: [&str; 6] = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2"];

fn main() -> nanobert::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut out = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/img"));
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => {
                out = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or_else(|| nanobert::Error::Input("--out needs a folder".into()))?
            }
            other => return Err(nanobert::Error::Input(format!("unknown argument {other:?} (expected --out DIR)"))),
        }
    }
    std::fs::create_dir_all(&out).map_err(|e| nanobert::Error::file(&out, e))?;
    write(&out, "tensor-strides.svg", &strides_svg())?;
    write(&out, "gemm-loops.svg", &gemm_loops_svg())?;
    write(&out, "bert-block.svg", &bert_block_svg())?;
    write(&out, "gelu.svg", &gelu_svg()?)?;
    let embedder = Embedder::from_checkpoint(&Checkpoint::open(&fetch::ensure_minilm(true)?)?)?;
    write(&out, "attention-heatmap.svg", &attention_svg(&embedder)?)?;
    write(&out, "profile.svg", &profile::profile_svg(&embedder)?)?;
    Ok(())
}

fn write(dir: &Path, name: &str, svg: &str) -> nanobert::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, svg).map_err(|e| nanobert::Error::file(&path, e))?;
    println!("wrote {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Small SVG helpers: a document, a labelled box, text, an arrow.

struct Svg(String);

impl Svg {
    fn new(w: f64, h: f64) -> Svg {
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" {FONT}>\n\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
             <path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#333\"/></marker></defs>\n\
             <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n"
        );
        Svg(s)
    }
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: &str) {
        let _ = writeln!(
            self.0,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\" stroke=\"{stroke}\"/>"
        );
    }
    fn rect_opacity(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, opacity: f64) {
        let _ = writeln!(
            self.0,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\" fill-opacity=\"{opacity:.2}\" stroke=\"#333\"/>"
        );
    }
    fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, s: &str) {
        let s = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let _ = writeln!(
            self.0,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\" fill=\"#222\">{s}</text>"
        );
    }
    fn text_rotated(&mut self, x: f64, y: f64, size: f64, angle: f64, s: &str) {
        let s = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let _ = writeln!(
            self.0,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"end\" transform=\"rotate({angle} {x:.1} {y:.1})\" fill=\"#222\">{s}</text>"
        );
    }
    fn arrow(&mut self, x1: f64, y1: f64, x2: f64, y2: f64) {
        let _ = writeln!(
            self.0,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#333\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>"
        );
    }
    /// A box with centred text lines.
    fn labelled(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, lines: &[&str]) {
        self.rect(x, y, w, h, fill, "#333");
        let n = lines.len() as f64;
        for (i, l) in lines.iter().enumerate() {
            let ty = y + h / 2.0 + (i as f64 - (n - 1.0) / 2.0) * 15.0 + 4.5;
            self.text(x + w / 2.0, ty, 13.0, "middle", l);
        }
    }
    fn finish(mut self) -> String {
        self.0.push_str("</svg>\n");
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Strides and views: one buffer, three ways of reading it.

/// A `[rows, cols]` grid whose cell `(i, j)` shows buffer element `offset + i*s0 + j*s1`, coloured
/// by that buffer position, above the buffer itself.
#[allow(clippy::too_many_arguments)]
fn view_panel(
    svg: &mut Svg,
    x0: f64,
    title: &str,
    sub: &str,
    buffer: &[f32],
    shape: [usize; 2],
    strides: [usize; 2],
    note: &str,
) {
    let cell = 34.0;
    svg.text(x0, 30.0, 15.0, "start", title);
    svg.text(x0, 50.0, 13.0, "start", sub);
    for i in 0..shape[0] {
        for j in 0..shape[1] {
            let pos = i * strides[0] + j * strides[1];
            let (x, y) = (x0 + j as f64 * cell, 66.0 + i as f64 * cell);
            svg.rect_opacity(x, y, cell, cell, PALETTE[pos % PALETTE.len()], 0.55);
            svg.text(x + cell / 2.0, y + cell / 2.0 + 5.0, 14.0, "middle", &format!("{}", buffer[pos]));
        }
    }
    let by = 66.0 + 3.0 * cell + 30.0;
    svg.text(x0, by - 8.0, 12.0, "start", "buffer (memory):");
    for (p, v) in buffer.iter().enumerate() {
        let x = x0 + p as f64 * cell;
        svg.rect_opacity(x, by, cell, cell, PALETTE[p % PALETTE.len()], 0.55);
        svg.text(x + cell / 2.0, by + cell / 2.0 + 5.0, 14.0, "middle", &format!("{v}"));
        svg.text(x + cell / 2.0, by + cell + 14.0, 11.0, "middle", &format!("{p}"));
    }
    for (k, line) in note.split('\n').enumerate() {
        svg.text(x0, by + cell + 36.0 + k as f64 * 16.0, 12.0, "start", line);
    }
}

fn strides_svg() -> String {
    let mut svg = Svg::new(900.0, 330.0);
    let buf = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
    view_panel(
        &mut svg,
        20.0,
        "x = arange(6).reshape([2, 3])",
        "shape [2, 3], strides [3, 1]",
        &buf,
        [2, 3],
        [3, 1],
        "x[i, j] = buffer[3i + j]\nrows are consecutive: contiguous",
    );
    view_panel(
        &mut svg,
        330.0,
        "x.t(): a view, no copy",
        "shape [3, 2], strides [1, 3]",
        &buf,
        [3, 2],
        [1, 3],
        "x.t()[i, j] = buffer[i + 3j]\na row steps 3 apart: not contiguous",
    );
    let bias = [10.0, 20.0, 30.0];
    view_panel(
        &mut svg,
        640.0,
        "bias.broadcast_to([2, 3])",
        "shape [2, 3], strides [0, 1]",
        &bias,
        [2, 3],
        [0, 1],
        "stride 0: both rows read\nthe same three numbers",
    );
    svg.finish()
}

// ---------------------------------------------------------------------------------------------
// 2. The five loops of a blocked GEMM (BLIS / GotoBLAS), as blocks of A, B and C.

fn gemm_loops_svg() -> String {
    let mut svg = Svg::new(1010.0, 560.0);
    // Geometry: A is M x K (left), B is K x N (top), C is M x N (bottom right).
    let (ax, ay, aw, ah) = (40.0, 220.0, 200.0, 300.0); // A: K wide, M tall
    let (bx, by, bw, bh) = (270.0, 10.0, 360.0, 200.0); // B: N wide, K tall
    let (cx, cy) = (bx, ay); // C: N wide, M tall
    svg.rect(ax, ay, aw, ah, "#f4f4f4", "#333");
    svg.rect(bx, by, bw, bh, "#f4f4f4", "#333");
    svg.rect(cx, cy, bw, ah, "#f4f4f4", "#333");
    svg.text(ax + aw / 2.0, ay + ah + 20.0, 14.0, "middle", "A  (M x K)");
    svg.text(bx - 10.0, by + bh / 2.0, 14.0, "end", "B  (K x N)");
    svg.text(cx + bw / 2.0, cy + ah + 20.0, 14.0, "middle", "C  (M x N)");
    // Loop 5: jc, NC columns of B and C.
    let (nc_x, nc_w) = (bx + 120.0, 180.0);
    svg.rect_opacity(nc_x, by, nc_w, bh, BLUE, 0.12);
    svg.rect_opacity(nc_x, cy, nc_w, ah, BLUE, 0.12);
    // Loop 4: pc, KC of the k dimension: a KC x NC block of B (packed into B~, lives in L2) and
    // the KC columns of A.
    let (kc_y, kc_h) = (by + 60.0, 80.0);
    svg.rect_opacity(nc_x, kc_y, nc_w, kc_h, ORANGE, 0.45);
    let (kc_x, kc_w) = (ax + 60.0, 80.0);
    svg.rect_opacity(kc_x, ay, kc_w, ah, ORANGE, 0.12);
    // Loop 3: ic, MC rows of A (packed into A~) and C.
    let (mc_y, mc_h) = (ay + 90.0, 110.0);
    svg.rect_opacity(kc_x, mc_y, kc_w, mc_h, GREEN, 0.5);
    svg.rect_opacity(nc_x, mc_y, nc_w, mc_h, GREEN, 0.15);
    // Loop 2: jr, one NR-wide panel of B~; loop 1: ir, one MR-tall panel of A~; the microkernel
    // updates the MR x NR tile of C where they cross.
    let (nr_x, nr_w) = (nc_x + 60.0, 24.0);
    let (mr_y, mr_h) = (mc_y + 40.0, 22.0);
    svg.rect_opacity(nr_x, kc_y, nr_w, kc_h, RED, 0.7);
    svg.rect_opacity(kc_x, mr_y, kc_w, mr_h, RED, 0.7);
    svg.rect_opacity(nr_x, mr_y, nr_w, mr_h, RED, 0.9);
    svg.arrow(nr_x + nr_w / 2.0, kc_y + kc_h, nr_x + nr_w / 2.0, mr_y - 2.0);
    svg.arrow(kc_x + kc_w, mr_y + mr_h / 2.0, nr_x - 2.0, mr_y + mr_h / 2.0);
    // The legend: the loops, outermost first, and where each block lives.
    let lx = 660.0;
    let items: [(&str, f64, &str, &str); 6] = [
        (BLUE, 0.12, "loop 5, jc: NC columns of B and C", "(3/4 of L2: 1024 on Zen 4)"),
        (ORANGE, 0.45, "loop 4, pc: KC of k; pack B[pc, jc] into B~", "KC x NC, stays in L2 (Zen 4: KC = 192)"),
        (GREEN, 0.5, "loop 3, ic: MC rows; pack A[ic, pc] into A~", "MC x KC, an eighth of L2 (Zen 4: MC = 168)"),
        (RED, 0.7, "loop 2, jr: one NR-wide panel of B~", "KC x NR, stays in L1"),
        (RED, 0.7, "loop 1, ir: one MR-tall panel of A~", "MR x KC, streams through"),
        (RED, 0.9, "microkernel: C tile += A~ panel x B~ panel", "MR x NR tile of C in registers"),
    ];
    for (i, (color, op, l1, l2)) in items.iter().enumerate() {
        let y = 240.0 + i as f64 * 46.0;
        svg.rect_opacity(lx, y, 18.0, 18.0, color, *op);
        svg.text(lx + 26.0, y + 9.0, 12.5, "start", l1);
        svg.text(lx + 26.0, y + 25.0, 11.5, "start", l2);
    }
    svg.text(lx, 225.0, 14.0, "start", "src/ops/matmul/blocked.rs, outermost first");
    svg.text(lx, 530.0, 11.5, "start", "AVX-512 tile MR x NR = 14 x 32; AVX2: 6 x 16");
    svg.finish()
}

// ---------------------------------------------------------------------------------------------
// 3. The BERT block: which boxes are matrix multiplications.

fn bert_block_svg() -> String {
    let mut svg = Svg::new(680.0, 850.0);
    let (x, w) = (130.0, 360.0);
    let matmul = "#9ecae9";
    let cheap = "#e6e6e6";
    let lookup = "#fdd0a2";
    svg.text(340.0, 24.0, 16.0, "middle", "One BERT layer (all-MiniLM-L6-v2: H = 384, 12 heads, FFN 1536)");
    let mut y = 40.0;
    let step = |svg: &mut Svg, y: &mut f64, h: f64, fill: &str, lines: &[&str]| {
        svg.labelled(x, *y, w, h, fill, lines);
        svg.arrow(x + w / 2.0, *y + h, x + w / 2.0, *y + h + 18.0);
        *y += h + 20.0;
    };
    step(&mut svg, &mut y, 44.0, cheap, &["token ids [B, S]"]);
    step(
        &mut svg,
        &mut y,
        58.0,
        lookup,
        &["BertEmbeddings: word + position + token type", "three table lookups, summed; LayerNorm"],
    );
    let layer_top = y - 8.0;
    step(&mut svg, &mut y, 44.0, matmul, &["Q, K, V = three Linears  [B·S, H] · [H, H]"]);
    step(
        &mut svg,
        &mut y,
        58.0,
        matmul,
        &["per head: scores = Q·Kᵀ / √d  [S, d]·[d, S]", "softmax(scores + mask), then · V"],
    );
    step(&mut svg, &mut y, 44.0, matmul, &["attention output Linear  [B·S, H] · [H, H]"]);
    step(&mut svg, &mut y, 44.0, cheap, &["add residual, LayerNorm"]);
    step(&mut svg, &mut y, 44.0, matmul, &["intermediate Linear  [B·S, H] · [H, 4H]"]);
    step(&mut svg, &mut y, 36.0, cheap, &["GELU"]);
    step(&mut svg, &mut y, 44.0, matmul, &["output Linear  [B·S, 4H] · [4H, H]"]);
    step(&mut svg, &mut y, 44.0, cheap, &["add residual, LayerNorm"]);
    let layer_bottom = y - 12.0;
    svg.labelled(
        x,
        y,
        w,
        58.0,
        cheap,
        &["mean pooling over real tokens, normalize", "(or: MLM head, a Linear to the vocabulary)"],
    );
    // The repeated part.
    let _ = writeln!(
        svg.0,
        "<rect x=\"{:.1}\" y=\"{layer_top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#555\" stroke-dasharray=\"6 4\"/>",
        x - 20.0,
        w + 40.0,
        layer_bottom - layer_top
    );
    svg.text(x + w + 30.0, layer_top + 20.0, 14.0, "start", "x L layers");
    svg.text(x + w + 30.0, layer_top + 38.0, 12.0, "start", "(6 in MiniLM,");
    svg.text(x + w + 30.0, layer_top + 54.0, 12.0, "start", "12 in bert-base)");
    // Legend.
    let ly = 790.0;
    let legend = [
        (matmul, "matrix multiplication (99.4% of bert-base's FLOPs at 128 tokens)"),
        (cheap, "elementwise / row-wise (0.6%)"),
        (lookup, "lookup"),
    ];
    for (i, (fill, label)) in legend.iter().enumerate() {
        let (lx, y) = (20.0 + (i / 2) as f64 * 420.0, ly + (i % 2) as f64 * 24.0);
        svg.rect(lx, y, 16.0, 16.0, fill, "#333");
        svg.text(lx + 22.0, y + 13.0, 12.0, "start", label);
    }
    svg.finish()
}

// ---------------------------------------------------------------------------------------------
// 4. GELU, its tanh approximation, and ReLU, computed by nanobert's own ops.

fn gelu_svg() -> nanobert::Result<String> {
    use plotters::prelude::*;
    let xs: Vec<f32> = (0..=700).map(|i| -4.0 + i as f32 * 0.01).collect();
    let x = Tensor::from_vec(xs.clone(), &[xs.len()])?;
    let gelu = ops::gelu(&x).to_vec();
    let tanh = ops::gelu_tanh(&x).to_vec();
    let relu = ops::relu(&x).to_vec();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 380)).into_drawing_area();
        let err = |e: &dyn std::fmt::Display| nanobert::Error::Input(format!("plot: {e}"));
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (left, right) = root.split_horizontally(470);
        let mut c = ChartBuilder::on(&left)
            .caption("GELU, tanh-GELU and ReLU", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(-4f32..3f32, -0.5f32..3f32)
            .map_err(|e| err(&e))?;
        c.configure_mesh().x_desc("x").draw().map_err(|e| err(&e))?;
        let series = [
            (&relu, RGBColor(0xBA, 0xB0, 0xAC), "relu(x) = max(x, 0)"),
            (&tanh, RGBColor(0xF5, 0x85, 0x18), "gelu_tanh(x)"),
            (&gelu, RGBColor(0x4C, 0x78, 0xA8), "gelu(x) = x·Φ(x)"),
        ];
        for (ys, color, label) in series {
            c.draw_series(LineSeries::new(xs.iter().copied().zip(ys.iter().copied()), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        let diff: Vec<(f32, f32)> =
            xs.iter().zip(tanh.iter().zip(&gelu)).map(|(&x, (t, g))| (x, (t - g) * 1e4)).collect();
        let max = diff.iter().map(|d| d.1.abs()).fold(0.0f32, f32::max);
        let mut d = ChartBuilder::on(&right)
            .caption("gelu_tanh − gelu, in units of 1e-4", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(-4f32..3f32, -(max * 1.15)..(max * 1.15))
            .map_err(|e| err(&e))?;
        d.configure_mesh().x_desc("x").draw().map_err(|e| err(&e))?;
        d.draw_series(LineSeries::new(diff, RGBColor(0xE4, 0x57, 0x56).stroke_width(2))).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// 5. Attention on a real sentence, real weights: all-MiniLM-L6-v2. Six heads, each the one of the
// 6 x 12 that scores highest on a simple pattern (the rule is printed above its panel).

/// `[s, s]` attention of every (layer, head), from the reference attention path.
type Head = (usize, usize, Vec<f32>);

fn attention_svg(embedder: &Embedder) -> nanobert::Result<String> {
    let sentence = "The river bank was flooded after the heavy rain.";
    let batch = embedder.tokenizer.encode_batch(&[sentence])?;
    let tokens: Vec<String> =
        batch.input_ids.iter().map(|&id| embedder.tokenizer.id_to_token(id).unwrap_or_default()).collect();
    let input =
        BertInput::new(&batch.input_ids, Some(&batch.attention_mask), Some(&batch.token_type_ids), 1, batch.seq_len)?;
    let out = embedder.model.forward(&input, true)?;
    let mask = input.additive_mask();
    let s = batch.seq_len;
    let mut heads: Vec<Head> = Vec::new();
    for (l, layer) in embedder.model.encoder.layer.0.iter().enumerate() {
        // [1, heads, s, s], computed on this layer's input (hidden_states[l]).
        let probs = layer.attention.self_.probs_ref(&out.hidden_states[l], &mask)?;
        let p = probs.to_vec();
        for h in 0..probs.shape()[1] {
            heads.push((l, h, p[h * s * s..(h + 1) * s * s].to_vec()));
        }
    }
    // Mean weight a query gives to the key at `key(q)` (when that key exists).
    let mean_at = |p: &[f32], key: &dyn Fn(usize) -> Option<usize>| {
        let v: Vec<f32> = (0..s).filter_map(|q| key(q).map(|k| p[q * s + k])).collect();
        v.iter().sum::<f32>() / v.len().max(1) as f32
    };
    type Rule<'a> = (&'a str, Box<dyn Fn(&[f32]) -> f32 + 'a>);
    let rules: Vec<Rule> = vec![
        ("the previous token", Box::new(|p| mean_at(p, &|q| q.checked_sub(1)))),
        ("the next token", Box::new(|p| mean_at(p, &|q| (q + 1 < s).then_some(q + 1)))),
        ("itself", Box::new(|p| mean_at(p, &|q| Some(q)))),
        ("[CLS]", Box::new(|p| mean_at(p, &|_| Some(0)))),
        ("[SEP]", Box::new(|p| mean_at(p, &|_| Some(s - 1)))),
        ("\"bank\"", Box::new(|p| mean_at(p, &|_| Some(3)))),
    ];
    let cell = 17.0;
    let (pw, ph) = (s as f64 * cell + 95.0, s as f64 * cell + 120.0);
    let mut svg = Svg::new(3.0 * pw + 20.0, 2.0 * ph + 70.0);
    svg.text(10.0, 22.0, 15.0, "start", &format!("Attention in all-MiniLM-L6-v2 on \"{sentence}\""));
    svg.text(
        10.0,
        42.0,
        12.0,
        "start",
        "Row = query, column = key; white = 0, dark blue = 1 (each row sums to 1). Of the 6 x 12 heads,",
    );
    svg.text(
        10.0,
        58.0,
        12.0,
        "start",
        "each panel shows the one whose queries give the most weight, on average, to the key named above it.",
    );
    for (i, (what, score)) in rules.iter().enumerate() {
        let (l, h, p) = heads.iter().max_by(|a, b| score(&a.2).total_cmp(&score(&b.2))).expect("the model has heads");
        let (ox, oy) = (10.0 + (i % 3) as f64 * pw + 85.0, 80.0 + (i / 3) as f64 * ph + 24.0);
        svg.text(
            ox + s as f64 * cell / 2.0,
            oy - 20.0,
            12.5,
            "middle",
            &format!("layer {l}, head {h}: looks at {what}"),
        );
        svg.text(ox + s as f64 * cell / 2.0, oy - 6.0, 11.0, "middle", &format!("mean weight {:.2}", score(p)));
        for q in 0..s {
            for k in 0..s {
                let _ = writeln!(
                    svg.0,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{cell}\" height=\"{cell}\" fill=\"{BLUE}\" fill-opacity=\"{:.3}\"/>",
                    ox + k as f64 * cell,
                    oy + q as f64 * cell,
                    p[q * s + k].clamp(0.0, 1.0)
                );
            }
            svg.text(ox - 4.0, oy + q as f64 * cell + cell * 0.7, 10.0, "end", &tokens[q]);
        }
        for (k, t) in tokens.iter().enumerate() {
            svg.text_rotated(ox + k as f64 * cell + cell * 0.6, oy + s as f64 * cell + 6.0, 10.0, -60.0, t);
        }
        svg.rect(ox, oy, s as f64 * cell, s as f64 * cell, "none", "#333");
    }
    Ok(svg.finish())
}
