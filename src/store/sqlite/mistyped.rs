//! Values of the wrong type in rows the shop wrote. SQLite's column types and CHECKs let
//! them in: `expected_amount = '5 000'` (text passes `> 0`), a fraction, a BLOB anywhere.
//! Reading such a value as its domain type fails. [`LenientRow`] reads a row anyway, leaving
//! each such column empty and saying what it holds instead, so one badly written row is
//! shown and flagged (`show`, `list`, the API) or parked by the poller, and never stops the
//! reading of the others.

use crate::store::read::Cells;
use rusqlite::Row;
use rusqlite::types::{FromSql, ValueRef};

/// `expected_amount` as the shop wrote it where it is not an integer (text as it is, a
/// real number as text, a BLOB by its size), else NULL: the report's last fact column,
/// so a person sees `5 000` instead of an amount of 0.
pub(crate) const EXPECTED_AS_WRITTEN: &str = "CASE typeof(expected_amount) \
    WHEN 'text' THEN expected_amount WHEN 'real' THEN CAST(expected_amount AS TEXT) \
    WHEN 'blob' THEN 'BLOB of ' || length(expected_amount) || ' bytes' END";

/// Whether a read failed on a value's type (a row the shop wrote badly), not on the database.
pub(crate) fn is_type_error(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
    )
}

/// What a column holds instead of the `expected` kind: `holds text "5 000", not an integer`.
pub(crate) fn describe(value: ValueRef<'_>, expected: &str) -> String {
    let found = match value {
        ValueRef::Null => "is NULL".to_owned(),
        ValueRef::Integer(i) => format!("holds the integer {i}"),
        ValueRef::Real(f) => format!("holds the real number {f}"),
        ValueRef::Text(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let mut shown: String = text.chars().take(40).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("holds text {shown:?}")
        }
        ValueRef::Blob(bytes) => format!("holds a BLOB of {} bytes", bytes.len()),
    };
    format!("{found}, not {expected}")
}

/// A row read column by column, where a value of the wrong type leaves the field empty
/// (`None`, `0`, `""`) and is noted in [`LenientRow::bad`] instead of failing the read.
pub(crate) struct LenientRow<'r, 's> {
    row: &'r Row<'s>,
    /// `(column, what it holds)` for each column that could not be read.
    pub bad: Vec<(String, String)>,
}

impl<'r, 's> LenientRow<'r, 's> {
    pub fn new(row: &'r Row<'s>) -> Self {
        Self {
            row,
            bad: Vec::new(),
        }
    }

    fn read<T: FromSql + Default>(&mut self, idx: usize, expected: &str) -> rusqlite::Result<T> {
        match self.row.get(idx) {
            Ok(value) => Ok(value),
            Err(e) if is_type_error(&e) => {
                let column = self.row.as_ref().column_name(idx)?.to_owned();
                self.bad
                    .push((column, describe(self.row.get_ref(idx)?, expected)));
                Ok(T::default())
            }
            Err(e) => Err(e),
        }
    }
}

impl Cells for LenientRow<'_, '_> {
    type Error = rusqlite::Error;

    fn int(&mut self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.read(i, "an integer")
    }

    fn text(&mut self, i: usize) -> rusqlite::Result<Option<String>> {
        self.read(i, "text")
    }

    fn flag(&mut self, i: usize) -> rusqlite::Result<bool> {
        self.read(i, "a boolean")
    }

    fn unreadable(&self, i: usize, what: String) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
    }

    fn take_bad(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_value_is_described_by_what_it_holds() {
        let cases = [
            (
                ValueRef::Text(b"5 000"),
                r#"holds text "5 000", not an integer"#,
            ),
            (
                ValueRef::Real(2500.5),
                "holds the real number 2500.5, not an integer",
            ),
            (
                ValueRef::Blob(&[1, 2]),
                "holds a BLOB of 2 bytes, not an integer",
            ),
            (ValueRef::Integer(7), "holds the integer 7, not an integer"),
            (ValueRef::Null, "is NULL, not an integer"),
        ];
        for (value, expected) in cases {
            assert_eq!(describe(value, "an integer"), expected);
        }
        let long = "x".repeat(100);
        let shown = describe(ValueRef::Text(long.as_bytes()), "text");
        assert!(
            shown.contains(&format!("\"{}…\"", "x".repeat(40))),
            "{shown}"
        );
    }

    #[test]
    fn a_row_with_bad_values_is_read_with_those_fields_empty_and_named() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let read = |sql: &str| {
            conn.query_row(sql, [], |r| {
                let mut row = LenientRow::new(r);
                let values = (row.int(0)?, row.int0(1)?, row.text0(2)?);
                Ok((values, crate::store::bad_columns_line(&row.bad)))
            })
            .unwrap()
        };
        let (values, bad) = read("SELECT 5000 AS a, 7 AS b, 't' AS c");
        assert_eq!(values, (Some(5000), 7, "t".to_owned()));
        assert_eq!(bad, "");
        let (values, bad) = read("SELECT '5 000' AS expected_amount, 2.5 AS attempts, 't' AS c");
        assert_eq!(values, (None, 0, "t".to_owned()));
        assert_eq!(
            bad,
            r#"expected_amount holds text "5 000", not an integer; attempts holds the real number 2.5, not an integer"#
        );
    }
}
