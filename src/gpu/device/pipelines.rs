//! The pipeline cache: every pipeline is compiled once per context, keyed by
//! a typed [`PipelineKey`] (module, generated variant, entry point and
//! override constants), so a lookup hashes a few words and builds nothing.

use super::context::GpuContext;
use crate::gpu::shader_modules::Module;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Kind and access of a binding after the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    ReadWrite,
    /// A fixed-size uniform window (64 KiB arrays of vec4).
    Uniform,
    /// An rgba32float texture array read with textureLoad.
    Texture,
    /// A 2D rgba32float texture read with textureLoad.
    Texture2d,
    /// A 2D rgba32float storage texture, written.
    StorageTexture2d,
}

/// An entry point and its storage bindings (binding 0 is always the
/// per-dispatch parameter uniform).
#[derive(Clone, Copy)]
pub(crate) struct EntryPoint {
    pub module: Module,
    pub entry: &'static str,
    pub storage: &'static [(u32, Access)],
}

/// A compiled pipeline and the layout its bind groups use.
pub(crate) struct Kernel {
    pub name: &'static str,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub bindings: Vec<u32>,
}

/// The most override constants one pipeline sets (the register-tiled
/// matmul sets five).
const MAX_OVERRIDES: usize = 6;

/// Values of a pipeline's override constants, by name, in the order given.
/// Every override in our shaders is a small integer or a bool (0 or 1), so
/// `u32` holds each exactly and the key needs no float.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Overrides {
    values: [(&'static str, u32); MAX_OVERRIDES],
    len: usize,
}

impl Overrides {
    pub(crate) fn new(values: &[(&'static str, u32)]) -> Self {
        assert!(
            values.len() <= MAX_OVERRIDES,
            "{} override constants, at most {MAX_OVERRIDES} fit a pipeline key",
            values.len()
        );
        let mut all = [("", 0); MAX_OVERRIDES];
        all[..values.len()].copy_from_slice(values);
        Self {
            values: all,
            len: values.len(),
        }
    }

    /// As wgpu takes them: by name, as f64 (exact for every u32).
    fn for_compilation(&self) -> Vec<(&'static str, f64)> {
        self.values[..self.len]
            .iter()
            .map(|&(name, value)| (name, f64::from(value)))
            .collect()
    }
}

/// Which text a module is compiled from.
pub(crate) enum Source<'a> {
    /// The module's own source.
    Fixed,
    /// Text that `generate` produces for `variant`: the generator's
    /// parameters, which alone determine the text.
    Generated {
        variant: [u32; 3],
        generate: &'a dyn Fn() -> String,
    },
}

/// A module as compiled: its name and, for generated text, the variant.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ModuleKey {
    name: &'static str,
    variant: Option<[u32; 3]>,
}

/// What identifies a pipeline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PipelineKey {
    module: ModuleKey,
    entry: &'static str,
    overrides: Overrides,
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    modules: Mutex<HashMap<ModuleKey, wgpu::ShaderModule>>,
    kernels: Mutex<HashMap<PipelineKey, Arc<Kernel>>>,
}

impl PipelineCache {
    fn module(
        &self,
        context: &GpuContext,
        key: ModuleKey,
        module: Module,
        source: &Source<'_>,
    ) -> wgpu::ShaderModule {
        self.modules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| {
                let text = match source {
                    Source::Fixed => module.source.into(),
                    Source::Generated { generate, .. } => generate().into(),
                };
                let descriptor = wgpu::ShaderModuleDescriptor {
                    label: Some(module.name),
                    source: wgpu::ShaderSource::Wgsl(text),
                };
                if module.trusted {
                    // SAFETY: every kernel of a trusted module reads and writes
                    // only offsets the host has checked against buffer lengths
                    // (see `backend::checks`), and all its loops are bounded by
                    // uniform sizes.
                    unsafe {
                        context.device.create_shader_module_trusted(
                            descriptor,
                            wgpu::ShaderRuntimeChecks::unchecked(),
                        )
                    }
                } else {
                    context.device.create_shader_module(descriptor)
                }
            })
            .clone()
    }

    /// The pipeline for `entry` compiled from `source` with `overrides`,
    /// compiled on first use.
    pub(crate) fn get(
        &self,
        context: &GpuContext,
        entry: &EntryPoint,
        source: &Source<'_>,
        overrides: &[(&'static str, u32)],
    ) -> Arc<Kernel> {
        let module = ModuleKey {
            name: entry.module.name,
            variant: match source {
                Source::Fixed => None,
                Source::Generated { variant, .. } => Some(*variant),
            },
        };
        let key = PipelineKey {
            module,
            entry: entry.entry,
            overrides: Overrides::new(overrides),
        };
        // Held while a missing pipeline compiles, so that it compiles once.
        let mut kernels = self.kernels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kernel) = kernels.get(&key) {
            return kernel.clone();
        }
        let shader = self.module(context, module, entry.module, source);
        let kernel = Arc::new(compile(context, entry, &shader, &key.overrides));
        kernels.insert(key, kernel.clone());
        kernel
    }
}

/// The layout entry of one binding after the parameters.
fn binding_type(access: Access) -> wgpu::BindingType {
    let buffer = |ty| wgpu::BindingType::Buffer {
        ty,
        has_dynamic_offset: false,
        min_binding_size: None,
    };
    match access {
        Access::Read => buffer(wgpu::BufferBindingType::Storage { read_only: true }),
        Access::ReadWrite => buffer(wgpu::BufferBindingType::Storage { read_only: false }),
        Access::Uniform => buffer(wgpu::BufferBindingType::Uniform),
        Access::Texture => wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: false },
            view_dimension: wgpu::TextureViewDimension::D2Array,
            multisampled: false,
        },
        Access::Texture2d => wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: false },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        Access::StorageTexture2d => wgpu::BindingType::StorageTexture {
            access: wgpu::StorageTextureAccess::WriteOnly,
            format: wgpu::TextureFormat::Rgba32Float,
            view_dimension: wgpu::TextureViewDimension::D2,
        },
    }
}

fn compile(
    context: &GpuContext,
    entry: &EntryPoint,
    module: &wgpu::ShaderModule,
    overrides: &Overrides,
) -> Kernel {
    let device = &context.device;
    let mut layout_entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: true,
            min_binding_size: None,
        },
        count: None,
    }];
    for &(binding, access) in entry.storage {
        layout_entries.push(wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: binding_type(access),
            count: None,
        });
    }
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(entry.entry),
        entries: &layout_entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(entry.entry),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let constants = overrides.for_compilation();
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry.entry),
        layout: Some(&pipeline_layout),
        module,
        entry_point: Some(entry.entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants: &constants,
            zero_initialize_workgroup_memory: false,
        },
        cache: None,
    });
    Kernel {
        name: entry.entry,
        pipeline,
        layout,
        bindings: entry.storage.iter().map(|&(b, _)| b).collect(),
    }
}
