//! The model trainer: candle MLP per symbol, training cycle, deploy gate, predictions.
