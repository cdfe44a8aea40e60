//! Tests of the im2col exercise (`src/im2col.rs`), against PyTorch's `F.unfold`.

mod common;
use common::{assert_close, fixture};
use nanobert::io::Weights;
use nanobert_exercises::im2col::{Conv2d, im2col};

fn pair(v: &serde_json::Value) -> [usize; 2] {
    [v[0].as_u64().unwrap() as usize, v[1].as_u64().unwrap() as usize]
}

#[test]
fn matches_pytorch_unfold() {
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
        let got = im2col(&x.to_vec(), c, h, w, &conv);
        assert_close(&format!("unfold {name}"), &got, &want.to_vec(), 0.0);
    }
}

#[test]
fn the_four_patches_of_a_four_by_four_image() {
    // The example of the chapter: values 0..15, a 3x3 filter, no padding: a [9, 4] matrix.
    let image: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let conv = Conv2d { kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
    let cols = im2col(&image, 1, 4, 4, &conv);
    let first_row = &cols[..4]; // tap (0, 0) of each patch
    let centre_row = &cols[4 * 4..5 * 4]; // tap (1, 1)
    assert_eq!(first_row, &[0.0, 1.0, 4.0, 5.0]);
    assert_eq!(centre_row, &[5.0, 6.0, 9.0, 10.0]);
    assert_eq!(cols.len(), 9 * 4);
}

#[test]
fn padding_reads_zeros() {
    let conv = Conv2d { kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1] };
    let cols = im2col(&[1.0, 2.0, 3.0, 4.0], 1, 2, 2, &conv); // 2x2 image, output 2x2
    assert_eq!(cols.len(), 9 * 4);
    assert_eq!(&cols[..4], &[0.0, 0.0, 0.0, 1.0]); // tap (0, 0): only the last patch is inside
    assert_eq!(&cols[16..20], &[1.0, 2.0, 3.0, 4.0]); // the centre tap sees every pixel
}
