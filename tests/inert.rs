//! Text that comes from a submission is inert in every output: the `hostile-text`
//! fixture answers and logs escape sequences, control characters, NUL, invalid UTF-8
//! and markup; it is graded in real Docker into every format, each parsed back, and the
//! terminal output (with NO_COLOR and without it, through a pipe, and on a pty with
//! colours and the spinner) checked byte by byte.
//! `grader report` renders the saved report.json into the same files, and a report
//! whose every free-text field is hostile renders just as safely.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use grader_report::Report;

const FORMATS: &str = "json,junit,gradescope,md,html";
const FILES: [&str; 5] = [
    "report.json",
    "junit.xml",
    "results.json",
    "summary.md",
    "report.html",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn grader() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_grader"));
    cmd.current_dir(root()).env_remove("NO_COLOR");
    cmd
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grader-inert-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Grades `fixture` against `exercise` (both in tests/hostile) into `dir`, every format;
/// `no_color` sets NO_COLOR=1; the grade must exit with `code`.
fn grade_hostile(exercise: &str, fixture: &str, dir: &Path, no_color: bool, code: u8) -> Output {
    static IMAGES: std::sync::OnceLock<Output> = std::sync::OnceLock::new();
    let images = IMAGES.get_or_init(|| grader().arg("images").output().unwrap());
    assert!(images.status.success(), "grader images: {images:?}");
    let mut cmd = grader();
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd
        .arg("grade")
        .arg(Path::new("tests/hostile").join(exercise))
        .arg(Path::new("tests/hostile").join(fixture))
        .arg("--out")
        .arg(dir)
        .args(["--format", FORMATS, "--timeout", "120"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(i32::from(code)), "{out:?}");
    out
}

/// A character no output may carry raw: a control character but `\n` (and `\t`).
fn raw_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

fn assert_no_raw_control(what: &str, text: &str) {
    if let Some((i, c)) = text.char_indices().find(|(_, c)| raw_control(*c)) {
        let start = text[..i].char_indices().rev().nth(60).map_or(0, |(j, _)| j);
        panic!("{what}: raw {c:?} at byte {i}: {:?}", &text[start..]);
    }
}

/// What the grade printed: no byte of the submission's reaches the terminal raw (not
/// even ESC: without a terminal there is no colour), yet its text (the response, or
/// the log) is shown, and the score line the submission wrote stays indented: the one
/// line that starts `Score:` is the grader's, with `score`.
fn assert_terminal_inert(out: &Output, score: &str) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{stream}: {e}"));
        assert_no_raw_control(stream, text);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r"\x1b[2J\x1b[H\x1b]0;pwned-title\x07"),
        "the submission's text is shown:\n{stdout}"
    );
    assert!(stdout.contains(r"\u{9b}31mc1-csi"), "{stdout}");
    let score_lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Score:")).collect();
    assert_eq!(
        score_lines.len(),
        1,
        "only the grader's own: {score_lines:?}"
    );
    assert!(score_lines[0].contains(score), "{score_lines:?}");
}

/// report.json matches the schema and keeps exactly what the server sent, escaped:
/// the text holds no raw control character.
fn check_report_json(text: &str) -> Report {
    assert_no_raw_control("report.json", text);
    let schema: serde_json::Value =
        serde_json::from_str(&read(&root(), "docs/report.schema.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    serde_json::from_str(text).unwrap()
}

/// junit.xml is XML 1.0 and its failure shows the response visibly, markup as text.
fn check_junit(text: &str, want: &[&str]) {
    assert_no_raw_control("junit.xml", text);
    let doc = roxmltree::Document::parse(text).expect("junit.xml is valid XML");
    let shown: String = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure") || n.has_tag_name("error"))
        .filter_map(|n| n.text())
        .collect();
    for w in want {
        assert!(shown.contains(w), "junit.xml shows {w:?}:\n{shown}");
    }
}

/// results.json is JSON, declares plain text, and no string in it holds a control
/// character.
fn check_gradescope(text: &str, want: &[&str]) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    for field in ["output_format", "test_output_format", "test_name_format"] {
        assert_eq!(v[field], "text", "{field}");
    }
    let tests = v["tests"].as_array().unwrap();
    let mut outputs = String::new();
    for t in tests.iter().chain([&v]) {
        for field in ["name", "output"] {
            let s = t[field].as_str().unwrap_or("");
            assert_no_raw_control("results.json", s);
            outputs.push_str(s);
        }
    }
    for w in want {
        assert!(outputs.contains(w), "results.json shows {w:?}");
    }
}

/// Whether the byte at `i` is escaped by an odd run of backslashes before it.
fn escaped(line: &str, i: usize) -> bool {
    line.as_bytes()[..i]
        .iter()
        .rev()
        .take_while(|b| **b == b'\\')
        .count()
        % 2
        == 1
}

/// The raw HTML tags in `text` (`<` then a letter, `/`, `!` or `?`), by name.
fn tags(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    (0..b.len())
        .filter(|&i| {
            b[i] == b'<'
                && b.get(i + 1)
                    .is_some_and(|n| n.is_ascii_alphabetic() || b"/!?".contains(n))
        })
        .map(|i| {
            text[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/!?".contains(*c))
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .collect()
}

/// summary.md read as GitHub would: every fence closes where the grader closed it
/// (right before `</details>`), and outside fences there is no tag but the grader's
/// own, no link or image, and every table row keeps its cells; `sections` collapsed
/// sections open and close.
fn check_markdown(text: &str, sections: usize) {
    assert_no_raw_control("summary.md", text);
    let mut fence: Option<String> = None;
    let mut closed_here = false;
    let (mut open, mut close) = (0, 0);
    // The cells of the table being read: its header's (the grader writes tables of
    // five cells, the categories', of three, a check's work figures, and of two, its
    // top statements).
    let mut table_cells: Option<usize> = None;
    for line in text.lines() {
        if let Some(f) = &fence {
            let t = line.trim_start_matches(' ');
            if line.len() - t.len() <= 3
                && t.trim_end().starts_with(f.as_str())
                && t.trim_end().chars().all(|c| c == '`')
            {
                fence = None;
                closed_here = true;
            }
            continue;
        }
        if closed_here && !line.is_empty() {
            assert_eq!(line, "</details>", "a fence closed early");
        }
        if !line.is_empty() {
            closed_here = false;
        }
        if line.starts_with("```") || line.starts_with("~~~") {
            let marker: String = line.chars().take_while(|c| *c == '`').collect();
            assert!(marker.len() >= 3, "only the grader's fences: {line}");
            fence = Some(marker);
            continue;
        }
        for tag in tags(line) {
            assert!(
                [
                    "details", "/details", "summary", "/summary", "code", "/code"
                ]
                .contains(&tag.as_str()),
                "raw HTML <{tag} in summary.md: {line}"
            );
        }
        open += line.matches("<details>").count();
        close += line.matches("</details>").count();
        // A line opening with `<details>` is raw HTML to its end: no Markdown links.
        let html_block = line.starts_with("<details>");
        let links = line.match_indices("](").chain(line.match_indices("!["));
        for (i, _) in links.filter(|_| !html_block) {
            assert!(
                escaped(line, i) || escaped(line, i + 1),
                "a link or image: {line}"
            );
        }
        if line.starts_with('|') {
            let cells = (0..line.len())
                .filter(|&i| line.as_bytes()[i] == b'|' && !escaped(line, i))
                .count();
            let header = *table_cells.get_or_insert(cells);
            assert!(
                [3, 4, 6].contains(&header),
                "a table the grader writes: {line}"
            );
            assert_eq!(cells, header, "a row keeps its table's cells: {line}");
        } else {
            table_cells = None;
        }
    }
    assert!(fence.is_none(), "a fence left open");
    assert_eq!((open, close), (sections, sections), "every section closes");
}

/// report.html holds only the tags the renderer writes (so no `<script>` or `<img>` of
/// the submission's), escaped text, and balanced sections.
fn check_html(text: &str, want: &[&str]) {
    assert_no_raw_control("report.html", text);
    const OURS: &[&str] = &[
        "!doctype", "html", "head", "meta", "title", "style", "body", "main", "header", "footer",
        "h1", "h2", "div", "span", "b", "small", "code", "pre", "details", "summary", "table",
        "tr", "th", "td", "svg", "circle", "rect", "text", "g", "line", "polyline",
    ];
    for tag in tags(text) {
        let name = tag.trim_start_matches('/');
        assert!(
            OURS.contains(&name),
            "a tag the renderer never writes: <{tag}"
        );
    }
    assert_eq!(
        text.matches("<details").count(),
        text.matches("</details>").count()
    );
    for w in want {
        assert!(text.contains(w), "report.html shows {w:?}");
    }
}

/// Every rendering in `dir`, parsed back and scanned; with `failed`, a failure shows
/// the submission's text in each (else it is in report.html's log only), in `sections`
/// collapsed sections of summary.md.
fn check_every_format(dir: &Path, failed: bool, sections: usize) -> Report {
    let report = check_report_json(&read(dir, "report.json"));
    let visible = [
        r"\x1b[2J\x1b[H\x1b]0;pwned-title\x07",
        r"\x00nul\x07bel\x0bvt\x7fdel \x1b lone-esc \u{9b}31mc1-csi",
        "\u{fffd}\u{fffd}\u{fffd} invalid-utf8",
    ];
    let markup = [
        "<script>alert(1)</script>",
        "]]>",
        "</details>",
        "<img src=http",
    ];
    let shown = if failed {
        [&visible[..], &markup[..]].concat()
    } else {
        Vec::new()
    };
    check_junit(&read(dir, "junit.xml"), &shown);
    check_gradescope(&read(dir, "results.json"), &shown);
    check_markdown(&read(dir, "summary.md"), sections);
    check_html(
        &read(dir, "report.html"),
        &[
            visible[0],
            visible[1],
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "]]&gt;",
            "&lt;img src=http",
        ],
    );
    report
}

/// No container, network or volume of the run remains.
fn assert_nothing_left(run_id: &str) {
    for what in [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"],
        &["volume", "ls", "-q"],
    ] {
        let out = Command::new("docker")
            .args(what)
            .args(["--filter", &format!("label=grader.run={run_id}")])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "{what:?}: {out:?}"
        );
    }
}

/// `grader report` renders the saved report.json into `to`, every format.
fn rerender(from: &Path, to: &Path) {
    let out = grader()
        .arg("report")
        .arg(from.join("report.json"))
        .arg("--out")
        .arg(to)
        .args(["--format", FORMATS])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// On a terminal (a pty from `script`): colours and the spinner are the grader's, so an
/// ESC may only begin one of the sequences they use (SGR, erase line, cursor up or
/// down); the submission's own (clear screen, title, hyperlink) never arrive raw, nor
/// BEL, NUL, backspace or C1, yet the response is shown.
fn assert_tty_inert(dir: &Path) {
    let log = dir.join("tty.log");
    let command = format!(
        "{} grade tests/hostile/exercise tests/hostile/hostile-text --out {}",
        env!("CARGO_BIN_EXE_grader"),
        dir.display()
    );
    let out = Command::new("script")
        .current_dir(root())
        .env_remove("NO_COLOR")
        .args(["-qec", &command])
        .arg(&log)
        .output()
        .expect("script (util-linux) runs the grade on a pty");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let bytes = std::fs::read(&log).unwrap();
    let text = String::from_utf8(bytes).expect("UTF-8");
    let mut rest = text.as_str();
    while let Some(i) = rest.find('\x1b') {
        rest = &rest[i + 1..];
        let params = rest
            .strip_prefix('[')
            .unwrap_or_else(|| panic!("ESC not CSI: {rest:.40?}"));
        let end = params
            .find(|c: char| !c.is_ascii_digit() && c != ';')
            .unwrap_or(0);
        let seq = &params[..=end];
        assert!(
            seq.ends_with(['m', 'K', 'A', 'B']),
            "a sequence the grader never writes: ESC [{seq}"
        );
    }
    let others = text
        .chars()
        .filter(|c| c.is_control() && !"\n\r\t\x1b".contains(*c));
    assert_eq!(
        others.collect::<String>(),
        "",
        "no BEL, NUL, backspace or C1"
    );
    assert!(
        text.contains(r"\x1b]0;pwned-title\x07"),
        "the response is shown"
    );
}

#[test]
fn a_hostile_submission_is_inert_in_every_output() {
    let plain = out_dir("no-color");
    let out = grade_hostile("exercise", "hostile-text", &plain, true, 1);
    assert_terminal_inert(&out, "1/2");
    let hyperlink = r"\x1b]8;;http://127.0.0.1:9/\x1b\click me\x1b]8;;\x1b\ ";
    assert!(String::from_utf8_lossy(&out.stdout).contains(hyperlink));
    let report = check_every_format(&plain, true, 1);
    let probe = report.checks.iter().find(|c| c.id == "probe").unwrap();
    let failure = probe.failure.as_ref().unwrap();
    assert!(failure.message.contains("the response body is not JSON"));
    let response = failure.response.as_deref().unwrap_or("");
    assert!(
        response.contains("\x1b]0;pwned-title\x07") && response.contains("x-hostile: <img"),
        "report.json keeps what the server sent: {response:?}"
    );
    assert_nothing_left(&report.run_id);
    let log = report.log_tail.as_deref().unwrap_or("");
    assert!(
        log.contains("hostile-text listening") && log.contains("\x1b]0;pwned-title"),
        "{log:?}"
    );

    let again = out_dir("rerendered");
    rerender(&plain, &again);
    for file in FILES {
        assert!(
            read(&plain, file) == read(&again, file),
            "{file} rendered again differs"
        );
    }

    let piped = out_dir("piped");
    let out = grade_hostile("exercise", "hostile-text", &piped, false, 1);
    assert_terminal_inert(&out, "1/2");
    assert_nothing_left(&check_every_format(&piped, true, 1).run_id);
    let tty = out_dir("tty");
    assert_tty_inert(&tty);
    for dir in [plain, again, piped, tty] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Free text a submission can fill, by JSON pointer, in a report with a failure.
const FREE_TEXT: &[&str] = &[
    "/reason",
    "/log_tail",
    "/build_log_tail",
    "/submission_exit",
    "/checks/1/title",
    "/checks/1/failure/message",
    "/checks/1/failure/location",
    "/checks/1/failure/expected",
    "/checks/1/failure/actual",
    "/checks/1/failure/request",
    "/checks/1/failure/response",
    "/checks/1/failure/hint",
    "/checks/1/failure/diff",
    "/checks/1/output/text",
    "/checks/1/causes/0/message",
    "/checks/1/causes/0/rule",
    "/checks/1/causes/0/evidence",
];

/// Every field at once, without Docker: the renderers' snapshot report with the
/// fixture's own bytes (read lossily, as the grader reads them) in every free text.
#[test]
fn every_free_text_field_renders_inert() {
    let server = std::fs::read(root().join("tests/hostile/hostile-text/server.py")).unwrap();
    let hostile = String::from_utf8_lossy(&server);
    let hostile = format!(
        "\x1b[2J\x1b[H\x1b]0;pwned-title\x07 \0nul\x07bel\x0bvt\x7fdel \x1b lone-esc \u{9b}31mc1-csi \u{ffff}\u{fffd}\u{fffd}\u{fffd} invalid-utf8\r\n<script>alert(1)</script>\n]]>\n</details>\n```\n<img src=http://127.0.0.1:9/x.png>\n{hostile}"
    );
    let mut value: serde_json::Value =
        serde_json::from_str(&read(&root(), "grader/src/report/snapshots/report.json")).unwrap();
    for pointer in FREE_TEXT {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let object = value.pointer_mut(parent).and_then(|v| v.as_object_mut());
        let object = object.unwrap_or_else(|| panic!("{pointer}"));
        object.insert(key.to_string(), serde_json::Value::String(hostile.clone()));
    }
    let from = out_dir("fields");
    std::fs::write(from.join("report.json"), value.to_string()).unwrap();
    let to = out_dir("fields-rendered");
    rerender(&from, &to);
    let report = check_every_format(&to, true, 3);
    assert_eq!(
        report.log_tail.as_deref(),
        Some(hostile.as_str()),
        "kept exactly"
    );
    for dir in [from, to] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Grades `fixture` against `exercise`, a run that ends before any check (exit code
/// 2) with `status`: the terminal shows the end of a log, inert, under the grader's
/// `--- last lines of the log ---`, and every file (`sections` collapsed in
/// summary.md) is inert.
fn a_broken_run_is_inert(exercise: &str, fixture: &str, status: &str, sections: usize) -> Report {
    let dir = out_dir(fixture);
    let out = grade_hostile(exercise, fixture, &dir, false, 2);
    assert_terminal_inert(&out, "0/2");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("--- last lines of the log ---"), "{stdout}");
    let report = check_every_format(&dir, false, sections);
    assert_eq!(serde_json::to_value(report.status).unwrap(), status);
    assert_nothing_left(&report.run_id);
    let _ = std::fs::remove_dir_all(dir);
    report
}

/// A run that cannot start shows the end of the submission's log on the terminal: the
/// log's escape sequences and its fake score line are inert there and in every file.
#[test]
fn a_hostile_log_is_inert_when_the_run_cannot_start() {
    let report = a_broken_run_is_inert("exercise-unready", "hostile-text", "start_failed", 0);
    let log = report.log_tail.as_deref().unwrap_or("");
    assert!(log.contains("hostile-text: GET /unready"), "{log:?}");
}

/// A build whose output is hostile: the end of the build log, on the terminal and in
/// every file, is inert too.
#[test]
fn a_hostile_build_log_is_inert() {
    let report = a_broken_run_is_inert("exercise", "hostile-build-log", "build_failed", 1);
    let tail = report.build_log_tail.as_deref().unwrap_or("");
    assert!(
        tail.contains("\x1b]0;pwned-title\x07 \0nul"),
        "kept as sent: {tail:?}"
    );
}
