//! Reference solution: im2col. Read it after you have tried `src/im2col.rs`.

pub use crate::Conv2d;

/// `[c, h, w]` image → `[c·KH·KW, OH·OW]` matrix of patches (zeros outside the image).
pub fn im2col(image: &[f32], c: usize, h: usize, w: usize, conv: &Conv2d) -> Vec<f32> {
    assert_eq!(image.len(), c * h * w, "image is not [c, h, w]");
    let [kh, kw] = conv.kernel;
    let (oh, ow) = (conv.out_len(h, 0), conv.out_len(w, 1));
    let mut cols = vec![0.0f32; c * kh * kw * oh * ow];
    for ci in 0..c {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = (ci * kh + ky) * kw + kx;
                let out = &mut cols[row * oh * ow..(row + 1) * oh * ow];
                for oy in 0..oh {
                    // Input row of this tap; padding makes it negative near the top edge.
                    let iy = (oy * conv.stride[0] + ky * conv.dilation[0]) as isize - conv.padding[0] as isize;
                    if iy < 0 || iy >= h as isize {
                        continue; // stays 0
                    }
                    for ox in 0..ow {
                        let ix = (ox * conv.stride[1] + kx * conv.dilation[1]) as isize - conv.padding[1] as isize;
                        if ix >= 0 && ix < w as isize {
                            out[oy * ow + ox] = image[(ci * h + iy as usize) * w + ix as usize];
                        }
                    }
                }
            }
        }
    }
    cols
}
