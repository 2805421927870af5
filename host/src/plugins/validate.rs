//! Checks on a plugin's bytes before anything compiles them.
//!
//! wasmtime's own parse errors are terse ("failed to parse WebAssembly module"), and
//! compilation is itself an attack surface: a small file with a million empty functions
//! takes gigabytes and tens of seconds to compile. So the host looks at the bytes first:
//! is it a component at all (and if not, what is it), is it whole, how many functions does
//! it define, and which version of our interface does it speak.

use super::error::PluginError;
use std::path::Path;
use wasmparser::{Parser, Payload};

/// The version of `tradehost:strategy` this host implements (see `wit/strategy.wit`).
pub const HOST_INTERFACE_VERSION: &str = "0.3.0";

/// The package every strategy interface lives in.
const PACKAGE_PREFIX: &str = "tradehost:strategy/";

/// The 8-byte header of a binary component.
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
/// The 8-byte header of a binary core module.
const CORE_MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// Limits applied before compiling.
#[derive(Debug, Clone, Copy)]
pub struct ValidationLimits {
    /// Largest accepted file, in bytes.
    pub max_file_bytes: u64,
    /// Most core functions accepted across all modules of the component.
    pub max_functions: u64,
}

/// What the host learned from a component's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentFacts {
    /// Core functions defined across all nested modules.
    pub functions: u64,
    /// The `tradehost:strategy` version the component was built against.
    pub interface_version: String,
}

/// Check that `bytes` are a whole component, small enough to compile, speaking a
/// compatible version of the strategy interface.
pub fn inspect(
    path: &Path,
    bytes: &[u8],
    limits: ValidationLimits,
) -> Result<ComponentFacts, PluginError> {
    let size = bytes.len() as u64;
    if size > limits.max_file_bytes {
        return Err(PluginError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: limits.max_file_bytes,
        });
    }
    if let Some(what) = not_a_component(bytes) {
        return Err(PluginError::NotAComponent {
            path: path.to_path_buf(),
            what,
        });
    }
    let scan = scan(bytes).map_err(|e| PluginError::NotAComponent {
        path: path.to_path_buf(),
        what: if e.contains("end-of-file") || e.contains("unexpected end") {
            format!("it is truncated ({e}): was the file still being written? Copy it again")
        } else {
            format!("it is malformed: {e}")
        },
    })?;
    if scan.functions > limits.max_functions {
        return Err(PluginError::TooManyFunctions {
            path: path.to_path_buf(),
            functions: scan.functions,
            limit: limits.max_functions,
        });
    }
    let export = scan
        .exports
        .iter()
        .find_map(|name| interface_version(name, "strategy"));
    let Some(version) = export else {
        return Err(PluginError::NotAStrategy {
            path: path.to_path_buf(),
            exports: if scan.exports.is_empty() {
                "nothing".to_string()
            } else {
                scan.exports.join(", ")
            },
        });
    };
    let mismatch = scan
        .imports
        .iter()
        .filter_map(|name| {
            name.strip_prefix(PACKAGE_PREFIX)
                .and_then(|rest| rest.split_once('@'))
        })
        .map(|(_, v)| v.to_string())
        .chain(std::iter::once(version.clone()))
        .find(|v| !compatible(v, HOST_INTERFACE_VERSION));
    if let Some(plugin_version) = mismatch {
        return Err(PluginError::IncompatibleVersion {
            path: path.to_path_buf(),
            plugin_version,
            host_version: HOST_INTERFACE_VERSION.to_string(),
        });
    }
    Ok(ComponentFacts {
        functions: scan.functions,
        interface_version: version,
    })
}

/// If the bytes are clearly not a binary component, say what they are instead.
fn not_a_component(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(&COMPONENT_HEADER) {
        return None;
    }
    let what = if bytes.is_empty() {
        "the file is empty (was it still being written?)".to_string()
    } else if bytes.len() < COMPONENT_HEADER.len() && COMPONENT_HEADER.starts_with(bytes) {
        "it is truncated after the header: copy it again".to_string()
    } else if bytes.starts_with(&CORE_MODULE_HEADER) {
        "it is a core WebAssembly module, not a component: build it for the \
         wasm32-wasip2 target with tradehost-sdk"
            .to_string()
    } else if bytes.starts_with(b"\0asm") {
        "it is a WebAssembly binary of an unknown version or layer".to_string()
    } else if bytes.starts_with(b"\x7fELF") {
        "it is a native ELF binary: build the strategy with --target wasm32-wasip2".to_string()
    } else if bytes.starts_with(b"PK\x03\x04") {
        "it is a zip archive: unpack it and drop the .wasm file itself".to_string()
    } else if looks_like_text(bytes) {
        let trimmed = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]);
        if trimmed.trim_start().starts_with('(') {
            "it is WebAssembly text (WAT); only binary components are loaded".to_string()
        } else {
            "it is a text file, not a binary component".to_string()
        }
    } else {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("unknown content (first bytes {})", head.join(" "))
    };
    Some(what)
}

fn looks_like_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .take(256)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

/// Import/export names at the top level and the function count of all nested modules.
struct Scan {
    functions: u64,
    imports: Vec<String>,
    exports: Vec<String>,
}

fn scan(bytes: &[u8]) -> Result<Scan, String> {
    let mut out = Scan {
        functions: 0,
        imports: Vec::new(),
        exports: Vec::new(),
    };
    // Nesting depth: 0 is the outer component, whose imports/exports are the interface.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::FunctionSection(reader) => out.functions += u64::from(reader.count()),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    out.imports
                        .push(import.map_err(|e| e.to_string())?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    out.exports
                        .push(export.map_err(|e| e.to_string())?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `tradehost:strategy/NAME@VERSION` → VERSION.
fn interface_version(name: &str, interface: &str) -> Option<String> {
    let rest = name.strip_prefix(PACKAGE_PREFIX)?;
    let (iface, version) = rest.split_once('@')?;
    (iface == interface).then(|| version.to_string())
}

/// Semver compatibility as WIT uses it: same major, or for 0.x the same minor.
pub fn compatible(plugin: &str, host: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(plugin), parse(host)) {
        (Some((0, pm)), Some((0, hm))) => pm == hm,
        (Some((pmaj, _)), Some((hmaj, _))) => pmaj == hmaj,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ValidationLimits = ValidationLimits {
        max_file_bytes: 1 << 20,
        max_functions: 1000,
    };

    fn reason(bytes: &[u8]) -> String {
        inspect(Path::new("x.wasm"), bytes, LIMITS)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn names_what_non_components_are() {
        // TC0: empty, TC1: core module, TC2: text, TC3: ELF, TC4: zip, TC5: truncated header
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (
                &[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
                "core WebAssembly module",
            ),
            (b"(component (core module))", "WebAssembly text"),
            (b"\x7fELF\x02\x01\x01\0\0\0", "native ELF"),
            (b"PK\x03\x04rest", "zip archive"),
            (&[0, 0x61, 0x73], "truncated"),
            (b"hello plugin", "text file"),
        ];
        for (bytes, expected) in cases {
            let r = reason(bytes);
            assert!(r.contains(expected), "{bytes:?}: {r}");
        }
    }

    #[test]
    fn refuses_oversized_files_before_parsing() {
        let limits = ValidationLimits {
            max_file_bytes: 4,
            max_functions: 1,
        };
        let err = inspect(Path::new("big.wasm"), &COMPONENT_HEADER, limits).unwrap_err();
        assert!(
            matches!(
                err,
                PluginError::TooLarge {
                    size: 8,
                    limit: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_empty_component_is_not_a_strategy() {
        let r = reason(&COMPONENT_HEADER);
        assert!(
            r.contains("does not export tradehost:strategy/strategy"),
            "{r}"
        );
    }

    #[test]
    fn version_compatibility_follows_semver() {
        // TC0..: (plugin, host, compatible)
        let cases = [
            ("0.1.0", "0.1.0", true),
            ("0.1.0", "0.1.7", true),
            ("0.2.0", "0.1.0", false),
            ("0.1.0", "0.2.0", false),
            ("0.2.0", "0.3.0", false),
            ("1.0.0", "0.1.0", false),
            ("1.2.0", "1.5.1", true),
            ("2.0.0", "1.5.1", false),
            ("garbage", "0.1.0", false),
        ];
        for (plugin, host, ok) in cases {
            assert_eq!(compatible(plugin, host), ok, "{plugin} on {host}");
        }
    }
}
