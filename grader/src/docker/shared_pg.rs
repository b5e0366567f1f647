//! One PostgreSQL server for a whole class (`grader batch`): each learner gets a fresh
//! database and role of their own on it, instead of a new server per learner (an
//! initdb and a start saved per submission). The server joins each learner's private
//! network as `db` for the length of that learner's run, so submissions see the same
//! contract as with a server of their own.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkConnectRequest,
    NetworkDisconnectRequest,
};

use super::container::{self, published_on, role_labels};
use super::provision::{LEARNER, PgServer};
use super::sandbox::create_network;
use super::sandbox::services::{Login, PostgresSize, postgres_body, random_password};
use super::{DockerError, Reach, api, images::ImageNames};

/// A running shared server. `stop` removes it.
#[derive(Debug)]
pub struct SharedPostgres {
    docker: Docker,
    batch_id: String,
    container: String,
    server: PgServer,
}

impl SharedPostgres {
    /// Starts the server (labelled with the batch's id), sized for `learners` graded at
    /// once, publishes it where `reach` says, and waits until it answers.
    pub async fn start(
        docker: &Docker,
        images: &ImageNames,
        batch_id: &str,
        learners: usize,
        reach: &Reach,
    ) -> Result<SharedPostgres, DockerError> {
        let net = format!("{batch_id}-db");
        create_network(docker, &net, batch_id, false).await?;
        let container = format!("{batch_id}-shared-db");
        let admin = PgServer::admin_login();
        let key = "5432/tcp".to_string();
        let host = HostConfig {
            network_mode: Some(net.clone()),
            port_bindings: Some(published_on(&key, reach)),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            exposed_ports: Some(vec![key.clone()]),
            ..postgres_body(
                &images.postgres_ready(),
                &admin,
                &PostgresSize::for_learners(learners),
                host,
                role_labels(batch_id, "shared-database"),
            )
        };
        container::create(docker, &container, body).await?;
        container::start_published(docker, &container, reach).await?;
        let host_port = container::published_port(docker, &container, &key).await?;
        let pg = SharedPostgres {
            docker: docker.clone(),
            batch_id: batch_id.to_string(),
            container,
            server: PgServer::new(admin, reach, host_port),
        };
        harness::probe::wait_database(&pg.server.admin_url(), Duration::from_secs(90))
            .await
            .map_err(|e| DockerError::Other(format!("the shared PostgreSQL did not start: {e}")))?;
        pg.server.prepare().await?;
        Ok(pg)
    }

    /// A fresh database and role for one run, reachable as `db` on `network`: the
    /// server (for the grader) and the learner's login.
    pub(super) async fn attach(
        &self,
        run_id: &str,
        network: &str,
    ) -> Result<(PgServer, Login), DockerError> {
        let name = db_name(run_id);
        let login = Login {
            user: name.clone(),
            password: random_password(),
            database: name,
        };
        self.server.provision(&login, &LEARNER).await?;
        self.docker
            .connect_network(
                network,
                NetworkConnectRequest {
                    container: self.container.clone(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(vec!["db".into()]),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(api(format!("connecting the shared database to {network}")))?;
        Ok((self.server.clone(), login))
    }

    /// Leaves the run's network (so it can be removed) and drops its database.
    pub async fn detach(&self, run_id: &str, network: &str) {
        let _ = self
            .docker
            .disconnect_network(
                network,
                NetworkDisconnectRequest {
                    container: self.container.clone(),
                    force: Some(true),
                },
            )
            .await;
        let name = db_name(run_id);
        let login = Login {
            user: name.clone(),
            password: String::new(),
            database: name,
        };
        self.server.drop_learner(&login).await;
    }

    /// Removes the server and its network.
    pub async fn stop(&self) -> Result<(), DockerError> {
        super::clean_run(&self.docker, &self.batch_id)
            .await
            .map(|_| ())
    }
}

/// `grader-1a2b3c4d` becomes `run_1a2b3c4d`: a plain SQL identifier.
fn db_name(run_id: &str) -> String {
    let id: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("run_{}", id.trim_start_matches("grader"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_plain_identifiers() {
        assert_eq!(super::db_name("grader-1a2b3c4d"), "run_1a2b3c4d");
        assert_eq!(super::db_name("grader-AB'; x"), "run_abx");
    }
}
