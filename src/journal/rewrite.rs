//! Writing a journal file whole, in the current format: a new journal (the
//! file header alone), or a format-1 journal rewritten once its records are
//! read. The file is written beside the journal, synced, and renamed over it,
//! so a crash leaves either the old file or the new one, never a mix, and
//! the header of a journal is never torn.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use super::format::encode;
use super::frame::{file_header, finish_batch, start_batch, FORMAT_VERSION, MAX_BATCH};
use crate::entity::Entity;

/// Added to the journal's name for the new file until it is renamed.
const NEW_SUFFIX: &str = ".new";

/// Replaces the journal at `path` (in directory `dir`) with one holding
/// `entities` in batches of at most [`MAX_BATCH`]; its length in bytes.
pub fn rewrite(dir: &Path, path: &Path, entities: &[Arc<Entity>]) -> io::Result<u64> {
    let mut new_path = path.as_os_str().to_owned();
    new_path.push(NEW_SUFFIX);
    let file = File::create(&new_path)?;
    let mut out = BufWriter::new(&file);
    let header = file_header(FORMAT_VERSION);
    out.write_all(&header)?;
    let mut len = header.len() as u64;
    let mut batch = Vec::new();
    for chunk in entities.chunks(MAX_BATCH) {
        batch.clear();
        let start = start_batch(&mut batch);
        for entity in chunk {
            encode(entity.id, &entity.name, &entity.description, &mut batch);
        }
        finish_batch(&mut batch, start, chunk.len());
        out.write_all(&batch)?;
        len += batch.len() as u64;
    }
    out.flush()?;
    drop(out);
    file.sync_all()?;
    std::fs::rename(&new_path, path)?;
    // The rename must be durable before any batch is appended.
    File::open(dir)?.sync_all()?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::super::replay::replay;
    use super::*;

    #[test]
    fn a_rewritten_journal_replays_to_the_same_entities() {
        let dir = std::env::temp_dir().join(format!("journal-rewrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("entities.journal");
        std::fs::write(&path, b"whatever was there").unwrap();
        let entities: Vec<Arc<Entity>> = (1..=2500)
            .map(|id| {
                Arc::new(Entity {
                    id,
                    name: format!("n{id}"),
                    description: "é".repeat(id as usize % 7),
                })
            })
            .collect();
        let len = rewrite(&dir, &path, &entities).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, len);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(replayed.version, FORMAT_VERSION);
        assert_eq!(replayed.entities, entities);
        assert_eq!((replayed.records_end, replayed.torn_bytes), (len, 0));
        assert!(!dir.join("entities.journal.new").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
