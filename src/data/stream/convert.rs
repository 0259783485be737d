//! The element types a streamed shard may hold and their conversion to f32,
//! a slice at a time: the loops are plain passes over slices that the
//! compiler vectorizes, with no allocation per value (half precision goes
//! through a caller's scratch buffer of `u16`).
//!
//! Each conversion is the one the resident loader makes, so a streamed row
//! has the bits of the same row loaded whole: f16 → f32 exactly
//! (`half::f16::to_f32`), f64 → f32 by `as f32` (round to nearest), integers
//! by `as f32`, booleans as 0 or 1 (any non-zero byte is true, as NumPy
//! reads it).

use super::super::npy::Kind;
use half::f16;
use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};

/// The numeric type of one value in a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Element {
    F16,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
}

/// An [`Element`] and its byte order as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ElementType {
    pub(super) element: Element,
    pub(super) big_endian: bool,
}

impl ElementType {
    /// The type of a `.npy` header's dtype (as `npy::parse_descr` reads it),
    /// or `None` for strings, which are never features.
    pub(super) fn from_descr(kind: Kind, size: usize, big_endian: bool) -> Option<ElementType> {
        let element = match (kind, size) {
            (Kind::Float, 2) => Element::F16,
            (Kind::Float, 4) => Element::F32,
            (Kind::Float, 8) => Element::F64,
            (Kind::Signed, 1) => Element::I8,
            (Kind::Signed, 2) => Element::I16,
            (Kind::Signed, 4) => Element::I32,
            (Kind::Signed, 8) => Element::I64,
            (Kind::Unsigned, 1) => Element::U8,
            (Kind::Unsigned, 2) => Element::U16,
            (Kind::Unsigned, 4) => Element::U32,
            (Kind::Unsigned, 8) => Element::U64,
            (Kind::Bool, 1) => Element::Bool,
            _ => return None,
        };
        // One byte has no order; comparing shards must not see one.
        let big_endian = big_endian && element.size() > 1;
        Some(ElementType {
            element,
            big_endian,
        })
    }

    /// Bytes per value.
    pub(super) fn size(self) -> usize {
        self.element.size()
    }

    /// `f32`, `f16 big-endian`, `u8`, … for messages.
    pub(super) fn describe(self) -> String {
        let name = match self.element {
            Element::F16 => "f16",
            Element::F32 => "f32",
            Element::F64 => "f64",
            Element::I8 => "i8",
            Element::I16 => "i16",
            Element::I32 => "i32",
            Element::I64 => "i64",
            Element::U8 => "u8",
            Element::U16 => "u16",
            Element::U32 => "u32",
            Element::U64 => "u64",
            Element::Bool => "bool",
        };
        if self.big_endian {
            format!("{name} big-endian")
        } else {
            name.to_string()
        }
    }

    /// Whether the stored bytes are already the f32 values in this
    /// machine's layout, so they can be read straight into an f32 array.
    pub(super) fn is_native_f32(self) -> bool {
        self.element == Element::F32 && self.big_endian == cfg!(target_endian = "big")
    }

    /// Converts the values stored in `raw` into `out` (one f32 per
    /// `size()` bytes; `raw.len() == out.len() * size()`). `half_bits` is
    /// scratch for half precision, grown to `out.len()` once and reused.
    pub(super) fn convert(self, raw: &[u8], out: &mut [f32], half_bits: &mut Vec<u16>) {
        debug_assert_eq!(raw.len(), out.len() * self.size());
        let big = self.big_endian;
        match self.element {
            Element::F16 => {
                half_bits.clear();
                half_bits.extend(raw.chunks_exact(2).map(|b| {
                    let b = [b[0], b[1]];
                    if big {
                        u16::from_be_bytes(b)
                    } else {
                        u16::from_le_bytes(b)
                    }
                }));
                // Vectorized by `half` (F16C where the CPU has it); exact, as
                // every f16 is an f32.
                half_bits
                    .reinterpret_cast::<f16>()
                    .convert_to_f32_slice(out);
            }
            // The stored bytes are the values: one copy, no conversion.
            Element::F32 if !big && cfg!(target_endian = "little") => {
                bytemuck::cast_slice_mut::<f32, u8>(out).copy_from_slice(raw);
            }
            Element::F32 => convert_items(raw, out, big, f32::from_le_bytes),
            Element::F64 => convert_items(raw, out, big, |b| f64::from_le_bytes(b) as f32),
            Element::I8 => convert_items(raw, out, big, |[b]: [u8; 1]| f32::from(b as i8)),
            Element::U8 => convert_items(raw, out, big, |[b]: [u8; 1]| f32::from(b)),
            Element::Bool => {
                convert_items(raw, out, big, |[b]: [u8; 1]| f32::from(u8::from(b != 0)))
            }
            Element::I16 => convert_items(raw, out, big, |b| f32::from(i16::from_le_bytes(b))),
            Element::U16 => convert_items(raw, out, big, |b| f32::from(u16::from_le_bytes(b))),
            Element::I32 => convert_items(raw, out, big, |b| i32::from_le_bytes(b) as f32),
            Element::U32 => convert_items(raw, out, big, |b| u32::from_le_bytes(b) as f32),
            Element::I64 => convert_items(raw, out, big, |b| i64::from_le_bytes(b) as f32),
            Element::U64 => convert_items(raw, out, big, |b| u64::from_le_bytes(b) as f32),
        }
    }
}

impl Element {
    fn size(self) -> usize {
        match self {
            Element::I8 | Element::U8 | Element::Bool => 1,
            Element::F16 | Element::I16 | Element::U16 => 2,
            Element::F32 | Element::I32 | Element::U32 => 4,
            Element::F64 | Element::I64 | Element::U64 => 8,
        }
    }
}

/// `out[i] = convert(item i of raw, in little-endian byte order)`.
#[inline]
fn convert_items<const N: usize>(
    raw: &[u8],
    out: &mut [f32],
    big_endian: bool,
    convert: impl Fn([u8; N]) -> f32,
) {
    // Two loops rather than a branch per value, so each vectorizes.
    let items = raw.chunks_exact(N).zip(out.iter_mut());
    if big_endian {
        for (bytes, value) in items {
            let mut item: [u8; N] = bytes.try_into().expect("chunks_exact(N) yields N bytes");
            item.reverse();
            *value = convert(item);
        }
    } else {
        for (bytes, value) in items {
            *value = convert(bytes.try_into().expect("chunks_exact(N) yields N bytes"));
        }
    }
}

/// The index of the first value of `values` that is infinite or NaN.
#[inline]
pub(super) fn first_non_finite(values: &[f32]) -> Option<usize> {
    // A branch-free test per block of 64 vectorizes; the position is looked
    // for only in the rare block that has one.
    let mut start = 0;
    for block in values.chunks(64) {
        if !block.iter().fold(true, |all, v| all & v.is_finite()) {
            return block
                .iter()
                .position(|v| !v.is_finite())
                .map(|at| start + at);
        }
        start += block.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(element: Element, big_endian: bool) -> ElementType {
        ElementType {
            element,
            big_endian,
        }
    }

    #[test]
    fn every_finite_half_converts_exactly_in_either_byte_order() {
        let bits: Vec<u16> = (0..=u16::MAX).collect();
        let expected: Vec<f32> = bits.iter().map(|&b| f16::from_bits(b).to_f32()).collect();
        for big_endian in [false, true] {
            let raw: Vec<u8> = bits
                .iter()
                .flat_map(|b| {
                    if big_endian {
                        b.to_be_bytes()
                    } else {
                        b.to_le_bytes()
                    }
                })
                .collect();
            let mut out = vec![f32::NAN; bits.len()];
            let mut scratch = Vec::new();
            element(Element::F16, big_endian).convert(&raw, &mut out, &mut scratch);
            let mut finite = 0;
            for (i, (&got, &want)) in out.iter().zip(&expected).enumerate() {
                if want.is_finite() {
                    finite += 1;
                    assert_eq!(got.to_bits(), want.to_bits(), "f16 bits {i:#06x}");
                } else {
                    assert!(!got.is_finite(), "f16 bits {i:#06x} gave {got}");
                }
            }
            // 2 × 31 exponents × 1024 mantissas are finite.
            assert_eq!(finite, 63488);
        }
    }

    #[test]
    fn wide_and_integer_types_convert_as_the_resident_loader_does() {
        let values = [0.1f64, -2.5, 1e300, 3.0e-40, -0.0];
        for big_endian in [false, true] {
            let raw: Vec<u8> = values
                .iter()
                .flat_map(|v| {
                    if big_endian {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    }
                })
                .collect();
            let mut out = vec![f32::NAN; values.len()];
            element(Element::F64, big_endian).convert(&raw, &mut out, &mut Vec::new());
            let expected: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            assert_eq!(
                out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
        let mut out = [0.0f32; 3];
        let raw: Vec<u8> = [-7i16, 300, i16::MIN]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        element(Element::I16, true).convert(&raw, &mut out, &mut Vec::new());
        assert_eq!(out, [-7.0, 300.0, -32768.0]);
        element(Element::Bool, false).convert(&[0, 1, 7], &mut out, &mut Vec::new());
        assert_eq!(out, [0.0, 1.0, 1.0]);
        let raw: Vec<u8> = [u64::MAX, 5, 1 << 40]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        element(Element::U64, false).convert(&raw, &mut out, &mut Vec::new());
        assert_eq!(out, [u64::MAX as f32, 5.0, (1u64 << 40) as f32]);
    }

    #[test]
    fn the_first_non_finite_value_is_found_in_any_block() {
        let mut values = vec![1.0f32; 200];
        assert_eq!(first_non_finite(&values), None);
        values[130] = f32::INFINITY;
        values[150] = f32::NAN;
        assert_eq!(first_non_finite(&values), Some(130));
        values[3] = f32::NEG_INFINITY;
        assert_eq!(first_non_finite(&values), Some(3));
        assert_eq!(first_non_finite(&[]), None);
        assert_eq!(
            ElementType::from_descr(Kind::Unsigned, 1, true).map(ElementType::describe),
            Some("u8".to_string())
        );
        assert_eq!(ElementType::from_descr(Kind::Unicode, 4, false), None);
    }
}
