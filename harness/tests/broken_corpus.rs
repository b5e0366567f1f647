//! A corpus of broken specs (`tests/broken/*.toml`), each with the exact error text it
//! must produce (`*.expected`). Set UPDATE_EXPECT=1 to write the expected files anew
//! after a deliberate change of wording, then read the diff.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::path::Path;

#[test]
fn every_broken_spec_gives_its_expected_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8);
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut wrong = Vec::new();
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        let name = Path::new("broken").join(file.file_name().unwrap());
        let got = match harness::exercise::parse_exercise(&name, &src) {
            Ok(_) => panic!("{} should not load", file.display()),
            Err(e) => format!("{e}\n"),
        };
        let expected_path = file.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            wrong.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                file.display()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
