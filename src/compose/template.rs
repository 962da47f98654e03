//! Record templates: text with `{{...}}` placeholders filled with fake or random data.
//!
//! The syntax is the common subset of the Kinesis Data Generator's (faker.js names, arguments as
//! JSON: `{{random.number({"min":1,"max":10})}}`, `{{random.arrayElement(["a","b"])}}`) plus
//! kwb's own: `{{seq}}` (the record's number), `{{shard}}` (its predicted shard) and
//! `{{bytes(n)}}` (n characters of random filler). A template is parsed once into segments; a
//! bad one fails with the line and column of the error, before anything is sent.

use fake::faker::{address::en as address, company::en as company, currency::en as currency};
use fake::faker::{filesystem::en as filesystem, internet::en as internet, job::en as job};
use fake::faker::{lorem::en as lorem, name::en as name, phone_number::en as phone};
use fake::Fake;
use rand::rngs::SmallRng;
use rand::Rng;
use serde_json::Value;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a record is rendered for.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderContext<'a> {
    pub seq: u64,
    pub shard: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template error at line {line}, column {column}: {message}")]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone)]
enum DateFormat {
    Rfc3339,
    EpochSeconds,
    EpochMillis,
    /// A moment.js-style pattern (YYYY MM DD HH mm ss SSS; anything else is literal).
    Pattern(String),
}

#[derive(Debug, Clone, Copy)]
enum Faker {
    FirstName,
    LastName,
    FullName,
    JobTitle,
    Ipv4,
    Ipv6,
    Email,
    UserName,
    UserAgent,
    Mac,
    City,
    Country,
    CountryCode,
    State,
    StateAbbr,
    ZipCode,
    StreetName,
    Latitude,
    Longitude,
    TimeZone,
    CompanyName,
    CatchPhrase,
    Word,
    Sentence,
    Paragraph,
    PhoneNumber,
    CurrencyCode,
    FileName,
    ProductName,
    Department,
}

#[derive(Debug, Clone)]
enum Gen {
    Number {
        min: i64,
        max: i64,
        precision: Option<f64>,
    },
    Element(Vec<String>),
    Weighted {
        cumulative: Vec<f64>,
        data: Vec<String>,
    },
    Uuid,
    Boolean,
    Filler(usize),
    Date(DateFormat),
    Seq,
    Shard,
    Fake(Faker),
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Gen(Gen),
}

/// A parsed template, ready to render many records.
#[derive(Debug, Clone)]
pub struct Template {
    segments: Vec<Segment>,
}

const ADJECTIVES: &[&str] = &[
    "Small",
    "Ergonomic",
    "Rustic",
    "Sleek",
    "Practical",
    "Gorgeous",
    "Refined",
];
const MATERIALS: &[&str] = &[
    "Steel", "Wooden", "Concrete", "Plastic", "Cotton", "Granite", "Rubber",
];
const PRODUCTS: &[&str] = &[
    "Chair", "Car", "Computer", "Keyboard", "Mouse", "Bike", "Ball", "Gloves", "Shoes",
];
const DEPARTMENTS: &[&str] = &[
    "Books",
    "Movies",
    "Music",
    "Games",
    "Electronics",
    "Computers",
    "Home",
    "Garden",
    "Tools",
    "Grocery",
    "Health",
    "Beauty",
    "Toys",
    "Kids",
    "Clothing",
    "Shoes",
    "Sports",
    "Outdoors",
    "Automotive",
];

/// Every placeholder name a template may use, for error messages and `--help`.
pub const PLACEHOLDERS: &[&str] = &[
    "seq",
    "shard",
    "bytes(n)",
    "random.number(max | {min,max,precision})",
    "random.arrayElement([...])",
    "random.weightedArrayElement({weights,data})",
    "random.uuid",
    "random.boolean",
    "random.word",
    "random.alphaNumeric(n)",
    "date.now(format?)",
    "date.epoch",
    "date.epochMillis",
    "name.firstName",
    "name.lastName",
    "name.findName",
    "name.jobTitle",
    "internet.ip",
    "internet.ipv6",
    "internet.email",
    "internet.userName",
    "internet.userAgent",
    "internet.mac",
    "address.city",
    "address.country",
    "address.countryCode",
    "address.state",
    "address.stateAbbr",
    "address.zipCode",
    "address.streetName",
    "address.latitude",
    "address.longitude",
    "address.timeZone",
    "company.companyName",
    "company.catchPhrase",
    "lorem.word",
    "lorem.sentence",
    "lorem.paragraph",
    "phone.phoneNumber",
    "finance.amount",
    "finance.currencyCode",
    "commerce.productName",
    "commerce.price",
    "commerce.department",
    "system.fileName",
];

fn faker(path: &str) -> Option<Faker> {
    use Faker::*;
    Some(match path {
        "name.firstName" => FirstName,
        "name.lastName" => LastName,
        "name.findName" | "name.fullName" => FullName,
        "name.jobTitle" => JobTitle,
        "internet.ip" | "internet.ipv4" => Ipv4,
        "internet.ipv6" => Ipv6,
        "internet.email" => Email,
        "internet.userName" => UserName,
        "internet.userAgent" => UserAgent,
        "internet.mac" => Mac,
        "address.city" => City,
        "address.country" => Country,
        "address.countryCode" => CountryCode,
        "address.state" => State,
        "address.stateAbbr" => StateAbbr,
        "address.zipCode" => ZipCode,
        "address.streetName" => StreetName,
        "address.latitude" => Latitude,
        "address.longitude" => Longitude,
        "address.timeZone" => TimeZone,
        "company.companyName" => CompanyName,
        "company.catchPhrase" => CatchPhrase,
        "lorem.word" | "random.word" => Word,
        "lorem.sentence" => Sentence,
        "lorem.paragraph" => Paragraph,
        "phone.phoneNumber" => PhoneNumber,
        "finance.currencyCode" => CurrencyCode,
        "system.fileName" => FileName,
        "commerce.productName" => ProductName,
        "commerce.department" => Department,
        _ => return None,
    })
}

fn pick<'a>(rng: &mut SmallRng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

impl Faker {
    fn render(self, rng: &mut SmallRng, out: &mut String) {
        use Faker::*;
        let text: String = match self {
            FirstName => name::FirstName().fake_with_rng(rng),
            LastName => name::LastName().fake_with_rng(rng),
            FullName => name::Name().fake_with_rng(rng),
            JobTitle => job::Title().fake_with_rng(rng),
            Ipv4 => internet::IPv4().fake_with_rng(rng),
            Ipv6 => internet::IPv6().fake_with_rng(rng),
            Email => internet::SafeEmail().fake_with_rng(rng),
            UserName => internet::Username().fake_with_rng(rng),
            UserAgent => internet::UserAgent().fake_with_rng(rng),
            Mac => internet::MACAddress().fake_with_rng(rng),
            City => address::CityName().fake_with_rng(rng),
            Country => address::CountryName().fake_with_rng(rng),
            CountryCode => address::CountryCode().fake_with_rng(rng),
            State => address::StateName().fake_with_rng(rng),
            StateAbbr => address::StateAbbr().fake_with_rng(rng),
            ZipCode => address::ZipCode().fake_with_rng(rng),
            StreetName => address::StreetName().fake_with_rng(rng),
            // Degrees with six decimals (the faker's longitudes strayed past ±180).
            Latitude => format!("{:.6}", rng.gen_range(-90.0..=90.0f64)),
            Longitude => format!("{:.6}", rng.gen_range(-180.0..=180.0f64)),
            TimeZone => address::TimeZone().fake_with_rng(rng),
            CompanyName => company::CompanyName().fake_with_rng(rng),
            CatchPhrase => company::CatchPhrase().fake_with_rng(rng),
            Word => lorem::Word().fake_with_rng(rng),
            Sentence => lorem::Sentence(3..10).fake_with_rng(rng),
            Paragraph => lorem::Paragraph(3..6).fake_with_rng(rng),
            PhoneNumber => phone::PhoneNumber().fake_with_rng(rng),
            CurrencyCode => currency::CurrencyCode().fake_with_rng(rng),
            FileName => filesystem::FileName().fake_with_rng(rng),
            ProductName => {
                let _ = write!(
                    out,
                    "{} {} {}",
                    pick(rng, ADJECTIVES),
                    pick(rng, MATERIALS),
                    pick(rng, PRODUCTS)
                );
                return;
            }
            Department => {
                out.push_str(pick(rng, DEPARTMENTS));
                return;
            }
        };
        out.push_str(&text);
    }
}

/// A JSON value as template output: strings bare, anything else as JSON text.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds a generator from a placeholder's name and arguments, or says what is wrong.
fn generator(path: &str, args: &[Value]) -> Result<Gen, String> {
    let no_args = |gen: Gen| {
        if args.is_empty() {
            Ok(gen)
        } else {
            Err(format!("{path} takes no arguments"))
        }
    };
    let count = |what: &str| -> Result<usize, String> {
        match args {
            [Value::Number(n)] if n.as_u64().is_some_and(|n| n <= 1_048_576) => {
                Ok(n.as_u64().unwrap() as usize)
            }
            _ => Err(format!(
                "{what} takes one whole number from 0 to 1048576, e.g. {what}(16)"
            )),
        }
    };
    match path {
        "seq" => no_args(Gen::Seq),
        "shard" => no_args(Gen::Shard),
        "bytes" => count("bytes").map(Gen::Filler),
        "random.alphaNumeric" => count("random.alphaNumeric").map(Gen::Filler),
        "random.uuid" => no_args(Gen::Uuid),
        "random.boolean" => no_args(Gen::Boolean),
        "random.number" | "finance.amount" | "commerce.price" => number(path, args),
        "random.arrayElement" => match args {
            [Value::Array(items)] if !items.is_empty() => Ok(Gen::Element(items.iter().map(as_text).collect())),
            _ => Err("random.arrayElement takes one non-empty array, e.g. random.arrayElement([\"a\",\"b\"])".into()),
        },
        "random.weightedArrayElement" => weighted(args),
        "date.now" => match args {
            [] => Ok(Gen::Date(DateFormat::Rfc3339)),
            [Value::String(p)] => Ok(Gen::Date(DateFormat::Pattern(p.clone()))),
            _ => Err("date.now takes an optional format string, e.g. date.now(\"YYYY-MM-DD HH:mm:ss\")".into()),
        },
        "date.epoch" => no_args(Gen::Date(DateFormat::EpochSeconds)),
        "date.epochMillis" => no_args(Gen::Date(DateFormat::EpochMillis)),
        _ => match faker(path) {
            Some(f) => no_args(Gen::Fake(f)),
            None => Err(format!("unknown placeholder {path:?}; known: {}", PLACEHOLDERS.join(", "))),
        },
    }
}

fn number(path: &str, args: &[Value]) -> Result<Gen, String> {
    let (default_max, default_precision) = match path {
        "random.number" => (99_999, None),
        _ => (1000, Some(0.01)),
    };
    let int = |v: Option<&Value>, default: i64| -> Result<i64, String> {
        match v {
            None => Ok(default),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| format!("{path}: {v} is not a whole number")),
        }
    };
    let (min, max, precision) = match args {
        [] => (0, default_max, default_precision),
        [v @ Value::Number(_)] => (0, int(Some(v), 0)?, default_precision),
        [Value::Object(o)] => {
            let precision = match o.get("precision") {
                None => default_precision,
                Some(p) => Some(
                    p.as_f64()
                        .filter(|p| *p > 0.0)
                        .ok_or(format!("{path}: precision must be a number above 0"))?,
                ),
            };
            (
                int(o.get("min"), 0)?,
                int(o.get("max"), default_max)?,
                precision,
            )
        }
        _ => {
            return Err(format!(
                "{path} takes a maximum or {{\"min\":..,\"max\":..}}"
            ))
        }
    };
    if min > max {
        return Err(format!("{path}: min {min} is above max {max}"));
    }
    Ok(Gen::Number {
        min,
        max,
        precision,
    })
}

fn weighted(args: &[Value]) -> Result<Gen, String> {
    let usage = "random.weightedArrayElement takes {\"weights\":[0.7,0.3],\"data\":[\"a\",\"b\"]}";
    let [Value::Object(o)] = args else {
        return Err(usage.into());
    };
    let (Some(Value::Array(weights)), Some(Value::Array(data))) = (o.get("weights"), o.get("data"))
    else {
        return Err(usage.into());
    };
    let weights: Option<Vec<f64>> = weights
        .iter()
        .map(|w| w.as_f64().filter(|w| *w >= 0.0))
        .collect();
    let Some(weights) =
        weights.filter(|w| w.len() == data.len() && !w.is_empty() && w.iter().sum::<f64>() > 0.0)
    else {
        return Err(format!(
            "{usage}: as many non-negative weights as data, not all zero"
        ));
    };
    let total: f64 = weights.iter().sum();
    let cumulative = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect();
    Ok(Gen::Weighted {
        cumulative,
        data: data.iter().map(as_text).collect(),
    })
}

/// Line and column (from 1, in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Where a placeholder's inner text ends (the offset of its closing `}}`). Parentheses and JSON
/// strings in the arguments are skipped, so `}}` inside them does not end the placeholder.
fn placeholder_end(text: &str, inner_start: usize) -> Result<usize, String> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text[inner_start..].char_indices() {
        let at = inner_start + i;
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' if depth > 0 => in_string = true,
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            '}' if depth == 0 && text[at..].starts_with("}}") => return Ok(at),
            _ => {}
        }
    }
    Err(if depth > 0 {
        "placeholder arguments are not closed with )".into()
    } else {
        "placeholder opened with {{ is never closed with }}".into()
    })
}

impl Template {
    /// Parses a template; errors name the line and column.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let error = |offset: usize, message: String| {
            let (line, column) = position(text, offset);
            TemplateError {
                line,
                column,
                message,
            }
        };
        let mut segments = Vec::new();
        let mut rest = 0;
        while let Some(open) = text[rest..].find("{{").map(|i| i + rest) {
            if open > rest {
                segments.push(Segment::Literal(text[rest..open].to_string()));
            }
            let inner_start = open + 2;
            let close = placeholder_end(text, inner_start).map_err(|m| error(open, m))?;
            let inner = &text[inner_start..close];
            let lead = inner.len() - inner.trim_start().len();
            let expr = inner.trim();
            let (path, args) = match expr.find('(') {
                None => (expr, Vec::new()),
                Some(p) if expr.ends_with(')') => {
                    let json = format!("[{}]", &expr[p + 1..expr.len() - 1]);
                    let args: Vec<Value> = serde_json::from_str(&json).map_err(|e| {
                        // serde_json's column counts from the "[" we added.
                        let at = inner_start + lead + p + e.column().max(1);
                        error(
                            at.min(close),
                            format!("arguments of {} are not valid JSON: {e}", &expr[..p]),
                        )
                    })?;
                    (&expr[..p], args)
                }
                Some(_) => {
                    return Err(error(
                        inner_start,
                        format!("{expr:?}: arguments must end with )"),
                    ))
                }
            };
            if path.is_empty() {
                return Err(error(open, "empty placeholder {{}}".into()));
            }
            let gen = generator(path, &args).map_err(|m| error(inner_start + lead, m))?;
            segments.push(Segment::Gen(gen));
            rest = close + 2;
        }
        if rest < text.len() {
            segments.push(Segment::Literal(text[rest..].to_string()));
        }
        Ok(Template { segments })
    }

    /// Whether the template needs the predicted shard (so the key must be chosen first).
    pub fn uses_shard(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Gen(Gen::Shard)))
    }

    /// Renders one record into `out` (cleared first).
    pub fn render(&self, ctx: RenderContext<'_>, rng: &mut SmallRng, out: &mut String) {
        out.clear();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Gen(gen) => render_gen(gen, ctx, rng, out),
            }
        }
    }
}

fn render_gen(gen: &Gen, ctx: RenderContext<'_>, rng: &mut SmallRng, out: &mut String) {
    match gen {
        Gen::Number {
            min,
            max,
            precision: None,
        } => {
            let _ = write!(out, "{}", rng.gen_range(*min..=*max));
        }
        Gen::Number {
            min,
            max,
            precision: Some(p),
        } => {
            let steps = ((max - min) as f64 / p).floor() as u64;
            let value = *min as f64 + rng.gen_range(0..=steps) as f64 * p;
            let decimals = (-p.log10()).ceil().max(0.0) as usize;
            let _ = write!(out, "{value:.decimals$}");
        }
        Gen::Element(items) => out.push_str(&items[rng.gen_range(0..items.len())]),
        Gen::Weighted { cumulative, data } => {
            let x: f64 = rng.gen();
            let i = cumulative.partition_point(|c| *c <= x).min(data.len() - 1);
            out.push_str(&data[i]);
        }
        Gen::Uuid => {
            let uuid = uuid::Builder::from_random_bytes(rng.gen()).into_uuid();
            let _ = write!(out, "{uuid}");
        }
        Gen::Boolean => out.push_str(if rng.gen() { "true" } else { "false" }),
        Gen::Filler(n) => {
            out.extend((0..*n).map(|_| rng.sample(rand::distributions::Alphanumeric) as char))
        }
        Gen::Date(format) => render_date(format, out),
        Gen::Seq => {
            let _ = write!(out, "{}", ctx.seq);
        }
        Gen::Shard => out.push_str(ctx.shard.unwrap_or("")),
        Gen::Fake(f) => f.render(rng, out),
    }
}

fn render_date(format: &DateFormat, out: &mut String) {
    let now = SystemTime::now();
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    match format {
        DateFormat::EpochSeconds => {
            let _ = write!(out, "{}", since_epoch.as_secs());
        }
        DateFormat::EpochMillis => {
            let _ = write!(out, "{}", since_epoch.as_millis());
        }
        DateFormat::Rfc3339 => {
            let _ = write!(out, "{}", humantime::format_rfc3339_millis(now));
        }
        DateFormat::Pattern(pattern) => {
            // 2026-11-25T19:40:23.123Z
            let iso = humantime::format_rfc3339_millis(now).to_string();
            let mut rest = pattern.as_str();
            while !rest.is_empty() {
                let token = [
                    ("YYYY", 0..4),
                    ("SSS", 20..23),
                    ("MM", 5..7),
                    ("DD", 8..10),
                    ("HH", 11..13),
                    ("mm", 14..16),
                    ("ss", 17..19),
                ]
                .into_iter()
                .find(|(t, _)| rest.starts_with(t));
                match token {
                    Some((t, range)) => {
                        out.push_str(&iso[range]);
                        rest = &rest[t.len()..];
                    }
                    None => {
                        let c = rest.chars().next().expect("not empty");
                        out.push(c);
                        rest = &rest[c.len_utf8()..];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn render(text: &str) -> String {
        let template = Template::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut rng = SmallRng::seed_from_u64(1);
        let mut out = String::new();
        template.render(
            RenderContext {
                seq: 41,
                shard: Some("shardId-000000000003"),
            },
            &mut rng,
            &mut out,
        );
        out
    }

    fn error(text: &str) -> TemplateError {
        Template::parse(text)
            .err()
            .unwrap_or_else(|| panic!("{text} parsed"))
    }

    #[test]
    fn coordinates_stay_within_their_ranges() {
        let template = Template::parse("{{address.latitude}} {{address.longitude}}").unwrap();
        let mut rng = SmallRng::seed_from_u64(9);
        let mut out = String::new();
        for seq in 0..10_000 {
            template.render(RenderContext { seq, shard: None }, &mut rng, &mut out);
            let (lat, lon) = out.split_once(' ').unwrap();
            let (lat, lon): (f64, f64) = (lat.parse().unwrap(), lon.parse().unwrap());
            assert!(
                (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon),
                "{out}"
            );
        }
    }

    /// A concrete use of an advertised placeholder (arguments filled in).
    fn example(placeholder: &str) -> String {
        let (name, args) = placeholder.split_once('(').unwrap_or((placeholder, ""));
        let args = match args {
            "" => return name.to_string(),
            "n)" => "8",
            "max | {min,max,precision})" => "{\"min\":1,\"max\":9,\"precision\":0.5}",
            "[...])" => "[\"a\",\"b\"]",
            "{weights,data})" => "{\"weights\":[1,2],\"data\":[\"x\",\"y\"]}",
            "format?)" => "\"YYYY-MM-DD HH:mm:ss.SSS\"",
            other => panic!("no example for the arguments {other}"),
        };
        format!("{name}({args})")
    }

    #[test]
    fn every_advertised_placeholder_renders_something() {
        for placeholder in PLACEHOLDERS {
            let sample = example(placeholder);
            let out = render(&format!("<{{{{{sample}}}}}>"));
            assert!(
                out.len() > 2 && out.starts_with('<') && out.ends_with('>'),
                "{sample}: {out:?}"
            );
        }
    }

    #[test]
    fn placeholders_follow_their_arguments() {
        assert_eq!(render("{{seq}} on {{shard}}"), "41 on shardId-000000000003");
        assert_eq!(render("{{bytes(12)}}").len(), 12);
        let n: i64 = render("{{random.number({\"min\":5,\"max\":7})}}")
            .parse()
            .unwrap();
        assert!((5..=7).contains(&n));
        assert_eq!(
            render("{{random.weightedArrayElement({\"weights\":[0,1],\"data\":[\"x\",\"y\"]})}}"),
            "y"
        );
        assert!(["a", "1"].contains(&render("{{ random.arrayElement([\"a\", 1]) }}").as_str()));
        let price = render("{{commerce.price}}");
        assert!(
            price
                .split_once('.')
                .is_some_and(|(_, cents)| cents.len() == 2),
            "{price}"
        );
        let date = render("{{date.now(\"YYYY-MM-DD\")}}");
        assert_eq!(date.len(), 10);
        assert_eq!(&date[4..5], "-");
        uuid::Uuid::parse_str(&render("{{random.uuid}}")).unwrap();
    }

    #[test]
    fn a_json_template_renders_valid_json() {
        let template = "{\"id\":\"{{random.uuid}}\",\"n\":{{random.number(9)}},\"who\":\"{{name.firstName}}\",\"at\":\"{{date.now}}\",\"seq\":{{seq}}}";
        let value: Value = serde_json::from_str(&render(template)).unwrap();
        assert_eq!(value["seq"], 41);
    }

    #[test]
    fn bad_templates_fail_with_a_position() {
        let e = error("{\"a\": {{nope.nothing}}}");
        assert_eq!((e.line, e.column), (1, 9));
        assert!(e.message.contains("unknown placeholder"), "{e}");
        let e = error("line one\n  {{random.number");
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.contains("never closed"));
        let e = error("{{random.number({\"min\":1,})}}");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("not valid JSON"), "{e}");
        let e = error("{{random.number({\"min\":9,\"max\":1})}}");
        assert!(e.message.contains("above max"), "{e}");
        assert!(error("{{}}").message.contains("empty"));
        assert!(error("{{bytes(-1)}}").message.contains("whole number"));
        assert!(error("{{random.arrayElement([])}}")
            .message
            .contains("non-empty"));
    }

    #[test]
    fn shard_use_is_detected() {
        assert!(Template::parse("{{shard}}").unwrap().uses_shard());
        assert!(!Template::parse("{{seq}}").unwrap().uses_shard());
    }
}

#[cfg(test)]
mod sample_templates {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_sample_template_parses_and_json_ones_render_json() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/templates");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let template =
                Template::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut rng = SmallRng::seed_from_u64(3);
            let mut out = String::new();
            for seq in 0..200 {
                template.render(RenderContext { seq, shard: None }, &mut rng, &mut out);
                if path.extension().is_some_and(|e| e == "json") {
                    serde_json::from_str::<Value>(&out)
                        .unwrap_or_else(|e| panic!("{}: {e}: {out}", path.display()));
                }
            }
            seen += 1;
        }
        assert!(seen >= 4);
    }
}
