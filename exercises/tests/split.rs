//! Tests of the row-splitting exercise (`src/split.rs`); the checks are in `checks/split.rs`.

mod checks;
mod common;
use checks::split as check;
use nanobert_exercises::split::split_rows;

#[test]
fn bert_shapes_split_evenly_on_block_boundaries() {
    check::bert_shapes_split_evenly_on_block_boundaries(split_rows);
}

#[test]
fn small_products_and_edges() {
    check::small_products_and_edges(split_rows);
}
