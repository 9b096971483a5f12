//! [`Selector`]: which series a threshold looks at, e.g. `http_req_duration{name:login,method:GET}`.

use std::fmt;
use std::iter::Peekable;
use std::str::CharIndices;

use serde::{Deserialize, Serialize};

use crate::{TagSet, ThresholdError, validate_metric_name};

/// A metric name and the tags its series must all carry (the series may carry more).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Selector {
    /// The metric name.
    pub metric: String,
    /// Tags every selected series must have; empty selects every series of the metric.
    pub tags: TagSet,
}

impl Selector {
    /// A selector for all series of `metric`.
    pub fn metric(metric: impl Into<String>) -> Self {
        Selector {
            metric: metric.into(),
            tags: TagSet::empty(),
        }
    }

    /// Parses `name`, `name{key:value,...}` or `name{key=value,...}`. Whitespace around names, keys and
    /// values is ignored; a value may be quoted (`"..."` or `'...'`) to contain `,`, `{`, `}` or spaces.
    pub fn parse(s: &str) -> Result<Selector, ThresholdError> {
        let source = s.trim();
        let (name, filter) = match source.find('{') {
            Some(open) => {
                let Some(inner) = source[open + 1..].strip_suffix('}') else {
                    return Err(tag_error(source, "it must end with `}`"));
                };
                (source[..open].trim_end(), Some(inner))
            }
            None => (source, None),
        };
        if validate_metric_name(name).is_err() {
            return Err(ThresholdError::InvalidMetricName {
                name: name.to_owned(),
                source_text: source.to_owned(),
            });
        }
        let tags = match filter {
            Some(inner) => parse_tags(inner).map_err(|problem| tag_error(source, &problem))?,
            None => TagSet::empty(),
        };
        Ok(Selector {
            metric: name.to_owned(),
            tags,
        })
    }
}

fn tag_error(source: &str, problem: &str) -> ThresholdError {
    ThresholdError::InvalidTagFilter {
        problem: format!("{problem}; write `metric{{key:value,key:value}}`"),
        source_text: source.to_owned(),
    }
}

/// Parses the inside of `{...}`.
fn parse_tags(inner: &str) -> Result<TagSet, String> {
    let mut tags = TagSet::empty();
    let mut chars = inner.char_indices().peekable();
    if inner.trim().is_empty() {
        return Ok(tags);
    }
    loop {
        let key = take_until(inner, &mut chars, |c| {
            matches!(c, ':' | '=' | ',' | '{' | '}')
        });
        let key = key.trim();
        match chars.next() {
            Some((_, ':' | '=')) => {}
            _ if key.is_empty() => return Err("a tag filter is empty".into()),
            _ => return Err(format!("tag filter `{key}` has no `:` or `=`")),
        }
        if key.is_empty() {
            return Err("a tag filter has no key".into());
        }
        let value = parse_value(inner, &mut chars)?;
        if tags.get(key).is_some() {
            return Err(format!("tag `{key}` appears twice"));
        }
        tags.insert(key, value);
        match chars.next() {
            None => return Ok(tags),
            Some((_, ',')) => {}
            Some((_, c)) => return Err(format!("unexpected `{c}` after the value of tag `{key}`")),
        }
    }
}

fn parse_value(inner: &str, chars: &mut Peekable<CharIndices<'_>>) -> Result<String, String> {
    while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    if let Some((_, quote)) = chars.next_if(|&(_, c)| c == '"' || c == '\'') {
        let value = take_until(inner, chars, |c| c == quote).to_owned();
        if chars.next().is_none() {
            return Err(format!("the quoted value {quote}{value} is not closed"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        return Ok(value);
    }
    let value = take_until(inner, chars, |c| matches!(c, ',' | '{' | '}' | '"' | '\'')).trim();
    if let Some(&(_, c)) = chars.peek()
        && c != ','
    {
        return Err(format!(
            "unexpected `{c}` in a tag value (quote the value to contain it)"
        ));
    }
    if value.is_empty() {
        return Err(
            "a tag filter has an empty value (write `key:\"\"` to match an empty value)".into(),
        );
    }
    Ok(value.to_owned())
}

/// Consumes characters up to (not including) the first one matching `stop`; returns the consumed slice.
fn take_until<'a>(
    s: &'a str,
    chars: &mut Peekable<CharIndices<'_>>,
    stop: impl Fn(char) -> bool,
) -> &'a str {
    let start = chars.peek().map_or(s.len(), |&(i, _)| i);
    while chars.next_if(|&(_, c)| !stop(c)).is_some() {}
    let end = chars.peek().map_or(s.len(), |&(i, _)| i);
    &s[start..end]
}

/// Renders the canonical form `metric{key:value,...}` (bare `metric` without tags); values that would not
/// parse back as written are quoted.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.metric)?;
        if self.tags.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (k, v)) in self.tags.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let plain = !v.is_empty() && v.trim() == v && !v.contains([',', '{', '}', '"', '\'']);
            if plain {
                write!(f, "{sep}{k}:{v}")?;
            } else if v.contains('"') {
                write!(f, "{sep}{k}:'{v}'")?;
            } else {
                write!(f, "{sep}{k}:\"{v}\"")?;
            }
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> TagSet {
        TagSet::new(pairs.iter().copied())
    }

    #[test]
    fn parses_bare_and_tagged() {
        assert_eq!(Selector::parse(" vus ").unwrap(), Selector::metric("vus"));
        assert_eq!(Selector::parse("vus{}").unwrap(), Selector::metric("vus"));
        let s = Selector::parse("http_req_duration{name=login, method : GET}").unwrap();
        assert_eq!(s.metric, "http_req_duration");
        assert_eq!(s.tags, tags(&[("name", "login"), ("method", "GET")]));
        assert_eq!(s.to_string(), "http_req_duration{method:GET,name:login}");
        let s = Selector::parse("http_reqs {url:http://x/a?b=c}").unwrap();
        assert_eq!(s.tags.get("url"), Some("http://x/a?b=c"));
    }

    #[test]
    fn quoted_values_round_trip() {
        let s =
            Selector::parse(r#"checks{check:"status is 200, ok", name:'say "hi"', e:""}"#).unwrap();
        assert_eq!(
            s.tags,
            tags(&[
                ("check", "status is 200, ok"),
                ("name", "say \"hi\""),
                ("e", "")
            ])
        );
        let shown = s.to_string();
        assert_eq!(
            shown,
            r#"checks{check:"status is 200, ok",e:"",name:'say "hi"'}"#
        );
        assert_eq!(Selector::parse(&shown).unwrap(), s);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases = [
            ("", "invalid metric name ``"),
            ("{a:b}", "invalid metric name ``"),
            ("http-reqs", "invalid metric name `http-reqs`"),
            ("vus{a:b", "it must end with `}`"),
            ("vus{a}", "tag filter `a` has no `:` or `=`"),
            ("vus{a:b,}", "a tag filter is empty"),
            ("vus{:b}", "a tag filter has no key"),
            ("vus{a:}", "empty value"),
            ("vus{a:b,a:c}", "tag `a` appears twice"),
            ("vus{a:{b}}", "unexpected `{` in a tag value"),
            ("vus{a:\"b}", "is not closed"),
            ("vus{a:\"b\"c}", "unexpected `c` after the value of tag `a`"),
        ];
        for (input, expected) in cases {
            let err = Selector::parse(input).unwrap_err().to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
        let err = Selector::parse("vus{a}").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid tag filter in selector `vus{a}`: tag filter `a` has no `:` or `=`; write `metric{key:value,key:value}`"
        );
    }
}
