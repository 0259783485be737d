//! Labels as read from a file, which column holds them, and the map from
//! label values to the class ids the trainer uses.

use crate::{Error, Result};
use std::collections::HashMap;
use std::str::FromStr;

/// Which CSV column holds the labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last column.
    #[default]
    Last,
    /// A 0-based column index.
    Index(usize),
    /// A column name from the header row.
    Name(String),
}

impl FromStr for LabelColumn {
    type Err = Error;

    /// All digits give a 0-based index, anything else a column name.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::InvalidConfig(
                "the label column must be a 0-based index or a header name, got an empty string"
                    .into(),
            ));
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            let index = text.parse().map_err(|_| {
                Error::InvalidConfig(format!("label column index {text} is too large"))
            })?;
            return Ok(LabelColumn::Index(index));
        }
        Ok(LabelColumn::Name(text.to_string()))
    }
}

/// Labels before they are mapped to class ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawLabels {
    Integers(Vec<i64>),
    Strings(Vec<String>),
}

impl RawLabels {
    pub fn len(&self) -> usize {
        match self {
            RawLabels::Integers(v) => v.len(),
            RawLabels::Strings(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Integers when every value parses as one, or as a whole number written
    /// as a float (NumPy's `savetxt` writes labels as `1.000000000000000000e+00`);
    /// strings otherwise.
    pub fn from_strings(values: Vec<String>) -> RawLabels {
        let integers: Option<Vec<i64>> = values.iter().map(|v| v.trim().parse().ok()).collect();
        if let Some(integers) = integers {
            return RawLabels::Integers(integers);
        }
        // Beyond 2^53 a float no longer tells one whole number from the next.
        const EXACT: f64 = (1u64 << 53) as f64;
        let whole_floats: Option<Vec<i64>> = values
            .iter()
            .map(|v| {
                let value: f64 = v.trim().parse().ok()?;
                (value.is_finite() && value.fract() == 0.0 && value.abs() <= EXACT)
                    .then_some(value as i64)
            })
            .collect();
        match whole_floats {
            Some(integers) => RawLabels::Integers(integers),
            None => RawLabels::Strings(values),
        }
    }

    /// The label of `row` as text (the form class names take).
    pub fn text(&self, row: usize) -> Option<String> {
        match self {
            RawLabels::Integers(v) => v.get(row).map(|i| i.to_string()),
            RawLabels::Strings(v) => v.get(row).cloned(),
        }
    }
}

/// Distinct labels in sorted order; a label's class id is its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassMap {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl ClassMap {
    /// Distinct labels sorted: integers numerically, strings lexicographically.
    pub fn fit(labels: &RawLabels) -> ClassMap {
        let names = match labels {
            RawLabels::Integers(values) => {
                let mut distinct = values.clone();
                distinct.sort_unstable();
                distinct.dedup();
                distinct.iter().map(|v| v.to_string()).collect()
            }
            RawLabels::Strings(values) => {
                let mut distinct: Vec<&String> = values.iter().collect();
                distinct.sort_unstable();
                distinct.dedup();
                distinct.into_iter().cloned().collect()
            }
        };
        Self::from_names(names)
    }

    /// Class names in id order, as stored in a model file.
    pub fn from_names(names: Vec<String>) -> ClassMap {
        let ids = names
            .iter()
            .enumerate()
            .map(|(id, name)| (name.clone(), id as u32))
            .collect();
        ClassMap { names, ids }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Class ids of `labels`; a label that is not a known class is an
    /// [`Error::UnknownLabel`] naming its row.
    pub fn encode(&self, labels: &RawLabels) -> Result<Vec<u32>> {
        let unknown = |row: usize, label: String| Error::UnknownLabel {
            row: row + 1,
            label,
            known: self.known_list(),
        };
        match labels {
            RawLabels::Strings(values) => values
                .iter()
                .enumerate()
                .map(|(row, v)| {
                    self.ids
                        .get(v.as_str())
                        .copied()
                        .ok_or_else(|| unknown(row, v.clone()))
                })
                .collect(),
            RawLabels::Integers(values) => values
                .iter()
                .enumerate()
                .map(|(row, v)| {
                    let text = v.to_string();
                    self.ids
                        .get(&text)
                        .copied()
                        .ok_or_else(|| unknown(row, text))
                })
                .collect(),
        }
    }

    /// The name of class `id`, or `"?"` for an id outside the map.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }

    /// At most 20 names, so that an error stays one readable line.
    fn known_list(&self) -> String {
        const SHOWN: usize = 20;
        let mut list = self
            .names
            .iter()
            .take(SHOWN)
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        if self.names.len() > SHOWN {
            list.push_str(&format!(", … ({} in all)", self.names.len()));
        }
        if list.is_empty() {
            list.push_str("(none)");
        }
        list
    }
}
