//! Checks of the im2col exercise (`src/im2col.rs`), against PyTorch's `F.unfold`.

use crate::common::{assert_close, fixture};
use nanobert::io::Weights;
use nanobert_exercises::Conv2d;

/// The learner's `im2col(image, c, h, w, conv)`.
pub type Im2col = fn(&[f32], usize, usize, usize, &Conv2d) -> Vec<f32>;

fn pair(v: &serde_json::Value) -> [usize; 2] {
    [v[0].as_u64().unwrap() as usize, v[1].as_u64().unwrap() as usize]
}

pub fn matches_pytorch_unfold(f: Im2col) {
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("conv_rnn/cases.json")).unwrap()).unwrap();
    let st = Weights::open(&fixture("conv_rnn/conv.safetensors")).unwrap();
    for case in cases["unfold"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let conv = Conv2d {
            kernel: pair(&case["kernel_size"]),
            stride: pair(&case["stride"]),
            padding: pair(&case["padding"]),
            dilation: pair(&case["dilation"]),
        };
        let x = st.get(&format!("unfold.{name}.input")).unwrap().select(0, 0).unwrap(); // [C, H, W]
        let want = st.get(&format!("unfold.{name}.output")).unwrap().select(0, 0).unwrap();
        let (c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let got = f(&x.to_vec(), c, h, w, &conv);
        assert_close(&format!("unfold {name}"), &got, &want.to_vec(), 0.0);
    }
}

pub fn the_four_patches_of_a_four_by_four_image(f: Im2col) {
    // The example of the chapter: values 0..15, a 3x3 filter, no padding: a [9, 4] matrix.
    let image: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let conv = Conv2d { kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
    let cols = f(&image, 1, 4, 4, &conv);
    assert_eq!(cols.len(), 9 * 4);
    assert_eq!(&cols[..4], &[0.0, 1.0, 4.0, 5.0]); // tap (0, 0) of each patch
    assert_eq!(&cols[4 * 4..5 * 4], &[5.0, 6.0, 9.0, 10.0]); // tap (1, 1)
}

pub fn padding_reads_zeros(f: Im2col) {
    let conv = Conv2d { kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1] };
    let cols = f(&[1.0, 2.0, 3.0, 4.0], 1, 2, 2, &conv); // 2x2 image, output 2x2
    assert_eq!(cols.len(), 9 * 4);
    assert_eq!(&cols[..4], &[0.0, 0.0, 0.0, 1.0]); // tap (0, 0): only the last patch is inside
    assert_eq!(&cols[16..20], &[1.0, 2.0, 3.0, 4.0]); // the centre tap sees every pixel
}
