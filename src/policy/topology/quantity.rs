//! Whether a Kubernetes quantity (`resource.Quantity`, as Kueue decodes
//! `maxShareAllowingPlacement`) lies strictly between 0 and 1.

/// Decimal SI suffixes and their powers of ten (`resource.Quantity`).
const DECIMAL: [(&str, i64); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

/// Binary SI suffixes and their powers of 1024.
const BINARY: [(&str, i32); 6] = [
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];

/// The nines of the largest share under 1 that survives Kubernetes'
/// rounding up to the nearest nano (0.999999999).
const NANO_NINES: &str = "999999999";

/// Whether `text` is a quantity in (0, 1) once Kubernetes has rounded it up
/// to the nearest nano (`ParseQuantity` rounds any non-zero amount away
/// from zero at 1n): `Err` when it is no quantity at all.
pub fn is_share(text: &str) -> Result<bool, String> {
    let wrong = || format!("{text:?} is not a quantity (such as \"0.45\" or \"450m\")");
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or("")),
        Some(b'+') => (false, text.get(1..).unwrap_or("")),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(wrong());
    }
    let digits = format!("{whole}{fraction}");
    if digits.bytes().all(|b| b == b'0') {
        // Zero under any suffix (when the suffix itself is one).
        return scale(suffix).map(|_| false).ok_or_else(wrong);
    }
    if negative {
        return scale(suffix).map(|_| false).ok_or_else(wrong);
    }
    match scale(suffix).ok_or_else(wrong)? {
        Scale::Ten(exponent) => {
            // The value is 0.D × 10^point with D's first digit non-zero.
            let leading = digits.bytes().take_while(|&b| b == b'0').count();
            let significant = digits.get(leading..).unwrap_or("");
            let whole_len = i64::try_from(whole.len()).map_err(|_| wrong())?;
            let leading = i64::try_from(leading).map_err(|_| wrong())?;
            let point = whole_len.saturating_add(exponent).saturating_sub(leading);
            Ok(match point {
                p if p > 0 => false,
                p if p < 0 => true,
                _ => at_most_nano_nines(significant),
            })
        }
        Scale::Binary(power) => {
            let value: f64 = format!(
                "{}.{}",
                if whole.is_empty() { "0" } else { whole },
                fraction
            )
            .parse()
            .map_err(|_| wrong())?;
            let value = value * 1024f64.powi(power);
            Ok(value * 1e9 <= 999_999_999.0)
        }
    }
}

/// `0.significant` ≤ 0.999999999.
fn at_most_nano_nines(significant: &str) -> bool {
    let head = significant.get(..NANO_NINES.len()).unwrap_or(significant);
    let tail = significant.get(NANO_NINES.len()..).unwrap_or("");
    let head_padded = format!("{head:0<9}");
    head_padded.as_str() < NANO_NINES || tail.bytes().all(|b| b == b'0')
}

enum Scale {
    Ten(i64),
    Binary(i32),
}

/// The scale a suffix names: an SI suffix, or `e`/`E` and a signed exponent.
fn scale(suffix: &str) -> Option<Scale> {
    if let Some((_, e)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
        return Some(Scale::Ten(*e));
    }
    if let Some((_, p)) = BINARY.iter().find(|(s, _)| *s == suffix) {
        return Some(Scale::Binary(*p));
    }
    let exponent = suffix.strip_prefix(['e', 'E'])?;
    let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    exponent.parse::<i64>().ok().map(Scale::Ten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_lie_strictly_between_zero_and_one_after_rounding_up_to_a_nano() {
        for inside in [
            "0.45",
            ".5",
            "450m",
            "1n",
            "0.999999999",
            "0.9999999990000",
            "45e-2",
            "45E-2",
            "+0.5",
            "1e-20",
            "0.0000001Ki",
            "999999999n",
        ] {
            assert_eq!(is_share(inside), Ok(true), "{inside}");
        }
        for outside in [
            "0",
            "0.0",
            "0.",
            "5.",
            "1",
            "1.0",
            "1000m",
            "0.9999999991",
            "1Ki",
            "2",
            "-0.5",
            "-1n",
            "0m",
            "1e0",
            "0.001Ki",
            "1000000000n",
        ] {
            assert_eq!(is_share(outside), Ok(false), "{outside}");
        }
        for wrong in [
            "", ".", "abc", "0.5x", "1e", "1e+", "0..5", "--1", "0.5 ", "1Kii",
        ] {
            assert!(is_share(wrong).is_err(), "{wrong:?}");
        }
    }
}
