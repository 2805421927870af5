//! Strategy plugins: WebAssembly components in a sandbox, one worker thread each.
