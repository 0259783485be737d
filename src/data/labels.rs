//! Labels as read from a file, which column holds them, and the map from
//! label values to the class ids the trainer uses.

use crate::limits::MAX_CLASSES;
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
///
/// Stored compactly: each distinct value once, in the order it first
/// appears, and one `u32` code per row pointing at it, so that a large
/// table of a few classes takes 4 bytes a label (a `String` per row took
/// about 70) and fitting and encoding classes work on the few distinct
/// values instead of every row. A label set has at most
/// [`MAX_CLASSES`] distinct values. Two `RawLabels` are equal when they
/// hold the same labels in the same rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawLabels {
    values: Values,
    codes: Vec<u32>,
}

/// The distinct values, in order of first appearance.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Values {
    Integers(Vec<i64>),
    Strings(Vec<String>),
}

impl RawLabels {
    /// Integer labels, one per row.
    pub fn integers(values: impl IntoIterator<Item = i64>) -> Result<RawLabels> {
        let mut builder = IntegerLabels::default();
        for value in values {
            builder.push(value).map_err(|count| too_many(count, None))?;
        }
        Ok(builder.finish())
    }

    /// Text labels, one per row, taken as they are (not parsed as numbers).
    pub fn strings<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Result<RawLabels> {
        let mut builder = TextLabels::default();
        for value in values {
            builder
                .push(value.as_ref(), 0)
                .map_err(|count| too_many(count, None))?;
        }
        Ok(builder.into_strings())
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Whether the labels are integers (else text).
    pub fn is_integers(&self) -> bool {
        matches!(self.values, Values::Integers(_))
    }

    /// How many distinct labels there are.
    pub fn distinct(&self) -> usize {
        match &self.values {
            Values::Integers(v) => v.len(),
            Values::Strings(v) => v.len(),
        }
    }

    /// The label of `row` as text (the form class names take).
    pub fn text(&self, row: usize) -> Option<String> {
        let code = *self.codes.get(row)? as usize;
        self.values.text(code)
    }

    /// The labels of several tables one after the other: integers when all
    /// are, else decided again from the texts as one column (see
    /// [`TextLabels::finish`]); a label that is not a whole number beside
    /// integers is reported at its 0-based row of the whole.
    pub(crate) fn concat(parts: &[&RawLabels]) -> std::result::Result<RawLabels, LabelsError> {
        let rows: usize = parts.iter().map(|p| p.len()).sum();
        if parts.iter().all(|p| p.is_integers()) {
            let mut builder = IntegerLabels::default();
            builder.codes.reserve_exact(rows);
            for part in parts {
                let Values::Integers(values) = &part.values else {
                    continue;
                };
                for &code in &part.codes {
                    let value = values.get(code as usize).copied().unwrap_or_default();
                    builder.push(value).map_err(LabelsError::TooMany)?;
                }
            }
            return Ok(builder.finish());
        }
        let mut builder = TextLabels::default();
        builder.codes.reserve_exact(rows);
        let mut row = 0u64;
        for part in parts {
            let texts: Vec<String> = (0..part.distinct())
                .map(|code| part.values.text(code).unwrap_or_default())
                .collect();
            for &code in &part.codes {
                let text = texts.get(code as usize).map_or("", String::as_str);
                builder.push(text, row).map_err(LabelsError::TooMany)?;
                row += 1;
            }
        }
        builder.finish()
    }
}

impl Values {
    fn text(&self, code: usize) -> Option<String> {
        match self {
            Values::Integers(v) => v.get(code).map(i64::to_string),
            Values::Strings(v) => v.get(code).cloned(),
        }
    }
}

/// [`Error::TooLarge`] for a label set of more than [`MAX_CLASSES`]
/// distinct values, naming the file when there is one.
pub(crate) fn too_many(count: u64, path: Option<&std::path::Path>) -> Error {
    let what = match path {
        Some(path) => format!("the number of distinct labels in {}", path.display()),
        None => "the number of distinct labels".to_string(),
    };
    Error::TooLarge {
        what,
        size: count,
        limit: MAX_CLASSES,
    }
}

/// Why labels read as text were refused.
#[derive(Debug)]
pub(crate) enum LabelsError {
    /// More than [`MAX_CLASSES`] distinct values (the count reached).
    TooMany(u64),
    /// `value`, first met at `origin`, is a number but not a whole one
    /// while the other labels are integers.
    NotWhole { value: String, origin: u64 },
}

impl LabelsError {
    /// The reason for a [`LabelsError::NotWhole`], to go with the location.
    pub(crate) fn not_whole_reason(value: &str) -> String {
        let what = match value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v.fract() == 0.0 => {
                "is a whole number too large to be exact as a float (beyond 2^53)"
            }
            _ => "is not a whole number",
        };
        format!("label {value:?} {what}; the other labels are integers")
    }
}

/// Integer labels as they are read: the distinct values and one code per
/// row.
#[derive(Default)]
pub(crate) struct IntegerLabels {
    index: HashMap<i64, u32>,
    values: Vec<i64>,
    codes: Vec<u32>,
}

impl IntegerLabels {
    /// Adds one row; `Err(count)` when that would make more than
    /// [`MAX_CLASSES`] distinct values.
    pub(crate) fn push(&mut self, value: i64) -> std::result::Result<(), u64> {
        let code = match self.index.get(&value) {
            Some(&code) => code,
            None => {
                let code = new_code(self.values.len())?;
                self.index.insert(value, code);
                self.values.push(value);
                code
            }
        };
        self.codes.push(code);
        Ok(())
    }

    /// Room for `rows` more rows, or `Err` when it cannot be allocated.
    pub(crate) fn try_reserve(&mut self, rows: usize) -> std::result::Result<(), ()> {
        self.codes.try_reserve_exact(rows).map_err(|_| ())
    }

    pub(crate) fn finish(self) -> RawLabels {
        RawLabels {
            values: Values::Integers(self.values),
            codes: self.codes,
        }
    }
}

/// The code of the next new distinct value, `Err(count)` past the limit.
fn new_code(distinct: usize) -> std::result::Result<u32, u64> {
    let count = distinct as u64 + 1;
    if count > MAX_CLASSES {
        return Err(count);
    }
    u32::try_from(distinct).map_err(|_| count)
}

/// Labels read as text (a CSV column, a text labels file), one row at a
/// time: the distinct texts, where each was first met (a position the
/// caller chooses, such as a byte offset or a line), and one code per row.
#[derive(Default)]
pub(crate) struct TextLabels {
    index: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
    origins: Vec<u64>,
    codes: Vec<u32>,
}

impl TextLabels {
    /// Adds one row whose label is `text`, met at `origin`; `Err(count)`
    /// when that would make more than [`MAX_CLASSES`] distinct values.
    pub(crate) fn push(&mut self, text: &str, origin: u64) -> std::result::Result<(), u64> {
        let code = match self.index.get(text) {
            Some(&code) => code,
            None => {
                let code = new_code(self.values.len())?;
                self.index.insert(text.into(), code);
                self.values.push(text.into());
                self.origins.push(origin);
                code
            }
        };
        self.codes.push(code);
        Ok(())
    }

    /// Room for `rows` more rows, or `Err` when it cannot be allocated.
    pub(crate) fn try_reserve(&mut self, rows: usize) -> std::result::Result<(), ()> {
        self.codes.try_reserve_exact(rows).map_err(|_| ())
    }

    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    /// The labels as text, whatever they look like.
    fn into_strings(self) -> RawLabels {
        RawLabels {
            values: Values::Strings(self.values.into_iter().map(String::from).collect()),
            codes: self.codes,
        }
    }

    /// Integers when every label is a whole number: written as an integer,
    /// or as a float (NumPy's `savetxt` writes labels as
    /// `1.000000000000000000e+00`) up to 2⁵³, beyond which a float no
    /// longer tells one whole number from the next. Strings when some label
    /// is not a number at all (`cat`), or when none is whole (a column of
    /// `0.5, 2.5` is two classes named so). Integers beside a number that
    /// is not whole (`nan`, `inf`, `1e400`, `0.5`) are refused: that is a
    /// corrupt label, not a class, and it is named by its first
    /// occurrence.
    ///
    /// Only the distinct texts are parsed; texts that are the same integer
    /// (`1`, `1.0`, `01`) become one value.
    pub(crate) fn finish(self) -> std::result::Result<RawLabels, LabelsError> {
        enum Kind {
            Whole(i64),
            Fraction,
            Text,
        }
        const EXACT: f64 = (1u64 << 53) as f64;
        let kinds: Vec<Kind> = self
            .values
            .iter()
            .map(|text| {
                let text = text.trim();
                if let Ok(value) = text.parse::<i64>() {
                    return Kind::Whole(value);
                }
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() <= EXACT => {
                        Kind::Whole(v as i64)
                    }
                    Ok(_) => Kind::Fraction,
                    Err(_) => Kind::Text,
                }
            })
            .collect();
        let any_whole = kinds.iter().any(|k| matches!(k, Kind::Whole(_)));
        if !any_whole || kinds.iter().any(|k| matches!(k, Kind::Text)) {
            return Ok(self.into_strings());
        }
        if let Some(code) = kinds.iter().position(|k| matches!(k, Kind::Fraction)) {
            return Err(LabelsError::NotWhole {
                value: self.values[code].to_string(),
                origin: self.origins[code],
            });
        }
        // Distinct texts of one integer merge into the first one's value.
        let wholes = kinds.iter().filter_map(|k| match k {
            Kind::Whole(value) => Some(*value),
            _ => None,
        });
        let mut index: HashMap<i64, u32> = HashMap::new();
        let mut values = Vec::new();
        let mut remap = Vec::with_capacity(kinds.len());
        for value in wholes {
            let code = *index.entry(value).or_insert_with(|| {
                values.push(value);
                (values.len() - 1) as u32
            });
            remap.push(code);
        }
        let mut codes = self.codes;
        if values.len() != kinds.len() {
            for code in &mut codes {
                *code = remap[*code as usize];
            }
        }
        Ok(RawLabels {
            values: Values::Integers(values),
            codes,
        })
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
        let names = match &labels.values {
            Values::Integers(values) => {
                let mut distinct = values.clone();
                distinct.sort_unstable();
                distinct.iter().map(|v| v.to_string()).collect()
            }
            Values::Strings(values) => {
                let mut distinct = values.clone();
                distinct.sort_unstable();
                distinct
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

    /// The class id of the label `name`, if it is one of the classes.
    pub fn id_of(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
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
    /// [`Error::UnknownLabel`] naming its first row. Each distinct label is
    /// looked up once.
    pub fn encode(&self, labels: &RawLabels) -> Result<Vec<u32>> {
        let ids: Vec<Option<u32>> = (0..labels.distinct())
            .map(|code| {
                let text = labels.values.text(code)?;
                self.ids.get(&text).copied()
            })
            .collect();
        labels
            .codes
            .iter()
            .enumerate()
            .map(|(row, &code)| {
                ids.get(code as usize)
                    .copied()
                    .flatten()
                    .ok_or_else(|| Error::UnknownLabel {
                        row: row + 1,
                        label: labels.values.text(code as usize).unwrap_or_default(),
                        known: self.known_list(),
                    })
            })
            .collect()
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
