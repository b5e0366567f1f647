//! Media types as RFC 9110 §8.3.1 compares them: `type/subtype` without regard to case,
//! then parameters. An expectation names the parameters it cares about; any others
//! (`application/json; charset=utf-8` against `application/json`) are allowed.

/// A media type an assertion expects (`media_type = "application/json"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lower case; the subtype may be `*` (`text/*`).
    pub essence: String,
    /// Parameters that must be present, names in lower case.
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// Parses `type/subtype` with optional `; name=value` parameters (values may be
    /// quoted). `None` for anything else.
    pub fn parse(text: &str) -> Option<MediaType> {
        let mut parts = text.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        let (ty, sub) = essence.split_once('/')?;
        if !is_token(ty) || !(is_token(sub) || sub == "*") || ty == "*" {
            return None;
        }
        let mut params = Vec::new();
        for p in parts {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let (name, value) = p.split_once('=')?;
            let name = name.trim().to_ascii_lowercase();
            if !is_token(&name) {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            params.push((name, value.to_string()));
        }
        Some(MediaType { essence, params })
    }

    /// Whether a `Content-Type` value is this media type: the same type and subtype
    /// (case-insensitive), and every parameter named here with the same value
    /// (`charset` without regard to case, as RFC 9110 says of it).
    pub fn accepts(&self, actual: &str) -> bool {
        let Some(actual) = MediaType::parse(actual) else {
            return false;
        };
        let essence_ok = match self.essence.strip_suffix("/*") {
            Some(ty) => actual.essence.split('/').next() == Some(ty),
            None => actual.essence == self.essence,
        };
        essence_ok
            && self.params.iter().all(|(name, want)| {
                actual.params.iter().any(|(n, v)| {
                    n == name
                        && if name == "charset" {
                            v.eq_ignore_ascii_case(want)
                        } else {
                            v == want
                        }
                })
            })
    }
}

impl std::fmt::Display for MediaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.essence)?;
        for (n, v) in &self.params {
            write!(f, "; {n}={v}")?;
        }
        Ok(())
    }
}

/// An RFC 9110 token: letters, digits and ``!#$%&'*+-.^_`|~``.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::MediaType;

    fn accepts(expected: &str, actual: &str) -> bool {
        MediaType::parse(expected)
            .expect("a media type")
            .accepts(actual)
    }

    #[test]
    fn parameters_the_expectation_does_not_name_are_allowed() {
        assert!(accepts("application/json", "application/json"));
        assert!(accepts(
            "application/json",
            "application/json; charset=utf-8"
        ));
        assert!(accepts(
            "application/json",
            "Application/JSON;charset=UTF-8"
        ));
        assert!(!accepts("application/json", "application/jsonx"));
        assert!(!accepts("application/json", "text/json"));
        assert!(!accepts(
            "application/json",
            "text/plain; x=application/json"
        ));
        assert!(!accepts("application/json", ""));
    }

    #[test]
    fn named_parameters_must_match() {
        assert!(accepts(
            "text/plain; charset=utf-8",
            "text/plain;charset=\"UTF-8\""
        ));
        assert!(!accepts("text/plain; charset=utf-8", "text/plain"));
        assert!(!accepts(
            "text/plain; charset=utf-8",
            "text/plain; charset=latin1"
        ));
        assert!(accepts("text/*", "text/html; charset=utf-8"));
        assert!(!accepts("text/*", "application/json"));
    }

    #[test]
    fn what_is_not_a_media_type() {
        for bad in [
            "json",
            "application/",
            "/json",
            "*/*",
            "a b/c",
            "text/plain; q",
        ] {
            assert!(MediaType::parse(bad).is_none(), "{bad}");
        }
    }
}
