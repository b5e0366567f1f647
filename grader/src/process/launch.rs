//! How a submission starts without Docker: the command it declares, found in this order:
//! `--cmd`, the submission's `grader.toml` (`[process] run`, optional `build`), a
//! `Procfile`'s `web:` line, and last the `CMD` (after any `ENTRYPOINT`) of its
//! Dockerfile, whose other instructions (`RUN`, `COPY`) are not run: what they install
//! must already be on the machine.

use std::path::Path;

/// A command to run, in the submission's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Program {
    /// A shell command line (`sh -c`).
    Shell(String),
    /// A program and its arguments, as given (a Dockerfile's exec form).
    Exec(Vec<String>),
}

impl Program {
    /// The argument vector to execute.
    pub(crate) fn argv(&self) -> Vec<String> {
        match self {
            Program::Shell(line) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
            Program::Exec(argv) => argv.clone(),
        }
    }

    /// As a person would type it.
    pub(crate) fn display(&self) -> String {
        match self {
            Program::Shell(line) => line.clone(),
            Program::Exec(argv) => argv.join(" "),
        }
    }
}

/// How to build (optionally) and start a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    pub build: Option<Program>,
    pub run: Program,
    /// Variables the declaration sets (a Dockerfile's `ENV`).
    pub env: Vec<(String, String)>,
    /// Where it was declared: `--cmd`, `grader.toml`, `Procfile`, `Dockerfile`.
    pub from: &'static str,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    process: Section,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    run: String,
    build: Option<String>,
}

/// What the submission at `dir` declares (or `cmd`, which wins); an error says what to
/// write where.
pub(crate) fn resolve(dir: &Path, cmd: Option<&str>) -> Result<Launch, String> {
    if let Some(cmd) = cmd {
        if cmd.trim().is_empty() {
            return Err("--cmd is empty: give the command that starts the server".into());
        }
        return Ok(Launch {
            build: None,
            run: Program::Shell(cmd.to_string()),
            env: Vec::new(),
            from: "--cmd",
        });
    }
    let toml_path = dir.join("grader.toml");
    if toml_path.is_file() {
        return from_grader_toml(&toml_path);
    }
    let procfile = dir.join("Procfile");
    if procfile.is_file() {
        return from_procfile(&procfile);
    }
    let dockerfile = dir.join("Dockerfile");
    if dockerfile.is_file() {
        return from_dockerfile(&dockerfile);
    }
    Err(format!(
        "{} declares no command to start the server: add a grader.toml with\n\n  \
         [process]\n  run = \"python3 app.py\"   # the command that starts your server\n  \
         build = \"...\"            # optional, run once before it\n\n\
         or a Procfile with a `web: ...` line, or give --cmd",
        dir.display()
    ))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn from_grader_toml(path: &Path) -> Result<Launch, String> {
    let text = read(path)?;
    let file: File = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                let col = s.start - text[..s.start].rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        format!(
            "{}{at}: {}; expected\n\n  [process]\n  run = \"the command that starts your server\"\n  build = \"an optional command run once before it\"",
            path.display(),
            e.message()
        )
    })?;
    let nonempty = |what: &str, v: String| {
        if v.trim().is_empty() {
            Err(format!("{}: [process] {what} is empty", path.display()))
        } else {
            Ok(v)
        }
    };
    Ok(Launch {
        run: Program::Shell(nonempty("run", file.process.run)?),
        build: file
            .process
            .build
            .map(|b| nonempty("build", b).map(Program::Shell))
            .transpose()?,
        env: Vec::new(),
        from: "grader.toml",
    })
}

fn from_procfile(path: &Path) -> Result<Launch, String> {
    let text = read(path)?;
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("web:") {
            let cmd = cmd.trim();
            if !cmd.is_empty() {
                return Ok(Launch {
                    build: None,
                    run: Program::Shell(cmd.to_string()),
                    env: Vec::new(),
                    from: "Procfile",
                });
            }
        }
    }
    Err(format!(
        "{}: no `web: COMMAND` line (the process that serves HTTP)",
        path.display()
    ))
}

/// The words of an instruction's argument: the exec form (a JSON array), or a shell line.
fn instruction(arg: &str) -> Result<Program, String> {
    let arg = arg.trim();
    if arg.starts_with('[') {
        let argv: Vec<String> =
            serde_json::from_str(arg).map_err(|e| format!("not a JSON array of strings ({e})"))?;
        if argv.is_empty() {
            return Err("an empty array".into());
        }
        Ok(Program::Exec(argv))
    } else {
        Ok(Program::Shell(arg.to_string()))
    }
}

/// An `ENV` instruction's pairs: `K=V K2="V 2"`, or the old `K V` form.
fn env_pairs(rest: &str) -> Vec<(String, String)> {
    let rest = rest.trim();
    if !rest.contains('=')
        || rest
            .split_whitespace()
            .next()
            .is_some_and(|w| !w.contains('='))
    {
        return rest
            .split_once(char::is_whitespace)
            .map(|(k, v)| vec![(k.to_string(), v.trim().to_string())])
            .unwrap_or_default();
    }
    let mut pairs = Vec::new();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        chars.next();
        let mut value = String::new();
        let mut quote = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => value.extend(chars.next()),
                (None, c) if c.is_whitespace() => break,
                (_, c) => value.push(c),
            }
        }
        if !key.is_empty() {
            pairs.push((key, value));
        }
    }
    pairs
}

fn from_dockerfile(path: &Path) -> Result<Launch, String> {
    let text = read(path)?;
    // Continuation lines joined, comments dropped; the last CMD and ENTRYPOINT count.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if pending.is_none() && (line.starts_with('#') || line.is_empty()) {
            continue;
        }
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(part) => {
                acc.push_str(part);
                acc.push(' ');
                pending = Some((start, acc));
            }
            None => {
                acc.push_str(line);
                logical.push((start, acc));
            }
        }
    }
    logical.extend(pending);
    let (mut cmd, mut entrypoint, mut env) = (None, None, Vec::new());
    for (line, text) in &logical {
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let parsed = || {
            instruction(rest).map_err(|e| {
                format!(
                    "{}:{line}: {} {e}",
                    path.display(),
                    word.to_ascii_uppercase()
                )
            })
        };
        match word.to_ascii_uppercase().as_str() {
            "CMD" => cmd = Some(parsed()?),
            "ENTRYPOINT" => entrypoint = Some(parsed()?),
            "ENV" => env.extend(env_pairs(rest)),
            _ => {}
        }
    }
    let run = match (entrypoint, cmd) {
        (Some(Program::Exec(mut e)), Some(Program::Exec(c))) => {
            e.extend(c);
            Program::Exec(e)
        }
        (Some(e), _) => e,
        (None, Some(c)) => c,
        (None, None) => {
            return Err(format!(
                "{}: no CMD or ENTRYPOINT to start the server with; add a grader.toml \
                 (`[process] run = \"...\"`) or give --cmd",
                path.display()
            ));
        }
    };
    Ok(Launch {
        build: None,
        run,
        env,
        from: "Dockerfile",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of its own holding `files` (removed when dropped).
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir_with(files: &[(&str, &str)]) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("grader-launch-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("written");
        }
        Dir(dir)
    }

    #[test]
    fn the_declared_command_is_found_in_order() {
        let d = dir_with(&[
            (
                "grader.toml",
                "[process]\nrun = \"./server\"\nbuild = \"make\"\n",
            ),
            ("Procfile", "web: python3 app.py\n"),
            ("Dockerfile", "CMD [\"node\", \"index.js\"]\n"),
        ]);
        let l = resolve(d.path(), None).expect("declared");
        assert_eq!(l.run, Program::Shell("./server".into()));
        assert_eq!(l.build, Some(Program::Shell("make".into())));
        assert_eq!(l.from, "grader.toml");
        let l = resolve(d.path(), Some("go run .")).expect("given");
        assert_eq!((l.run.display(), l.from), ("go run .".into(), "--cmd"));
        std::fs::remove_file(d.path().join("grader.toml")).expect("removed");
        assert_eq!(
            resolve(d.path(), None).expect("procfile").run.display(),
            "python3 app.py"
        );
        std::fs::remove_file(d.path().join("Procfile")).expect("removed");
        let l = resolve(d.path(), None).expect("dockerfile");
        assert_eq!(l.run, Program::Exec(vec!["node".into(), "index.js".into()]));
        assert_eq!(l.from, "Dockerfile");
    }

    #[test]
    fn a_dockerfile_gives_its_last_cmd_after_its_entrypoint() {
        let d = dir_with(&[(
            "Dockerfile",
            "FROM debian\n# CMD [\"not\", \"this\"]\nRUN apt-get install \\\n  python3\nENV PYTHONUNBUFFERED=1 A=\"x y\"\nENV OLD form here\n\
             ENTRYPOINT [\"python3\"]\nCMD [\"old.py\"]\ncmd [\"app.py\", \"--port\", \"8080\"]\n",
        )]);
        let l = resolve(d.path(), None).expect("dockerfile");
        assert_eq!(
            l.run.argv(),
            ["python3", "app.py", "--port", "8080"].map(String::from)
        );
        let env: Vec<(&str, &str)> = l
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("PYTHONUNBUFFERED", "1"),
                ("A", "x y"),
                ("OLD", "form here")
            ]
        );
        let d = dir_with(&[("Dockerfile", "FROM x\nCMD ./start.sh --fast\n")]);
        assert_eq!(
            resolve(d.path(), None).expect("shell form").run.argv(),
            ["/bin/sh", "-c", "./start.sh --fast"].map(String::from)
        );
    }

    #[test]
    fn what_declares_nothing_or_nonsense_says_what_to_write() {
        let d = dir_with(&[]);
        let e = resolve(d.path(), None).unwrap_err();
        assert!(e.contains("[process]") && e.contains("--cmd"), "{e}");
        let d = dir_with(&[("grader.toml", "[process]\nrun = \"x\"\nbiuld = \"make\"\n")]);
        let e = resolve(d.path(), None).unwrap_err();
        assert!(e.contains("grader.toml:3:1") && e.contains("biuld"), "{e}");
        let d = dir_with(&[("grader.toml", "[process]\nrun = \" \"\n")]);
        assert!(
            resolve(d.path(), None)
                .unwrap_err()
                .contains("run is empty")
        );
        let d = dir_with(&[("Procfile", "worker: ./w\n")]);
        assert!(resolve(d.path(), None).unwrap_err().contains("web:"));
        let d = dir_with(&[("Dockerfile", "FROM x\nCMD [\"unclosed\"\n")]);
        let e = resolve(d.path(), None).unwrap_err();
        assert!(e.contains("Dockerfile:2: CMD not a JSON array"), "{e}");
        let d = dir_with(&[("Dockerfile", "FROM x\nRUN true\n")]);
        assert!(resolve(d.path(), None).unwrap_err().contains("no CMD"));
        assert!(
            resolve(d.path(), Some("  "))
                .unwrap_err()
                .contains("--cmd is empty")
        );
    }
}
