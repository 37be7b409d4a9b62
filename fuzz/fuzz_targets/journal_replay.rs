//! Fuzzes journal replay over arbitrary file contents, the way a start-up
//! reads whatever a crash or a disk left. The checks: replay never panics;
//! what it keeps has ids 1..n in order and lies within the file; and the
//! file cut to what it keeps (what a start does to a torn last batch)
//! replays to the same entities with nothing more to drop.

#![no_main]

use entity_service::journal::replay::replay;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(replayed) = replay(data) else {
        return;
    };
    for (index, entity) in replayed.entities.iter().enumerate() {
        assert_eq!(entity.id, index as i64 + 1);
    }
    assert!(replayed.good_len + replayed.torn_bytes <= data.len() as u64);
    let cut = &data[..replayed.good_len as usize];
    let again = replay(cut).expect("the journal cut to what it keeps replays");
    assert_eq!(again.entities, replayed.entities);
    assert_eq!((again.good_len, again.torn_bytes), (replayed.good_len, 0));
});
