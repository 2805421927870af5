//! Helpers shared by tradehost's integration tests: a mock Finnhub server, the compiled test
//! plugins, temporary directories.

pub mod guests;
pub mod mock_finnhub;
pub mod plugin_harness;
