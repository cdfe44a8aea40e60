//! bench (todo)
