//! URI references as RFC 3986 §5 resolves them: the `url` and `url_path` assertions
//! compare what a reference names, not how it is spelt (`/todos/2` and
//! `http://127.0.0.1:8080/todos/2` name the same resource for a request to that host).

use url::Url;

use crate::template::Context;

/// The base used where no request URL is known (a SQL row, a Redis reply): relative
/// references are then compared as they stand, and absolute ones are foreign to it.
const NO_REQUEST: &str = "http://request.invalid/";

/// The base that references resolve against: the judged request's URL.
pub(crate) fn base(ctx: &Context) -> Url {
    ctx.request_url()
        .cloned()
        .unwrap_or_else(|| Url::parse(NO_REQUEST).expect("a constant URL that parses"))
}

/// `text` as a URI reference resolved against `base` (surrounding blanks ignored).
pub(crate) fn resolve(base: &Url, text: &str) -> Option<Url> {
    Url::options().base_url(Some(base)).parse(text.trim()).ok()
}

/// Whether `actual` names the same URL as `expected`, both resolved against `base`.
pub(crate) fn same(base: &Url, actual: &str, expected: &str) -> bool {
    match (resolve(base, actual), resolve(base, expected)) {
        (Some(a), Some(e)) => a == e,
        _ => false,
    }
}

/// Whether `actual`, resolved against `base`, is on the base's origin and has a path
/// that `re` matches.
pub(crate) fn path_matches(base: &Url, actual: &str, re: &regex::Regex) -> bool {
    resolve(base, actual).is_some_and(|u| u.origin() == base.origin() && re.is_match(u.path()))
}

/// The origin of `base` as a person reads it (`http://127.0.0.1:8080`).
pub(crate) fn origin(base: &Url) -> String {
    base.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Url {
        Url::parse("http://127.0.0.1:33010/todos").unwrap()
    }

    #[test]
    fn absolute_and_relative_forms_are_the_same_url() {
        let b = req();
        assert!(same(&b, "http://127.0.0.1:33010/todos/2", "/todos/2"));
        assert!(same(&b, "/todos/2", "/todos/2"));
        assert!(same(&b, "todos/2", "/todos/2"), "relative to /todos");
        assert!(same(&b, "HTTP://127.0.0.1:33010/todos/./2", "/todos/2"));
        assert!(same(&b, " /todos/2 ", "/todos/2"));
        assert!(!same(&b, "http://localhost:33010/todos/2", "/todos/2"));
        assert!(!same(&b, "http://127.0.0.1:8080/todos/2", "/todos/2"));
        assert!(!same(&b, "/todos/3", "/todos/2"));
        assert!(
            !same(&b, "/Todos/2", "/todos/2"),
            "paths are case-sensitive"
        );
        assert!(same(
            &b,
            "https://Example.com/a?b=1",
            "https://example.com/a?b=1"
        ));
        assert!(!same(
            &b,
            "https://example.com/a?b=2",
            "https://example.com/a?b=1"
        ));
    }

    #[test]
    fn a_path_must_be_on_the_requests_origin() {
        let b = req();
        let re = regex::Regex::new("^/todos/[0-9]+$").unwrap();
        assert!(path_matches(&b, "/todos/12", &re));
        assert!(path_matches(&b, "http://127.0.0.1:33010/todos/12", &re));
        assert!(!path_matches(&b, "http://evil.example/todos/12", &re));
        assert!(!path_matches(&b, "/todos/12/x", &re));
        assert_eq!(origin(&b), "http://127.0.0.1:33010");
    }
}
