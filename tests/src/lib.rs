//! Helpers shared by tradehost's integration tests: a mock Finnhub server, the compiled test
//! plugins, a demo-mode daemon, a NATS server, temporary directories.

pub mod browser;
pub mod bus_harness;
pub mod daemon_harness;
pub mod daemon_process;
pub mod engine_harness;
pub mod guests;
pub mod mock_finnhub;
pub mod nats_server;
pub mod plugin_harness;
pub mod python_guests;
