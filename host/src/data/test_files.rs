//! Files for the data readers' tests: the bundled data, and small files written on the spot.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file of the bundled data.
pub(crate) fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// Write `text` to `dir/name`, gzip-compressed when `gz`.
pub(crate) fn write(dir: &Path, name: &str, text: &str, gz: bool) -> PathBuf {
    let path = dir.join(name);
    let mut f = File::create(&path).unwrap();
    if gz {
        let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
    } else {
        f.write_all(text.as_bytes()).unwrap();
    }
    path
}
