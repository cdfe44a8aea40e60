fn main() -> nanobert::Result<()> {
use nanobert::io::Weights;
use nanobert::{Tensor, ops};
use std::path::Path;

let r = Weights::open(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-bert-reference.safetensors")))?;
let max_diff = |a: &Tensor, b: &Tensor| a.to_vec().iter().zip(b.to_vec()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
// Head 0 = columns 0..8 of Q and K, for text 2.
let q = r.get("layer0_query")?.select(0, 2)?.narrow(1, 0, 8)?; // [14, 8]
let k = r.get("layer0_key")?.select(0, 2)?.narrow(1, 0, 8)?;
let scores = ops::mul_scalar(&ops::matmul(&q, &k.t()?)?, 1.0 / 8f32.sqrt()); // [14, 14]
let mask: Vec<f32> = r.get_i64("attention_mask")?.0[2 * 14..3 * 14].iter().map(|&m| if m == 1 { 0.0 } else { f32::MIN }).collect();
let probs = ops::softmax(&scores, Some(&Tensor::from_vec(mask, &[1, 14])?))?; // mask broadcast over rows
let pytorch = r.get("layer0_attention_probs")?.select(0, 2)?.select(0, 0)?; // [batch, head, query, key]

let row0 = probs.select(0, 0)?.to_vec();
println!("query 0 attends to: {:.3?}", &row0[..6]);
println!("sum of row 0: {:.4}, padded keys exactly 0: {}", row0.iter().sum::<f32>(), row0[4..].iter().all(|&p| p == 0.0));
println!("all 14 rows vs PyTorch: max diff < 1e-5: {}", max_diff(&probs, &pytorch) < 1e-5);
assert!(row0[4..].iter().all(|&p| p == 0.0));
assert!(pytorch.select(0, 0)?.to_vec()[4..].iter().all(|&p| p == 0.0));
assert!(max_diff(&probs, &pytorch) < 1e-5);

// A row whose keys are all masked. PyTorch: softmax([1, 2, 3] + finfo.min) = [0.3333, 0.3333, 0.3333].
let three = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3])?;
let all_masked = ops::softmax(&three, Some(&Tensor::full(&[3], f32::MIN)))?.to_vec();
let all_inf = ops::softmax(&Tensor::full(&[3], f32::NEG_INFINITY), None)?.to_vec();
println!("all keys masked: {all_masked:.4?} with f32::MIN, {all_inf:?} with -inf");
assert!(all_masked.iter().all(|&p| (p - 1.0 / 3.0).abs() < 1e-7));
assert_eq!(all_inf, [0.0, 0.0, 0.0]);
Ok(()) }