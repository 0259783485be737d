//! Data larger than memory, read from `.npy` files and shards in chunks.
//!
//! - [`ShardSet`]: the shards of one dataset (a `.npy` file, a glob or a
//!   directory of `.npy` shards, or a stored `.npz` member), checked from
//!   their headers; rows are numbered 0..N across the shards in sorted
//!   order. [`ShardSet::load_resident`] loads a set that fits in memory
//!   into one f32 array without a second copy.
//! - [`read_label_shards`]: the labels of every row, from one file, one
//!   shard per data shard, or the `.npz`.
//! - [`BlockStream`]: one pass over the selected rows, read by one reader
//!   thread in windows of chunks with bounded memory
//!   ([`BlockStream::memory_bytes`]), shuffled at two levels
//!   ([`Shuffle`]), converted to f32 and standardized on the fly, handed
//!   over in [`Block`]s of a fixed number of rows.
//! - [`Moments`]: per-feature mean and variance accumulated in f64 over a
//!   streamed pass (Welford, Chan's merge), giving the [`Standardizer`]
//!   (`Standardizer::from_moments`).
//! - [`is_validation_row`] and [`RowFilter`]: the validation split, chosen
//!   per row by a seeded hash of its global index, so the same whatever
//!   the chunking.
//!
//! Every error about a shard is one line naming it: shards whose feature
//! counts or dtypes differ, Fortran order, not 2-D, truncated, changed
//! during the run, a labels shard of another row count, a non-finite value
//! (with its row and column).
//!
//! [`Standardizer`]: crate::data::Standardizer

mod block;
mod block_stream;
mod convert;
mod label_shards;
mod moments;
mod npy_layout;
mod npz_archive;
mod pass_order;
mod resident;
mod row_kernels;
mod row_split;
mod row_writer;
mod shard_reader;
mod shard_set;
mod shard_spec;
#[cfg(test)]
mod test_files;
mod window_reader;

pub use block::Block;
pub use block_stream::BlockStream;
pub use label_shards::read_label_shards;
pub use moments::Moments;
pub use pass_order::{Shuffle, StreamOptions};
pub use row_split::{RowFilter, is_validation_row};
pub use shard_set::{ShardInfo, ShardSet};
pub use shard_spec::spec_files;
