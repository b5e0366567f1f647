//! The images the grader needs besides the submission's. Each is used if present, else
//! pulled, else built from its recipe in `docker/` (for machines with no registry).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::build::{BuildOutcome, build_submission};
use super::{DockerError, api, io, is_not_found};

/// Names of the images; the defaults are public images, so a machine that can pull
/// builds nothing but the submission.
#[derive(Debug, Clone)]
pub struct ImageNames {
    /// The Debian base learners' Dockerfiles start `FROM`.
    pub base: String,
    pub postgres: String,
    /// The port forwarder (its entrypoint is `socat`).
    pub socat: String,
    /// For exercises with `[services.redis]`.
    pub redis: String,
}

/// Which of the optional images a run needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageNeeds {
    pub postgres: bool,
    pub redis: bool,
}

impl ImageNeeds {
    pub const ALL: ImageNeeds = ImageNeeds {
        postgres: true,
        redis: true,
    };

    pub fn of(exercise: &harness::Exercise) -> ImageNeeds {
        ImageNeeds {
            postgres: exercise.postgres.is_some(),
            redis: exercise.redis.is_some(),
        }
    }
}

impl ImageNames {
    /// The image the grader starts PostgreSQL from: `postgres` with a cluster made when
    /// it was built (`docker/postgres-ready`), so a start copies it instead of running
    /// initdb. The grader builds it from `postgres` wherever it runs.
    pub fn postgres_ready(&self) -> String {
        format!("grader-postgres-ready:{}", sanitize(&self.postgres))
    }
}

impl Default for ImageNames {
    fn default() -> Self {
        ImageNames {
            base: "debian:bookworm-slim".into(),
            postgres: "postgres:15-bookworm".into(),
            socat: "alpine/socat:latest".into(),
            redis: "redis:7-bookworm".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recipe {
    Base,
    Postgres,
    Socat,
    Redis,
}

/// Makes sure every image exists. `progress` hears one line per step.
pub async fn ensure_images(
    docker: &Docker,
    names: &ImageNames,
    recipes: &Path,
    needs: ImageNeeds,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), DockerError> {
    let mut wanted = vec![(Recipe::Base, &names.base), (Recipe::Socat, &names.socat)];
    if needs.postgres {
        wanted.push((Recipe::Postgres, &names.postgres));
    }
    if needs.redis {
        wanted.push((Recipe::Redis, &names.redis));
    }
    for (recipe, name) in wanted {
        if image_exists(docker, name).await? {
            continue;
        }
        progress(&format!("image {name}: not here, trying to pull it"));
        match pull(docker, name).await {
            Ok(()) => {
                progress(&format!("image {name}: pulled"));
                continue;
            }
            Err(e) => progress(&format!(
                "image {name}: cannot pull ({e}); building it from {}",
                recipes.display()
            )),
        }
        build(docker, recipe, name, names, recipes, progress).await?;
        progress(&format!("image {name}: built"));
    }
    if needs.postgres {
        ensure_ready_postgres(docker, names, recipes, progress).await?;
    }
    Ok(())
}

/// Builds the ready-cluster image from the PostgreSQL image unless one built from the
/// same recipe and the same PostgreSQL image (by id) is here.
async fn ensure_ready_postgres(
    docker: &Docker,
    names: &ImageNames,
    recipes: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), DockerError> {
    let dir = recipes.join("postgres-ready");
    let base_id = docker
        .inspect_image(&names.postgres)
        .await
        .map_err(api(format!("inspecting image {}", names.postgres)))?
        .id
        .unwrap_or_default();
    let key = ready_key(&dir, &base_id)?;
    let name = names.postgres_ready();
    let built_key = match docker.inspect_image(&name).await {
        Ok(image) => image
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(READY_KEY_LABEL).cloned()),
        Err(e) if is_not_found(&e) => None,
        Err(e) => return Err(api(format!("inspecting image {name}"))(e)),
    };
    if built_key.as_deref() == Some(key.as_str()) {
        return Ok(());
    }
    let log_path = std::env::temp_dir().join(format!("grader-image-{}.log", sanitize(&name)));
    progress(&format!(
        "image {name}: building {} from {} (log: {})",
        dir.display(),
        names.postgres,
        log_path.display()
    ));
    let args = HashMap::from([
        ("POSTGRES".to_string(), names.postgres.clone()),
        ("ADMIN".to_string(), super::provision::ADMIN.to_string()),
        ("READY_KEY".to_string(), key),
    ]);
    build_recipe(
        docker,
        &dir,
        &name,
        &args,
        &log_path,
        Duration::from_secs(600),
    )
    .await?;
    progress(&format!("image {name}: built"));
    Ok(())
}

/// The label that says what a ready-cluster image was built from.
const READY_KEY_LABEL: &str = "grader.ready-key";

/// A digest of the recipe's files, the admin's name and the PostgreSQL image's id.
fn ready_key(dir: &Path, base_id: &str) -> Result<String, DockerError> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for file in ["Dockerfile", "ready-entrypoint.sh"] {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).map_err(io(format!("cannot read {}", path.display())))?;
        hash.update(&bytes);
        hash.update([0]);
    }
    hash.update(super::provision::ADMIN);
    hash.update([0]);
    hash.update(base_id);
    Ok(hex::encode(&hash.finalize()[..12]))
}

/// Whether the engine has the image `name`.
pub(super) async fn image_exists(docker: &Docker, name: &str) -> Result<bool, DockerError> {
    match docker.inspect_image(name).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(api(format!("inspecting image {name}"))(e)),
    }
}

/// Why an image could not be pulled: the grader then builds it from its recipe.
#[derive(Debug, thiserror::Error)]
enum PullError {
    #[error("{0}")]
    Engine(#[from] bollard::errors::Error),
    /// The registry's or the engine's own words.
    #[error("{0}")]
    Refused(String),
    #[error("the pull took more than 15 minutes")]
    TimedOut,
}

async fn pull(docker: &Docker, name: &str) -> Result<(), PullError> {
    let options = CreateImageOptionsBuilder::new().from_image(name).build();
    let mut stream = docker.create_image(Some(options), None, None);
    let work = async {
        while let Some(item) = stream.next().await {
            if let Some(e) = item?.error_detail.and_then(|d| d.message) {
                return Err(PullError::Refused(e));
            }
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(900), work)
        .await
        .map_err(|_| PullError::TimedOut)??;
    docker.inspect_image(name).await?;
    Ok(())
}

async fn build(
    docker: &Docker,
    recipe: Recipe,
    name: &str,
    names: &ImageNames,
    recipes: &Path,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), DockerError> {
    let log_path = std::env::temp_dir().join(format!("grader-image-{}.log", sanitize(name)));
    match recipe {
        Recipe::Base => {
            let script = recipes.join("base/build.sh");
            progress(&format!(
                "image {name}: running {} (log: {})",
                script.display(),
                log_path.display()
            ));
            let log = std::fs::File::create(&log_path)
                .map_err(io(format!("cannot write {}", log_path.display())))?;
            let err_log = log
                .try_clone()
                .map_err(|e| DockerError::Other(e.to_string()))?;
            let status = tokio::process::Command::new("bash")
                .arg(&script)
                .arg(name)
                .stdout(log)
                .stderr(err_log)
                .status()
                .await
                .map_err(io(format!("cannot run {}", script.display())))?;
            if !status.success() {
                return Err(DockerError::Other(format!(
                    "building image {name} with {} failed ({status}); see {}\n{}",
                    script.display(),
                    log_path.display(),
                    tail_of(&log_path)
                )));
            }
        }
        Recipe::Postgres | Recipe::Socat | Recipe::Redis => {
            let dir: PathBuf = recipes.join(match recipe {
                Recipe::Postgres => "postgres",
                Recipe::Redis => "redis",
                _ => "socat",
            });
            progress(&format!(
                "image {name}: building {} (log: {})",
                dir.display(),
                log_path.display()
            ));
            let args = HashMap::from([("BASE".to_string(), names.base.clone())]);
            build_recipe(
                docker,
                &dir,
                name,
                &args,
                &log_path,
                Duration::from_secs(1800),
            )
            .await?;
        }
    }
    Ok(())
}

/// Builds the Dockerfile recipe in `dir` as `name`; a failed build is an error with the
/// end of its log.
async fn build_recipe(
    docker: &Docker,
    dir: &Path,
    name: &str,
    args: &HashMap<String, String>,
    log_path: &Path,
    timeout: Duration,
) -> Result<(), DockerError> {
    let outcome = build_submission(docker, dir, name, args, log_path, timeout, None).await?;
    if let BuildOutcome::Failed {
        reason, log_tail, ..
    } = outcome
    {
        return Err(DockerError::Other(format!(
            "building image {name} from {} failed: {reason}\n{log_tail}",
            dir.display()
        )));
    }
    Ok(())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn tail_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
