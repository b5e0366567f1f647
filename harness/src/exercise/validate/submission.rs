//! The `[submission]` contract (port, health, env, limits) and the `[services]` beside
//! it, including the routes of the upstream mock.

use std::time::Duration;

use indexmap::IndexMap;
use toml::Spanned;

use super::{Declared, Validator, parse_bytes};
use crate::exercise::error::help_for;
use crate::exercise::model::*;
use crate::exercise::raw::*;
use crate::template::Template;

impl Validator<'_> {
    pub(super) fn submission(&mut self, raw: RawSubmission) -> SubmissionContract {
        let health = match raw.health {
            Some(h) if !h.get_ref().starts_with('/') => {
                self.error(h.span(), "the health path must start with `/`");
                h.into_inner()
            }
            Some(h) => h.into_inner(),
            None => "/health".into(),
        };
        let startup_timeout = self
            .duration(raw.startup_timeout.as_ref())
            .unwrap_or(Duration::from_secs(60));
        SubmissionContract {
            port: raw.port.unwrap_or(8080),
            health,
            startup_timeout,
            env: self.env(raw.env),
            limits: self.limits(&raw.limits),
        }
    }

    /// Extra environment: templates over the run's values (`ENV_VARIABLES`) only.
    fn env(&mut self, raw: IndexMap<String, Spanned<String>>) -> Vec<(String, Template)> {
        let mut env = Vec::new();
        for (name, value) in raw {
            let Some(t) = self.template(&value) else {
                continue;
            };
            for var in t.variables() {
                if !ENV_VARIABLES.contains(&var) {
                    let fallback = format!("known: {}", ENV_VARIABLES.join(", "));
                    self.error(value.span(), format!("unknown variable `{var}` in `env`"))
                        .help = help_for(var, ENV_VARIABLES.iter().copied(), Some(fallback));
                }
            }
            env.push((name, t));
        }
        env
    }

    fn limits(&mut self, raw: &RawLimits) -> Limits {
        let mut limits = Limits::default();
        if let Some(m) = &raw.memory {
            match parse_bytes(m.get_ref()) {
                Some(b) if b >= 16 * 1024 * 1024 => limits.memory_bytes = b,
                Some(_) => {
                    self.error(m.span(), "`memory` must be at least 16MiB");
                }
                None => {
                    self.error(m.span(), "expected a size such as \"512MiB\" or \"1GiB\"");
                }
            }
        }
        if let Some(c) = &raw.cpus {
            if *c.get_ref() > 0.0 && *c.get_ref() <= 64.0 {
                limits.cpus = *c.get_ref();
            } else {
                self.error(c.span(), "`cpus` must be above 0 (e.g. 0.5, 1, 2)");
            }
        }
        if let Some(t) = &raw.tmp {
            match parse_bytes(t.get_ref()) {
                Some(b) if b >= 1024 * 1024 => limits.tmp_bytes = b,
                _ => {
                    self.error(
                        t.span(),
                        "`tmp` is a size of at least 1MiB, such as \"64MiB\"",
                    );
                }
            }
        }
        if let Some(r) = raw.read_only {
            limits.read_only = r;
        }
        if let Some(n) = &raw.nofile {
            if (64..=1_048_576).contains(n.get_ref()) {
                limits.nofile = *n.get_ref();
            } else {
                self.error(n.span(), "`nofile` must be 64 to 1048576");
            }
        }
        if let Some(p) = &raw.pids {
            if *p.get_ref() >= 8 {
                limits.pids = *p.get_ref();
            } else {
                self.error(p.span(), "`pids` must be at least 8");
            }
        }
        limits
    }

    /// The services beside the submission; remembers which are declared, for the steps
    /// that need one.
    pub(super) fn services(
        &mut self,
        raw: RawServices,
    ) -> (
        Option<PostgresService>,
        Option<RedisService>,
        Option<UpstreamService>,
    ) {
        let postgres = raw.postgres.map(|p| PostgresService {
            user: p.user.unwrap_or_else(|| "grader".into()),
            database: p.database.unwrap_or_else(|| "app".into()),
        });
        let redis = raw.redis.as_ref().map(|_| RedisService {});
        let upstream = raw.upstream.as_ref().map(|u| UpstreamService {
            routes: u
                .get_ref()
                .routes
                .iter()
                .filter_map(|r| self.route(r))
                .collect(),
        });
        self.services = Declared {
            postgres: postgres.is_some(),
            redis: redis.is_some(),
            upstream: upstream.is_some(),
        };
        (postgres, redis, upstream)
    }

    /// One route of the upstream mock; `None` when its method or path is unusable.
    fn route(&mut self, route: &Spanned<RawRoute>) -> Option<MockRoute> {
        let r = route.get_ref();
        let method = match &r.method {
            None => http::Method::GET,
            Some(m) => match http::Method::from_bytes(m.get_ref().as_bytes()) {
                Ok(method) if m.get_ref().chars().all(|c| c.is_ascii_uppercase()) => method,
                _ => {
                    self.error(
                        m.span(),
                        "expected an HTTP method in capitals, e.g. \"GET\"",
                    );
                    return None;
                }
            },
        };
        let path = r.path.get_ref().clone();
        if !path.starts_with('/') {
            self.error(
                r.path.span(),
                "a route's path starts with `/`, e.g. \"/quotes/{symbol}\"",
            );
            return None;
        }
        let (segments, scope) = self.route_segments(&r.path);
        let status = match &r.status {
            None => 200,
            Some(s) if (100..=599).contains(s.get_ref()) => *s.get_ref() as u16,
            Some(s) => {
                self.error(s.span(), "expected an HTTP status from 100 to 599");
                200
            }
        };
        let delay = self.duration(r.delay.as_ref()).unwrap_or_default();
        let body = self.route_body(route, &scope);
        Some(MockRoute {
            method,
            path,
            segments,
            status,
            delay,
            body,
        })
    }

    /// The path's segments, and the variables its answer may use (`calls` and each
    /// `{name}` segment).
    fn route_segments(&mut self, path: &Spanned<String>) -> (Vec<Segment>, Vec<String>) {
        let mut segments = Vec::new();
        let mut scope = vec!["calls".to_string()];
        for seg in path.get_ref().trim_start_matches('/').split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.error(
                        path.span(),
                        format!(
                            "`{seg}`: a path parameter is `{{name}}` with letters, digits or `_`"
                        ),
                    );
                }
                scope.push(name.to_string());
                segments.push(Segment::Param(name.to_string()));
            } else {
                segments.push(Segment::Literal(seg.to_string()));
            }
        }
        (segments, scope)
    }

    fn route_body(&mut self, route: &Spanned<RawRoute>, scope: &[String]) -> MockBody {
        let r = route.get_ref();
        match (&r.json, &r.body) {
            (Some(_), Some(_)) => {
                self.error(route.span(), "a route answers `json` or `body`, not both");
                MockBody::Empty
            }
            (Some(j), None) => self
                .tvalue_in_scope(j.get_ref(), scope, j.span())
                .map_or(MockBody::Empty, MockBody::Json),
            (None, Some(b)) => self
                .template_in_scope(b, scope)
                .map_or(MockBody::Empty, MockBody::Text),
            (None, None) => MockBody::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::exercise::{Limits, parse_exercise};

    /// docs/spec.md: the table may be left out, and these are its defaults.
    #[test]
    fn a_spec_without_submission_gets_the_documented_defaults() {
        let src = "[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n[[checks.steps]]\nhttp = \"GET /health\"\n";
        let ex = parse_exercise(Path::new("toy.toml"), src).unwrap_or_else(|e| panic!("{e}"));
        let s = &ex.submission;
        assert_eq!(
            (s.port, s.health.as_str(), s.startup_timeout, s.env.len()),
            (8080, "/health", Duration::from_secs(60), 0)
        );
        assert_eq!(s.limits, Limits::default());
        assert_eq!(
            (s.limits.memory_bytes, s.limits.pids, s.limits.nofile),
            (512 * 1024 * 1024, 256, 4096)
        );
        assert!(s.limits.read_only);
    }
}
