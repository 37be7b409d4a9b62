//! Reading a journal file front to back: a sliding window over its bytes,
//! and the scan behind a damaged spot that decides whether the damage is a
//! torn end (nothing whole after it) or corruption (something whole after it).

use std::io::{self, Read};

use super::format::MAX_PAYLOAD;

/// Bytes read from the file at a time (at least one record of the largest size).
const CHUNK: usize = 1 << 20;

/// A sliding window over the file: the bytes from `offset` on that have
/// been read so far.
pub struct Window<R> {
    reader: R,
    buffer: Vec<u8>,
    /// Where the window starts inside `buffer`.
    start: usize,
    /// The file offset of the window's first byte.
    pub offset: u64,
    /// Whether the whole file has been read.
    at_end: bool,
}

impl<R: Read> Window<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buffer: Vec::with_capacity(CHUNK.max(2 * MAX_PAYLOAD)),
            start: 0,
            offset: 0,
            at_end: false,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    /// Moves the window `n` bytes on (at most to the end of what was read).
    pub fn advance(&mut self, n: usize) {
        let n = n.min(self.buffer.len() - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Reads more of the file into the window; false at the end of the file.
    pub fn fill(&mut self) -> io::Result<bool> {
        if self.at_end {
            return Ok(false);
        }
        self.buffer.drain(..self.start);
        self.start = 0;
        let had = self.buffer.len();
        let room = self.buffer.capacity().saturating_sub(had).max(CHUNK);
        let read = (&mut self.reader)
            .take(room as u64)
            .read_to_end(&mut self.buffer)?;
        self.at_end = read == 0;
        Ok(read > 0)
    }

    /// Fills the window until it holds at least `len` bytes or the file ends;
    /// whether it holds them.
    pub fn fill_to(&mut self, len: usize) -> io::Result<bool> {
        while self.bytes().len() < len {
            if !self.fill()? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// What a probe finds at some offset.
pub enum Probe {
    /// Something whole: a record or batch that checks out.
    Whole,
    /// Maybe something whole, if more bytes follow.
    NeedMore,
    Nothing,
}

/// What lies behind a damaged spot.
pub struct Scan {
    /// The offset of the first whole thing found, if any.
    pub whole_at: Option<u64>,
    /// Just past the last non-zero byte from the damaged spot on (when
    /// nothing whole was found): zeros the writer filled ahead are no damage.
    pub damage_end: u64,
}

/// Reads the rest of the file from the window's offset (the damaged spot)
/// on, probing each offset from `from` on for something whole.
pub fn scan<R: Read>(
    window: &mut Window<R>,
    from: u64,
    probe: impl Fn(&[u8]) -> Probe,
) -> io::Result<Scan> {
    let mut damage_end = window.offset;
    loop {
        if window.bytes().is_empty() && !window.fill()? {
            break;
        }
        if window.offset >= from {
            match probe(window.bytes()) {
                Probe::Whole => {
                    return Ok(Scan {
                        whole_at: Some(window.offset),
                        damage_end,
                    })
                }
                Probe::NeedMore if window.fill()? => continue,
                Probe::NeedMore | Probe::Nothing => {}
            }
        }
        if window.bytes()[0] != 0 {
            damage_end = window.offset + 1;
        }
        window.advance(1);
    }
    Ok(Scan {
        whole_at: None,
        damage_end,
    })
}
