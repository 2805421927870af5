//! Which language and tools built a component, from its `producers` custom sections.
//!
//! The `producers` section (tool conventions) lists fields such as `language` and
//! `processed-by`, each a list of (name, version). A component carries several: its own and
//! those of the core modules inside it. A Python component from componentize-py embeds a
//! runtime written in Rust, so the Rust marker of an inner module must not win over the
//! Python one: Python markers are looked for first. `tradehost build` appends a top-level
//! section naming Python and componentize-py ([`section`]), since componentize-py writes none.

use wasmparser::{KnownCustom, Parser, Payload};

/// The language a component was written in, with the tools the sections name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producers {
    /// `Python`, `Rust`, `C`... when a section says so.
    pub language: Option<String>,
    /// The language's version, when the section naming it gives one.
    pub language_version: Option<String>,
    /// Every (name, version) of the `processed-by` fields, in file order, without repeats.
    pub tools: Vec<(String, String)>,
}

impl Producers {
    /// One line for `tradehost check`: `Python 3.14 (componentize-py 0.25.1)`, naming the tool
    /// that made the language's bindings when known, else every tool.
    pub fn summary(&self) -> String {
        let language = match (&self.language, &self.language_version) {
            (Some(l), Some(v)) if !v.is_empty() => format!("{l} {v}"),
            (Some(l), _) => l.clone(),
            (None, _) => "unknown language".to_string(),
        };
        let key = ["componentize-py", "wit-bindgen-rust", "wit-bindgen-c"];
        let tools: Vec<String> = match self.tools.iter().find(|(n, _)| key.contains(&n.as_str())) {
            Some(tool) => vec![format!("{} {}", tool.0, tool.1)],
            None => self.tools.iter().map(|(n, v)| format!("{n} {v}")).collect(),
        };
        format!("{language} ({})", tools.join(", ").trim())
    }
}

/// The `producers` entries of every section of `bytes` (component or core module); `None`
/// when the bytes do not parse or carry no section.
pub fn producers(bytes: &[u8]) -> Option<Producers> {
    let mut languages: Vec<(String, String)> = Vec::new();
    let mut tools = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(Payload::CustomSection(reader)) = payload else {
            continue;
        };
        let KnownCustom::Producers(section) = reader.as_known() else {
            continue;
        };
        for field in section.into_iter().flatten() {
            let is_language = field.name == "language";
            if !is_language && field.name != "processed-by" {
                continue;
            }
            for value in field.values.into_iter().flatten() {
                let entry = (value.name.to_string(), value.version.to_string());
                let list = if is_language {
                    &mut languages
                } else {
                    &mut tools
                };
                if !list.contains(&entry) {
                    list.push(entry);
                }
            }
        }
    }
    if languages.is_empty() && tools.is_empty() {
        return None;
    }
    let has_tool = |name: &str| tools.iter().any(|(n, _)| n == name);
    let has_language = |name: &str| languages.iter().any(|(l, _)| l == name);
    let language = if has_language("Python") || has_tool("componentize-py") {
        Some("Python".to_string())
    } else if has_tool("wit-bindgen-rust") || has_language("Rust") {
        Some("Rust".to_string())
    } else {
        languages.first().map(|(l, _)| l.clone())
    };
    let language_version = language.as_ref().and_then(|lang| {
        languages
            .iter()
            .find(|(l, _)| l == lang)
            .map(|(_, v)| v.clone())
    });
    Some(Producers {
        language,
        language_version,
        tools,
    })
}

/// A `producers` custom section saying `language` (with its version) and that `tool`
/// processed it, ready to append to a component.
pub fn section(language: (&str, &str), tool: (&str, &str)) -> Vec<u8> {
    let mut payload = Vec::new();
    leb(&mut payload, 2);
    for (field, (name, version)) in [("language", language), ("processed-by", tool)] {
        string(&mut payload, field);
        leb(&mut payload, 1);
        string(&mut payload, name);
        string(&mut payload, version);
    }
    let mut body = Vec::new();
    string(&mut body, "producers");
    body.extend_from_slice(&payload);
    let mut out = vec![0u8];
    leb(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

fn string(out: &mut Vec<u8>, s: &str) {
    leb(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty component (version 0x0d, layer 1) followed by `extra` sections.
    fn component(extra: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        bytes.extend_from_slice(extra);
        bytes
    }

    #[test]
    fn an_appended_section_names_python_over_an_inner_rust_runtime() {
        let rust = section(("Rust", ""), ("rustc", "1.75.0"));
        let python = section(("Python", "3.14"), ("componentize-py", "0.25.1"));
        let both = component(&[rust.clone(), python].concat());
        let p = producers(&both).expect("sections");
        assert_eq!(p.language.as_deref(), Some("Python"));
        assert!(
            p.tools
                .contains(&("componentize-py".into(), "0.25.1".into()))
        );
        assert_eq!(
            producers(&component(&rust)).unwrap().language.as_deref(),
            Some("Rust")
        );
        assert_eq!(producers(&component(&[])), None);
    }
}
