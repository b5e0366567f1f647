//! Submissions without a Dockerfile: the stack is told by the files a project of that
//! kind has, and a template Dockerfile from `docker/templates/` builds it.

use std::path::Path;

/// The stacks with a template, in the order they are recognised.
pub const STACKS: &[&str] = &["go", "node", "php", "ruby", "python"];

/// The stack of the project in `dir`, if one is recognised.
pub fn detect(dir: &Path) -> Option<&'static str> {
    let has = |name: &str| dir.join(name).is_file();
    let has_ext = |ext: &str| {
        std::fs::read_dir(dir).ok().is_some_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == ext))
        })
    };
    if has("go.mod") {
        Some("go")
    } else if has("package.json") || has("server.js") || has("index.js") {
        Some("node")
    } else if has("composer.json") || has("index.php") {
        Some("php")
    } else if has("Gemfile") || has_ext("rb") {
        Some("ruby")
    } else if has("requirements.txt") || has("pyproject.toml") || has_ext("py") {
        Some("python")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_stack_by_its_files() {
        let base = std::env::temp_dir().join(format!("grader-stack-{}", std::process::id()));
        let cases = [
            ("go", "go.mod"),
            ("node", "package.json"),
            ("node", "server.js"),
            ("php", "index.php"),
            ("ruby", "app.rb"),
            ("python", "requirements.txt"),
            ("python", "main.py"),
        ];
        for (want, file) in cases {
            let dir = base.join(format!("{want}-{file}"));
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(file), "").expect("write");
            assert_eq!(detect(&dir), Some(want), "{file}");
        }
        let empty = base.join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        assert_eq!(detect(&empty), None);
        let _ = std::fs::remove_dir_all(&base);
    }
}
