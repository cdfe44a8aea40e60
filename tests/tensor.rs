//! Tensor views: shapes, strides, offsets, what shares storage, and the errors.

mod common;

use nanobert::Tensor;
use nanobert::tensor::contiguous_strides;
use proptest::prelude::*;

fn iota(shape: &[usize]) -> Tensor {
    Tensor::arange(shape.iter().product()).reshape(shape).unwrap()
}

#[test]
fn strides_are_row_major() {
    assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
    assert_eq!(contiguous_strides(&[]), Vec::<usize>::new());
    let x = iota(&[2, 3]);
    assert_eq!((x.strides(), x.offset()), (&[3usize, 1][..], 0));
    assert!(x.is_contiguous());
    assert_eq!(x.get(&[1, 2]).unwrap(), 5.0);
}

#[test]
fn from_vec_get_and_item_errors() {
    let err = Tensor::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err().to_string();
    assert!(err.contains("from_vec") && err.contains("5 values") && err.contains("[2, 3]"), "{err}");
    let x = iota(&[2, 3]);
    assert!(x.get(&[2, 0]).unwrap_err().to_string().contains("out of range"));
    assert!(x.get(&[0]).is_err());
    assert!(x.item().unwrap_err().to_string().contains("[2, 3]"));
    assert_eq!(Tensor::scalar(4.0).item().unwrap(), 4.0);
    assert_eq!(x.dim(-1).unwrap(), 3);
    assert!(x.dim(2).is_err());
}

#[test]
fn transpose_swaps_strides_and_shares_storage() {
    let x = iota(&[2, 3]);
    let t = x.t().unwrap();
    assert_eq!((t.shape(), t.strides()), (&[3usize, 2][..], &[1usize, 3][..]));
    assert!(!t.is_contiguous() && t.shares_storage_with(&x));
    assert_eq!(t.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert!(iota(&[2, 3, 4]).t().unwrap_err().to_string().contains("2-D"));
    let y = iota(&[2, 3, 4]).transpose(0, -1).unwrap();
    assert_eq!(y.shape(), &[4, 3, 2]);
    assert_eq!(y.get(&[3, 2, 1]).unwrap(), 23.0);
}

#[test]
fn reshape_needs_contiguous_and_same_numel() {
    let x = iota(&[2, 3]);
    let r = x.reshape(&[3, 2]).unwrap();
    assert!(r.shares_storage_with(&x));
    assert_eq!(r.to_vec(), x.to_vec());
    let err = x.reshape(&[4, 2]).unwrap_err().to_string();
    assert!(err.contains("reshape") && err.contains("6 elements") && err.contains("8 elements"), "{err}");
    let err = x.t().unwrap().reshape(&[6]).unwrap_err().to_string();
    assert!(err.contains("not contiguous") && err.contains("contiguous()"), "{err}");
    // The explicit copy makes it reshapable.
    let c = x.t().unwrap().contiguous();
    assert!(!c.shares_storage_with(&x));
    assert_eq!(c.reshape(&[6]).unwrap().to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    // contiguous() of a contiguous tensor is a cheap clone.
    assert!(x.contiguous().shares_storage_with(&x));
}

#[test]
fn permute_reorders_and_validates() {
    let x = iota(&[2, 3, 4]);
    let p = x.permute(&[2, 0, 1]).unwrap();
    assert_eq!(p.shape(), &[4, 2, 3]);
    assert_eq!(p.strides(), &[1, 12, 4]);
    assert_eq!(p.get(&[3, 1, 2]).unwrap(), x.get(&[1, 2, 3]).unwrap());
    for bad in [&[0, 1][..], &[0, 1, 1], &[0, 1, 3], &[0, 1, 2, 3]] {
        let err = x.permute(bad).unwrap_err().to_string();
        assert!(err.contains("permute") && err.contains("not a permutation"), "{err}");
    }
}

#[test]
fn narrow_moves_the_offset() {
    let x = iota(&[4, 5]);
    let n = x.narrow(0, 1, 2).unwrap();
    assert_eq!((n.shape(), n.offset()), (&[2usize, 5][..], 5));
    assert!(n.is_contiguous(), "rows 1..3 of a row-major matrix are one slice");
    let c = x.narrow(1, 2, 2).unwrap();
    assert!(!c.is_contiguous());
    assert_eq!(c.to_vec(), vec![2.0, 3.0, 7.0, 8.0, 12.0, 13.0, 17.0, 18.0]);
    assert_eq!(x.narrow(1, 5, 0).unwrap().shape(), &[4, 0]);
    let err = x.narrow(1, 3, 3).unwrap_err().to_string();
    assert!(err.contains("narrow") && err.contains("3..6"), "{err}");
    assert!(x.narrow(1, usize::MAX, 2).is_err());
}

#[test]
fn select_removes_a_dimension() {
    let x = iota(&[2, 3, 4]);
    let s = x.select(1, 2).unwrap();
    assert_eq!(s.shape(), &[2, 4]);
    assert_eq!(s.to_vec(), vec![8.0, 9.0, 10.0, 11.0, 20.0, 21.0, 22.0, 23.0]);
    assert_eq!(x.select(0, 1).unwrap().select(0, 0).unwrap().to_vec(), vec![12.0, 13.0, 14.0, 15.0]);
    assert!(x.select(2, 4).unwrap_err().to_string().contains("out of range"));
    // Selecting down to 0-d gives a scalar view.
    assert_eq!(iota(&[3]).select(0, 2).unwrap().item().unwrap(), 2.0);
}

#[test]
fn unsqueeze_and_squeeze_round_trip() {
    let x = iota(&[2, 3]);
    for d in 0..=2 {
        let u = x.unsqueeze(d).unwrap();
        assert_eq!(u.ndim(), 3);
        assert_eq!(u.shape()[d], 1);
        assert!(u.is_contiguous());
        assert!(u.squeeze(d as isize).unwrap() == x);
    }
    assert!(x.unsqueeze(3).is_err());
    let err = x.squeeze(0).unwrap_err().to_string();
    assert!(err.contains("squeeze") && err.contains("size 2"), "{err}");
    assert_eq!(Tensor::scalar(1.0).unsqueeze(0).unwrap().shape(), &[1]);
}

#[test]
fn broadcast_to_uses_stride_zero() {
    let row = iota(&[3]);
    let b = row.broadcast_to(&[2, 3]).unwrap();
    assert_eq!(b.strides(), &[0, 1]);
    assert!(b.shares_storage_with(&row) && !b.is_contiguous());
    assert_eq!(b.to_vec(), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    let col = iota(&[2, 1]).broadcast_to(&[2, 3]).unwrap();
    assert_eq!(col.to_vec(), vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    for bad in [&[2, 4][..], &[2][..], &[]] {
        let err = row.broadcast_to(bad).unwrap_err().to_string();
        assert!(err.contains("broadcast_to") && err.contains("[3]"), "{err}");
    }
    assert_eq!(Tensor::scalar(7.0).broadcast_to(&[2, 2]).unwrap().to_vec(), vec![7.0; 4]);
}

#[test]
fn empty_and_one_element_tensors() {
    let e = Tensor::zeros(&[2, 0, 3]);
    assert_eq!((e.numel(), e.to_vec().len()), (0, 0));
    assert!(e.contiguous().shape() == [2, 0, 3]);
    assert_eq!(e.transpose(0, 2).unwrap().shape(), &[3, 0, 2]);
    let one = Tensor::full(&[1, 1, 1], 2.5);
    assert_eq!(one.item().unwrap(), 2.5);
    assert!(one.permute(&[2, 1, 0]).unwrap().is_contiguous());
}

proptest! {
    #![proptest_config(common::config(64))]

    #[test]
    fn permute_then_inverse_is_identity(x in common::tensor(4), seed in any::<u64>()) {
        // A permutation from the seed (Fisher-Yates) and its inverse.
        let n = x.ndim();
        let mut perm: Vec<usize> = (0..n).collect();
        let mut rng = nanobert::tensor::Rng::new(seed);
        for i in (1..n).rev() {
            perm.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let mut inv = vec![0; n];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        let back = x.permute(&perm).unwrap().permute(&inv).unwrap();
        prop_assert_eq!(back.strides(), x.strides());
        prop_assert!(back == x);
    }

    #[test]
    fn narrow_select_agree_with_get(x in common::tensor(3), a in any::<usize>(), b in any::<usize>()) {
        let d = a % x.ndim();
        let i = b % x.shape()[d];
        let s = x.select(d as isize, i).unwrap();
        let n = x.narrow(d as isize, i, 1).unwrap().squeeze(d as isize).unwrap();
        prop_assert!(s == n);
        // Every element of the selection is the element of x at the same index with i inserted.
        let mut idx = vec![0; x.ndim()];
        idx[d] = i;
        prop_assert_eq!(s.get(&[idx[..d].to_vec(), idx[d + 1..].to_vec()].concat()).unwrap(), x.get(&idx).unwrap());
    }
}
