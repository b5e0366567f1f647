//! The sandbox rules a submission runs under, in words, from the numbers the sandbox
//! itself uses (the exercise's `[submission.limits]` and every learner's database
//! limits): the "Sandbox rules" section of every exercise README is this text (a test
//! checks it), and a cause names the rule it hit in the same words.

use harness::exercise::Limits;

use super::provision::{LEARNER, LearnerLimits};

/// The rules of one exercise's sandbox.
#[derive(Debug, Clone, Copy)]
pub struct SandboxRules {
    limits: Limits,
    /// The exercise has a PostgreSQL database (so its role's rights are rules too).
    database: bool,
    learner: LearnerLimits,
}

/// `text` in lines of at most `width` columns (a longer word stays whole), every line
/// after the first starting with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.trim().is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
        } else if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// `512 MiB`, `1 GiB`, `1.5 MiB`.
fn size(bytes: i64) -> String {
    const MIB: i64 = 1024 * 1024;
    if bytes >= 1024 * MIB && bytes % (1024 * MIB) == 0 {
        format!("{} GiB", bytes / (1024 * MIB))
    } else if bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

impl SandboxRules {
    pub fn new(limits: Limits, database: bool) -> SandboxRules {
        SandboxRules {
            limits,
            database,
            learner: LEARNER,
        }
    }

    /// The rules of `exercise` as it is graded.
    pub fn of(exercise: &harness::Exercise) -> SandboxRules {
        SandboxRules::new(exercise.submission.limits, exercise.postgres.is_some())
    }

    pub fn files(&self) -> String {
        let tmp = size(self.limits.tmp_bytes);
        if self.limits.read_only {
            format!(
                "the root filesystem is read-only: only `/tmp` is writable, at most {tmp} (in memory, emptied when the server stops); keep data in the database and temporary files under `/tmp`"
            )
        } else {
            format!(
                "the root filesystem is writable in this exercise, and `/tmp` holds at most {tmp} (in memory, emptied when the server stops)"
            )
        }
    }

    pub fn memory(&self) -> String {
        format!(
            "at most {} of memory, no swap: past it the kernel kills the server",
            size(self.limits.memory_bytes)
        )
    }

    pub fn cpu(&self) -> String {
        let cpus = self.limits.cpus;
        if (cpus - 1.0).abs() < 1e-9 {
            "one CPU core".to_string()
        } else {
            format!("{cpus} CPU cores")
        }
    }

    pub fn processes(&self) -> String {
        format!(
            "at most {} processes and threads in all, and {} open files per process",
            self.limits.pids, self.limits.nofile
        )
    }

    pub fn network() -> &'static str {
        "no internet and no way to the host: only the exercise's services are reachable (by the names in the environment)"
    }

    pub fn listening(port: u16) -> String {
        format!(
            "the grader reaches the server from outside its container, on the port in `$PORT` ({port}): listen on `0.0.0.0`, not on `127.0.0.1`"
        )
    }

    pub fn build() -> &'static str {
        "the build may have no package registry to reach (npm, PyPI, the Go proxy, RubyGems, Packagist): install from Debian's packages with `apt-get`, as the templates do, or vendor dependencies into the folder"
    }

    pub fn privileges() -> &'static str {
        "no Linux capabilities, `no-new-privileges`, no Docker socket and no folder of the host"
    }

    pub fn database(&self) -> String {
        let l = &self.learner;
        format!(
            "an ordinary role that owns its own database: it may create tables and indexes and read and write them, with at most {} connections at once; it is no superuser and cannot create databases or roles, run programs (`COPY ... TO PROGRAM`) or read the server's files. A statement is cancelled after {} s, a session idle inside a transaction is ended after {} s, a session's temporary files may take {} MB, and the database may hold {} MiB: past that the grader ends its sessions, refuses new ones and stops grading (\"used more than {} MiB of database storage\"). Its name, user and password come from `$DATABASE_URL` and change from run to run",
            l.connections,
            l.statement_timeout.as_secs(),
            l.idle_in_transaction.as_secs(),
            l.temp_file_mib,
            l.storage_mib,
            l.storage_mib
        )
    }

    pub fn connections(&self) -> u32 {
        self.learner.connections
    }

    /// The README's "Sandbox rules" section, from its heading to its last line.
    pub fn markdown(&self) -> String {
        let mut rules = vec![
            ("Files", self.files()),
            ("Memory", self.memory()),
            ("CPU", self.cpu()),
            ("Processes", self.processes()),
            ("Network", Self::network().to_string()),
            ("Build", Self::build().to_string()),
            ("Privileges", Self::privileges().to_string()),
        ];
        if self.database {
            rules.push(("Database role", self.database()));
        }
        let mut out = String::from(
            "## Sandbox rules\n\nWhile it is graded, your server runs in a sandbox with these rules. When a failure\nbreaks one, the report says which, next to what your server printed at the time.\n\n",
        );
        for (name, text) in rules {
            out.push_str(&wrap(&format!("- **{name}**: {text}."), 88, "  "));
        }
        out
    }
}

/// Where a README's "Sandbox rules" section is: from its heading to the next `## `.
fn section(readme: &str) -> Option<std::ops::Range<usize>> {
    let start = readme.find(HEADING)?;
    let body = start + HEADING.len();
    let end = readme[body..]
        .find("\n## ")
        .map_or(readme.len(), |i| body + i + 1);
    Some(start..end)
}

const HEADING: &str = "## Sandbox rules\n";

impl SandboxRules {
    /// The README states these rules as they are, once.
    pub fn stated_in(&self, readme: &str) -> bool {
        section(readme).is_some_and(|r| readme[r].trim_end() == self.markdown().trim_end())
            && readme.matches(HEADING).count() == 1
    }

    #[cfg(test)]
    /// The README with its section rewritten to these rules (added before "Run it
    /// yourself", or at the end, where it has none).
    pub fn restated_in(&self, readme: &str) -> String {
        let want = self.markdown();
        match section(readme) {
            Some(r) => format!("{}{want}\n{}", &readme[..r.start], &readme[r.end..]),
            None => match readme.find("## Run it yourself") {
                Some(i) => format!("{}{want}\n{}", &readme[..i], &readme[i..]),
                None => format!(
                    "{}\n{want}",
                    readme.trim_end_matches('\n').to_string() + "\n"
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(512 * 1024 * 1024), "512 MiB");
        assert_eq!(size(2 * 1024 * 1024 * 1024), "2 GiB");
        assert_eq!(size(1024 * 1024 * 3 / 2), "1.5 MiB");
    }

    /// Every exercise README carries its "Sandbox rules" section exactly as the
    /// sandbox's numbers give it, once; UPDATE_EXPECT=1 rewrites the sections.
    #[test]
    fn every_readme_states_the_sandbox_rules_of_its_spec() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../exercises");
        let mut seen = 0;
        for entry in std::fs::read_dir(&root).expect("exercises/").flatten() {
            let Ok(exercise) = harness::load_exercise(&entry.path()) else {
                continue;
            };
            let readme = exercise
                .readme
                .clone()
                .expect("every exercise has a README");
            let text = std::fs::read_to_string(&readme).expect("README");
            let rules = SandboxRules::of(&exercise);
            if std::env::var_os("UPDATE_EXPECT").is_some() {
                std::fs::write(&readme, rules.restated_in(&text)).expect("write README");
            }
            let text = std::fs::read_to_string(&readme).expect("README");
            assert!(
                rules.stated_in(&text),
                "{}: its Sandbox rules differ from the sandbox's (UPDATE_EXPECT=1 rewrites them)",
                readme.display()
            );
            assert_eq!(rules.restated_in(&text), text, "restating changes nothing");
            seen += 1;
        }
        assert!(seen >= 5, "every bundled exercise: {seen}");
    }
}
