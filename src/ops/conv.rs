//! # Convolution is im2col followed by one matrix multiplication
//!
//! What this file teaches: a convolution layer is a matmul in disguise.
//!
//! A 2-D convolution slides a small filter over an image. At every output position it takes the
//! dot product of the filter (`C_in × KH × KW` numbers) with the patch of the image under it (the
//! same count of numbers). Written literally, that is a seven-deep loop nest: [`conv2d_direct`].
//!
//! The trick, called **im2col** ("image to columns"): copy every patch into one column of a
//! matrix. For an output of `OH × OW` pixels that matrix is `[C_in·KH·KW, OH·OW]`. Flatten each of
//! the `C_out` filters into a row and you have a `[C_out, C_in·KH·KW]` weight matrix. Then
//!
//! ```text
//! output[C_out, OH·OW] = weight[C_out, C_in·KH·KW] · im2col(image)[C_in·KH·KW, OH·OW]
//! ```
//!
//! is one GEMM, and its result is already the output in PyTorch's `[C_out, OH, OW]` layout. All the
//! convolution-specific knobs live in the copy, none in the arithmetic:
//!
//! - **stride** picks which patches become columns (every `s`-th position);
//! - **padding** reads zeros where a patch hangs over the border;
//! - **dilation** spreads the taps of one patch `d` pixels apart;
//! - **groups** splits the channels into `G` independent convolutions: group `g` uses rows
//!   `g·(C_in/G)·KH·KW ..` of the im2col matrix and output channels `g·(C_out/G) ..`, so it is `G`
//!   smaller GEMMs on bands of the same matrix. Depthwise convolution is `G = C_in`.
//! - **conv1d** is conv2d on an image of height 1 (see [`conv1d`]).
//!
//! The price is memory: every input pixel is copied up to `KH·KW` times. It pays because the GEMM
//! then runs at matmul speed; the benchmark `cargo bench --bench conv_rnn` measures the trade.
//!
//! Layouts follow PyTorch: input `[N, C_in, H, W]` (or unbatched `[C_in, H, W]`), weight
//! `[C_out, C_in/G, KH, KW]`, bias `[C_out]`, output `[N, C_out, OH, OW]`. Only zero padding is
//! supported (PyTorch's default `padding_mode='zeros'`), and padding is a number, not `'same'`.

use crate::ops::matmul::{MatMut, MatRef, sgemm};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Stride, padding and dilation per spatial dimension, and the number of groups.
///
/// `D` is the number of spatial dimensions: [`Conv1dParams`] for `[N, C, L]` inputs,
/// [`Conv2dParams`] for `[N, C, H, W]`. The default is PyTorch's: stride 1, padding 0,
/// dilation 1, one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvParams<const D: usize> {
    /// Step between two output positions, in input pixels.
    pub stride: [usize; D],
    /// Zeros added on both sides of each spatial dimension.
    pub padding: [usize; D],
    /// Distance between two taps of the filter (1 = adjacent pixels).
    pub dilation: [usize; D],
    /// Channel groups convolved independently; divides both channel counts.
    pub groups: usize,
}

/// Parameters of a 1-D convolution (`[N, C, L]` inputs).
pub type Conv1dParams = ConvParams<1>;
/// Parameters of a 2-D convolution (`[N, C, H, W]` inputs).
pub type Conv2dParams = ConvParams<2>;

impl<const D: usize> Default for ConvParams<D> {
    fn default() -> Self {
        ConvParams { stride: [1; D], padding: [0; D], dilation: [1; D], groups: 1 }
    }
}

impl<const D: usize> ConvParams<D> {
    /// The same stride along every spatial dimension.
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = [stride; D];
        self
    }

    /// The same padding along every spatial dimension.
    pub fn with_padding(mut self, padding: usize) -> Self {
        self.padding = [padding; D];
        self
    }

    /// The same dilation along every spatial dimension.
    pub fn with_dilation(mut self, dilation: usize) -> Self {
        self.dilation = [dilation; D];
        self
    }

    /// The number of channel groups.
    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

impl Conv1dParams {
    /// The 2-D parameters that make a conv1d a conv2d over an image of height 1.
    pub fn to_2d(&self) -> Conv2dParams {
        ConvParams {
            stride: [1, self.stride[0]],
            padding: [0, self.padding[0]],
            dilation: [1, self.dilation[0]],
            groups: self.groups,
        }
    }
}

/// Output length along one dimension: `(input + 2·padding − dilation·(kernel−1) − 1) / stride + 1`,
/// or `None` when the (dilated) kernel is longer than the padded input or a parameter is 0.
pub fn conv_output_size(input: usize, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Option<usize> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return None;
    }
    let span = dilation * (kernel - 1) + 1; // pixels covered by one dilated filter
    let padded = input + 2 * padding;
    if padded < span { None } else { Some((padded - span) / stride + 1) }
}

// ------------------------------------------------------------------------------------------
// Shape checking, shared by the fast and the reference paths
// ------------------------------------------------------------------------------------------

/// Every size a convolution needs, once the shapes have been checked.
#[derive(Clone, Copy, Debug)]
struct Geometry<const D: usize> {
    batch: usize,
    cin: usize,
    cout: usize,
    groups: usize,
    input: [usize; D],
    kernel: [usize; D],
    output: [usize; D],
    /// The input had no batch dimension (`[C, ...]`); the output will not either.
    unbatched: bool,
}

impl<const D: usize> Geometry<D> {
    fn output_shape(&self) -> Vec<usize> {
        let mut shape = if self.unbatched { vec![] } else { vec![self.batch] };
        shape.push(self.cout);
        shape.extend(self.output);
        shape
    }
}

impl Geometry<1> {
    /// The conv2d geometry of the same convolution on a height-1 image.
    fn to_2d(self) -> Geometry<2> {
        Geometry {
            batch: self.batch,
            cin: self.cin,
            cout: self.cout,
            groups: self.groups,
            input: [1, self.input[0]],
            kernel: [1, self.kernel[0]],
            output: [1, self.output[0]],
            unbatched: self.unbatched,
        }
    }
}

const DIM_NAMES: [&str; 2] = ["height", "width"];

fn check<const D: usize>(
    op: &'static str,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &ConvParams<D>,
) -> Result<Geometry<D>> {
    let (is, ws) = (input.shape(), weight.shape());
    let unbatched = is.len() == D + 1;
    if is.len() != D + 2 && !unbatched {
        return Err(Error::invalid(
            op,
            format!("input must be [N, C, {}] or unbatched [C, ...], got shape {is:?}", ["L", "H, W"][D - 1]),
        ));
    }
    if ws.len() != D + 2 {
        return Err(Error::invalid(
            op,
            format!("weight must be [C_out, C_in/groups, {}], got shape {ws:?}", ["K", "KH, KW"][D - 1]),
        ));
    }
    let (batch, cin) = if unbatched { (1, is[0]) } else { (is[0], is[1]) };
    let spatial: [usize; D] = std::array::from_fn(|d| is[is.len() - D + d]);
    let kernel: [usize; D] = std::array::from_fn(|d| ws[2 + d]);
    let (cout, g) = (ws[0], p.groups);
    if g == 0 || !cin.is_multiple_of(g) || !cout.is_multiple_of(g) {
        return Err(Error::invalid(
            op,
            format!("groups = {g} must be >= 1 and divide both C_in = {cin} and C_out = {cout}"),
        ));
    }
    if ws[1] != cin / g {
        return Err(Error::ShapeMismatch {
            op,
            lhs: is.to_vec(),
            rhs: ws.to_vec(),
            detail: format!(
                ": weight dimension 1 must be C_in / groups = {cin} / {g} = {}, got {} (input is lhs, weight rhs)",
                cin / g,
                ws[1]
            ),
        });
    }
    if let Some(b) = bias
        && b.shape() != [cout]
    {
        return Err(Error::ShapeMismatch {
            op,
            lhs: ws.to_vec(),
            rhs: b.shape().to_vec(),
            detail: format!(": bias must be [C_out] = [{cout}] (weight is lhs, bias rhs)"),
        });
    }
    let output = output_sizes(op, spatial, kernel, p)?;
    Ok(Geometry { batch, cin, cout, groups: g, input: spatial, kernel, output, unbatched })
}

/// The output size along every spatial dimension, or an error naming the dimension that is too small.
fn output_sizes<const D: usize>(
    op: &'static str,
    spatial: [usize; D],
    kernel: [usize; D],
    p: &ConvParams<D>,
) -> Result<[usize; D]> {
    let mut output = [0; D];
    for d in 0..D {
        let name = if D == 1 { "length" } else { DIM_NAMES[d] };
        output[d] =
            conv_output_size(spatial[d], kernel[d], p.stride[d], p.padding[d], p.dilation[d]).ok_or_else(|| {
                Error::invalid(
                    op,
                    format!(
                        "along the {name}: input {} with padding {} is smaller than kernel {} dilated by {} \
                         (or kernel, stride or dilation is 0)",
                        spatial[d], p.padding[d], kernel[d], p.dilation[d]
                    ),
                )
            })?;
    }
    Ok(output)
}

/// A contiguous copy (or cheap clone) of `t`, whose slice is then always available.
fn dense(t: &Tensor) -> Tensor {
    t.contiguous()
}

/// The elements of a tensor that went through `contiguous()`.
fn slice(t: &Tensor) -> &[f32] {
    // An empty tensor has no elements to lay out (and `is_contiguous` may say no to some).
    if t.numel() == 0 {
        return &[];
    }
    t.as_slice().expect("contiguous() returns a contiguous tensor")
}

// ------------------------------------------------------------------------------------------
// im2col
// ------------------------------------------------------------------------------------------

/// The im2col matrix of one image: `[C, H, W] -> [C·KH·KW, OH·OW]`.
///
/// Column `oy·OW + ox` holds the patch that output pixel `(oy, ox)` sees, channel by channel,
/// row by row; entries that fall in the padding are 0. This is PyTorch's `F.unfold` without the
/// batch dimension. `params.groups` plays no part here (groups only choose bands of rows later).
pub fn im2col(image: &Tensor, kernel: [usize; 2], params: &Conv2dParams) -> Result<Tensor> {
    if image.ndim() != 3 {
        return Err(Error::invalid("im2col", format!("image must be [C, H, W], got shape {:?}", image.shape())));
    }
    let [c, h, w] = [image.shape()[0], image.shape()[1], image.shape()[2]];
    let output = output_sizes("im2col", [h, w], kernel, params)?;
    let g = Geometry { batch: 1, cin: c, cout: 0, groups: 1, input: [h, w], kernel, output, unbatched: true };
    let x = dense(image);
    let (kh, kw, l) = (kernel[0], kernel[1], g.output[0] * g.output[1]);
    let mut cols = vec![0.0; c * kh * kw * l];
    im2col_into(slice(&x), &g, params, &mut cols);
    Tensor::from_vec(cols, &[c * kh * kw, l])
}

/// Writes the im2col matrix `[C·KH·KW, OH·OW]` of one image `x: [C, H, W]` into `cols`.
fn im2col_into(x: &[f32], g: &Geometry<2>, p: &Conv2dParams, cols: &mut [f32]) {
    let ([h, w], [kh, kw], [oh, ow]) = (g.input, g.kernel, g.output);
    for c in 0..g.cin {
        for ky in 0..kh {
            for kx in 0..kw {
                // One row of the matrix: filter tap (c, ky, kx) at every output position.
                let row = (c * kh + ky) * kw + kx;
                let dst = &mut cols[row * oh * ow..(row + 1) * oh * ow];
                for oy in 0..oh {
                    // Input row under this tap, in unpadded coordinates (may be outside).
                    let iy = (oy * p.stride[0] + ky * p.dilation[0]) as isize - p.padding[0] as isize;
                    for ox in 0..ow {
                        let ix = (ox * p.stride[1] + kx * p.dilation[1]) as isize - p.padding[1] as isize;
                        let inside = iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w;
                        dst[oy * ow + ox] = if inside { x[(c * h + iy as usize) * w + ix as usize] } else { 0.0 };
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// conv2d: im2col + GEMM, and the direct reference
// ------------------------------------------------------------------------------------------

/// 2-D convolution as im2col + GEMM, like `torch.nn.functional.conv2d`.
///
/// Shapes: input `[N, C_in, H, W]` (or `[C_in, H, W]`), weight `[C_out, C_in/G, KH, KW]`,
/// bias `[C_out]` -> output `[N, C_out, OH, OW]` (or `[C_out, OH, OW]`).
pub fn conv2d(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, params: &Conv2dParams) -> Result<Tensor> {
    let g = check("conv2d", input, weight, bias, params)?;
    conv2d_gemm(&g, input, weight, bias, params)
}

fn conv2d_gemm(
    g: &Geometry<2>,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2dParams,
) -> Result<Tensor> {
    let (x, w) = (dense(input), dense(weight));
    let (x, w) = (slice(&x), slice(&w));
    let ([h, wd], [kh, kw], [oh, ow]) = (g.input, g.kernel, g.output);
    let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
    let k = cin_g * kh * kw; // GEMM inner size: one group's patch
    let l = oh * ow; // GEMM columns: output pixels
    let mut cols = vec![0.0; g.cin * kh * kw * l];
    let mut out = vec![0.0; g.batch * g.cout * l];
    for n in 0..g.batch {
        im2col_into(&x[n * g.cin * h * wd..(n + 1) * g.cin * h * wd], g, p, &mut cols);
        for grp in 0..g.groups {
            // out[n, group's channels] [C_out/G, L] = W_g [C_out/G, K] · cols_g [K, L]
            let c0 = (n * g.cout + grp * cout_g) * l;
            let (w_g, cols_g) =
                (MatRef::new(&w[grp * cout_g * k..], cout_g, k), MatRef::new(&cols[grp * k * l..], k, l));
            sgemm(w_g, cols_g, MatMut::new(&mut out[c0..], cout_g, l))?;
        }
    }
    if let Some(b) = bias {
        add_channel_bias(&mut out, slice(&dense(b)), l);
    }
    Tensor::from_vec(out, &g.output_shape())
}

/// `out` is `[N, C, L]`: adds `bias[c]` to each of the `L` values of channel `c`.
fn add_channel_bias(out: &mut [f32], bias: &[f32], l: usize) {
    for (row, &b) in out.chunks_mut(l).zip(bias.iter().cycle()) {
        row.iter_mut().for_each(|v| *v += b);
    }
}

/// The reference: 2-D convolution as the literal loop nest, one dot product per output value.
///
/// Same shapes and semantics as [`conv2d`]; slow, obvious, and used to test it.
pub fn conv2d_direct(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, params: &Conv2dParams) -> Result<Tensor> {
    let g = check("conv2d_direct", input, weight, bias, params)?;
    conv2d_loops(&g, input, weight, bias, params)
}

fn conv2d_loops(
    g: &Geometry<2>,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2dParams,
) -> Result<Tensor> {
    let (x, w) = (dense(input), dense(weight));
    let (x, w) = (slice(&x), slice(&w));
    let b = bias.map(dense);
    let ([h, wd], [kh, kw], [oh, ow]) = (g.input, g.kernel, g.output);
    let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
    let mut out = vec![0.0; g.batch * g.cout * oh * ow];
    for n in 0..g.batch {
        for co in 0..g.cout {
            let grp = co / cout_g; // this filter only sees its group's input channels
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0f32;
                    for ci in 0..cin_g {
                        let c = grp * cin_g + ci;
                        for ky in 0..kh {
                            let iy = (oy * p.stride[0] + ky * p.dilation[0]) as isize - p.padding[0] as isize;
                            if iy < 0 || iy as usize >= h {
                                continue; // zero padding contributes nothing
                            }
                            for kx in 0..kw {
                                let ix = (ox * p.stride[1] + kx * p.dilation[1]) as isize - p.padding[1] as isize;
                                if ix < 0 || ix as usize >= wd {
                                    continue;
                                }
                                let xv = x[((n * g.cin + c) * h + iy as usize) * wd + ix as usize];
                                acc += xv * w[((co * cin_g + ci) * kh + ky) * kw + kx];
                            }
                        }
                    }
                    let bv = b.as_ref().map_or(0.0, |b| slice(b)[co]);
                    out[((n * g.cout + co) * oh + oy) * ow + ox] = acc + bv;
                }
            }
        }
    }
    Tensor::from_vec(out, &g.output_shape())
}

// ------------------------------------------------------------------------------------------
// conv1d: a conv2d over an image of height 1
// ------------------------------------------------------------------------------------------

/// 1-D convolution as im2col + GEMM, like `torch.nn.functional.conv1d`.
///
/// Shapes: input `[N, C_in, L]` (or `[C_in, L]`), weight `[C_out, C_in/G, K]`, bias `[C_out]`
/// -> output `[N, C_out, OL]` (or `[C_out, OL]`). Computed as [`conv2d`] on `[N, C_in, 1, L]`
/// with a `[C_out, C_in/G, 1, K]` kernel: no new code, only a reshape.
pub fn conv1d(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, params: &Conv1dParams) -> Result<Tensor> {
    let g = check("conv1d", input, weight, bias, params)?;
    let g2 = g.to_2d();
    let x = dense(input);
    let x = x.reshape(&[g.batch, g.cin, 1, g.input[0]])?;
    let w = dense(weight);
    let w = w.reshape(&[g.cout, g.cin / g.groups, 1, g.kernel[0]])?;
    let y = conv2d_gemm(&Geometry { unbatched: false, ..g2 }, &x, &w, bias, &params.to_2d())?;
    y.reshape(&g.output_shape())
}

/// The reference 1-D convolution: the literal loop nest. Same shapes as [`conv1d`].
pub fn conv1d_direct(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, params: &Conv1dParams) -> Result<Tensor> {
    let g = check("conv1d_direct", input, weight, bias, params)?;
    let (x, w) = (dense(input), dense(weight));
    let (x, w) = (slice(&x), slice(&w));
    let b = bias.map(dense);
    let ([len], [k], [ol]) = (g.input, g.kernel, g.output);
    let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
    let (s, pad, dil) = (params.stride[0], params.padding[0], params.dilation[0]);
    let mut out = vec![0.0; g.batch * g.cout * ol];
    for n in 0..g.batch {
        for co in 0..g.cout {
            let grp = co / cout_g;
            for o in 0..ol {
                let mut acc = 0.0f32;
                for ci in 0..cin_g {
                    let c = grp * cin_g + ci;
                    for t in 0..k {
                        let i = (o * s + t * dil) as isize - pad as isize;
                        if i >= 0 && (i as usize) < len {
                            acc += x[(n * g.cin + c) * len + i as usize] * w[(co * cin_g + ci) * k + t];
                        }
                    }
                }
                out[(n * g.cout + co) * ol + o] = acc + b.as_ref().map_or(0.0, |b| slice(b)[co]);
            }
        }
    }
    Tensor::from_vec(out, &g.output_shape())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_formula() {
        assert_eq!(conv_output_size(56, 3, 1, 1, 1), Some(56));
        assert_eq!(conv_output_size(9, 3, 2, 1, 1), Some(5));
        assert_eq!(conv_output_size(9, 3, 1, 2, 2), Some(9));
        assert_eq!(conv_output_size(2, 3, 1, 0, 1), None);
        assert_eq!(conv_output_size(5, 3, 0, 0, 1), None);
    }

    #[test]
    fn im2col_of_a_tiny_image_is_its_patches() {
        // 1 channel, 3x3 image 0..9, 2x2 kernel: 4 patches, each a column.
        let img = Tensor::arange(9).reshape(&[1, 3, 3]).unwrap();
        let cols = im2col(&img, [2, 2], &Conv2dParams::default()).unwrap();
        assert_eq!(cols.shape(), &[4, 4]);
        #[rustfmt::skip]
        let expected = [
            0., 1., 3., 4.,
            1., 2., 4., 5.,
            3., 4., 6., 7.,
            4., 5., 7., 8.,
        ];
        assert_eq!(cols.to_vec(), expected);
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_op() {
        let x = Tensor::zeros(&[1, 4, 5, 5]);
        let w = Tensor::zeros(&[6, 3, 3, 3]);
        let e = conv2d(&x, &w, None, &Conv2dParams::default()).unwrap_err().to_string();
        assert!(e.contains("conv2d") && e.contains("C_in / groups"), "{e}");
        let w = Tensor::zeros(&[6, 2, 3, 3]);
        let e = conv2d(&x, &w, None, &Conv2dParams::default().with_groups(3)).unwrap_err().to_string();
        assert!(e.contains("groups = 3"), "{e}");
        let w = Tensor::zeros(&[6, 4, 7, 3]);
        let e = conv2d(&x, &w, None, &Conv2dParams::default()).unwrap_err().to_string();
        assert!(e.contains("height"), "{e}");
        let w = Tensor::zeros(&[6, 4, 3, 3]);
        let e = conv2d(&x, &w, Some(&Tensor::zeros(&[5])), &Conv2dParams::default()).unwrap_err().to_string();
        assert!(e.contains("bias"), "{e}");
        let e = conv1d(&x, &w, None, &Conv1dParams::default()).unwrap_err().to_string();
        assert!(e.contains("conv1d") && e.contains("[N, C, L]"), "{e}");
    }
}
