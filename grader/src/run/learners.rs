//! Who is in a class: the learners of a folder or a CSV, and the deterministic slice of
//! them a `--shard I/N` grades.

use std::path::{Path, PathBuf};

use super::source;

/// One learner's submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Learner {
    pub(crate) name: String,
    /// A folder, or a git repository (clone URL or local path).
    pub(crate) path: PathBuf,
    /// The ref to grade (a CSV's third column).
    pub(crate) git_ref: Option<String>,
}

/// A slice of a class: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

/// Why `I/N` is not a shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShardError {
    #[error("expected I/N, e.g. 2/4")]
    NoSlash,
    #[error("I in I/N is a whole number")]
    Index,
    #[error("N in I/N is a whole number")]
    Count,
    #[error("I/N needs 1 <= I <= N")]
    OutOfRange,
}

impl Shard {
    pub(crate) fn parse(s: &str) -> Result<Shard, ShardError> {
        let (i, n) = s.split_once('/').ok_or(ShardError::NoSlash)?;
        let index: u32 = i.trim().parse().map_err(|_| ShardError::Index)?;
        let count: u32 = n.trim().parse().map_err(|_| ShardError::Count)?;
        if count == 0 || index == 0 || index > count {
            return Err(ShardError::OutOfRange);
        }
        Ok(Shard { index, count })
    }

    /// A learner's shard depends on the name alone, so adding a learner moves no one.
    pub(crate) fn holds(&self, name: &str) -> bool {
        harness::stable_hash(name.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// Why the list of learners could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LearnersError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: expected `name,path[,ref]`", path.display())]
    Syntax { path: PathBuf, line: usize },
    #[error("{}:{line}: `{name}` is not a usable learner name", path.display())]
    Name {
        path: PathBuf,
        line: usize,
        name: String,
    },
    #[error("the learner `{0}` appears twice")]
    Twice(String),
}

/// The learners of a folder (one sub-folder each) or of a CSV of `name,path` lines
/// (paths relative to the CSV), sorted by name.
pub(crate) fn learners(source: &Path) -> Result<Vec<Learner>, LearnersError> {
    let read = |err| LearnersError::Read {
        path: source.to_path_buf(),
        source: err,
    };
    let mut out = if source.is_dir() {
        let entries = std::fs::read_dir(source).map_err(read)?;
        entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                (path.is_dir() && !name.starts_with('.')).then_some(Learner {
                    name,
                    path,
                    git_ref: None,
                })
            })
            .collect()
    } else {
        let text = std::fs::read_to_string(source).map_err(read)?;
        learners_of_csv(source, &text)?
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = out.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(LearnersError::Twice(w[0].name.clone()));
    }
    Ok(out)
}

/// The learners of a CSV's text; paths are relative to the CSV's folder.
fn learners_of_csv(source: &Path, text: &str) -> Result<Vec<Learner>, LearnersError> {
    let base = source.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || (n == 0
                && (line.eq_ignore_ascii_case("name,path")
                    || line.eq_ignore_ascii_case("name,path,ref")))
        {
            continue;
        }
        let (name, rest) = line.split_once(',').ok_or_else(|| LearnersError::Syntax {
            path: source.to_path_buf(),
            line: n + 1,
        })?;
        let (path, git_ref) = match rest.split_once(',') {
            Some((p, r)) if !r.trim().is_empty() => (p, Some(r.trim().to_string())),
            Some((p, _)) => (p, None),
            None => (rest, None),
        };
        let name = name.trim().to_string();
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(LearnersError::Name {
                path: source.to_path_buf(),
                line: n + 1,
                name,
            });
        }
        let path = path.trim();
        out.push(Learner {
            name,
            // A clone URL stays as it is; a path is relative to the CSV.
            path: if source::is_git_url(path) {
                PathBuf::from(path)
            } else {
                base.join(path)
            },
            git_ref,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_say_what_is_wrong() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard::parse(" 1 / 1 "), Ok(Shard { index: 1, count: 1 }));
        assert_eq!(Shard::parse("2"), Err(ShardError::NoSlash));
        assert_eq!(Shard::parse("x/4"), Err(ShardError::Index));
        assert_eq!(Shard::parse("1/y"), Err(ShardError::Count));
        assert_eq!(Shard::parse("3/2"), Err(ShardError::OutOfRange));
        assert_eq!(Shard::parse("0/2"), Err(ShardError::OutOfRange));
        assert_eq!(ShardError::OutOfRange.to_string(), "I/N needs 1 <= I <= N");
    }

    #[test]
    fn a_learner_is_in_exactly_one_shard_and_it_never_moves() {
        for name in ["ada", "bob", "grace", "linus", ""] {
            let holding: Vec<u32> = (1..=4)
                .filter(|&index| Shard { index, count: 4 }.holds(name))
                .collect();
            assert_eq!(holding.len(), 1, "{name}: {holding:?}");
        }
        // FNV-1a of "a" is af63dc4c8601ec8c: the shard of a name is stable across releases.
        assert_eq!(harness::stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert!(Shard { index: 1, count: 4 }.holds("a"));
    }

    #[test]
    fn a_csv_lists_learners_with_paths_beside_it() {
        let csv = Path::new("/class/list.csv");
        let text = "name,path,ref\n# a comment\n\nbob, bob-dir ,main\nada,https://example.invalid/ada.git,\n";
        let mut got = learners_of_csv(csv, text).unwrap();
        got.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            got,
            vec![
                Learner {
                    name: "ada".into(),
                    path: PathBuf::from("https://example.invalid/ada.git"),
                    git_ref: None,
                },
                Learner {
                    name: "bob".into(),
                    path: PathBuf::from("/class/bob-dir"),
                    git_ref: Some("main".into()),
                },
            ]
        );
        let bad = learners_of_csv(csv, "ada\n").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "/class/list.csv:1: expected `name,path[,ref]`"
        );
        let bad = learners_of_csv(csv, "../x,dir\n").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "/class/list.csv:1: `../x` is not a usable learner name"
        );
    }
}
