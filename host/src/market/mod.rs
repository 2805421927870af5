//! Per-symbol market state: last trade, bars, bounded history, bar cleaning.
