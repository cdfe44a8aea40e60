//! A convolution is im2col followed by one matrix multiplication, shown on a 4×4 image.
//!
//! ```text
//! cargo run --release --example conv_as_matmul
//! ```
//!
//! Prints the image, its im2col matrix (one column per output pixel, one row per filter tap),
//! the filter as a row, their product, and checks it against the direct loop nest.

use nanobert::Tensor;
use nanobert::nn::conv::Conv2d;
use nanobert::ops::conv::{Conv2dParams, conv2d_direct, im2col};
use nanobert::ops::matmul::matmul;

/// Prints a 2-D tensor with row and column labels.
fn show(title: &str, t: &Tensor, row_label: impl Fn(usize) -> String, col_label: impl Fn(usize) -> String) {
    let (rows, cols) = (t.shape()[0], t.shape()[1]);
    println!("{title}  shape {:?}", t.shape());
    print!("{:>10}", "");
    for j in 0..cols {
        print!("{:>7}", col_label(j));
    }
    println!();
    for i in 0..rows {
        print!("{:>10}", row_label(i));
        for j in 0..cols {
            print!("{:>7}", t.get(&[i, j]).unwrap());
        }
        println!();
    }
    println!();
}

fn main() -> nanobert::Result<()> {
    // A 1-channel 4×4 image holding 0..15, so every number in im2col says where it came from.
    let image = Tensor::arange(16).reshape(&[1, 4, 4])?;
    show("image (channel 0)", &image.select(0, 0)?, |i| format!("y={i}"), |j| format!("x={j}"));

    // 3×3 filter, no padding, stride 1: 2×2 = 4 output pixels, 1·3·3 = 9 taps each.
    let p = Conv2dParams::default();
    let cols = im2col(&image, [3, 3], &p)?;
    let tap = |r: usize| format!("c0 {},{}", r / 3, r % 3);
    let pixel = |ow: usize| move |c: usize| format!("o{},{}", c / ow, c % ow);
    show("im2col(image): column = the patch under one output pixel", &cols, tap, pixel(2));

    // A filter that takes (right neighbour − left neighbour): a horizontal gradient.
    #[rustfmt::skip]
    let filter = Tensor::from_vec(vec![
        0., 0., 0.,
       -1., 0., 1.,
        0., 0., 0.,
    ], &[1, 1, 3, 3])?;
    let row = filter.reshape(&[1, 9])?;
    show("filter as a row [C_out, C_in·KH·KW]", &row, |_| "f0".into(), tap);

    let out = matmul(&row, &cols)?; // [1, 9] · [9, 4] = [1, 4]
    show("filter · im2col = output [C_out, OH·OW]", &out, |_| "f0".into(), pixel(2));

    let direct = conv2d_direct(&image.unsqueeze(0)?, &filter, None, &p)?;
    assert_eq!(out.to_vec(), direct.to_vec(), "GEMM and loop nest agree");
    println!("direct loop nest gives the same 2×2 output: {:?}\n", direct.to_vec());

    // Padding 1 keeps the 4×4 size: 16 columns, and the border patches read zeros.
    let p1 = Conv2dParams::default().with_padding(1);
    let cols1 = im2col(&image, [3, 3], &p1)?;
    show("im2col with padding 1 (zeros come from the border)", &cols1, tap, pixel(4));

    // Stride 2 with padding 1: only every other patch becomes a column.
    let p2 = Conv2dParams::default().with_padding(1).with_stride(2);
    show("im2col with padding 1, stride 2", &im2col(&image, [3, 3], &p2)?, tap, pixel(2));

    let layer = Conv2d::with_random_weights(3, 16, [3, 3], p1, 0)?;
    let y = layer.forward(&Tensor::randn(&[2, 3, 8, 8], 1))?;
    println!("{layer}: [2, 3, 8, 8] -> {:?}", y.shape());
    println!("  im2col matrix per image: [3·3·3, 8·8] = [27, 64]; weight as a matrix: [16, 27]");
    Ok(())
}
