//! Uploading a row matrix that stays resident: chunks that each fit one
//! storage binding, and the same rows as a texture array where the adapter's
//! texture limits allow.

use super::buffers::{GpuRows, RowsTexture, u32_of};
use super::context::GpuContext;
use super::layer::Device;
use crate::{Error, Result};
use ndarray::ArrayView2;

/// Uploads `x` as [`GpuRows`].
pub(crate) fn upload_rows(device: &Device, x: ArrayView2<'_, f32>) -> Result<GpuRows> {
    let context = device.context();
    let (rows, cols) = x.dim();
    let row_bytes = (cols.max(1) * 4) as u64;
    let limit = context.max_binding_bytes;
    if row_bytes > limit {
        return Err(Error::BufferTooLarge {
            what: "one row of the dataset",
            requested: row_bytes,
            limit,
        });
    }
    u32_of("upload_rows", "rows", rows)?;
    let fits = (limit / row_bytes) as usize;
    let chunk_rows = fits
        .min(context.max_chunk_rows.unwrap_or(usize::MAX))
        .clamp(1, rows.max(1));
    let x = x.as_standard_layout();
    let data = x.as_slice().expect("standard layout");
    let mut chunks = Vec::new();
    for start in (0..rows.max(1)).step_by(chunk_rows) {
        let end = (start + chunk_rows).min(rows);
        let bytes: &[u8] = bytemuck::cast_slice(&data[start * cols..end * cols]);
        chunks.push(device.create_storage_init("dataset chunk", bytes)?);
    }
    let texture = rows_texture(device, data, rows, cols);
    Ok(GpuRows {
        chunks,
        rows,
        cols,
        chunk_rows,
        texture,
    })
}

/// The rows as a texture array for the fused step, or None where the
/// adapter's texture limits cannot hold them.
fn rows_texture(device: &Device, data: &[f32], rows: usize, cols: usize) -> Option<RowsTexture> {
    let context = device.context();
    let limits = &context.limits;
    let max_side = limits.max_texture_dimension_2d as usize;
    let texels = cols.div_ceil(4);
    if rows == 0 || cols == 0 || texels > max_side {
        return None;
    }
    let layer_rows = rows
        .min(max_side)
        .min(context.max_chunk_rows.unwrap_or(usize::MAX))
        .max(1);
    let layers = rows.div_ceil(layer_rows);
    if layers > limits.max_texture_array_layers as usize {
        return None;
    }
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("dataset rows"),
        size: wgpu::Extent3d {
            width: texels as u32,
            height: layer_rows as u32,
            depth_or_array_layers: layers as u32,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    write_texture_rows(context, &texture, layer_rows, data, rows, cols);
    let view = texture.create_view(&wgpu::TextureViewDescriptor {
        dimension: Some(wgpu::TextureViewDimension::D2Array),
        ..Default::default()
    });
    Some(RowsTexture {
        texture,
        view,
        layer_rows,
    })
}

/// Writes the `rows` rows of `data` (`cols` columns each) at the start of
/// `texture` (`layer_rows` rows per layer), in slabs of rows, each padded
/// to whole texels.
fn write_texture_rows(
    context: &GpuContext,
    texture: &wgpu::Texture,
    layer_rows: usize,
    data: &[f32],
    rows: usize,
    cols: usize,
) {
    const SLAB_ROWS: usize = 1024;
    let texels = cols.div_ceil(4);
    let mut padded = vec![0.0f32; SLAB_ROWS.min(rows) * texels * 4];
    let mut start = 0;
    while start < rows {
        let (layer, y) = (start / layer_rows, start % layer_rows);
        let count = SLAB_ROWS.min(rows - start).min(layer_rows - y);
        for r in 0..count {
            let source = &data[(start + r) * cols..(start + r + 1) * cols];
            padded[r * texels * 4..r * texels * 4 + cols].copy_from_slice(source);
        }
        context.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: 0,
                    y: y as u32,
                    z: layer as u32,
                },
                aspect: wgpu::TextureAspect::All,
            },
            bytemuck::cast_slice(&padded[..count * texels * 4]),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some((texels * 16) as u32),
                rows_per_image: Some(count as u32),
            },
            wgpu::Extent3d {
                width: texels as u32,
                height: count as u32,
                depth_or_array_layers: 1,
            },
        );
        start += count;
    }
}

/// Overwrites the first `x.nrows()` rows of `dst` (its chunks and its
/// texture) with `x`. The recorded work is submitted first, so that it
/// still reads the old rows.
pub(crate) fn write_rows(device: &Device, dst: &mut GpuRows, x: ArrayView2<'_, f32>) -> Result<()> {
    crate::backend::check_rows_fit((dst.rows, dst.cols), x.dim())?;
    device.flush()?;
    let x = x.as_standard_layout();
    let data = x.as_slice().expect("standard layout");
    let (rows, cols) = x.dim();
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let context = device.context();
    for (chunk, buffer) in dst.chunks.iter().enumerate() {
        let start = chunk * dst.chunk_rows;
        if start >= rows {
            break;
        }
        let end = (start + dst.chunk_rows).min(rows);
        let bytes: &[u8] = bytemuck::cast_slice(&data[start * cols..end * cols]);
        context.queue.write_buffer(buffer, 0, bytes);
    }
    if let Some(texture) = &dst.texture {
        write_texture_rows(
            context,
            &texture.texture,
            texture.layer_rows,
            data,
            rows,
            cols,
        );
    }
    Ok(())
}
