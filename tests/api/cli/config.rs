//! `serve --help` against the README's "`serve` flags" table: the same
//! flags, environment variables and defaults in both.

use std::collections::BTreeMap;

use crate::helpers::child::Binary;

/// A `serve` flag's environment variable and default, as one source states them.
#[derive(Debug, Default)]
struct Flag {
    env: Option<String>,
    default: Option<String>,
}

/// The `serve` flags as `serve --help` shows them (without `--help`).
fn help_flags() -> BTreeMap<String, Flag> {
    let help = Binary::new(&["serve", "--help"]).run();
    help.assert_code(0);
    let mut flags = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in help.stdout.lines() {
        let text = line.trim_start();
        let indent = line.len() - text.len();
        // An option's own line (`      --http-addr <HTTP_ADDR>`, `  -h, --help`)
        // is indented less than its description and possible values.
        if indent <= 6 && text.starts_with('-') {
            current = text
                .split_whitespace()
                .find(|word| word.starts_with("--"))
                .filter(|&name| name != "--help" && name != "--version")
                .map(str::to_string);
            if let Some(name) = &current {
                flags.insert(name.clone(), Flag::default());
            }
            continue;
        }
        let Some(flag) = current.as_ref().and_then(|name| flags.get_mut(name)) else {
            continue;
        };
        if let Some(env) = text.strip_prefix("[env: ") {
            // `[env: NAME=]`, or `[env: NAME]` for a value help hides.
            let name = env.split(['=', ']']).next().unwrap_or_default();
            flag.env = Some(name.to_string());
        } else if let Some(default) = text.strip_prefix("[default: ") {
            flag.default = Some(default.trim_end_matches(']').to_string());
        }
    }
    flags
}

/// The rows of the README's "`serve` flags" table: flag, env, default as written.
fn readme_flags() -> BTreeMap<String, (String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md at the repository root");
    let rows = readme
        .lines()
        .skip_while(|line| !line.starts_with("### `serve` flags"))
        .skip(1)
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2); // the header and the |---| line
    rows.map(|row| {
        // `\|` inside a cell (`--backend grpc\|direct`) is not a separator.
        let row = row.replace("\\|", "/");
        let cells: Vec<&str> = row.split('|').map(|cell| cell.trim()).collect();
        let [_, flag, env, default, _] = cells[..] else {
            panic!("a flag row has three cells: {row:?}");
        };
        let flag = flag.trim_matches('`').split_whitespace().next();
        let flag = flag.unwrap_or_else(|| panic!("no flag in {row:?}"));
        (
            flag.to_string(),
            (env.trim_matches('`').to_string(), default.to_string()),
        )
    })
    .collect()
}

/// A default as text, whatever the markup: no backticks, and digit groups
/// (`4_194_304`, `4,194,304`) as plain digits.
fn normalise(value: &str) -> String {
    let value = value.trim().trim_matches('`').trim();
    let grouped_number = value.starts_with(|c: char| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || "_, ".contains(c));
    if grouped_number {
        value.chars().filter(char::is_ascii_digit).collect()
    } else {
        value.to_string()
    }
}

#[test]
fn serve_help_and_the_readme_flag_table_agree() {
    let help = help_flags();
    let readme = readme_flags();
    assert!(
        help.contains_key("--http-addr"),
        "serve --help lists no flags: {help:?}"
    );
    assert_eq!(
        help.keys().collect::<Vec<_>>(),
        readme.keys().collect::<Vec<_>>(),
        "the flags of `serve --help` and of the README's table differ"
    );
    let mut defaults = 0;
    for (name, flag) in &help {
        let (env, default) = &readme[name];
        assert_eq!(flag.env.as_ref(), Some(env), "{name}: environment variable");
        if let Some(shown) = &flag.default {
            assert_eq!(normalise(default), normalise(shown), "{name}: default");
            defaults += 1;
        }
    }
    assert!(defaults > 0, "serve --help shows no default: {help:?}");
}
