//! WGSL sources, their bind-group layouts, and the pipeline cache: every
//! pipeline is compiled once per context, keyed by entry point and override
//! constants.

use super::context::GpuContext;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A WGSL module: its source and whether the host validates every index
/// its kernels use (then it is compiled without runtime bounds checks).
/// A source is its files under shaders/ joined in order, shared parts
/// first: the loss kernels and the fused step all start with
/// loss_math.wgsl, the one copy of the per-row loss formulas.
#[derive(Clone, Copy)]
pub(crate) struct Module {
    pub name: &'static str,
    pub source: &'static str,
    pub trusted: bool,
}

pub(crate) const MATMUL_REGISTER: Module = Module {
    name: "matmul_register",
    source: concat!(
        include_str!("../../shaders/matmul_common.wgsl"),
        include_str!("../../shaders/matmul_register.wgsl")
    ),
    trusted: true,
};
pub(crate) const MATMUL_PACK: Module = Module {
    name: "matmul_pack",
    source: include_str!("../../shaders/matmul_pack.wgsl"),
    trusted: true,
};
pub(crate) const MATMUL_TEXTURE: Module = Module {
    name: "matmul_texture",
    source: concat!(
        include_str!("../../shaders/matmul_common.wgsl"),
        include_str!("../../shaders/matmul_texture.wgsl")
    ),
    trusted: true,
};
pub(crate) const MATMUL_TILED: Module = Module {
    name: "matmul_tiled",
    source: concat!(
        include_str!("../../shaders/matmul_common.wgsl"),
        include_str!("../../shaders/matmul_tiled.wgsl")
    ),
    trusted: true,
};
pub(crate) const SOFTMAX_XENT: Module = Module {
    name: "softmax_xent",
    source: concat!(
        include_str!("../../shaders/loss_math.wgsl"),
        include_str!("../../shaders/loss_common.wgsl"),
        include_str!("../../shaders/softmax_xent.wgsl")
    ),
    trusted: true,
};
pub(crate) const HINGE: Module = Module {
    name: "hinge",
    source: concat!(
        include_str!("../../shaders/loss_math.wgsl"),
        include_str!("../../shaders/loss_common.wgsl"),
        include_str!("../../shaders/hinge.wgsl")
    ),
    trusted: true,
};
pub(crate) const REGRESSION: Module = Module {
    name: "regression",
    source: concat!(
        include_str!("../../shaders/loss_math.wgsl"),
        include_str!("../../shaders/loss_common.wgsl"),
        include_str!("../../shaders/regression.wgsl")
    ),
    trusted: true,
};
pub(crate) const REDUCE: Module = Module {
    name: "reduce",
    source: include_str!("../../shaders/reduce.wgsl"),
    trusted: true,
};
pub(crate) const OPTIM: Module = Module {
    name: "optim",
    source: include_str!("../../shaders/optim.wgsl"),
    trusted: true,
};
// Generated per shape (src/gpu/fused_source.rs): `source` is only the
// template (loss_math.wgsl and fused_step.wgsl) that the generated kernels
// are appended to. Reads rows named by device data, so it keeps wgpu's
// bounds checks.
pub(crate) const FUSED_STEP: Module = Module {
    name: "fused_step",
    source: crate::gpu::fused_source::TEMPLATE,
    trusted: false,
};
// Reads rows named by device data, so it keeps wgpu's bounds checks.
pub(crate) const GATHER: Module = Module {
    name: "gather",
    source: include_str!("../../shaders/gather.wgsl"),
    trusted: false,
};

/// Every fixed module, for the compile-everything test (the generated
/// fused-step modules have their own).
pub const ALL_MODULES: [(&str, &str); 10] = [
    (MATMUL_REGISTER.name, MATMUL_REGISTER.source),
    (MATMUL_PACK.name, MATMUL_PACK.source),
    (MATMUL_TEXTURE.name, MATMUL_TEXTURE.source),
    (MATMUL_TILED.name, MATMUL_TILED.source),
    (SOFTMAX_XENT.name, SOFTMAX_XENT.source),
    (HINGE.name, HINGE.source),
    (REGRESSION.name, REGRESSION.source),
    (REDUCE.name, REDUCE.source),
    (OPTIM.name, OPTIM.source),
    (GATHER.name, GATHER.source),
];

/// Kind and access of a binding after the parameters.
#[derive(Clone, Copy)]
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

use Access::{Read, ReadWrite, StorageTexture2d, Texture, Texture2d, Uniform};

pub(crate) const MATMUL_BINDINGS: &[(u32, Access)] = &[(1, Read), (2, Read), (3, ReadWrite)];
pub(crate) const LOSS_BINDINGS: &[(u32, Access)] = &[
    (1, Read),
    (2, Read),
    (3, Read),
    (4, ReadWrite),
    (5, ReadWrite),
    (6, ReadWrite),
];

pub(crate) const MATMUL_PACK_ENTRY: EntryPoint = EntryPoint {
    module: MATMUL_PACK,
    entry: "pack",
    storage: &[(1, Read), (2, StorageTexture2d)],
};
pub(crate) const MATMUL_TEXTURE_ENTRY: EntryPoint = EntryPoint {
    module: MATMUL_TEXTURE,
    entry: "matmul",
    storage: &[(1, Texture2d), (2, Texture2d), (3, Read), (4, ReadWrite)],
};

pub(crate) const SUM: EntryPoint = EntryPoint {
    module: REDUCE,
    entry: "sum",
    storage: &[(1, Read), (2, ReadWrite)],
};
pub(crate) const COLUMN_SUMS: EntryPoint = EntryPoint {
    module: REDUCE,
    entry: "column_sums",
    storage: &[(1, Read), (2, ReadWrite)],
};
pub(crate) const ARGMAX_ROWS: EntryPoint = EntryPoint {
    module: REDUCE,
    entry: "argmax_rows",
    storage: &[(1, Read), (3, ReadWrite)],
};
pub(crate) const ACCURACY: EntryPoint = EntryPoint {
    module: REDUCE,
    entry: "accuracy",
    storage: &[(4, Read), (5, Read), (2, ReadWrite)],
};
pub(crate) const UPDATE: EntryPoint = EntryPoint {
    module: OPTIM,
    entry: "update",
    storage: &[(1, ReadWrite), (2, Read), (3, ReadWrite)],
};
pub(crate) const GATHER_ROWS: EntryPoint = EntryPoint {
    module: GATHER,
    entry: "gather",
    storage: &[
        (1, Read),
        (2, Read),
        (3, Read),
        (4, Read),
        (5, Read),
        (6, Read),
        (7, ReadWrite),
        (8, ReadWrite),
    ],
};

pub(crate) const FUSED_SCORES: EntryPoint = EntryPoint {
    module: FUSED_STEP,
    entry: "fused_scores",
    storage: &[
        (1, Texture),
        (2, Read),
        (3, Read),
        (4, Read),
        (5, Texture),
        (6, Uniform),
        (7, Uniform),
        (8, Uniform),
        (9, Uniform),
        (10, ReadWrite),
        (15, Uniform),
    ],
};
pub(crate) const FUSED_WEIGHT_GRAD: EntryPoint = EntryPoint {
    module: FUSED_STEP,
    entry: "fused_weight_grad",
    storage: &[
        (1, Texture),
        (11, Uniform),
        (12, ReadWrite),
        (13, ReadWrite),
        (14, ReadWrite),
    ],
};

/// A compiled pipeline and the layout its bind groups use.
pub(crate) struct Kernel {
    pub name: &'static str,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub bindings: Vec<u32>,
}

/// Module, its variant (generated modules), entry point and override
/// constants.
type KernelKey = (&'static str, String, &'static str, String);

#[derive(Default)]
pub(crate) struct KernelCache {
    modules: RefCell<HashMap<(&'static str, String), Rc<wgpu::ShaderModule>>>,
    kernels: RefCell<HashMap<KernelKey, Rc<Kernel>>>,
}

/// Which source a module is compiled from: its own, or one generated for a
/// variant (named by `key`).
pub(crate) enum Source<'a> {
    Fixed,
    Generated {
        key: String,
        generate: &'a dyn Fn() -> String,
    },
}

impl Source<'_> {
    fn key(&self) -> &str {
        match self {
            Source::Fixed => "",
            Source::Generated { key, .. } => key,
        }
    }
}

impl KernelCache {
    fn module(
        &self,
        context: &GpuContext,
        module: Module,
        source: &Source<'_>,
    ) -> Rc<wgpu::ShaderModule> {
        self.modules
            .borrow_mut()
            .entry((module.name, source.key().to_string()))
            .or_insert_with(|| {
                let text = match source {
                    Source::Fixed => module.source.into(),
                    Source::Generated { generate, .. } => generate().into(),
                };
                let descriptor = wgpu::ShaderModuleDescriptor {
                    label: Some(module.name),
                    source: wgpu::ShaderSource::Wgsl(text),
                };
                Rc::new(if module.trusted {
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
                })
            })
            .clone()
    }

    /// The pipeline for `entry` with `constants`, compiled on first use.
    pub(crate) fn get(
        &self,
        context: &GpuContext,
        entry: &EntryPoint,
        constants: &[(&str, f64)],
    ) -> Rc<Kernel> {
        self.get_from(context, entry, &Source::Fixed, constants)
    }

    /// The pipeline for `entry` compiled from `source`, with `constants`.
    pub(crate) fn get_from(
        &self,
        context: &GpuContext,
        entry: &EntryPoint,
        source: &Source<'_>,
        constants: &[(&str, f64)],
    ) -> Rc<Kernel> {
        let key = (
            entry.module.name,
            source.key().to_string(),
            entry.entry,
            format!("{constants:?}"),
        );
        if let Some(kernel) = self.kernels.borrow().get(&key) {
            return kernel.clone();
        }
        let module = self.module(context, entry.module, source);
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
            let buffer = |ty| wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            };
            let ty = match access {
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
            };
            layout_entries.push(wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty,
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
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry.entry),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let kernel = Rc::new(Kernel {
            name: entry.entry,
            pipeline,
            layout,
            bindings: entry.storage.iter().map(|&(b, _)| b).collect(),
        });
        self.kernels.borrow_mut().insert(key, kernel.clone());
        kernel
    }
}
