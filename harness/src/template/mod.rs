//! `{{ ... }}` templates inside spec strings: variables (`{{ id }}`) and seeded random
//! generators (`{{ gen.words(3) }}`). A string that is exactly one `{{ ... }}` keeps the
//! value's JSON type, so `order = "{{ n }}"` sends a number when `n` holds one.

use std::collections::HashMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::run::seed;

mod calc;

/// A parsed template string.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Expr(Expr),
}

/// One `{{ ... }}` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Var(String),
    Gen(Gen),
    /// Arithmetic and `len(...)` over numbers, variables and generators.
    Calc(Box<calc::Calc>),
}

impl Expr {
    /// The variables and generators it reads, itself when it is one.
    fn leaves<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match self {
            Expr::Calc(c) => c.leaves(out),
            leaf => out.push(leaf),
        }
    }
}

/// A random generator; every draw comes from the run's seed.
#[derive(Debug, Clone, PartialEq)]
pub enum Gen {
    Word,
    Words(u32),
    Sentence,
    Name,
    Email,
    Int(i64, i64),
    Uuid,
    Text(u32),
    Bool,
    /// A random element of a list variable.
    Pick(String),
}

/// Generator names and their arities, for errors and docs.
pub const GENERATORS: &[(&str, &str)] = &[
    ("word", "gen.word"),
    ("words", "gen.words(N)"),
    ("sentence", "gen.sentence"),
    ("name", "gen.name"),
    ("email", "gen.email"),
    ("int", "gen.int(MIN, MAX)"),
    ("uuid", "gen.uuid"),
    ("text", "gen.text(N)"),
    ("bool", "gen.bool"),
    ("pick", "gen.pick(LIST_VARIABLE)"),
];

/// The most words `gen.words(N)` and characters `gen.text(N)` draw.
pub const MAX_COUNT: u32 = 10_000;

/// Why a template could not be parsed; `offset` is a byte offset in the template text.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
    pub help: Option<String>,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = src;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(TemplateError {
                    offset: offset + start,
                    message: "unclosed `{{`: expected `}}`".into(),
                    help: None,
                });
            };
            let inner = &after[..end];
            let expr = parse_expr(inner.trim()).map_err(|e| TemplateError {
                offset: offset + start,
                ..e
            })?;
            parts.push(Part::Expr(expr));
            let consumed = start + 2 + end + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// A template that is just this literal text.
    pub fn literal(text: &str) -> Template {
        Template {
            parts: vec![Part::Lit(text.to_string())],
        }
    }

    /// Whether it is plain text, without `{{ ... }}`.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The bytes of its literal text: the least it can render to.
    pub fn literal_len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(text) => text.len(),
                Part::Expr(_) => 0,
            })
            .sum()
    }

    fn leaves(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        for p in &self.parts {
            if let Part::Expr(e) = p {
                e.leaves(&mut out);
            }
        }
        out
    }

    /// The variables this template reads.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.leaves().into_iter().filter_map(|e| match e {
            Expr::Var(name) | Expr::Gen(Gen::Pick(name)) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The list variables this template's `gen.pick(...)` draw from.
    pub fn picked(&self) -> impl Iterator<Item = &str> {
        self.leaves().into_iter().filter_map(|e| match e {
            Expr::Gen(Gen::Pick(name)) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Renders to a JSON value: a lone expression keeps its type, anything else is a string.
    pub fn render(&self, ctx: &mut Context) -> Result<Value, RenderError> {
        if let [Part::Expr(expr)] = self.parts.as_slice() {
            return ctx.eval(expr);
        }
        Ok(Value::String(self.render_string(ctx)?))
    }

    /// Renders to text (numbers as digits, strings without quotes).
    pub fn render_string(&self, ctx: &mut Context) -> Result<String, RenderError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(text) => out.push_str(text),
                Part::Expr(expr) => out.push_str(&value_to_text(&ctx.eval(expr)?)),
            }
        }
        Ok(out)
    }
}

/// Text form of a value, as it is put inside a string.
pub fn value_to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A problem in one expression; `offset` is set by the caller, which knows where it is.
fn problem(message: String, help: Option<String>) -> TemplateError {
    TemplateError {
        offset: 0,
        message,
        help,
    }
}

fn parse_expr(inner: &str) -> Result<Expr, TemplateError> {
    if inner.is_empty() {
        return Err(problem(
            "empty `{{ }}`: expected a variable name or a generator".into(),
            None,
        ));
    }
    if inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !inner.starts_with(|c: char| c.is_ascii_digit())
    {
        return Ok(Expr::Var(inner.to_string()));
    }
    // A generator, or a computed value (which may hold generators).
    calc::parse(inner)
}

fn parse_gen(call: &str) -> Result<Gen, TemplateError> {
    if let Some(rest) = call.strip_prefix("pick(") {
        let name = rest.strip_suffix(')').unwrap_or("").trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(problem(
                format!("`gen.{call}`: expected the name of a list variable"),
                Some("write `gen.pick(ids)`".into()),
            ));
        }
        return Ok(Gen::Pick(name.to_string()));
    }
    let name = call.split_once('(').map_or(call, |(name, _)| name).trim();
    let Some(usage) = GENERATORS.iter().find(|(n, _)| *n == name).map(|(_, u)| *u) else {
        let all: Vec<&str> = GENERATORS.iter().map(|(_, u)| *u).collect();
        let help = crate::exercise::did_you_mean(name, GENERATORS.iter().map(|(n, _)| *n))
            .map(|n| format!("did you mean `gen.{n}`?"))
            .unwrap_or_else(|| format!("generators: {}", all.join(", ")));
        return Err(problem(
            format!("unknown generator `gen.{name}`"),
            Some(help),
        ));
    };
    let (name, args) = match call.split_once('(') {
        Some((name, rest)) => {
            let Some(args) = rest.strip_suffix(')') else {
                return Err(problem(format!("`gen.{call}`: expected `)`"), None));
            };
            let args: Result<Vec<i64>, _> = args
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::parse::<i64>)
                .collect();
            let args = args.map_err(|_| {
                problem(
                    format!("`gen.{call}`: arguments must be whole numbers"),
                    Some(format!("write `{usage}`")),
                )
            })?;
            (name.trim(), args)
        }
        None => (call.trim(), Vec::new()),
    };
    let bad_arity = || {
        problem(
            format!("`gen.{name}` takes different arguments"),
            Some(format!("write `{usage}`")),
        )
    };
    let small = |n: i64| {
        u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_COUNT).contains(n))
            .ok_or_else(|| {
                problem(
                    format!("`gen.{name}({n})`: N is 1 to {MAX_COUNT}"),
                    Some(format!("write `{usage}` with N at most {MAX_COUNT}")),
                )
            })
    };
    let generator = match (name, args.as_slice()) {
        ("word", []) => Gen::Word,
        ("words", [n]) => Gen::Words(small(*n)?),
        ("sentence", []) => Gen::Sentence,
        ("name", []) => Gen::Name,
        ("email", []) => Gen::Email,
        ("int", [lo, hi]) if lo <= hi => Gen::Int(*lo, *hi),
        ("int", [lo, hi]) => {
            return Err(problem(
                format!("`gen.int({lo}, {hi})`: MIN is above MAX"),
                Some(format!("write `{usage}` with MIN <= MAX")),
            ));
        }
        ("uuid", []) => Gen::Uuid,
        ("text", [n]) => Gen::Text(small(*n)?),
        ("bool", []) => Gen::Bool,
        _ => return Err(bad_arity()),
    };
    Ok(generator)
}

/// The name and value a `Set-Cookie` header sets (RFC 6265 §4.1: `name=value` before
/// the first `;`, surrounding blanks trimmed, quotes kept as sent).
pub(crate) fn cookie_pair(set_cookie: &str) -> Option<(&str, &str)> {
    let (name, value) = set_cookie.split(';').next()?.split_once('=')?;
    Some((name.trim(), value.trim()))
}

/// Why rendering failed at run time (a variable without a value, a list that is not
/// one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

/// Variables and the seeded random source of one check.
#[derive(Clone)]
pub struct Context {
    vars: HashMap<String, Value>,
    rng: ChaCha8Rng,
    /// The URL of the request whose response is being judged: the base that `url` and
    /// `url_path` resolve references against.
    request_url: Option<url::Url>,
    /// The check's cookie jar (`cookies = true`): name and value, in the order set.
    jar: Option<Vec<(String, String)>>,
}

impl Context {
    /// A context whose random draws depend only on the run's seed and the check's id, so
    /// one check's data does not change when another check is added or skipped.
    pub fn new(seed: u64, scope: &str) -> Context {
        Context {
            vars: HashMap::new(),
            rng: seed::rng(seed::for_scope(seed, scope)),
            request_url: None,
            jar: None,
        }
    }

    /// Keeps the cookies responses set from now on (`cookies = true`).
    pub fn enable_cookies(&mut self) {
        self.jar.get_or_insert_with(Vec::new);
    }

    /// The `Cookie` header of the next request: every cookie in the jar (none when the
    /// jar is off or empty).
    pub fn cookie_header(&self) -> Option<String> {
        let jar = self.jar.as_ref().filter(|j| !j.is_empty())?;
        Some(
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// Takes in one `Set-Cookie` value (RFC 6265 §5.2, one origin: Domain and Path are
    /// not read): a new value replaces the old; `Max-Age` of 0 or less, an `Expires`
    /// in the past, or an empty value removes the cookie.
    pub fn set_cookie(&mut self, header: &str) {
        let Some(jar) = self.jar.as_mut() else {
            return;
        };
        let Some((name, value)) = cookie_pair(header) else {
            return;
        };
        let (name, value) = (name.to_string(), value.to_string());
        if name.is_empty() {
            return;
        }
        let expired = header.split(';').skip(1).any(|attr| {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "max-age" => v.trim().parse::<i64>().is_ok_and(|s| s <= 0),
                "expires" => chrono::DateTime::parse_from_rfc2822(v.trim())
                    .is_ok_and(|t| t < chrono::Utc::now()),
                _ => false,
            }
        });
        jar.retain(|(k, _)| *k != name);
        if !expired && !value.is_empty() {
            jar.push((name, value));
        }
    }

    /// Sets the URL of the request whose response is judged next (`None` when it is not
    /// a URL, which only a broken base could make).
    pub fn set_request_url(&mut self, url: &str) {
        self.request_url = url::Url::parse(url).ok();
    }

    pub fn request_url(&self) -> Option<&url::Url> {
        self.request_url.as_ref()
    }

    /// Draws from a new seed from now on (load steps seed each request by its index).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = seed::rng(seed);
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.vars.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    fn eval(&mut self, expr: &Expr) -> Result<Value, RenderError> {
        match expr {
            Expr::Var(name) => self
                .vars
                .get(name)
                .cloned()
                .ok_or_else(|| RenderError(format!("variable `{name}` has no value"))),
            Expr::Gen(Gen::Pick(name)) => match self.vars.get(name) {
                Some(Value::Array(items)) if !items.is_empty() => {
                    let k = self.rng.random_range(0..items.len());
                    Ok(items[k].clone())
                }
                Some(other) => Err(RenderError(format!(
                    "gen.pick({name}) needs a non-empty list, but `{name}` holds {other}"
                ))),
                None => Err(RenderError(format!("variable `{name}` has no value"))),
            },
            Expr::Gen(g) => Ok(self.draw(g)),
            Expr::Calc(c) => c.eval(&mut |e| self.eval(e)),
        }
    }

    fn draw(&mut self, g: &Gen) -> Value {
        let rng = &mut self.rng;
        match g {
            Gen::Word => Value::String(pick(rng, WORDS).to_string()),
            Gen::Words(n) => Value::String(
                (0..*n)
                    .map(|_| pick(rng, WORDS))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Gen::Sentence => {
                let n = rng.random_range(3..=7);
                let words: Vec<&str> = (0..n).map(|_| pick(rng, WORDS)).collect();
                let mut s = words.join(" ");
                if let Some(first) = s.get(..1) {
                    s = first.to_uppercase() + &s[1..];
                }
                Value::String(s)
            }
            Gen::Name => Value::String(format!(
                "{} {}",
                pick(rng, FIRST_NAMES),
                pick(rng, LAST_NAMES)
            )),
            Gen::Email => Value::String(format!(
                "{}.{}{}@example.com",
                pick(rng, FIRST_NAMES).to_lowercase(),
                pick(rng, LAST_NAMES).to_lowercase(),
                rng.random_range(1..1000)
            )),
            Gen::Int(lo, hi) => Value::from(rng.random_range(*lo..=*hi)),
            Gen::Uuid => {
                let mut b: [u8; 16] = rng.random();
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                Value::String(format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                ))
            }
            Gen::Text(n) => Value::String(
                (0..*n)
                    .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                    .collect(),
            ),
            Gen::Bool => Value::Bool(rng.random()),
            Gen::Pick(_) => Value::Null,
        }
    }
}

fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

const WORDS: &[&str] = &[
    "apple", "river", "stone", "cloud", "garden", "letter", "window", "bread", "candle", "forest",
    "harbor", "island", "jacket", "kettle", "ladder", "meadow", "needle", "orange", "pencil",
    "quartz", "rocket", "silver", "ticket", "umbrella", "violin", "wallet", "yellow", "zebra",
    "basket", "copper", "dragon", "engine", "feather", "guitar", "hammer", "iron", "jungle",
    "lemon", "mirror", "nutmeg", "oven", "pillow", "rabbit", "saddle", "tomato", "velvet",
    "walnut", "anchor", "bridge", "castle", "desert", "falcon", "glacier", "honey", "lantern",
    "marble", "novel", "olive", "planet", "quill", "ribbon", "summit", "tunnel",
];
const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Niklaus",
    "Sophie",
    "Donald",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie",
    "Allen", "Dijkstra", "Perlman", "Lee", "Lamarr", "Backus", "Johnson", "Wirth", "Wilson",
    "Knuth",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lone_expression_keeps_type() {
        let mut ctx = Context::new(1, "c");
        ctx.set("n", json!(42));
        assert_eq!(
            Template::parse("{{ n }}")
                .unwrap()
                .render(&mut ctx)
                .unwrap(),
            json!(42)
        );
        assert_eq!(
            Template::parse("/todos/{{n}}")
                .unwrap()
                .render(&mut ctx)
                .unwrap(),
            json!("/todos/42")
        );
    }

    #[test]
    fn same_seed_same_data_and_scopes_differ() {
        let t = Template::parse("{{ gen.words(3) }} {{ gen.int(1, 1000000) }}").unwrap();
        let a = t.render_string(&mut Context::new(7, "x")).unwrap();
        let b = t.render_string(&mut Context::new(7, "x")).unwrap();
        let c = t.render_string(&mut Context::new(7, "y")).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn errors_name_the_problem() {
        let err = Template::parse("x {{ gen.wrod }}").unwrap_err();
        assert_eq!(err.offset, 2);
        assert_eq!(err.help.as_deref(), Some("did you mean `gen.word`?"));
        let err = Template::parse("{{ id ").unwrap_err();
        assert!(err.message.contains("unclosed"));
        let err = Template::parse("{{ gen.int(5) }}").unwrap_err();
        assert_eq!(err.help.as_deref(), Some("write `gen.int(MIN, MAX)`"));
    }

    #[test]
    fn text_and_uuid_shapes() {
        let mut ctx = Context::new(3, "s");
        let text = Template::parse("{{gen.text(201)}}")
            .unwrap()
            .render_string(&mut ctx)
            .unwrap();
        assert_eq!(text.chars().count(), 201);
        let uuid = Template::parse("{{gen.uuid}}")
            .unwrap()
            .render_string(&mut ctx)
            .unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
    }
}
