//! Numbers written for people: logs and refusal reasons show prices, quantities and money
//! rounded, while the journal and the API keep full precision.

use std::fmt;

/// A quantity or price shown with at most six decimals and no trailing zeros
/// (`168.82688100000001` shows as `168.826881`, `100.0` as `100`).
#[derive(Debug, Clone, Copy)]
pub struct Num(pub f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.is_finite() || self.0.abs() >= 1e15 {
            // Absurd values are shown as they are: rounding would hide what is wrong.
            return write!(f, "{}", self.0);
        }
        let text = format!("{:.6}", self.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if text == "-0" { "0" } else { text })
    }
}

/// Money shown with two decimals (`-493.00`).
#[derive(Debug, Clone, Copy)]
pub struct Money(pub f64);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = (self.0 * 100.0).round() / 100.0;
        // No "-0.00" for a loss that rounds to nothing.
        write!(f, "{:.2}", if rounded == 0.0 { 0.0 } else { rounded })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rounded_for_people_but_odd_values_stay_visible() {
        let shown = |x| Num(x).to_string();
        assert_eq!(shown(168.82688100000001), "168.826881");
        assert_eq!(shown(100.0), "100");
        assert_eq!(shown(0.1 + 0.2), "0.3");
        assert_eq!(shown(-0.0000001), "0");
        assert_eq!(shown(-2.5), "-2.5");
        assert_eq!(shown(f64::NAN), "NaN");
        assert_eq!(shown(1e308), format!("{}", 1e308));
        assert_eq!(Money(-493.0).to_string(), "-493.00");
        assert_eq!(Money(-0.001).to_string(), "0.00");
        assert_eq!(Money(1234.5678).to_string(), "1234.57");
    }
}
