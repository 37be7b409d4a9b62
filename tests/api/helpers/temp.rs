//! Temporary files for commands that read a file (e.g. `client import`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A file under the temp dir with a name unique to this process, removed
/// when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    /// Writes `contents` to a fresh file.
    pub fn with_contents(contents: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "entity-service-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
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
