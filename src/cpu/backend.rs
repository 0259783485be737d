use super::reference::{LossResult, RowTargets, argmax, loss_rows};
use super::{lane_tree_sum, update_element};
use crate::backend::{
    Backend, BackendInfo, BackendKind, LossOutputs, MatmulSpec, Targets, check_extent, checks,
};
use crate::loss::Loss;
use crate::optimizer::{STATE_SLOTS, UpdateStep};
use crate::{Error, Result};
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2, linalg::general_mat_mul};

/// The ndarray backend. Matrix products use ndarray's (matrixmultiply's)
/// threaded GEMM; everything else is a plain loop.
#[derive(Clone, Debug, Default)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> Self {
        CpuBackend
    }
}

/// Labels on the host, with their maximum cached for range checks.
#[derive(Clone, Debug)]
pub struct CpuLabels {
    data: Vec<u32>,
    max: Option<u32>,
}

impl CpuLabels {
    fn new(data: Vec<u32>) -> Self {
        let max = data.iter().copied().max();
        Self { data, max }
    }
    pub fn as_slice(&self) -> &[u32] {
        &self.data
    }
}

impl Backend for CpuBackend {
    type Buffer = Vec<f32>;
    type Labels = CpuLabels;
    type Rows = Array2<f32>;

    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Cpu,
            adapter: "cpu".into(),
            api: "ndarray".into(),
            device_type: "Host".into(),
        }
    }

    fn zeros(&self, len: usize) -> Result<Vec<f32>> {
        Ok(vec![0.0; len])
    }
    fn upload(&self, data: &[f32]) -> Result<Vec<f32>> {
        Ok(data.to_vec())
    }
    fn write(&self, dst: &mut Vec<f32>, data: &[f32]) -> Result<()> {
        check_extent("write", "data", 0, data.len(), dst.len())?;
        dst[..data.len()].copy_from_slice(data);
        Ok(())
    }
    fn read(&self, src: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(src.clone())
    }
    fn len(&self, buffer: &Vec<f32>) -> usize {
        buffer.len()
    }

    fn upload_labels(&self, data: &[u32]) -> Result<CpuLabels> {
        Ok(CpuLabels::new(data.to_vec()))
    }
    fn write_labels(&self, dst: &mut CpuLabels, data: &[u32]) -> Result<()> {
        check_extent("write_labels", "data", 0, data.len(), dst.data.len())?;
        dst.data[..data.len()].copy_from_slice(data);
        dst.max = dst.data.iter().copied().max();
        Ok(())
    }
    fn read_labels(&self, src: &CpuLabels) -> Result<Vec<u32>> {
        Ok(src.data.clone())
    }
    fn labels_len(&self, labels: &CpuLabels) -> usize {
        labels.data.len()
    }
    fn labels_max(&self, labels: &CpuLabels) -> Option<u32> {
        labels.max
    }

    fn upload_rows(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(x.as_standard_layout().into_owned())
    }
    fn rows_shape(&self, rows: &Array2<f32>) -> (usize, usize) {
        rows.dim()
    }

    fn gather(
        &self,
        src: &Array2<f32>,
        labels: Option<(&CpuLabels, &mut CpuLabels)>,
        indices: &CpuLabels,
        first: usize,
        count: usize,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let (rows, cols) = src.dim();
        checks::gather(
            rows,
            cols,
            indices.data.len(),
            indices.max,
            first,
            count,
            out.len(),
        )?;
        let indices = &indices.data[first..first + count];
        let source = src.as_slice().expect("standard layout");
        for (r, &index) in indices.iter().enumerate() {
            let from = index as usize * cols;
            out[r * cols..(r + 1) * cols].copy_from_slice(&source[from..from + cols]);
        }
        if let Some((source_labels, out_labels)) = labels {
            check_extent("gather", "labels", 0, rows, source_labels.data.len())?;
            check_extent("gather", "output labels", 0, count, out_labels.data.len())?;
            for (r, &index) in indices.iter().enumerate() {
                out_labels.data[r] = source_labels.data[index as usize];
            }
            out_labels.max = out_labels.data.iter().copied().max();
        }
        Ok(())
    }

    fn matmul(
        &self,
        a: &Vec<f32>,
        b: &Vec<f32>,
        out: &mut Vec<f32>,
        spec: &MatmulSpec,
    ) -> Result<()> {
        checks::matmul(spec, a.len(), b.len(), out.len())?;
        let MatmulSpec { m, k, n, .. } = *spec;
        let a_slice = &a[spec.a_offset..spec.a_offset + m * k];
        let a_view = if spec.transpose_a {
            ArrayView2::from_shape((k, m), a_slice)
                .expect("checked")
                .reversed_axes()
        } else {
            ArrayView2::from_shape((m, k), a_slice).expect("checked")
        };
        let b_view = ArrayView2::from_shape((k, n), &b[spec.b_offset..spec.b_offset + k * n])
            .expect("checked");
        let mut c =
            ArrayViewMut2::from_shape((m, n), &mut out[spec.out_offset..spec.out_offset + m * n])
                .expect("checked");
        general_mat_mul(1.0, &a_view, &b_view, 0.0, &mut c);
        if let Some(bias) = spec.bias_offset {
            let bias = ArrayView1::from(&b[bias..bias + n]);
            c += &bias;
        }
        Ok(())
    }

    fn column_sums(
        &self,
        a: &Vec<f32>,
        rows: usize,
        cols: usize,
        out: &mut Vec<f32>,
        out_offset: usize,
    ) -> Result<()> {
        check_extent("column_sums", "input", 0, rows * cols, a.len())?;
        check_extent("column_sums", "output", out_offset, cols, out.len())?;
        for j in 0..cols {
            let mut sum = 0.0f32;
            for i in 0..rows {
                sum += a[i * cols + j];
            }
            out[out_offset + j] = sum;
        }
        Ok(())
    }

    fn loss(
        &self,
        loss: &Loss,
        scores: &Vec<f32>,
        targets: Targets<'_, Self>,
        rows: usize,
        cols: usize,
        out: LossOutputs<'_, Self>,
    ) -> Result<()> {
        let shape_of_targets = match &targets {
            Targets::Classes {
                labels,
                class_weights,
            } => (
                Some((labels.data.len(), labels.max)),
                class_weights.map(|w| w.len()),
                None,
            ),
            Targets::Values(values) => (None, None, Some(values.len())),
        };
        checks::loss(
            rows,
            cols,
            scores.len(),
            shape_of_targets,
            out.dscores.len(),
            out.row_loss.len(),
            out.stats.len(),
            out.slot,
        )?;
        if matches!(targets, Targets::Values(_))
            && !matches!(loss, Loss::MeanSquaredError | Loss::Logistic)
        {
            return Err(Error::InvalidConfig(format!(
                "the {} loss needs class labels, not real-valued targets",
                loss.name()
            )));
        }
        let scores = ArrayView2::from_shape((rows, cols), &scores[..rows * cols]).expect("checked");
        let row_targets = match targets {
            Targets::Classes {
                labels,
                class_weights,
            } => RowTargets::Classes {
                labels: &labels.data[..rows],
                class_weights: class_weights.map(|w| ArrayView1::from(&w[..cols])),
            },
            Targets::Values(values) => RowTargets::Values(
                ArrayView2::from_shape((rows, cols), &values[..rows * cols]).expect("checked"),
            ),
        };
        let LossResult {
            row_loss,
            dscores,
            correct,
        } = loss_rows(loss, scores, &row_targets);
        out.dscores[..rows * cols].copy_from_slice(dscores.as_slice().expect("standard"));
        out.row_loss[..rows].copy_from_slice(row_loss.as_slice().expect("standard"));
        out.stats[2 * out.slot] = lane_tree_sum(row_loss.iter().copied()) * (1.0 / rows as f32);
        out.stats[2 * out.slot + 1] = correct as f32;
        Ok(())
    }

    fn sum(
        &self,
        x: &Vec<f32>,
        len: usize,
        mean: bool,
        out: &mut Vec<f32>,
        slot: usize,
    ) -> Result<()> {
        check_extent("sum", "input", 0, len, x.len())?;
        check_extent("sum", "output", slot, 1, out.len())?;
        let total = lane_tree_sum(x[..len].iter().copied());
        out[slot] = if mean && len > 0 {
            total * (1.0 / len as f32)
        } else {
            total
        };
        Ok(())
    }

    fn argmax_rows(
        &self,
        x: &Vec<f32>,
        rows: usize,
        cols: usize,
        out: &mut CpuLabels,
    ) -> Result<()> {
        if cols == 0 {
            return Err(Error::ShapeMismatch {
                op: "argmax",
                detail: "zero columns".into(),
            });
        }
        check_extent("argmax", "input", 0, rows * cols, x.len())?;
        check_extent("argmax", "output", 0, rows, out.data.len())?;
        for i in 0..rows {
            out.data[i] = argmax(ArrayView1::from(&x[i * cols..(i + 1) * cols])) as u32;
        }
        out.max = out.data.iter().copied().max();
        Ok(())
    }

    fn accuracy(
        &self,
        predicted: &CpuLabels,
        labels: &CpuLabels,
        n: usize,
        out: &mut Vec<f32>,
        slot: usize,
    ) -> Result<()> {
        check_extent("accuracy", "predictions", 0, n, predicted.data.len())?;
        check_extent("accuracy", "labels", 0, n, labels.data.len())?;
        check_extent("accuracy", "output", slot, 1, out.len())?;
        let hits = lane_tree_sum(
            predicted.data[..n]
                .iter()
                .zip(&labels.data[..n])
                .map(|(p, l)| if p == l { 1.0 } else { 0.0 }),
        );
        out[slot] = if n == 0 { 0.0 } else { hits / n as f32 };
        Ok(())
    }

    fn update(
        &self,
        params: &mut Vec<f32>,
        grads: &Vec<f32>,
        state: &mut Vec<f32>,
        step: &UpdateStep,
    ) -> Result<()> {
        let len = params.len();
        check_extent("update", "gradients", 0, len, grads.len())?;
        check_extent(
            "update",
            "optimizer state",
            0,
            STATE_SLOTS * len,
            state.len(),
        )?;
        check_extent("update", "weights", 0, step.weight_len, len)?;
        let scalars = step.scalars();
        let coefficients = step.regularizer.coefficients();
        let (s0, rest) = state.split_at_mut(len);
        let (s1, rest) = rest.split_at_mut(len);
        let s2 = &mut rest[..len];
        for i in 0..len {
            update_element(
                i,
                &mut params[i],
                grads[i],
                [&mut s0[i], &mut s1[i], &mut s2[i]],
                step,
                &scalars,
                coefficients,
            );
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
