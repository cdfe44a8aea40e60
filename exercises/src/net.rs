//! A graph with numbers, for the `scale_fold` and `gelu_pattern` exercises. (Given, not part of
//! an exercise.)
//!
//! A [`Net`] is a [`Graph`] plus what its nodes read besides other nodes: the weight and bias
//! of each `linear` node and the constant of each `scale` and `add_const` node, kept by the
//! node's *name* (names survive renumbering; indices do not). [`Net::run`] interprets it on
//! small row-major matrices, so a pass can be checked by its numbers as well as by its graph.
//!
//! The ops it knows, on `[rows, cols]` matrices:
//!
//! | op | computes |
//! |---|---|
//! | `placeholder()` | the next input of [`Net::run`] |
//! | `linear(x)` | `x·Wᵀ + b`, `W` `[out, in]` and `b` from [`Net::linears`] |
//! | `linear_gelu(x)` | `gelu(x·Wᵀ + b)` (the fused node) |
//! | `scores(q, k)` | `q·kᵀ` (one head: `[S, d]`, `[S, d]` → `[S, S]`) |
//! | `scale(x)` | `c·x`, `c` from [`Net::consts`] |
//! | `add_const(x)` | `x + c`, `c` from [`Net::consts`] |
//! | `softmax(x)` | softmax of every row (the max subtracted first) |
//! | `context(p, v)` | `p·v` |
//! | `erf(x)`, `gelu(x)` | [`crate::erf`] and [`gelu`] of every value |
//! | `mul(a, b)`, `add(a, b)` | elementwise, same shapes |

use crate::{Graph, erf};
use std::collections::BTreeMap;

/// A row-major `[rows, cols]` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Panics unless `data.len() == rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Matrix {
        assert_eq!(data.len(), rows * cols, "Matrix::new: {} values for [{rows}, {cols}]", data.len());
        Matrix { rows, cols, data }
    }

    fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    fn map(&self, f: impl Fn(f32) -> f32) -> Matrix {
        Matrix { data: self.data.iter().map(|&v| f(v)).collect(), ..*self }
    }

    fn zip(&self, o: &Matrix, f: impl Fn(f32, f32) -> f32) -> Matrix {
        assert_eq!((self.rows, self.cols), (o.rows, o.cols), "elementwise op on different shapes");
        Matrix { data: self.data.iter().zip(&o.data).map(|(&a, &b)| f(a, b)).collect(), ..*self }
    }

    /// `self · oᵀ`: `[r, d]`, `[n, d]` → `[r, n]`, each entry summed in order of `d`.
    fn times_transposed(&self, o: &Matrix) -> Matrix {
        assert_eq!(self.cols, o.cols, "q·kᵀ or x·Wᵀ with different inner sizes");
        let data = (0..self.rows)
            .flat_map(|i| (0..o.rows).map(move |j| self.row(i).iter().zip(o.row(j)).fold(0.0, |s, (a, b)| s + a * b)))
            .collect();
        Matrix::new(self.rows, o.rows, data)
    }
}

/// Exact GELU as the interpreter computes it: `0.5·(x·(1 + erf(x·(1/√2))))`, with
/// [`crate::erf`], in this order (so the formula written out as nodes gives the same bits).
pub fn gelu(x: f32) -> f32 {
    0.5 * (x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)))
}

/// The parameters of a `linear` node: `y = x·Wᵀ + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// `W`, `[out, in]` row-major (PyTorch's layout).
    pub weight: Matrix,
    /// `b`, `out` values.
    pub bias: Vec<f32>,
}

/// A graph and the numbers its nodes read.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    /// The nodes.
    pub graph: Graph,
    /// The parameters of every `linear` and `linear_gelu` node, by node name.
    pub linears: BTreeMap<String, Linear>,
    /// The constant of every `scale` and `add_const` node, by node name.
    pub consts: BTreeMap<String, f32>,
}

impl Net {
    /// `text` in [`Graph::parse`]'s form, no parameters or constants yet.
    pub fn parse(text: &str) -> Net {
        Net { graph: Graph::parse(text), linears: BTreeMap::new(), consts: BTreeMap::new() }
    }

    /// The index of the node called `name`, if there is one.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.graph.nodes.iter().position(|n| n.name == name)
    }

    /// The constant of node `i` (a `scale` or an `add_const`), if it has one.
    pub fn constant(&self, i: usize) -> Option<f32> {
        self.consts.get(&self.graph.nodes[i].name).copied()
    }

    /// The values of the outputs for `inputs` (one per `placeholder`, in order). Panics on a
    /// graph it cannot run (an unknown op, a missing parameter, shapes that do not fit), naming
    /// the node.
    pub fn run(&self, inputs: &[Matrix]) -> Vec<Matrix> {
        let mut vals: Vec<Matrix> = Vec::with_capacity(self.graph.nodes.len());
        let mut next_input = inputs.iter();
        for n in &self.graph.nodes {
            let arg = |k: usize| &vals[n.args[k]];
            let c = || *self.consts.get(&n.name).unwrap_or_else(|| panic!("no constant for %{}", n.name));
            let lin = || self.linears.get(&n.name).unwrap_or_else(|| panic!("no parameters for %{}", n.name));
            let affine = |x: &Matrix, p: &Linear| {
                let mut y = x.times_transposed(&p.weight);
                assert_eq!(p.bias.len(), y.cols, "%{}: bias of the wrong length", n.name);
                y.data.chunks_mut(y.cols).for_each(|r| r.iter_mut().zip(&p.bias).for_each(|(v, b)| *v += b));
                y
            };
            let v = match n.op.as_str() {
                "placeholder" => next_input.next().unwrap_or_else(|| panic!("no input for %{}", n.name)).clone(),
                "linear" => affine(arg(0), lin()),
                "linear_gelu" => affine(arg(0), lin()).map(gelu),
                "scores" => arg(0).times_transposed(arg(1)),
                "context" => {
                    let (p, v) = (arg(0), arg(1));
                    assert_eq!(p.cols, v.rows, "%{}: p·v with different inner sizes", n.name);
                    let data = (0..p.rows)
                        .flat_map(|i| {
                            (0..v.cols).map(move |j| (0..v.rows).fold(0.0, |s, t| s + p.row(i)[t] * v.row(t)[j]))
                        })
                        .collect();
                    Matrix::new(p.rows, v.cols, data)
                }
                "scale" => arg(0).map(|x| c() * x),
                "add_const" => arg(0).map(|x| x + c()),
                "softmax" => {
                    let mut y = arg(0).clone();
                    for r in y.data.chunks_mut(y.cols) {
                        let m = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        r.iter_mut().for_each(|v| *v = (*v - m).exp());
                        let s: f32 = r.iter().sum();
                        r.iter_mut().for_each(|v| *v /= s);
                    }
                    y
                }
                "erf" => arg(0).map(erf),
                "gelu" => arg(0).map(gelu),
                "mul" => arg(0).zip(arg(1), |a, b| a * b),
                "add" => arg(0).zip(arg(1), |a, b| a + b),
                op => panic!("%{}: the interpreter has no op `{op}`", n.name),
            };
            vals.push(v);
        }
        self.graph.outputs.iter().map(|&o| vals[o].clone()).collect()
    }
}

impl Net {
    /// The epilogue fusion of the `gelu_pattern` exercise: every `linear` node `i` for which
    /// `gelu_at(self, i)` finds GELU of its value at a node `y` becomes one
    /// `y = linear_gelu(x)`: the fused node takes the place and the name of the pattern's last
    /// node, the `linear`'s arguments and parameters. The matcher is responsible for the rest
    /// (the pattern is really GELU, no one else reads a value inside it). The nodes left unread
    /// stay in the graph for a dead-code pass to remove. Returns how many it fused.
    pub fn fuse_linear_gelu(&mut self, gelu_at: impl Fn(&Net, usize) -> Option<usize>) -> usize {
        let mut fused = 0;
        for i in 0..self.graph.nodes.len() {
            if self.graph.nodes[i].op != "linear" {
                continue;
            }
            let Some(y) = gelu_at(self, i) else { continue };
            let (x, name) = (self.graph.nodes[i].args.clone(), self.graph.nodes[i].name.clone());
            let params = self.linears.get(&name).cloned().unwrap_or_else(|| panic!("no parameters for %{name}"));
            let node = &mut self.graph.nodes[y];
            node.op = "linear_gelu".into();
            node.args = x;
            self.linears.insert(node.name.clone(), params);
            fused += 1;
        }
        fused
    }
}
