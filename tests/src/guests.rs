//! Paths of the compiled guest components: the example strategies and the test fixtures.
//!
//! `tests/build.rs` builds them once per test build for `wasm32-wasip2` (into
//! `target/guests`) and generates one constant per crate, named after the package in upper
//! snake case (`SMA_CROSSOVER`, `COUNTER`, `COUNTER_V2`, `INFINITE_LOOP`...), plus [`ALL`].

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The path of the guest whose package is `name` (`"sma-crossover"`, `"counter-v2"`...).
pub fn path_of(name: &str) -> Option<&'static str> {
    ALL.iter()
        .find(|(package, _, _)| *package == name)
        .map(|(_, _, path)| *path)
}

/// The compiled example strategies, as (package name, path).
pub fn examples() -> impl Iterator<Item = (&'static str, &'static str)> {
    ALL.iter()
        .filter(|(_, group, _)| *group == "examples")
        .map(|(name, _, path)| (*name, *path))
}

/// The compiled test fixtures, as (package name, path).
pub fn fixtures() -> impl Iterator<Item = (&'static str, &'static str)> {
    ALL.iter()
        .filter(|(_, group, _)| *group == "fixtures")
        .map(|(name, _, path)| (*name, *path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 8 bytes of a binary component (a core module has `01 00 00 00` after `asm`).
    const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn every_guest_was_built_as_a_component() {
        for (name, _, path) in ALL {
            let bytes =
                std::fs::read(path).unwrap_or_else(|e| panic!("{name}: cannot read {path}: {e}"));
            assert!(
                bytes.starts_with(&COMPONENT_HEADER),
                "{name} ({path}) is not a component"
            );
        }
    }

    #[test]
    fn lists_the_examples_and_the_fixtures_the_tests_rely_on() {
        let examples: Vec<&str> = examples().map(|(name, _)| name).collect();
        assert_eq!(
            examples,
            ["prediction-follower", "rsi-reversion", "sma-crossover"]
        );
        for fixture in [
            "counter",
            "counter-v2",
            "infinite-loop",
            "memory-bomb",
            "panic",
            "wrong-version",
        ] {
            assert!(
                fixtures().any(|(name, _)| name == fixture),
                "missing fixture {fixture}"
            );
        }
        assert_eq!(path_of("counter-v2"), Some(COUNTER_V2));
    }
}
