//! Device buffers: flat f32 and u32 vectors, and resident row matrices split
//! into chunks that each fit one storage binding.

use crate::{Error, Result};

/// A flat f32 vector on the device.
#[derive(Debug)]
pub struct GpuBuffer {
    pub(crate) buffer: wgpu::Buffer,
    pub(crate) len: usize,
}

/// A flat u32 vector on the device, with its maximum tracked on the host so
/// that index and label ranges are checked without a readback.
pub struct GpuIndices {
    pub(crate) buffer: wgpu::Buffer,
    pub(crate) len: usize,
    pub(crate) max: Option<u32>,
}

/// A row-major matrix resident on the device. Rows are split into chunks of
/// `chunk_rows` rows, each chunk its own buffer that fits one binding; where
/// the adapter's texture limits allow, the rows are also kept as a texture
/// for the fused step.
#[derive(Debug)]
pub struct GpuRows {
    pub(crate) chunks: Vec<wgpu::Buffer>,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) chunk_rows: usize,
    pub(crate) texture: Option<RowsTexture>,
}

/// The same rows as an rgba32float texture array: one texture row per
/// matrix row (zero-padded to a multiple of 4 columns), `layer_rows` rows
/// per layer. Texture loads are gathers on CPU-type adapters, where a
/// storage-buffer load is a loop over the SIMD lanes.
#[derive(Debug)]
pub(crate) struct RowsTexture {
    pub(crate) texture: wgpu::Texture,
    pub(crate) view: wgpu::TextureView,
    pub(crate) layer_rows: usize,
}

impl GpuRows {
    /// Number of device buffers the matrix spans.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
    /// Rows per chunk (the last may hold fewer).
    pub fn chunk_rows(&self) -> usize {
        self.chunk_rows
    }
    /// Whether the rows are also resident as a texture (what the fused step reads).
    pub fn has_texture(&self) -> bool {
        self.texture.is_some()
    }
}

pub(crate) const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

/// Bytes for `len` 4-byte elements; at least 4 so empty vectors still bind.
pub(crate) fn byte_size(len: usize) -> u64 {
    (len.max(1) * 4) as u64
}

/// `value` as the kernels' 32-bit index, or the error naming `what`.
pub(crate) fn u32_of(op: &'static str, what: &str, value: usize) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::ShapeMismatch {
        op,
        detail: format!("{what} = {value} exceeds the 32-bit indexing of the kernels"),
    })
}
