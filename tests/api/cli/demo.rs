//! `entity-service demo`: the seed's tour of every RPC, its sections and
//! what it leaves in the store.

use crate::helpers::child::{Binary, Run};
use crate::helpers::grpc::{self, call_options, get_request};
use crate::helpers::TestService;

use super::{assert_human_entity_line, stored_from};

/// `entity-service demo --addr <the service> <extra…>`, run to its end.
fn demo(service: &TestService, extra: &[&str]) -> Run {
    let addr = service.grpc_addr.to_string();
    let mut args = vec!["demo", "--addr", &addr];
    args.extend_from_slice(extra);
    Binary::new(&args).run()
}

#[test]
fn demo_first_three_lines_are_two_created_entities_then_one_not_found() {
    let service = TestService::start();
    let demo = demo(&service, &[]);
    demo.assert_code(0);
    let lines = demo.lines();
    assert!(lines.len() >= 3, "{demo:#?}");
    // The first two entities the demo created are ids 1 and 2 of a fresh store.
    assert_human_entity_line(&service, lines[0], 1);
    assert_human_entity_line(&service, lines[1], 2);
    assert!(
        !lines[0].contains("not found") && !lines[1].contains("not found"),
        "{demo:#?}"
    );
    assert!(
        lines[2].contains("not found") && lines[2].contains('3'),
        "third line should say id 3 was not found: {:?}",
        lines[2]
    );
}

#[test]
fn demo_prints_a_banner_for_every_section_and_exits_zero_despite_deadline_exceeded() {
    let service = TestService::start();
    let demo = demo(&service, &[]);
    demo.assert_code(0);
    let banners: Vec<&str> = demo
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("== ") && l.ends_with(" =="))
        .collect();
    // The sections, in the documented order.
    let sections = [
        "ListEntities",
        "CreateEntities",
        "LookupEntities",
        "WatchEntities",
        "Metadata",
        "Cancel",
    ];
    let positions: Vec<usize> = sections
        .iter()
        .map(|wanted| {
            banners
                .iter()
                .position(|b| b.contains(wanted))
                .unwrap_or_else(|| panic!("no `== … ==` banner mentions {wanted}: {banners:?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "banners out of order {sections:?}: {banners:?}"
    );
    // The watch ends in DEADLINE_EXCEEDED, shown as expected, not as an error.
    assert!(
        demo.lines()
            .iter()
            .any(|l| l.contains("DEADLINE_EXCEEDED") && l.contains("expected")),
        "{demo:#?}"
    );
    assert!(!demo.stderr.contains("error:"), "{demo:#?}");
    // The metadata round-trip shows all three keys, the binary one intact.
    for key in ["x-request-id", "x-echo-initial", "x-echo-bin"] {
        assert!(
            demo.lines().iter().any(|l| l.trim_start().starts_with(key)),
            "no {key} line: {demo:#?}"
        );
    }
    assert!(demo.stdout.contains("demo-request-1"), "{demo:#?}");
    assert!(demo.stdout.contains("hello from the demo"), "{demo:#?}");
    assert!(!demo.stdout.contains("DIFFERENT"), "{demo:#?}");
}

#[test]
fn demo_cancelled_client_stream_keeps_what_was_created_before_the_cancel() {
    let service = TestService::start();
    let demo = demo(&service, &[]);
    demo.assert_code(0);
    // 2 seeded + 3 streamed + 1 created during the watch + 2 before the cancel.
    assert_eq!(service.store().len(), 8, "{demo:#?}");
    let names: Vec<String> = stored_from(&service, 1).into_iter().map(|e| e.0).collect();
    assert!(names.contains(&"kept one".to_string()), "{names:?}");
    assert!(names.contains(&"kept two".to_string()), "{names:?}");
    // … and over gRPC, as another client sees it.
    let client = grpc::entity_client(service.grpc_addr);
    for id in [7, 8] {
        let entity = client
            .get_entity_opt(&get_request(id), call_options())
            .expect("kept after the cancel");
        assert!(entity.name.starts_with("kept "), "{entity:?}");
    }
    let cancel_section = demo.stdout.split("== ").last().expect("a last section");
    assert!(cancel_section.contains("kept one"), "{cancel_section}");
    assert!(cancel_section.contains("kept two"), "{cancel_section}");
}

#[test]
fn demo_with_the_right_token_runs_against_an_authenticated_server() {
    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    demo(&service, &[]).assert_call_error(7, "UNAUTHENTICATED");
    assert_eq!(service.store().len(), 0);
    let demo = demo(&service, &["--token", "s3cret"]);
    demo.assert_code(0);
    assert_eq!(service.store().len(), 8, "{demo:#?}");
}
