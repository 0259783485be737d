//! The minibatch gather (shaders/gather.wgsl): `out[r] = X[indices[first +
//! r]]`, and the same for the labels, from a resident matrix whose rows
//! span several chunk buffers.

use crate::Result;
use crate::backend::check_extent;
use crate::gpu::device::{Access, Device, EntryPoint, GpuBuffer, GpuIndices, GpuRows, u32_of};
use crate::gpu::shader_modules;
use bytemuck::{Pod, Zeroable};

/// `GatherParams` of shaders/gather.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct GatherParams {
    pub(crate) count: u32,
    pub(crate) cols: u32,
    pub(crate) first: u32,
    pub(crate) chunk_rows: u32,
    pub(crate) group_start: u32,
    pub(crate) group_end: u32,
    pub(crate) copy_labels: u32,
    pub(crate) out_row_offset: u32,
}

/// Chunk buffers one dispatch binds (`chunk0` to `chunk3`); a dataset of
/// more chunks is gathered by one dispatch per group of them.
pub(crate) const CHUNKS_PER_DISPATCH: usize = 4;
/// Invocations per workgroup, one column each.
pub(crate) const WORKGROUP: u32 = 64;

pub(crate) const GATHER: EntryPoint = EntryPoint {
    module: shader_modules::GATHER,
    entry: "gather",
    storage: &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::Read),
        (5, Access::Read),
        (6, Access::Read),
        (7, Access::ReadWrite),
        (8, Access::ReadWrite),
    ],
};

/// Records `out[r] = src[indices[first + r]]` for r < `count`, and the same
/// for `labels` when given (`(source, destination)`), after checking every
/// length. The caller has checked that the indices name rows of `src`
/// ([`crate::backend::checks::batch_indices`]).
pub(crate) fn call_gather(
    device: &Device,
    src: &GpuRows,
    labels: Option<(&GpuIndices, &mut GpuIndices)>,
    indices: &GpuIndices,
    (first, count): (usize, usize),
    out: &GpuBuffer,
) -> Result<()> {
    let op = "gather";
    check_extent(op, "indices", first, count, indices.len)?;
    check_extent(op, "output", 0, count * src.cols, out.len)?;
    if let Some((source, destination)) = &labels {
        check_extent(op, "labels", 0, src.rows, source.len)?;
        check_extent(op, "output labels", 0, count, destination.len)?;
    }
    if count == 0 || src.cols == 0 {
        return Ok(());
    }
    let max_rows = device.limits().max_compute_workgroups_per_dimension as usize;
    let column_groups = src.cols.div_ceil(WORKGROUP as usize) as u32;
    let (label_source, label_out) = match &labels {
        Some((source, destination)) => (&source.buffer, &destination.buffer),
        None => (device.unused_input(), device.unused_output()),
    };
    for (group, chunks) in src.chunks.chunks(CHUNKS_PER_DISPATCH).enumerate() {
        let group_start = group * CHUNKS_PER_DISPATCH * src.chunk_rows;
        let group_end = (group_start + chunks.len() * src.chunk_rows).min(src.rows);
        let bound: Vec<&wgpu::Buffer> = (0..CHUNKS_PER_DISPATCH)
            .map(|c| chunks.get(c).unwrap_or(&chunks[0]))
            .collect();
        for slice_start in (0..count).step_by(max_rows) {
            let slice_rows = (count - slice_start).min(max_rows);
            let params = GatherParams {
                count: u32_of(op, "count", count)?,
                cols: u32_of(op, "cols", src.cols)?,
                first: u32_of(op, "first", first)?,
                chunk_rows: u32_of(op, "chunk rows", src.chunk_rows)?,
                group_start: u32_of(op, "group start", group_start)?,
                group_end: u32_of(op, "group end", group_end)?,
                copy_labels: (labels.is_some() && group == 0) as u32,
                out_row_offset: slice_start as u32,
            };
            device.dispatch(
                &GATHER,
                &[],
                &params,
                &[
                    bound[0],
                    bound[1],
                    bound[2],
                    bound[3],
                    &indices.buffer,
                    label_source,
                    &out.buffer,
                    label_out,
                ],
                [column_groups, slice_rows as u32, 1],
            )?;
        }
    }
    if let Some((source, destination)) = labels {
        // An upper bound of the gathered labels; values past `count` stay.
        destination.max = if count >= destination.len {
            source.max
        } else {
            source.max.max(destination.max)
        };
    }
    Ok(())
}
