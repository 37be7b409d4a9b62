//! Temporary files for commands that read a file (e.g. `client import`),
//! and temporary directories (e.g. a `--data-dir`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A path under the temp dir that no other call in this process gets.
fn unique_path() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "entity-service-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

/// A file under the temp dir with a name unique to this process, removed
/// when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    /// Writes `contents` to a fresh file.
    pub fn with_contents(contents: &str) -> Self {
        let path = unique_path();
        std::fs::write(&path, contents).expect("write a temp file");
        Self(path)
    }

    /// The path, as a command-line argument.
    pub fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A directory under the temp dir with a name unique to this process (not
/// created: the service creates its `--data-dir`), removed with everything
/// in it when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, not yet existing directory path.
    pub fn new() -> Self {
        Self(unique_path())
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The path, as a command-line argument.
    pub fn arg(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
