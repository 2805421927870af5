//! Building a strategy crate into a component: `cargo build --target wasm32-wasip2` with
//! cargo's progress on the terminal, then finding the `.wasm` through `cargo metadata`.

use super::error::AuthoringError;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target every strategy component is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// How to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// The cargo profile (`release` unless told otherwise).
    pub profile: String,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            profile: "release".into(),
        }
    }
}

/// A built component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The package name, which becomes the plugin's name when installed.
    pub package: String,
    /// The crate's folder.
    pub dir: PathBuf,
    /// The component cargo wrote.
    pub wasm: PathBuf,
}

/// The crate in `dir` as `cargo metadata` describes it.
#[derive(Debug, Clone)]
pub struct CrateInfo {
    /// The package name.
    pub package: String,
    /// Its Cargo.toml.
    pub manifest: PathBuf,
    /// The library's name (`my_strategy`), if it builds a `cdylib`.
    pub cdylib: Option<String>,
    /// Whether it has a library at all.
    pub has_library: bool,
    /// Where cargo writes (honours `CARGO_TARGET_DIR` and workspaces).
    pub target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
    crate_types: Vec<String>,
}

/// `cargo` in `dir` with no input: the cargo that runs us when there is one, else the one on
/// PATH.
fn cargo_in(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(dir).stdin(Stdio::null());
    cmd
}

/// The error for a program that could not be started.
fn spawn_error(program: &std::ffi::OsStr) -> impl FnOnce(std::io::Error) -> AuthoringError {
    let program = program.to_string_lossy().into_owned();
    move |source| AuthoringError::Spawn { program, source }
}

/// Fails with the `rustup` command to run when the guest target's standard library is not
/// installed for the toolchain that `dir` uses.
pub fn check_target_installed(dir: &Path) -> Result<(), AuthoringError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .current_dir(dir)
        .args(["--print", "target-libdir", "--target", TARGET])
        .stderr(Stdio::null())
        .output()
        .map_err(spawn_error(&rustc))?;
    let libdir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // rustc prints the folder even when rustup has not installed anything in it.
    let installed = out.status.success()
        && std::fs::read_dir(&libdir).is_ok_and(|mut entries| entries.next().is_some());
    if installed {
        Ok(())
    } else {
        Err(AuthoringError::TargetMissing { target: TARGET })
    }
}

/// Reads the crate in `dir` with `cargo metadata --no-deps` (no network, no build).
pub fn crate_info(dir: &Path) -> Result<CrateInfo, AuthoringError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(AuthoringError::NotACrate {
            dir: dir.to_path_buf(),
            reason: "there is no Cargo.toml in it (create one with `tradehost new NAME`)".into(),
        });
    }
    let out = cargo_in(dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(spawn_error("cargo".as_ref()))?;
    if !out.status.success() {
        return Err(AuthoringError::NotACrate {
            dir: dir.to_path_buf(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let metadata: Metadata =
        serde_json::from_slice(&out.stdout).map_err(|e| AuthoringError::NotACrate {
            dir: dir.to_path_buf(),
            reason: format!("cargo metadata printed something unexpected: {e}"),
        })?;
    let manifest = manifest
        .canonicalize()
        .map_err(AuthoringError::io("read", &manifest))?;
    // In a workspace, metadata lists every member: take the one whose manifest is here.
    let package = metadata
        .packages
        .into_iter()
        .find(|p| p.manifest_path.canonicalize().is_ok_and(|m| m == manifest))
        .ok_or_else(|| AuthoringError::NotACrate {
            dir: dir.to_path_buf(),
            reason: "its Cargo.toml has no [package] (a workspace root?): pass the strategy \
                     crate's own folder"
                .into(),
        })?;
    // Library kinds are `lib`, `rlib`, `cdylib`, `dylib`, `staticlib` (bins, tests... are not).
    let has_library = package
        .targets
        .iter()
        .any(|t| t.kind.iter().any(|k| k.ends_with("lib")));
    let cdylib = package
        .targets
        .iter()
        .find(|t| t.crate_types.iter().any(|k| k == "cdylib"))
        .map(|t| t.name.replace('-', "_"));
    Ok(CrateInfo {
        package: package.name,
        manifest,
        cdylib,
        has_library,
        target_directory: metadata.target_directory,
    })
}

/// The folder under `target/<triple>/` where `profile` puts its output.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

/// Builds the component of the crate in `dir` for `wasm32-wasip2`; cargo's progress and
/// messages go to this process's terminal.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<Built, AuthoringError> {
    let info = crate_info(dir)?;
    let Some(lib_name) = info.cdylib.clone() else {
        return Err(if info.has_library {
            AuthoringError::NoCdylib {
                package: info.package,
                manifest: info.manifest,
            }
        } else {
            AuthoringError::NoLibrary {
                package: info.package,
            }
        });
    };
    check_target_installed(dir)?;
    let status = cargo_in(dir)
        .args(["build", "--target", TARGET, "--profile", &options.profile])
        // Cargo's progress and messages are for the person waiting: keep them on the terminal.
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(spawn_error("cargo".as_ref()))?;
    if !status.success() {
        return Err(AuthoringError::CargoFailed {
            dir: dir.to_path_buf(),
            status,
        });
    }
    let wasm = info
        .target_directory
        .join(TARGET)
        .join(profile_dir(&options.profile))
        .join(format!("{lib_name}.wasm"));
    if !wasm.is_file() {
        return Err(AuthoringError::NoComponent { path: wasm });
    }
    Ok(Built {
        package: info.package,
        dir: dir.to_path_buf(),
        wasm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crate in a fresh temporary folder with this `[lib]`/`[[bin]]` text and these files.
    fn crate_with(extra: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("Cargo.toml"),
            format!("[package]\nname = \"probe-strat\"\nversion = \"0.1.0\"\nedition = \"2024\"\n{extra}\n[workspace]\n"),
        )
        .unwrap();
        for (path, text) in files {
            let path = tmp.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        tmp
    }

    #[test]
    fn a_library_that_is_not_a_cdylib_is_refused_with_the_fix() {
        let tmp = crate_with("", &[("src/lib.rs", "")]);
        let err = build(tmp.path(), &BuildOptions::default()).unwrap_err();
        assert!(matches!(err, AuthoringError::NoCdylib { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("probe-strat builds no component"), "{text}");
        assert!(
            text.contains("crate-type = [\"cdylib\", \"rlib\"]"),
            "{text}"
        );
    }

    #[test]
    fn a_static_library_is_a_library_but_not_a_component() {
        let tmp = crate_with(
            "[lib]\ncrate-type = [\"staticlib\"]\n",
            &[("src/lib.rs", "")],
        );
        let err = build(tmp.path(), &BuildOptions::default()).unwrap_err();
        assert!(matches!(err, AuthoringError::NoCdylib { .. }), "{err:?}");
    }

    #[test]
    fn a_crate_without_a_library_is_refused() {
        let tmp = crate_with("", &[("src/main.rs", "fn main() {}")]);
        let err = build(tmp.path(), &BuildOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has no library") && err.contains("src/lib.rs"),
            "{err}"
        );
    }

    #[test]
    fn a_folder_without_a_crate_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let err = build(tmp.path(), &BuildOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no Cargo.toml") && err.contains("tradehost new"),
            "{err}"
        );
        let broken = crate_with("[lib\n", &[("src/lib.rs", "")]);
        let err = build(broken.path(), &BuildOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a Rust crate"), "{err}");
    }

    #[test]
    fn a_cdylib_is_found_with_its_library_name_and_target_folder() {
        let tmp = crate_with("[lib]\ncrate-type = [\"cdylib\"]\n", &[("src/lib.rs", "")]);
        let info = crate_info(tmp.path()).unwrap();
        assert_eq!(info.package, "probe-strat");
        assert_eq!(info.cdylib.as_deref(), Some("probe_strat"));
        assert!(info.target_directory.is_absolute());
        assert_eq!(profile_dir("release"), "release");
        assert_eq!(profile_dir("dev"), "debug");
    }
}
