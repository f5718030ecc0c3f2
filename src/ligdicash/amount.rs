//! The confirmed amount, and the one rule for reading it from LigdiCash's two fields.
//!
//! A confirm answer carries the amount twice, `amount` and `montant` ("both always present
//! and hold the same value"), as integers or, in some payloads, strings. The rule:
//! - a field that is absent, `null` or an empty string says nothing;
//! - a field that is present must be a whole number of XOF (`5000`, `"5000"`, `5000.0`):
//!   a fraction (`"5000.4"`) or anything else (`"abc"`, `true`, an array) is a problem;
//! - when both are whole numbers they must be equal.
//!
//! Any problem makes a `completed` answer a `mismatch` whose reason names it: an answer we
//! cannot read the amount of is never counted as paid, even if the other field looks fine.
//! Reading never fails otherwise; the raw body is kept beside the result.

/// What one of the two fields held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountField {
    Absent,
    Whole(i64),
    /// A number with a fractional part, as LigdiCash wrote it.
    Fraction(String),
    /// Not a usable number (text, a boolean, an array, out of range), shown briefly.
    Unusable(String),
}

/// Longest text of a bad field quoted in a reason.
const SHOWN_CHARS: usize = 32;

impl AmountField {
    /// A JSON number: whole, a fraction, or out of range (as `1e300`).
    pub fn from_f64(value: f64, shown: String) -> Self {
        if let Some(whole) = integral(value) {
            Self::Whole(whole)
        } else if value.is_finite() && value.fract() != 0.0 {
            Self::Fraction(shown)
        } else {
            Self::Unusable(shown)
        }
    }

    /// A JSON string, trimmed: empty says nothing, else it must hold a number.
    pub fn from_text(text: &str) -> Self {
        let text = text.trim();
        if text.is_empty() {
            return Self::Absent;
        }
        if let Ok(whole) = text.parse::<i64>() {
            return Self::Whole(whole);
        }
        match text.parse::<f64>() {
            Ok(value) => Self::from_f64(value, shorten(text)),
            Err(_) => Self::Unusable(format!("{:?}", shorten(text))),
        }
    }
}

/// Why the confirmed amount cannot be trusted; the text is the start of the `mismatch`
/// reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountProblem {
    #[error("LigdiCash's amount {amount} and montant {montant} disagree")]
    Disagree { amount: i64, montant: i64 },
    #[error("confirmed {field} {shown} is not a whole number of XOF")]
    Fraction { field: &'static str, shown: String },
    #[error("confirmed {field} is not a number: {shown}")]
    Unusable { field: &'static str, shown: String },
}

/// The rule of the module docs: the confirmed amount (`None` when neither field gives
/// one), or the first problem found, `amount` before `montant`.
pub fn confirmed_amount(
    amount: &AmountField,
    montant: &AmountField,
) -> Result<Option<i64>, AmountProblem> {
    for (field, value) in [("amount", amount), ("montant", montant)] {
        match value {
            AmountField::Fraction(shown) => {
                let shown = shown.clone();
                return Err(AmountProblem::Fraction { field, shown });
            }
            AmountField::Unusable(shown) => {
                let shown = shown.clone();
                return Err(AmountProblem::Unusable { field, shown });
            }
            AmountField::Absent | AmountField::Whole(_) => {}
        }
    }
    match (amount, montant) {
        (AmountField::Whole(a), AmountField::Whole(m)) if a != m => Err(AmountProblem::Disagree {
            amount: *a,
            montant: *m,
        }),
        (AmountField::Whole(a), _) => Ok(Some(*a)),
        (_, AmountField::Whole(m)) => Ok(Some(*m)),
        _ => Ok(None),
    }
}

/// A float that is a whole number an `i64` holds exactly.
pub fn integral(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AmountField::{Absent, Whole};

    fn text(s: &str) -> AmountField {
        AmountField::from_text(s)
    }

    #[test]
    fn each_field_is_read_leniently_but_never_guessed() {
        assert_eq!(text(" 5000 "), Whole(5000));
        assert_eq!(text("5000.0"), Whole(5000));
        assert_eq!(text("1e3"), Whole(1000));
        assert_eq!(text(""), Absent);
        assert_eq!(text("5000.4"), AmountField::Fraction("5000.4".into()));
        assert_eq!(text("abc"), AmountField::Unusable("\"abc\"".into()));
        assert_eq!(text("1e300"), AmountField::Unusable("1e300".into()));
        let long = text(&"x".repeat(100));
        assert_eq!(
            long,
            AmountField::Unusable(format!("{:?}", "x".repeat(32) + "…"))
        );
    }

    #[test]
    fn the_confirmed_amount_comes_from_agreeing_fields_only() {
        let reason =
            |a: &AmountField, m: &AmountField| confirmed_amount(a, m).map_err(|e| e.to_string());
        assert_eq!(reason(&Whole(5000), &Whole(5000)), Ok(Some(5000)));
        assert_eq!(reason(&Whole(5000), &Absent), Ok(Some(5000)));
        assert_eq!(reason(&Absent, &Whole(42)), Ok(Some(42)));
        assert_eq!(reason(&Absent, &Absent), Ok(None));
        assert_eq!(
            reason(&Whole(100), &Whole(90)),
            Err("LigdiCash's amount 100 and montant 90 disagree".into())
        );
        assert_eq!(
            reason(&text("5000.4"), &Absent),
            Err("confirmed amount 5000.4 is not a whole number of XOF".into())
        );
        assert_eq!(
            reason(&text("abc"), &Whole(5000)),
            Err("confirmed amount is not a number: \"abc\"".into())
        );
        assert_eq!(
            reason(&Whole(5000), &text("5 000")),
            Err("confirmed montant is not a number: \"5 000\"".into())
        );
    }

    /// Whole numbers are trusted up to, not including, 9e15 either way (below 2^53, so
    /// every one is exact); beyond, or not finite, they are unusable, never rounded.
    #[test]
    fn whole_numbers_are_trusted_below_9e15_only() {
        assert_eq!(
            integral(8_999_999_999_999_999.0),
            Some(8_999_999_999_999_999)
        );
        assert_eq!(
            integral(-8_999_999_999_999_999.0),
            Some(-8_999_999_999_999_999)
        );
        assert_eq!(integral(9.0e15), None);
        assert_eq!(integral(-9.0e15), None);
        assert_eq!(integral(0.5), None);
        assert_eq!(integral(f64::INFINITY), None);
        assert_eq!(integral(f64::NAN), None);
        assert_eq!(
            AmountField::from_f64(9.0e15, "9e15".into()),
            AmountField::Unusable("9e15".into())
        );
        assert_eq!(
            AmountField::from_f64(f64::INFINITY, "inf".into()),
            AmountField::Unusable("inf".into())
        );
    }
}
