//! Reference solution: mean pooling over real tokens. Read it after you have tried `src/pooling.rs`.

/// Mean of the hidden vectors where `mask` is 1; `[batch, seq, dim]` → `[batch, dim]`.
pub fn mean_pool(hidden: &[f32], mask: &[u32], batch: usize, seq: usize, dim: usize) -> Vec<f32> {
    assert!(hidden.len() == batch * seq * dim && mask.len() == batch * seq, "shapes do not match");
    let mut out = vec![0.0f32; batch * dim];
    for b in 0..batch {
        let acc = &mut out[b * dim..(b + 1) * dim];
        let mut count = 0u32;
        for t in 0..seq {
            if mask[b * seq + t] == 0 {
                continue;
            }
            count += 1;
            let h = &hidden[(b * seq + t) * dim..(b * seq + t + 1) * dim];
            for (a, v) in acc.iter_mut().zip(h) {
                *a += v;
            }
        }
        if count > 0 {
            acc.iter_mut().for_each(|a| *a /= count as f32);
        }
    }
    out
}
