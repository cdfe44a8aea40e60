//! Tests of the im2col exercise (`src/im2col.rs`); the checks are in `checks/im2col.rs`.

mod checks;
mod common;
use checks::im2col as check;
use nanobert_exercises::im2col::im2col;

#[test]
fn matches_pytorch_unfold() {
    check::matches_pytorch_unfold(im2col);
}

#[test]
fn the_four_patches_of_a_four_by_four_image() {
    check::the_four_patches_of_a_four_by_four_image(im2col);
}

#[test]
fn padding_reads_zeros() {
    check::padding_reads_zeros(im2col);
}
