//! Helpers shared by tradehost's integration tests: a mock Finnhub server, the compiled test
//! plugins, a demo-mode daemon, temporary directories.

pub mod daemon_harness;
pub mod daemon_process;
pub mod guests;
pub mod mock_finnhub;
pub mod plugin_harness;
