//! Bounds on what a plugin says about itself in `describe`.
//!
//! `describe` output reaches logs, `/api/status`, the dashboard, the symbol table and the
//! feed's subscriptions. A plugin that names 100,000 symbols or sends megabytes of text must
//! be refused at load (and by `tradehost check`), before any of that happens.

use super::bindings::wit;
use super::guest_text;
use super::symbols::check_name;

/// Most symbols a plugin may ask for.
pub const MAX_SYMBOLS: usize = 256;
/// Most parameters a plugin may declare.
pub const MAX_PARAMETERS: usize = 64;
/// Most extra bar periods a plugin may ask for.
pub const MAX_BAR_PERIODS: usize = 8;
/// Longest name, version or parameter name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest description or default value, in characters.
pub const MAX_TEXT_CHARS: usize = 1024;
/// Longest bar period a plugin may ask for (one week), in seconds.
pub const MAX_BAR_PERIOD_SECS: u32 = 7 * 24 * 3600;

/// Checks `info`; `Err` says, in one sentence, the first thing out of bounds.
pub fn check(info: &wit::StrategyInfo) -> Result<(), String> {
    text("name", &info.name, MAX_NAME_CHARS)?;
    if info.name.trim().is_empty() {
        return Err("describe gave an empty name".into());
    }
    text("version", &info.version, MAX_NAME_CHARS)?;
    text("description", &info.description, MAX_TEXT_CHARS)?;
    if info.symbols.len() > MAX_SYMBOLS {
        return Err(format!(
            "describe names {} symbols; the most a plugin may trade is {MAX_SYMBOLS}",
            info.symbols.len()
        ));
    }
    for symbol in &info.symbols {
        if symbol != "*" {
            check_name(symbol).map_err(|why| format!("describe: {why}"))?;
        }
    }
    if info.parameters.len() > MAX_PARAMETERS {
        return Err(format!(
            "describe declares {} parameters; the most is {MAX_PARAMETERS}",
            info.parameters.len()
        ));
    }
    for p in &info.parameters {
        text("parameter name", &p.name, MAX_NAME_CHARS)?;
        text("parameter description", &p.description, MAX_TEXT_CHARS)?;
        text("parameter default", &p.default_value, MAX_TEXT_CHARS)?;
    }
    if info.bar_periods.len() > MAX_BAR_PERIODS {
        return Err(format!(
            "describe asks for {} bar periods; the most is {MAX_BAR_PERIODS}",
            info.bar_periods.len()
        ));
    }
    if let Some(p) = info
        .bar_periods
        .iter()
        .find(|&&p| p == 0 || p > MAX_BAR_PERIOD_SECS)
    {
        return Err(format!(
            "describe asks for bars of {p} s; periods run from 1 s to {MAX_BAR_PERIOD_SECS} s"
        ));
    }
    Ok(())
}

/// A text field: bounded, and free of control characters (which would reach logs).
fn text(field: &str, value: &str, max_chars: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(format!(
            "describe's {field} is {chars} characters long; the most is {max_chars}"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "describe's {field} {} holds control characters (newlines, escapes)",
            guest_text::neutralise(value, 80)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> wit::StrategyInfo {
        wit::StrategyInfo {
            name: "sma".into(),
            version: "1.0.0".into(),
            description: "long above the slow average".into(),
            symbols: vec!["SPY".into(), "BINANCE:BTCUSDT".into()],
            parameters: vec![wit::Parameter {
                name: "fast".into(),
                description: "fast window".into(),
                default_value: "20".into(),
            }],
            bar_periods: vec![300],
        }
    }

    #[test]
    fn an_ordinary_description_passes() {
        assert_eq!(check(&info()), Ok(()));
        let mut all = info();
        all.symbols = vec!["*".into()];
        assert_eq!(check(&all), Ok(()));
    }

    #[test]
    fn each_bound_is_refused_with_what_is_wrong() {
        let cases: Vec<(Box<dyn Fn(&mut wit::StrategyInfo)>, &str)> = vec![
            (
                Box::new(|i| i.name = "x\nINFO forged".into()),
                "control characters",
            ),
            (Box::new(|i| i.name = "n".repeat(65)), "65 characters"),
            (
                Box::new(|i| i.description = "d".repeat(2000)),
                "2000 characters",
            ),
            (
                Box::new(|i| i.symbols = vec!["S".into(); 100_000]),
                "100000 symbols",
            ),
            (
                Box::new(|i| i.symbols = vec!["../../etc".into()]),
                "starts with a dot",
            ),
            (
                Box::new(|i| i.parameters = vec![i.parameters[0].clone(); 1000]),
                "1000 parameters",
            ),
            (
                Box::new(|i| i.parameters[0].description = "\u{1b}[2J".into()),
                "control",
            ),
            (Box::new(|i| i.bar_periods = vec![0]), "bars of 0 s"),
            (Box::new(|i| i.name = " ".into()), "empty name"),
        ];
        for (spoil, expected) in cases {
            let mut i = info();
            spoil(&mut i);
            let why = check(&i).expect_err(expected);
            assert!(why.contains(expected), "{why:?} lacks {expected:?}");
            assert!(!why.contains('\n'), "{why:?}");
        }
    }
}
