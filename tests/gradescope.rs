//! Gradescope for real: an image shaped as Gradescope's autograder (a Debian base, the
//! zip unpacked in /autograder/source, `setup.sh` run once at build time), then
//! `run_autograder` per submission in a container with no Docker socket and no network
//! (`--network none`). The grader uses its process runtime: its own PostgreSQL from the
//! packages setup.sh installed, the submission as a process. The todo-api reference
//! gets full marks in /autograder/results/results.json, and the in-memory variant loses
//! exactly its declared checks there.
//!
//! The image is built from the engine's `debian:bookworm-slim` (built by `grader images`
//! where nothing can be pulled); setup.sh installs Debian's packages through the image
//! build's network. Everything the test makes carries `grader.run=<its id>`.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test's folder, image and containers; dropping it removes them.
struct World {
    id: String,
    dir: PathBuf,
    image: String,
}

impl Drop for World {
    fn drop(&mut self) {
        let label = format!("label=grader.run={}", self.id);
        if let Ok(out) = Command::new("docker")
            .args(["ps", "-aq", "--filter", &label])
            .output()
        {
            for c in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", c]).output();
            }
        }
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.image])
            .output();
        // The containers wrote the results as root.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The ids of the checks a Gradescope results.json shows with less than full points.
fn lost(results: &serde_json::Value) -> BTreeSet<String> {
    results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["score"].as_f64() < t["max_score"].as_f64())
        .map(|t| {
            let name = t["name"].as_str().unwrap();
            name.split(':').next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_gradescope_image_without_docker_grades_the_reference_and_a_variant() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let id = format!("grader-gs-{}-{nanos:08x}", std::process::id());
    let world = World {
        dir: std::env::temp_dir().join(&id),
        image: format!("grader-test/gradescope:{id}"),
        id: id.clone(),
    };
    let dir = &world.dir;
    std::fs::create_dir_all(dir.join("context/source")).unwrap();

    // The zip, as an instructor makes it: the grader's binary (stripped: the debug
    // build's symbols are most of its size) and the settings for todo-api.
    let binary = dir.join("grader");
    run(Command::new("strip")
        .arg("-o")
        .arg(&binary)
        .arg(env!("CARGO_BIN_EXE_grader")));
    let zip = dir.join("autograder.zip");
    run(Command::new("bash")
        .arg(root().join("docs/integrations/gradescope/make-zip.sh"))
        .arg("todo-api")
        .arg(&zip)
        .env("GRADER_BINARY", &binary));
    run(Command::new("unzip")
        .arg("-q")
        .arg(&zip)
        .arg("-d")
        .arg(dir.join("context/source")));
    let env = std::fs::read_to_string(dir.join("context/source/autograder.env")).unwrap();
    assert!(env.contains("postgresql python3 python3-psycopg2"), "{env}");

    // Gradescope's build: the zip in /autograder/source, setup.sh once, as root.
    std::fs::write(
        dir.join("context/Dockerfile"),
        "FROM debian:bookworm-slim\n\
         COPY source /autograder/source\n\
         RUN mkdir -p /autograder/results /autograder/submission \\\n \
          && bash /autograder/source/setup.sh\n",
    )
    .unwrap();
    run(Command::new("docker")
        .args(["build", "-q", "--label"])
        .arg(format!("grader.run={id}"))
        .args(["-t", &world.image])
        .arg(dir.join("context")));

    // A submission, graded as Gradescope grades it: no network, no Docker socket.
    let autograde = |name: &str, submission: &Path| -> serde_json::Value {
        let results = dir.join(format!("results-{name}"));
        std::fs::create_dir_all(&results).unwrap();
        run(Command::new("docker")
            .args(["run", "--rm", "--network", "none", "--label"])
            .arg(format!("grader.run={id}"))
            .arg("-v")
            .arg(format!(
                "{}:/autograder/submission:ro",
                submission.display()
            ))
            .arg("-v")
            .arg(format!("{}:/autograder/results", results.display()))
            .args([&world.image, "/autograder/source/run_autograder"]));
        let text = std::fs::read_to_string(results.join("results.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };

    let reference = root().join("exercises/todo-api/solutions/python");
    let graded = autograde("reference", &reference);
    let max: f64 = graded["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["max_score"].as_f64().unwrap())
        .sum();
    assert!(max > 0.0, "{graded}");
    assert_eq!(graded["score"].as_f64(), Some(max), "{graded}");
    assert!(lost(&graded).is_empty(), "{graded}");

    // The in-memory variant, as a learner would hand it in: the reference with the
    // variant's mistake applied.
    let variant_dir = root().join("exercises/todo-api/variants/in-memory");
    let submission = dir.join("in-memory");
    run(Command::new("cp")
        .arg("-R")
        .arg(&reference)
        .arg(&submission));
    run(Command::new("git")
        .arg("apply")
        .arg(variant_dir.join("mistake.patch"))
        .current_dir(&submission));
    let graded = autograde("in-memory", &submission);
    let declared: toml::Value =
        toml::from_str(&std::fs::read_to_string(variant_dir.join("variant.toml")).unwrap())
            .unwrap();
    let declared: BTreeSet<String> = declared["fails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(lost(&graded), declared, "{graded}");
}
