//! Computed values inside `{{ ... }}`: arithmetic on numbers (`{{ balance - 100 }}`,
//! `{{ (a + b) * 2 }}`, `+ - * / %`, the usual precedence, parentheses, a unary minus)
//! and functions: `len(x)` (the items of a list, the characters of a string, the keys
//! of an object), `date(x)` (an RFC 3339 time as Unix seconds), `iso(n)` (Unix seconds
//! as an RFC 3339 time, UTC) and `now()` (the clock, Unix seconds). Operands are
//! numbers, variables, generators and function calls.

use serde_json::{Number, Value};

use super::{Expr, RenderError, TemplateError, parse_gen, problem};

/// A computed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Calc {
    Num(Number),
    /// A variable or a generator.
    Leaf(Expr),
    Call(Func, Box<Calc>),
    /// `now()`: the clock.
    Now,
    Neg(Box<Calc>),
    Bin(Op, Box<Calc>, Box<Calc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Op {
    fn symbol(self) -> char {
        match self {
            Op::Add => '+',
            Op::Sub => '-',
            Op::Mul => '*',
            Op::Div => '/',
            Op::Rem => '%',
        }
    }
}

/// A function of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Len,
    Date,
    Iso,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(Number),
    Leaf(Expr),
    Call(Func),
    Now,
    Op(Op),
    Open,
    Close,
}

const HELP: &str = "write a variable (`{{ id }}`), a generator (`{{ gen.word }}`), or a computed value such as `{{ balance - 100 }}` or `{{ len(ids) + 1 }}`";

fn tokens(src: &str) -> Result<Vec<Token>, TemplateError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        match c {
            ' ' | '\t' => i += 1,
            '+' | '-' | '*' | '/' | '%' => {
                out.push(Token::Op(match c {
                    '+' => Op::Add,
                    '-' => Op::Sub,
                    '*' => Op::Mul,
                    '/' => Op::Div,
                    _ => Op::Rem,
                }));
                i += 1;
            }
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '0'..='9' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let text = &src[start..i];
                let n = text
                    .parse::<i64>()
                    .ok()
                    .map(Number::from)
                    .or_else(|| text.parse::<f64>().ok().and_then(Number::from_f64))
                    .ok_or_else(|| problem(format!("`{text}` is not a number"), None))?;
                out.push(Token::Num(n));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &src[start..i];
                if word == "gen" && b.get(i) == Some(&b'.') {
                    // gen.NAME or gen.NAME(ARGS): through the closing parenthesis.
                    i += 1;
                    let name_start = i;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    if b.get(i) == Some(&b'(') {
                        match src[i..].find(')') {
                            Some(k) => i += k + 1,
                            None => {
                                return Err(problem(
                                    format!("`{}`: expected `)`", &src[start..]),
                                    None,
                                ));
                            }
                        }
                    }
                    out.push(Token::Leaf(Expr::Gen(parse_gen(&src[name_start..i])?)));
                } else if src[i..].trim_start().starts_with('(')
                    && let Some(f) = match word {
                        "len" => Some(Token::Call(Func::Len)),
                        "date" => Some(Token::Call(Func::Date)),
                        "iso" => Some(Token::Call(Func::Iso)),
                        "now" => Some(Token::Now),
                        _ => None,
                    }
                {
                    out.push(f);
                } else {
                    out.push(Token::Leaf(Expr::Var(word.to_string())));
                }
            }
            other => {
                return Err(problem(
                    format!("`{other}` has no meaning in `{{{{ {src} }}}}`"),
                    Some(HELP.into()),
                ));
            }
        }
    }
    Ok(out)
}

/// Parses an expression; a lone variable or generator stays what it is.
pub(super) fn parse(src: &str) -> Result<Expr, TemplateError> {
    let toks = tokens(src)?;
    let mut p = Parser { toks: &toks, at: 0 };
    let calc = p.sum(src)?;
    if p.at < toks.len() {
        return Err(problem(
            format!("`{{{{ {src} }}}}`: an operator (+ - * / %) is missing between two values"),
            Some(HELP.into()),
        ));
    }
    Ok(match calc {
        Calc::Leaf(e) => e,
        other => Expr::Calc(Box::new(other)),
    })
}

struct Parser<'t> {
    toks: &'t [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.at)
    }

    fn sum(&mut self, src: &str) -> Result<Calc, TemplateError> {
        let mut left = self.product(src)?;
        while let Some(Token::Op(op @ (Op::Add | Op::Sub))) = self.peek().cloned() {
            self.at += 1;
            let right = self.product(src)?;
            left = Calc::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn product(&mut self, src: &str) -> Result<Calc, TemplateError> {
        let mut left = self.unary(src)?;
        while let Some(Token::Op(op @ (Op::Mul | Op::Div | Op::Rem))) = self.peek().cloned() {
            self.at += 1;
            let right = self.unary(src)?;
            left = Calc::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, src: &str) -> Result<Calc, TemplateError> {
        if let Some(Token::Op(Op::Sub)) = self.peek() {
            self.at += 1;
            return Ok(Calc::Neg(Box::new(self.unary(src)?)));
        }
        self.atom(src)
    }

    fn atom(&mut self, src: &str) -> Result<Calc, TemplateError> {
        let missing = || {
            problem(
                format!("`{{{{ {src} }}}}`: a value is missing (after an operator or `(`)"),
                Some(HELP.into()),
            )
        };
        let tok = self.peek().cloned().ok_or_else(missing)?;
        self.at += 1;
        match tok {
            Token::Num(n) => Ok(Calc::Num(n)),
            Token::Leaf(e) => Ok(Calc::Leaf(e)),
            Token::Open => {
                let inner = self.sum(src)?;
                self.close(src)?;
                Ok(inner)
            }
            Token::Call(f) => {
                if self.peek() != Some(&Token::Open) {
                    return Err(missing());
                }
                self.at += 1;
                let inner = self.sum(src)?;
                self.close(src)?;
                Ok(Calc::Call(f, Box::new(inner)))
            }
            Token::Now => {
                if self.peek() != Some(&Token::Open) {
                    return Err(missing());
                }
                self.at += 1;
                self.close(src)?;
                Ok(Calc::Now)
            }
            Token::Op(_) | Token::Close => Err(missing()),
        }
    }

    fn close(&mut self, src: &str) -> Result<(), TemplateError> {
        if self.peek() == Some(&Token::Close) {
            self.at += 1;
            return Ok(());
        }
        Err(problem(
            format!("`{{{{ {src} }}}}`: expected `)`"),
            Some(HELP.into()),
        ))
    }
}

impl Calc {
    /// The variables and generators it reads.
    pub(super) fn leaves<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match self {
            Calc::Num(_) | Calc::Now => {}
            Calc::Leaf(e) => e.leaves(out),
            Calc::Call(_, c) | Calc::Neg(c) => c.leaves(out),
            Calc::Bin(_, a, b) => {
                a.leaves(out);
                b.leaves(out);
            }
        }
    }

    pub(super) fn eval(
        &self,
        leaf: &mut dyn FnMut(&Expr) -> Result<Value, RenderError>,
    ) -> Result<Value, RenderError> {
        match self {
            Calc::Num(n) => Ok(Value::Number(n.clone())),
            Calc::Leaf(e) => leaf(e),
            Calc::Call(f, c) => call(*f, &c.eval(leaf)?),
            Calc::Now => Ok(seconds(
                chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
            )),
            Calc::Neg(c) => arith(Op::Sub, &Value::from(0), &c.eval(leaf)?),
            Calc::Bin(op, a, b) => arith(*op, &a.eval(leaf)?, &b.eval(leaf)?),
        }
    }
}

/// `len`, `date` or `iso` of a value.
fn call(f: Func, v: &Value) -> Result<Value, RenderError> {
    match f {
        Func::Len => {
            let n = match v {
                Value::Array(a) => a.len(),
                Value::String(s) => s.chars().count(),
                Value::Object(o) => o.len(),
                other => {
                    return Err(RenderError(format!(
                        "len() takes a list, a string or an object, not {other}"
                    )));
                }
            };
            Ok(Value::from(n))
        }
        Func::Date => {
            let t = v
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok())
                .ok_or_else(|| {
                    RenderError(format!(
                        "date() takes an RFC 3339 time such as \"2026-12-01T10:00:00Z\", not {v}"
                    ))
                })?;
            Ok(seconds(t.timestamp_millis() as f64 / 1000.0))
        }
        Func::Iso => {
            let secs = v.as_f64().ok_or_else(|| {
                RenderError(format!("iso() takes Unix seconds (a number), not {v}"))
            })?;
            let t = chrono::DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
                .ok_or_else(|| RenderError(format!("iso({secs}): out of range")))?;
            Ok(Value::from(
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ))
        }
    }
}

/// Unix seconds: whole when they are.
fn seconds(s: f64) -> Value {
    if s.fract() == 0.0 && s.abs() < 9e15 {
        Value::from(s as i64)
    } else {
        Number::from_f64(s).map_or(Value::Null, Value::Number)
    }
}

/// `a op b` on JSON numbers (a string of digits, as a captured header is, counts as its
/// number): whole numbers stay whole where the result is (division included), others
/// are floating point.
fn arith(op: Op, a: &Value, b: &Value) -> Result<Value, RenderError> {
    let num = |v: &Value| -> Result<Number, RenderError> {
        match v {
            Value::Number(n) => Ok(n.clone()),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Number::from)
                .ok()
                .or_else(|| s.trim().parse::<f64>().ok().and_then(Number::from_f64))
                .ok_or_else(|| not_a_number(op, v)),
            other => Err(not_a_number(op, other)),
        }
    };
    let (x, y) = (num(a)?, num(b)?);
    if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
        let whole = match op {
            Op::Add => i.checked_add(j),
            Op::Sub => i.checked_sub(j),
            Op::Mul => i.checked_mul(j),
            Op::Div if j != 0 && i % j == 0 => Some(i / j),
            Op::Rem if j != 0 => Some(i % j),
            Op::Div | Op::Rem if j == 0 => {
                return Err(RenderError(format!(
                    "{i} {} 0: division by zero",
                    op.symbol()
                )));
            }
            _ => None,
        };
        if let Some(n) = whole {
            return Ok(Value::from(n));
        }
    }
    let (f, g) = (
        x.as_f64().unwrap_or(f64::NAN),
        y.as_f64().unwrap_or(f64::NAN),
    );
    let r = match op {
        Op::Add => f + g,
        Op::Sub => f - g,
        Op::Mul => f * g,
        Op::Div => f / g,
        Op::Rem => f % g,
    };
    Number::from_f64(r)
        .map(Value::Number)
        .ok_or_else(|| RenderError(format!("{f} {} {g} is not a number", op.symbol())))
}

fn not_a_number(op: Op, v: &Value) -> RenderError {
    RenderError(format!(
        "`{}` needs numbers on both sides, but one is {v}",
        op.symbol()
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Context, Template};

    fn render(src: &str, ctx: &mut Context) -> Result<serde_json::Value, String> {
        Template::parse(src)
            .map_err(|e| e.message)?
            .render(ctx)
            .map_err(|e| e.0)
    }

    #[test]
    fn arithmetic_keeps_whole_numbers_and_precedence() {
        let mut ctx = Context::new(1, "c");
        ctx.set("balance", json!(1000));
        ctx.set("ids", json!([4, 5, 6]));
        ctx.set("hits", json!("41"));
        assert_eq!(render("{{ balance - 100 }}", &mut ctx), Ok(json!(900)));
        assert_eq!(render("{{ 2 + 3 * 4 }}", &mut ctx), Ok(json!(14)));
        assert_eq!(render("{{ (2 + 3) * 4 }}", &mut ctx), Ok(json!(20)));
        assert_eq!(render("{{ -balance + 1 }}", &mut ctx), Ok(json!(-999)));
        assert_eq!(render("{{ 10 / 4 }}", &mut ctx), Ok(json!(2.5)));
        assert_eq!(render("{{ 12 / 4 }}", &mut ctx), Ok(json!(3)));
        assert_eq!(render("{{ 7 % 3 }}", &mut ctx), Ok(json!(1)));
        assert_eq!(render("{{ 0.5 * 3 }}", &mut ctx), Ok(json!(1.5)));
        assert_eq!(render("{{ len(ids) + 1 }}", &mut ctx), Ok(json!(4)));
        assert_eq!(
            render("{{ hits + 1 }}", &mut ctx),
            Ok(json!(42)),
            "digits count"
        );
        assert_eq!(
            render("/todos?limit={{ len(ids) * 2 }}", &mut ctx),
            Ok(json!("/todos?limit=6"))
        );
        let n = render("{{ gen.int(1, 6) + 10 }}", &mut ctx).unwrap();
        assert!((11..=16).contains(&n.as_i64().unwrap()), "{n}");
    }

    #[test]
    fn dates_are_unix_seconds_and_back() {
        let mut ctx = Context::new(1, "c");
        ctx.set("created", json!("2026-12-01T10:00:00Z"));
        ctx.set("expires", json!("2026-12-01T10:30:00.500+00:00"));
        assert_eq!(
            render("{{ date(expires) - date(created) }}", &mut ctx),
            Ok(json!(1800.5))
        );
        assert_eq!(
            render("{{ iso(date(created) + 3600) }}", &mut ctx),
            Ok(json!("2026-12-01T11:00:00Z"))
        );
        let now = render("{{ now() }}", &mut ctx).unwrap().as_f64().unwrap();
        assert!(now > 1.7e9, "{now}");
        assert_eq!(
            render("{{ date(created) }}", &mut ctx),
            Ok(json!(1_796_119_200))
        );
        assert_eq!(
            render("{{ date(3) }}", &mut ctx),
            Err("date() takes an RFC 3339 time such as \"2026-12-01T10:00:00Z\", not 3".into())
        );
    }

    #[test]
    fn mistakes_are_named() {
        let mut ctx = Context::new(1, "c");
        ctx.set("word", json!("abc"));
        for (src, want) in [
            ("{{ 1 + }}", "a value is missing"),
            ("{{ (1 + 2 }}", "expected `)`"),
            ("{{ 1 2 }}", "an operator (+ - * / %) is missing"),
            ("{{ a.b }}", "`.` has no meaning in `{{ a.b }}`"),
            ("{{ gen.wrod + 1 }}", "unknown generator `gen.wrod`"),
        ] {
            let e = Template::parse(src).unwrap_err();
            assert!(e.message.contains(want), "{src}: {}", e.message);
        }
        for (src, want) in [
            (
                "{{ word + 1 }}",
                "`+` needs numbers on both sides, but one is \"abc\"",
            ),
            ("{{ 1 / 0 }}", "1 / 0: division by zero"),
            (
                "{{ len(3) }}",
                "len() takes a list, a string or an object, not 3",
            ),
            ("{{ nothing * 2 }}", "variable `nothing` has no value"),
        ] {
            assert_eq!(render(src, &mut ctx), Err(want.to_string()), "{src}");
        }
        let t = Template::parse("{{ len(ids) + n - gen.pick(more) }}").unwrap();
        let vars: Vec<&str> = t.variables().collect();
        assert_eq!(vars, ["ids", "n", "more"]);
        assert_eq!(t.picked().collect::<Vec<_>>(), ["more"]);
    }
}
