//! Start-up on a directory another process holds: the second process exits
//! at once, and the first serves on.

use super::{all_entities, fresh_data_dir, rest_created, serve_in, stop_gracefully};
use crate::helpers::child::{path_arg, Binary};

#[test]
fn a_second_process_on_the_same_directory_exits_1_at_once() {
    let dir = fresh_data_dir();
    let server = serve_in(&dir);
    rest_created(server.http_addr, "held", "");
    let run = Binary::server(&[]).data_dir(dir.path()).run();
    run.assert_code(1);
    assert!(run.stdout.is_empty(), "must not serve: {run:#?}");
    assert!(run.stderr.contains("in use by another process"), "{run:#?}");
    assert!(run.stderr.contains(path_arg(dir.path())), "{run:#?}");
    // The first one serves on, and its stop releases the directory.
    assert_eq!(rest_created(server.http_addr, "still", ""), 2);
    stop_gracefully(server);
    let server = serve_in(&dir);
    assert_eq!(all_entities(server.grpc_addr).len(), 2);
}
