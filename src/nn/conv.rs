//! # Conv1d and Conv2d: convolution layers that hold their weights
//!
//! What this file teaches: a layer is its weight tensors plus a `forward` that calls one op
//! (here [`crate::ops::conv`], where the im2col + GEMM story is told). `Display` prints the layer
//! exactly as PyTorch's `repr` does, e.g.
//! `Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))`, so a model can be compared
//! with its PyTorch twin line by line.

use std::fmt;

use crate::ops::conv::{Conv1dParams, Conv2dParams, ConvParams, conv1d, conv2d};
use crate::tensor::{Rng, Tensor, numel};
use crate::{Error, Result};

/// A 1-D convolution layer, like `torch.nn.Conv1d`: `[N, C_in, L] -> [N, C_out, OL]`.
#[derive(Clone, Debug)]
pub struct Conv1d {
    /// `[C_out, C_in/groups, K]`.
    pub weight: Tensor,
    /// `[C_out]`, or none (`bias=False`).
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation, groups.
    pub params: Conv1dParams,
}

/// A 2-D convolution layer, like `torch.nn.Conv2d`: `[N, C_in, H, W] -> [N, C_out, OH, OW]`.
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `[C_out, C_in/groups, KH, KW]`.
    pub weight: Tensor,
    /// `[C_out]`, or none (`bias=False`).
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation, groups.
    pub params: Conv2dParams,
}

impl Conv1d {
    /// A layer over existing weights (e.g. from a checkpoint); checks their shapes.
    pub fn new(weight: Tensor, bias: Option<Tensor>, params: Conv1dParams) -> Result<Self> {
        check_layer("Conv1d", &weight, bias.as_ref(), &params)?;
        Ok(Conv1d { weight, bias, params })
    }

    /// A layer with weights and bias drawn uniformly from ±1/√(C_in/groups·K), the distribution
    /// PyTorch initializes with (not the same numbers), reproducible from `seed`.
    pub fn with_random_weights(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        params: Conv1dParams,
        seed: u64,
    ) -> Result<Self> {
        let (w, b) = random_weights("Conv1d", in_channels, out_channels, &[kernel_size], params.groups, seed)?;
        Self::new(w, Some(b), params)
    }

    /// Input channels (`weight` dimension 1 times the groups).
    pub fn in_channels(&self) -> usize {
        self.weight.shape()[1] * self.params.groups
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Filter length.
    pub fn kernel_size(&self) -> [usize; 1] {
        [self.weight.shape()[2]]
    }

    /// `[N, C_in, L]` (or `[C_in, L]`) -> `[N, C_out, OL]` (or `[C_out, OL]`).
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        conv1d(input, &self.weight, self.bias.as_ref(), &self.params)
    }
}

impl Conv2d {
    /// A layer over existing weights (e.g. from a checkpoint); checks their shapes.
    pub fn new(weight: Tensor, bias: Option<Tensor>, params: Conv2dParams) -> Result<Self> {
        check_layer("Conv2d", &weight, bias.as_ref(), &params)?;
        Ok(Conv2d { weight, bias, params })
    }

    /// A layer with weights and bias drawn uniformly from ±1/√(C_in/groups·KH·KW), the
    /// distribution PyTorch initializes with (not the same numbers), reproducible from `seed`.
    pub fn with_random_weights(
        in_channels: usize,
        out_channels: usize,
        kernel_size: [usize; 2],
        params: Conv2dParams,
        seed: u64,
    ) -> Result<Self> {
        let (w, b) = random_weights("Conv2d", in_channels, out_channels, &kernel_size, params.groups, seed)?;
        Self::new(w, Some(b), params)
    }

    /// Input channels (`weight` dimension 1 times the groups).
    pub fn in_channels(&self) -> usize {
        self.weight.shape()[1] * self.params.groups
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Filter height and width.
    pub fn kernel_size(&self) -> [usize; 2] {
        [self.weight.shape()[2], self.weight.shape()[3]]
    }

    /// `[N, C_in, H, W]` (or `[C_in, H, W]`) -> `[N, C_out, OH, OW]` (or `[C_out, OH, OW]`).
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        conv2d(input, &self.weight, self.bias.as_ref(), &self.params)
    }
}

fn check_layer<const D: usize>(
    op: &'static str,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &ConvParams<D>,
) -> Result<()> {
    let ws = weight.shape();
    if ws.len() != D + 2 {
        let msg = format!("{op}: must be [C_out, C_in/groups, {}], got shape {ws:?}", ["K", "KH, KW"][D - 1]);
        return Err(Error::Tensor { name: "weight".into(), msg });
    }
    if p.groups == 0 || !ws[0].is_multiple_of(p.groups) {
        return Err(Error::invalid(op, format!("groups = {} must be >= 1 and divide C_out = {}", p.groups, ws[0])));
    }
    if p.stride.contains(&0) || p.dilation.contains(&0) || ws[2..].contains(&0) {
        return Err(Error::invalid(
            op,
            format!("stride {:?}, dilation {:?} and kernel {:?} must be positive", p.stride, p.dilation, &ws[2..]),
        ));
    }
    if let Some(b) = bias
        && b.shape() != [ws[0]]
    {
        let msg = format!("{op}: must be [C_out] = [{}], got shape {:?}", ws[0], b.shape());
        return Err(Error::Tensor { name: "bias".into(), msg });
    }
    Ok(())
}

fn random_weights(
    op: &'static str,
    cin: usize,
    cout: usize,
    kernel: &[usize],
    groups: usize,
    seed: u64,
) -> Result<(Tensor, Tensor)> {
    if groups == 0 || !cin.is_multiple_of(groups) {
        return Err(Error::invalid(op, format!("groups = {groups} must be >= 1 and divide C_in = {cin}")));
    }
    let mut shape = vec![cout, cin / groups];
    shape.extend(kernel);
    let fan_in = numel(&shape[1..]).max(1);
    let bound = 1.0 / (fan_in as f32).sqrt();
    let mut rng = Rng::new(seed);
    let mut draw = |n: usize| (0..n).map(|_| (2.0 * rng.uniform() - 1.0) * bound).collect::<Vec<f32>>();
    let w = Tensor::from_vec(draw(numel(&shape)), &shape)?;
    let b = Tensor::from_vec(draw(cout), &[cout])?;
    Ok((w, b))
}

/// A Python tuple: `(3,)` or `(3, 3)`.
fn tuple(v: &[usize]) -> String {
    match v {
        [x] => format!("({x},)"),
        _ => format!("({})", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

/// PyTorch's `_ConvNd.extra_repr`: padding, dilation, groups and bias only when not default.
fn fmt_conv<const D: usize>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    (cin, cout, kernel): (usize, usize, &[usize]),
    p: &ConvParams<D>,
    has_bias: bool,
) -> fmt::Result {
    write!(f, "{name}({cin}, {cout}, kernel_size={}, stride={}", tuple(kernel), tuple(&p.stride))?;
    if p.padding.iter().any(|&x| x != 0) {
        write!(f, ", padding={}", tuple(&p.padding))?;
    }
    if p.dilation.iter().any(|&x| x != 1) {
        write!(f, ", dilation={}", tuple(&p.dilation))?;
    }
    if p.groups != 1 {
        write!(f, ", groups={}", p.groups)?;
    }
    if !has_bias {
        write!(f, ", bias=False")?;
    }
    write!(f, ")")
}

impl fmt::Display for Conv1d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = (self.in_channels(), self.out_channels(), &self.kernel_size()[..]);
        fmt_conv(f, "Conv1d", shape, &self.params, self.bias.is_some())
    }
}

impl fmt::Display for Conv2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = (self.in_channels(), self.out_channels(), &self.kernel_size()[..]);
        fmt_conv(f, "Conv2d", shape, &self.params, self.bias.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_like_pytorch() {
        let c = Conv2d::with_random_weights(3, 16, [3, 3], Conv2dParams::default().with_padding(1), 0).unwrap();
        assert_eq!(c.to_string(), "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
        let c = Conv1d::with_random_weights(3, 16, 3, Conv1dParams::default(), 0).unwrap();
        assert_eq!(c.to_string(), "Conv1d(3, 16, kernel_size=(3,), stride=(1,))");
    }

    #[test]
    fn bad_weights_are_errors() {
        let e = Conv2d::new(Tensor::zeros(&[4, 3, 3]), None, Conv2dParams::default()).unwrap_err().to_string();
        assert!(e.contains("weight") && e.contains("KH, KW"), "{e}");
        let e = Conv1d::new(Tensor::zeros(&[4, 3, 3]), Some(Tensor::zeros(&[3])), Conv1dParams::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bias"), "{e}");
        let e = Conv1d::new(Tensor::zeros(&[4, 3, 3]), None, Conv1dParams::default().with_groups(3))
            .unwrap_err()
            .to_string();
        assert!(e.contains("groups"), "{e}");
    }
}
