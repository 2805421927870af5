//! tradehost-sdk: write trading strategies for tradehost.
