//! Writing a new project's files into a folder that must be new or empty, whatever the
//! language: templates give [`ProjectFile`]s, [`write_project`] puts them on disk.

use super::error::AuthoringError;
use std::path::{Path, PathBuf};

/// One file of a new project: its path relative to the project folder and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    /// Path inside the project folder, `/`-separated (`src/lib.rs`).
    pub path: String,
    /// The file's contents.
    pub contents: String,
}

impl ProjectFile {
    /// A file at `path` with `contents`.
    pub fn new(path: impl Into<String>, contents: impl Into<String>) -> ProjectFile {
        ProjectFile {
            path: path.into(),
            contents: contents.into(),
        }
    }
}

/// Replaces every `{{key}}` in `template` with its value.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        })
}

/// Fails unless `dir` is absent or an empty folder: a new project never overwrites files.
pub fn check_free(dir: &Path) -> Result<(), AuthoringError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(AuthoringError::FolderNotEmpty {
                path: dir.to_path_buf(),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if dir.exists() && !dir.is_dir() => Err(AuthoringError::NotAFolder {
            path: dir.to_path_buf(),
        }),
        Err(e) => Err(AuthoringError::io("read folder", dir)(e)),
    }
}

/// Creates `dir` (which must be absent or empty) and writes `files` into it; returns the
/// paths written, in order.
pub fn write_project(dir: &Path, files: &[ProjectFile]) -> Result<Vec<PathBuf>, AuthoringError> {
    check_free(dir)?;
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(AuthoringError::io("create folder", parent))?;
        }
        std::fs::write(&path, &file.contents).map_err(AuthoringError::io("write", &path))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_placeholder() {
        let text = render("{{a}}-{{b}}-{{a}} {c}", &[("a", "x"), ("b", "y")]);
        assert_eq!(text, "x-y-x {c}");
    }

    #[test]
    fn writes_into_a_new_or_empty_folder_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        let files = [
            ProjectFile::new("src/lib.rs", "// lib"),
            ProjectFile::new("a.txt", "a"),
        ];
        let written = write_project(&dir, &files).unwrap();
        assert_eq!(written, [dir.join("src/lib.rs"), dir.join("a.txt")]);
        assert_eq!(
            std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
            "// lib"
        );

        let err = write_project(&dir, &files).unwrap_err().to_string();
        assert!(err.contains("already exists and is not empty"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("a.txt")).unwrap(),
            "a",
            "untouched"
        );

        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(write_project(&empty, &files).is_ok());

        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = write_project(&file, &files).unwrap_err().to_string();
        assert!(err.contains("is not a folder"), "{err}");
    }
}
