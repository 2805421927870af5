//! Sources of market events: Finnhub WebSocket client, demo server, replay files, REST history.
