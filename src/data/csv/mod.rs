//! Delimited text: comma, tab, semicolon or whitespace separated (sniffed
//! from the first line unless [`LoadOptions::delimiter`] says; `.tsv` is
//! always tab), with or without a header row ([`LoadOptions::header`]).
//!
//! Errors name the file, the 1-based line (the header counts) and the
//! 1-based column. Lines are counted from each record's byte position, so
//! `\n`, `\r\n` and `\r` line endings all give the line an editor shows.

mod label_column;
mod rows;

use super::labels::{LabelColumn, LabelsError, too_many};
use super::{LoadOptions, Table, format_error, numbered_names};
use crate::{Error, Result};
use csv::{ByteRecord, Position, ReaderBuilder};
use label_column::{label_column, label_position, no_features};
use ndarray::Array2;
use rows::{BATCH_ROWS, RowLayout, Rows, line_bound, named_column};
use std::path::Path;
use std::str::FromStr;

/// Whether the first row of a text file names the columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeaderMode {
    /// Decided from the first rows: the first row is a header when
    /// - one of its fields is not a number while the same field of the
    ///   second row is, or
    /// - the label column is given by a name that the first row holds, or
    /// - its numeric fields read `0, 1, 2, …` in order, the names pandas and
    ///   NumPy give unnamed columns (`0,1,…,29,label`): at least two of them
    ///   beside a field that is not a number, at least three when every
    ///   field is a number;
    ///
    /// and in a one-row file when none of its fields is a number.
    #[default]
    Auto,
    /// The first row is a header.
    Yes,
    /// The first row is data.
    No,
}

/// How the fields of a text file are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delimiter {
    /// One byte, such as `,`, `;`, `|` or a tab; CSV quoting applies.
    Byte(u8),
    /// Runs of spaces and tabs, leading and trailing ones ignored, as NumPy's
    /// `savetxt` writes and `loadtxt` reads; lines starting with `#` are
    /// comments (`savetxt`'s header) and there is no quoting.
    Whitespace,
}

impl FromStr for Delimiter {
    type Err = Error;

    /// `space` (or `whitespace`, or a space) for runs of whitespace; `tab`
    /// (or `\t`), `comma`, `semicolon`, `pipe`; or any one ASCII punctuation
    /// character.
    fn from_str(text: &str) -> Result<Self> {
        let delimiter = match text {
            " " | "space" | "spaces" | "whitespace" => Delimiter::Whitespace,
            "\t" | "\\t" | "tab" => Delimiter::Byte(b'\t'),
            "comma" => Delimiter::Byte(b','),
            "semicolon" => Delimiter::Byte(b';'),
            "pipe" => Delimiter::Byte(b'|'),
            _ => match text.as_bytes() {
                &[byte] if byte.is_ascii_punctuation() && byte != b'"' => Delimiter::Byte(byte),
                _ => {
                    return Err(Error::InvalidConfig(format!(
                        "delimiter {text:?}: give one punctuation character (such as , ; |), \
                         tab, or space (runs of whitespace)"
                    )));
                }
            },
        };
        Ok(delimiter)
    }
}

impl std::fmt::Display for Delimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delimiter::Whitespace => f.write_str("whitespace"),
            Delimiter::Byte(b'\t') => f.write_str("tab"),
            Delimiter::Byte(byte) => write!(f, "{:?}", *byte as char),
        }
    }
}

pub(crate) fn load(path: &Path, bytes: &[u8], options: &LoadOptions) -> Result<Table> {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| sniff_delimiter(path, text));
    let mut records = Records::new(text, delimiter);
    let read_error = |e: csv::Error| Error::Parse {
        path: path.to_path_buf(),
        line: e.position().map_or(0, |p| line_at(text, p.byte())),
        column: 1,
        reason: e.to_string(),
    };

    let mut first = ByteRecord::new();
    if !records.read(&mut first).map_err(read_error)? {
        return Err(Error::EmptyData(format!("{} is empty", path.display())));
    }
    let mut second = ByteRecord::new();
    let has_second = records.read(&mut second).map_err(read_error)?;
    let has_header = match options.header {
        HeaderMode::Yes => true,
        HeaderMode::No => false,
        HeaderMode::Auto => is_header(&first, has_second.then_some(&second), &options.label),
    };
    if has_header && !has_second {
        return Err(Error::EmptyData(format!(
            "{} has a header but no data rows",
            path.display()
        )));
    }

    let columns = first.len();
    let header: Option<Vec<String>> = has_header.then(|| {
        first
            .iter()
            .map(|f| String::from_utf8_lossy(f.trim_ascii()).into_owned())
            .collect()
    });
    let label_index = label_column(path, columns, header.as_deref(), options)?;
    let feature_count = columns - usize::from(label_index.is_some());
    if feature_count == 0 {
        return Err(no_features(path, &first, delimiter, options));
    }
    let column_names: Vec<String> = match &header {
        Some(names) => names.clone(),
        None => numbered_names("x", columns),
    };
    let feature_names: Vec<String> = column_names
        .iter()
        .enumerate()
        .filter(|(j, _)| Some(*j) != label_index)
        .map(|(_, name)| name.clone())
        .collect();
    // Predicting from a file as wide as the model has no label column; if
    // the column where one would be does not parse, the likelier cause is a
    // file with one feature fewer than the model plus its labels.
    let would_be_label = match (options.expected_features, &options.labels_file) {
        (Some(expected), None) if label_index.is_none() && expected == columns => {
            label_position(&options.label, columns, header.as_deref())
        }
        _ => None,
    };

    let layout = RowLayout {
        path,
        text,
        columns,
        feature_count,
        first_byte: byte_of(&first),
        label_index,
        would_be_label,
        column_names: header.as_deref(),
        delimiter,
    };
    let mut rows = Rows::new(path, line_bound(text), feature_count, label_index.is_some())?;
    // Records are read into a pool reused from batch to batch.
    let mut batch: Vec<ByteRecord> = Vec::with_capacity(BATCH_ROWS);
    if !has_header {
        batch.push(first);
    }
    if has_second {
        batch.push(second);
    }
    let mut filled = batch.len();
    loop {
        if filled == batch.len() {
            batch.push(ByteRecord::new());
        }
        if !records.read(&mut batch[filled]).map_err(read_error)? {
            break;
        }
        filled += 1;
        if filled == BATCH_ROWS {
            rows.push_batch(&layout, &batch[..filled])?;
            filled = 0;
        }
    }
    rows.push_batch(&layout, &batch[..filled])?;

    let mut features = rows.features;
    // The reservation was for every line; blank and comment lines and a
    // header leave a little unused, given back (glibc moves a large block
    // without copying).
    features.shrink_to_fit();
    let features = Array2::from_shape_vec((rows.count, feature_count), features)
        .map_err(|e| format_error(path, e.to_string()))?;
    let labels = match (label_index, rows.labels) {
        (Some(column), Some(labels)) => Some(labels.finish().map_err(|e| match e {
            LabelsError::TooMany(count) => too_many(count, Some(path)),
            LabelsError::NotWhole { value, origin } => Error::Parse {
                path: path.to_path_buf(),
                line: line_at(text, origin),
                column: column + 1,
                reason: named_column(
                    LabelsError::not_whole_reason(&value),
                    header.as_deref(),
                    column,
                ),
            },
        })?),
        _ => None,
    };
    Ok(Table {
        features,
        labels,
        feature_names,
    })
}

/// The records of the text: the csv crate's for one-byte delimiters, split
/// here on whitespace runs for [`Delimiter::Whitespace`].
enum Records<'a> {
    Csv(csv::Reader<&'a [u8]>),
    Whitespace { text: &'a [u8], offset: usize },
}

impl<'a> Records<'a> {
    fn new(text: &'a [u8], delimiter: Delimiter) -> Self {
        match delimiter {
            // Fields are trimmed where they are parsed: the reader's own
            // trimming costs more than the parsing.
            Delimiter::Byte(byte) => Records::Csv(
                ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .delimiter(byte)
                    .from_reader(text),
            ),
            Delimiter::Whitespace => Records::Whitespace { text, offset: 0 },
        }
    }

    /// Reads the next record into `record` with its starting byte as its
    /// position; `false` at the end.
    fn read(&mut self, record: &mut ByteRecord) -> std::result::Result<bool, csv::Error> {
        match self {
            Records::Csv(reader) => reader.read_byte_record(record),
            Records::Whitespace { text, offset } => {
                while *offset < text.len() {
                    let start = *offset;
                    let rest = &text[start..];
                    let end = rest
                        .iter()
                        .position(|&b| b == b'\n' || b == b'\r')
                        .map_or(text.len(), |i| start + i);
                    *offset = end + 1;
                    if text.get(end) == Some(&b'\r') && text.get(end + 1) == Some(&b'\n') {
                        *offset += 1;
                    }
                    let line = &text[start..end];
                    let mut fields = line
                        .split(|b| b.is_ascii_whitespace())
                        .filter(|f| !f.is_empty())
                        .peekable();
                    match fields.peek() {
                        None => continue,
                        Some(field) if field.starts_with(b"#") => continue,
                        Some(_) => {}
                    }
                    record.clear();
                    for field in fields {
                        record.push_field(field);
                    }
                    let mut position = Position::new();
                    position.set_byte(start as u64);
                    record.set_position(Some(position));
                    return Ok(true);
                }
                Ok(false)
            }
        }
    }
}

/// Tab for `.tsv`; otherwise the most frequent of tab, comma and semicolon
/// on the first line that is neither blank nor a `#` comment; whitespace
/// when there is none of them but the line has several fields separated by
/// spaces; else comma.
fn sniff_delimiter(path: &Path, text: &[u8]) -> Delimiter {
    let is_tsv = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .is_some_and(|n| n.ends_with(".tsv") || n.ends_with(".tsv.gz"));
    if is_tsv {
        return Delimiter::Byte(b'\t');
    }
    // `#` comment lines (savetxt's header) are free text: they say nothing
    // of the delimiter.
    let first_line = text
        .split(|&b| b == b'\n' || b == b'\r')
        .map(<[u8]>::trim_ascii)
        .find(|line| !line.is_empty() && !line.starts_with(b"#"))
        .unwrap_or(&[]);
    let count = |d: u8| first_line.iter().filter(|&&b| b == d).count();
    let most = [b',', b'\t', b';']
        .into_iter()
        .map(|d| (count(d), d))
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, d)| (*n, *d == b','));
    if let Some((_, delimiter)) = most {
        return Delimiter::Byte(delimiter);
    }
    let fields = first_line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .count();
    if fields >= 2 {
        Delimiter::Whitespace
    } else {
        Delimiter::Byte(b',')
    }
}

fn is_number(field: &[u8]) -> bool {
    std::str::from_utf8(field.trim_ascii()).is_ok_and(|s| s.parse::<f32>().is_ok())
}

/// See [`HeaderMode::Auto`].
fn is_header(first: &ByteRecord, second: Option<&ByteRecord>, label: &LabelColumn) -> bool {
    if let LabelColumn::Name(name) = label
        && first.iter().any(|f| f.trim_ascii() == name.as_bytes())
    {
        return true;
    }
    let Some(second) = second else {
        return first.iter().all(|f| !is_number(f));
    };
    first
        .iter()
        .zip(second.iter())
        .any(|(a, b)| !is_number(a) && is_number(b))
        || has_numbered_names(first)
}

/// Whether the numeric fields of `row` are `0, 1, 2, …` in order: at least
/// two beside a non-numeric field, at least three when all are numeric (a
/// data row of exactly these values is then unlikely).
fn has_numbered_names(row: &ByteRecord) -> bool {
    let mut numbered = 0usize;
    for field in row.iter().map(<[u8]>::trim_ascii) {
        if !is_number(field) {
            continue;
        }
        if field != numbered.to_string().as_bytes() {
            return false;
        }
        numbered += 1;
    }
    let all_numeric = numbered == row.len();
    numbered >= if all_numeric { 3 } else { 2 }
}

fn byte_of(record: &ByteRecord) -> u64 {
    record.position().map_or(0, Position::byte)
}

/// The 1-based line of the record starting at byte `byte` of `text`: one
/// plus the line breaks before it, where `\r\n`, `\n` and a lone `\r` each
/// end a line.
///
/// The csv crate ends a record at the `\r` of `\r\n` and starts the next
/// one's position at the `\n` (and before any blank lines it skips), which
/// is why its own line count is one short for `\r\n` files. No record
/// starts with a line break, so those are skipped first.
fn line_at(text: &[u8], byte: u64) -> usize {
    let mut start = (byte as usize).min(text.len());
    while matches!(text.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    let before = &text[..start];
    let mut lines = 1;
    for (i, &b) in before.iter().enumerate() {
        let crlf_start = b == b'\r' && text.get(i + 1) == Some(&b'\n');
        if b == b'\n' || (b == b'\r' && !crlf_start) {
            lines += 1;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_for_every_line_ending() {
        let text = b"a\r\nb\nc\rd";
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(line_at(text, 3), 2);
        assert_eq!(line_at(text, 5), 3);
        assert_eq!(line_at(text, 7), 4);
        // From the \n of a \r\n, as the csv crate positions the next
        // record, or from the blank lines before it: the record's own line.
        assert_eq!(line_at(text, 2), 2);
        assert_eq!(line_at(b"a\r\n\r\n\nb", 2), 4);
    }

    #[test]
    fn delimiters_parse_by_name_or_character() {
        for (text, expected) in [
            (",", Delimiter::Byte(b',')),
            ("|", Delimiter::Byte(b'|')),
            ("tab", Delimiter::Byte(b'\t')),
            ("\\t", Delimiter::Byte(b'\t')),
            ("space", Delimiter::Whitespace),
            (" ", Delimiter::Whitespace),
            ("semicolon", Delimiter::Byte(b';')),
        ] {
            assert_eq!(text.parse::<Delimiter>().unwrap(), expected, "{text:?}");
        }
        for bad in ["", "ab", "x", "\""] {
            let error = bad.parse::<Delimiter>().unwrap_err().to_string();
            assert!(error.contains("delimiter"), "{bad:?}: {error}");
        }
    }
}
