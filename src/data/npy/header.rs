//! The `.npy` header: a Python dict literal naming the dtype, the order
//! and the shape, parsed by hand and strictly.

/// The three entries of a `.npy` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) descr: String,
    pub(crate) fortran_order: bool,
    pub(crate) shape: Vec<usize>,
}

/// The header, a Python dict literal as NumPy writes it (`{'descr': '<f4',
/// 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and a
/// newline), read strictly as NumPy reads it: exactly these three keys,
/// each once, the dict closed, nothing but padding after it. A header cut
/// short or with a key twice is a damaged file, not one to guess at.
pub(crate) fn parse_header(text: &str) -> std::result::Result<Header, String> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let unclosed = || "the dict has no closing '}' (the header is cut short)".to_string();
    cursor.skip_space();
    if !cursor.eat(b'{') {
        return Err("it is not a dict (no opening '{')".into());
    }
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    loop {
        cursor.skip_space();
        if cursor.at_end() {
            return Err(unclosed());
        }
        if cursor.eat(b'}') {
            break;
        }
        let key = cursor.string().ok_or("expected a quoted key")?;
        cursor.skip_space();
        if !cursor.eat(b':') {
            return Err(format!("no ':' after the key '{key}'"));
        }
        cursor.skip_space();
        let seen = match key {
            "descr" => {
                if cursor.peek() == Some(b'[') {
                    return Err(
                        "'descr' is a list: structured arrays are not supported; save a plain \
                         numeric array"
                            .into(),
                    );
                }
                let value = cursor
                    .string()
                    .ok_or("'descr' is not a quoted type string")?;
                descr.replace(value.to_string()).is_some()
            }
            "fortran_order" => {
                let value = if cursor.eat_word("True") {
                    true
                } else if cursor.eat_word("False") {
                    false
                } else {
                    return Err("'fortran_order' is neither True nor False".into());
                };
                fortran_order.replace(value).is_some()
            }
            "shape" => {
                let value = cursor
                    .shape()
                    .ok_or("'shape' is not a tuple of sizes such as (3, 4)")?;
                shape.replace(value).is_some()
            }
            other => {
                return Err(format!(
                    "unknown key '{other}' (a .npy header has 'descr', 'fortran_order' and \
                     'shape')"
                ));
            }
        };
        if seen {
            return Err(format!("the key '{key}' appears twice"));
        }
        cursor.skip_space();
        if cursor.at_end() {
            return Err(unclosed());
        }
        if cursor.eat(b',') {
            continue;
        }
        if cursor.eat(b'}') {
            break;
        }
        return Err(format!("expected ',' or '}}' after the value of '{key}'"));
    }
    cursor.skip_space();
    if !cursor.at_end() {
        return Err("text after the closing '}'".into());
    }
    match (descr, fortran_order, shape) {
        (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header {
            descr,
            fortran_order,
            shape,
        }),
        (None, ..) => Err("no 'descr'".into()),
        (_, None, _) => Err("no 'fortran_order'".into()),
        (.., None) => Err("no 'shape'".into()),
    }
}

/// A position in the header text.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Spaces, tabs and line breaks (NumPy pads the header with spaces and
    /// ends it with a newline).
    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    /// `word` not followed by more of an identifier.
    fn eat_word(&mut self, word: &str) -> bool {
        let end = self.at + word.len();
        let matches = self.bytes.get(self.at..end) == Some(word.as_bytes())
            && !self
                .bytes
                .get(end)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if matches {
            self.at = end;
        }
        matches
    }

    /// A `'…'` or `"…"` string without escapes (a dtype never has any).
    fn string(&mut self) -> Option<&'a str> {
        let quote = self.peek().filter(|q| *q == b'\'' || *q == b'"')?;
        let start = self.at + 1;
        let length = self.bytes.get(start..)?.iter().position(|&b| b == quote)?;
        let text = std::str::from_utf8(&self.bytes[start..start + length]).ok()?;
        if text.contains('\\') {
            return None;
        }
        self.at = start + length + 1;
        Some(text)
    }

    /// A tuple of sizes: `()`, `(3,)`, `(3, 4)`, a trailing comma allowed
    /// and Python 2's `3L` too; `(3)` is a number, not a tuple.
    fn shape(&mut self) -> Option<Vec<usize>> {
        if !self.eat(b'(') {
            return None;
        }
        let mut sizes = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_space();
            if self.eat(b')') {
                break;
            }
            let start = self.at;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.at += 1;
            }
            let digits = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
            sizes.push(digits.parse().ok()?);
            self.eat(b'L');
            self.skip_space();
            trailing_comma = self.eat(b',');
            if !trailing_comma {
                self.skip_space();
                if !self.eat(b')') {
                    return None;
                }
                break;
            }
        }
        (sizes.len() != 1 || trailing_comma).then_some(sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> std::result::Result<Header, String> {
        parse_header(text)
    }

    #[test]
    fn headers_as_numpy_writes_them_are_read() {
        assert_eq!(
            header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }    \n"),
            Ok(Header {
                descr: "<f4".into(),
                fortran_order: false,
                shape: vec![3, 4],
            })
        );
        let other_order =
            header("{\"shape\": (5,), \"fortran_order\": True, \"descr\": \"|b1\"}").unwrap();
        assert_eq!(other_order.shape, [5]);
        assert!(other_order.fortran_order);
        assert_eq!(
            header("{'descr': '<i8', 'fortran_order': False, 'shape': ()}")
                .unwrap()
                .shape,
            Vec::<usize>::new()
        );
        assert_eq!(
            header("{'descr': '<i8', 'fortran_order': False, 'shape': (2L, 3L)}")
                .unwrap()
                .shape,
            [2, 3]
        );
    }

    #[test]
    fn damaged_headers_are_refused() {
        for (text, expected) in [
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), ",
                "no closing '}'",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)",
                "no closing '}'",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'shape': (1, 1)}",
                "'shape' appears twice",
            ),
            (
                "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (3, 4)}",
                "'descr' appears twice",
            ),
            ("{'descr': '<f4', 'fortran_order': False}", "no 'shape'"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}",
                "not a tuple",
            ),
            (
                "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (3,)}",
                "neither True nor False",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}",
                "unknown key 'x'",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} junk",
                "after the closing",
            ),
            (
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}",
                "structured",
            ),
            ("'descr': '<f4'", "not a dict"),
        ] {
            let error = header(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
