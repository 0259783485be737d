//! Instance, adapter choice and device.

use crate::{Error, Result};
use std::sync::{Arc, Mutex};

/// Which adapter to open when `WGPU_ADAPTER_NAME` does not name one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AdapterChoice {
    /// A hardware GPU if there is one, otherwise whatever adapter exists.
    #[default]
    PreferHardware,
    /// The software adapter (lavapipe on Linux): correct but slow.
    Software,
    /// Hardware GPU number `n` modulo their number, in the order
    /// `PreferHardware` ranks them (discrete, integrated, virtual, other;
    /// then as the driver lists them): one GPU per rank of a
    /// data-parallel run on a machine with several. Without a hardware
    /// GPU, what `PreferHardware` picks.
    HardwareNumber(usize),
}

/// Which matrix-multiply kernel to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulVariant {
    /// Large per-invocation register tiles, no barriers: fastest on CPU-type
    /// adapters such as lavapipe, where a barrier is a coroutine switch.
    RegisterTiled,
    /// Register tiles read straight from the storage buffers, without
    /// packing the operands into textures: what `RegisterTiled` falls back
    /// to for shapes beyond the adapter's texture limits. Selectable so the
    /// tests and the benchmark reach it on any shape.
    RegisterTiledBuffers,
    /// Workgroup shared-memory tiles: the usual winner on discrete GPUs.
    SharedTiled,
}

/// Which kernels run [`crate::Backend::linear_step`] on the GPU. By
/// default the fused kernels take every step they fit and, on GPUs, the
/// tiled variant the rest (see [`GpuContext::step_variant`]); forcing one
/// makes the tests and the benchmark reach it on any adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepVariant {
    /// The kernels generated per output count, sharing values through
    /// subgroup broadcasts: C ≤ 16, rows kept as textures, and adapters
    /// whose subgroups hold 8-invocation workgroups whole (lavapipe).
    /// Steps they do not fit run the unfused composition.
    Fused8,
    /// Register-tiled shared-memory GEMMs (64×64 outputs per 256
    /// invocations, rows gathered through the indices while loading), a
    /// workgroup per loss row, and the weight gradient split along the
    /// batch with a fixed-order reduction: any C and D, no subgroup size
    /// assumed. What discrete and integrated GPUs run for every step the
    /// fused kernels do not take (CPU-type adapters run `Unfused` there).
    Tiled,
    /// Gather, matmul, loss, Aᵀ·B matmul and column sums as separate
    /// operations, with scratch allocated on every call.
    Unfused,
}

/// How the tiled step's loss kernel reduces each row (its largest score,
/// the first column holding it, and its sums) over the invocations of its
/// workgroup. Both give the same top and column; sums agree within f32
/// rounding, and each is the same on every run. By default `Subgroup`
/// where the device has subgroup operations (see
/// [`GpuContext::tiled_loss`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TiledLoss {
    /// Subgroup operations within each subgroup (`subgroupAdd`;
    /// `subgroupMax`, then `subgroupMin` over the columns holding the
    /// maximum), then the subgroups' partials combined in subgroup order
    /// through workgroup memory: one barrier per reduction, any subgroup
    /// size from wgpu's floor of 4 lanes up. Needs the adapter's subgroup
    /// feature; forced where it is missing, the loss runs `Workgroup`.
    Subgroup,
    /// A fixed tree in workgroup memory, log2(invocations) + 2 barriers
    /// per reduction: no subgroup operation, any adapter.
    Workgroup,
}

/// The fewest invocations per subgroup the `Subgroup` loss kernel's
/// partial arrays are sized for (`MIN_SUBGROUP_SIZE` in
/// tiled_loss_subgroup.wgsl): wgpu's floor for every adapter.
pub(crate) const MIN_SUBGROUP_SIZE: u32 = wgpu::MINIMUM_SUBGROUP_MIN_SIZE;

/// The loss reduction a device runs: the forced one, or `Subgroup` by
/// default, either only where subgroup operations are enabled and every
/// subgroup has at least [`MIN_SUBGROUP_SIZE`] invocations (`sizes`, the
/// adapter's smallest and largest subgroup, is a real range).
fn resolve_tiled_loss(forced: Option<TiledLoss>, subgroups: bool, sizes: (u32, u32)) -> TiledLoss {
    let (smallest, largest) = sizes;
    let usable = subgroups && smallest >= MIN_SUBGROUP_SIZE && smallest <= largest;
    match forced.unwrap_or(TiledLoss::Subgroup) {
        TiledLoss::Subgroup if usable => TiledLoss::Subgroup,
        _ => TiledLoss::Workgroup,
    }
}

/// How to open a [`GpuContext`].
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    pub adapter: AdapterChoice,
    /// Kernel choice; by default chosen from the adapter's device type.
    pub matmul: Option<MatmulVariant>,
    /// Linear-step kernels; by default chosen per step from the adapter's
    /// properties and the step's shape.
    pub step: Option<StepVariant>,
    /// How the tiled step reduces its loss rows; by default with subgroup
    /// operations where the device has them ([`GpuContext::tiled_loss`]).
    pub tiled_loss: Option<TiledLoss>,
    /// Caps the bytes of one storage binding below the adapter's limit
    /// (to exercise the split of large datasets on small data).
    pub max_binding_bytes: Option<u64>,
    /// Caps the rows of one chunk of a resident dataset (to exercise the
    /// multi-buffer gather on small data).
    pub max_chunk_rows: Option<usize>,
}

/// What an adapter is, as `lintrain info` prints it.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub max_storage_binding_bytes: u64,
    pub max_buffer_bytes: u64,
    pub max_workgroup_storage_bytes: u32,
    pub max_invocations_per_workgroup: u32,
}

impl AdapterSummary {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let limits = adapter.limits();
        Self {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            max_storage_binding_bytes: limits.max_storage_buffer_binding_size,
            max_buffer_bytes: limits.max_buffer_size,
            max_workgroup_storage_bytes: limits.max_compute_workgroup_storage_size,
            max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        }
    }
}

/// An open device: the adapter's identity and limits, the device and queue.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) info: wgpu::AdapterInfo,
    pub(crate) limits: wgpu::Limits,
    pub(crate) matmul: MatmulVariant,
    /// The step variant forced by [`GpuOptions::step`], if any.
    pub(crate) step: Option<StepVariant>,
    pub(crate) max_binding_bytes: u64,
    pub(crate) max_chunk_rows: Option<usize>,
    /// Whether every 8-invocation workgroup is one subgroup with subgroup
    /// operations enabled, as the fused step's kernels need.
    pub(crate) subgroups_of_8: bool,
    /// The tiled step's loss reduction, resolved for this device.
    pub(crate) tiled_loss: TiledLoss,
    /// Validation errors wgpu reports asynchronously, surfaced as
    /// [`Error::Gpu`] on the next flush instead of a panic.
    pub(crate) device_error: Arc<Mutex<Option<String>>>,
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter the instance sees (honours `WGPU_BACKEND`).
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(AdapterSummary::of)
        .collect()
}

impl GpuContext {
    /// Opens a device on the chosen kind of adapter.
    pub fn new(adapter: AdapterChoice) -> Result<Self> {
        Self::with_options(GpuOptions {
            adapter,
            ..GpuOptions::default()
        })
    }

    /// Opens a device. `WGPU_BACKEND` restricts the graphics APIs tried, and
    /// `WGPU_ADAPTER_NAME` (a case-insensitive substring) picks an adapter
    /// by name, overriding `options.adapter`.
    pub fn with_options(options: GpuOptions) -> Result<Self> {
        let instance = instance();
        let adapter = pick_adapter(&instance, options.adapter)?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let subgroups = adapter.features() & wgpu::Features::SUBGROUP;
        let subgroups_of_8 = !subgroups.is_empty() && info.subgroup_min_size >= 8;
        let tiled_loss = resolve_tiled_loss(
            options.tiled_loss,
            !subgroups.is_empty(),
            (info.subgroup_min_size, info.subgroup_max_size),
        );
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("lintrain"),
            required_features: subgroups,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::DeviceRequest {
            adapter: info.name.clone(),
            reason: e.to_string(),
        })?;
        let device_error = Arc::new(Mutex::new(None::<String>));
        let slot = device_error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let matmul = options.matmul.unwrap_or(match info.device_type {
            wgpu::DeviceType::Cpu => MatmulVariant::RegisterTiled,
            _ => MatmulVariant::SharedTiled,
        });
        let adapter_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let max_binding_bytes = options
            .max_binding_bytes
            .map_or(adapter_binding, |cap| cap.min(adapter_binding));
        Ok(Self {
            device,
            queue,
            info,
            limits,
            matmul,
            step: options.step,
            max_binding_bytes,
            max_chunk_rows: options.max_chunk_rows,
            subgroups_of_8,
            tiled_loss,
            device_error,
        })
    }

    pub fn adapter_name(&self) -> &str {
        &self.info.name
    }
    pub fn backend_name(&self) -> String {
        format!("{:?}", self.info.backend)
    }
    pub fn device_type(&self) -> wgpu::DeviceType {
        self.info.device_type
    }
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }
    pub fn matmul_variant(&self) -> MatmulVariant {
        self.matmul
    }
    /// The step variant forced when the context was opened, if any.
    pub fn forced_step_variant(&self) -> Option<StepVariant> {
        self.step
    }
    /// Which kernels run a linear step that the fused kernels fit
    /// (`fused_fits`) or not: the forced variant ([`GpuOptions::step`],
    /// with `Fused8` running unfused where the fused kernels do not fit);
    /// otherwise the fused kernels where they fit, and elsewhere the tiled
    /// variant on GPUs but the unfused composition on CPU-type adapters
    /// (lavapipe), where every workgroup barrier is a coroutine switch:
    /// there the tiled step measured about 10× slower than the unfused one
    /// at 768 features × 100 and × 1000 outputs.
    pub fn step_variant(&self, fused_fits: bool) -> StepVariant {
        match self.step {
            Some(StepVariant::Fused8) if !fused_fits => StepVariant::Unfused,
            Some(forced) => forced,
            None if fused_fits => StepVariant::Fused8,
            None if self.info.device_type == wgpu::DeviceType::Cpu => StepVariant::Unfused,
            None => StepVariant::Tiled,
        }
    }
    /// How the tiled step reduces its loss rows here: as forced by
    /// [`GpuOptions::tiled_loss`], or by default with subgroup operations,
    /// either where the device was opened with subgroup operations and the
    /// adapter's smallest subgroup holds at least 4 invocations; elsewhere
    /// (and where `Subgroup` was forced but is unavailable) in workgroup
    /// memory.
    pub fn tiled_loss(&self) -> TiledLoss {
        self.tiled_loss
    }
    /// Largest number of bytes one storage binding may span here.
    pub fn max_binding_bytes(&self) -> u64 {
        self.max_binding_bytes
    }

    /// Takes the first asynchronous device error, if any.
    pub(crate) fn take_device_error(&self) -> Result<()> {
        let mut slot = self.device_error.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some(message) => Err(Error::Gpu(message)),
            None => Ok(()),
        }
    }
}

fn pick_adapter(instance: &wgpu::Instance, choice: AdapterChoice) -> Result<wgpu::Adapter> {
    let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME")
        && !wanted.is_empty()
    {
        let needle = wanted.to_lowercase();
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        return adapters
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&needle))
            .ok_or_else(|| Error::AdapterNotFound {
                requested: wanted,
                available: if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                },
            });
    }
    let is_software = |a: &wgpu::Adapter| a.get_info().device_type == wgpu::DeviceType::Cpu;
    let rank = |a: &wgpu::Adapter| match a.get_info().device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let picked = match choice {
        AdapterChoice::Software => adapters.into_iter().find(is_software),
        AdapterChoice::PreferHardware => adapters.into_iter().min_by_key(rank),
        AdapterChoice::HardwareNumber(n) => {
            let types: Vec<_> = adapters.iter().map(|a| a.get_info().device_type).collect();
            hardware_number(&types, n).map(|at| adapters.swap_remove(at))
        }
    };
    picked.ok_or_else(|| Error::NoAdapter {
        detail: match choice {
            AdapterChoice::Software => " (asked for the software adapter)".into(),
            AdapterChoice::PreferHardware | AdapterChoice::HardwareNumber(_) => String::new(),
        },
    })
}

/// Where among adapters of the device types `types` (as the driver lists
/// them) [`AdapterChoice::HardwareNumber`]`(n)` points: hardware adapter
/// `n` modulo their number, discrete before integrated before virtual
/// before other (a stable order: adapters of one type keep the driver's
/// order); without a hardware adapter, the first software one.
fn hardware_number(types: &[wgpu::DeviceType], n: usize) -> Option<usize> {
    let order = |t: wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let mut hardware: Vec<usize> = (0..types.len())
        .filter(|&i| types[i] != wgpu::DeviceType::Cpu)
        .collect();
    hardware.sort_by_key(|&i| order(types[i]));
    match hardware.len() {
        0 => types.iter().position(|&t| t == wgpu::DeviceType::Cpu),
        count => Some(hardware[n % count]),
    }
}

/// Whether a hardware (non-software) GPU adapter exists.
pub fn hardware_adapter_available() -> bool {
    list_adapters()
        .iter()
        .any(|a| a.device_type != format!("{:?}", wgpu::DeviceType::Cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_local_rank_takes_its_own_hardware_gpu() {
        use wgpu::DeviceType::{Cpu, DiscreteGpu, IntegratedGpu};
        let machine = [Cpu, IntegratedGpu, DiscreteGpu, DiscreteGpu];
        let picked: Vec<_> = (0..5).map(|n| hardware_number(&machine, n)).collect();
        // Discrete ones first in the driver's order, then the integrated
        // one, then around again; never the software adapter.
        assert_eq!(picked, [Some(2), Some(3), Some(1), Some(2), Some(3)]);
        assert_eq!(hardware_number(&[DiscreteGpu, Cpu], 1), Some(0));
        assert_eq!(hardware_number(&[Cpu, Cpu], 3), Some(0));
        assert_eq!(hardware_number(&[], 0), None);
    }

    #[test]
    fn tiled_loss_uses_subgroups_only_where_they_are_usable() {
        use TiledLoss::{Subgroup, Workgroup};
        for forced in [None, Some(Subgroup)] {
            assert_eq!(resolve_tiled_loss(forced, true, (8, 8)), Subgroup);
            assert_eq!(resolve_tiled_loss(forced, true, (4, 128)), Subgroup);
            assert_eq!(resolve_tiled_loss(forced, true, (32, 64)), Subgroup);
            assert_eq!(resolve_tiled_loss(forced, false, (32, 32)), Workgroup);
            // Sizes below the kernel's floor, or no real range.
            assert_eq!(resolve_tiled_loss(forced, true, (2, 8)), Workgroup);
            assert_eq!(resolve_tiled_loss(forced, true, (0, 0)), Workgroup);
            assert_eq!(resolve_tiled_loss(forced, true, (64, 32)), Workgroup);
        }
        assert_eq!(
            resolve_tiled_loss(Some(Workgroup), true, (32, 32)),
            Workgroup
        );
    }
}
