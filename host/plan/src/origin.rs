//! Target origins: the allowlist of `scheme://host:port` the host may send requests to.
//!
//! An [`Origin`] is parsed from a plan's `targets` (`"http://127.0.0.1:8080"`, a trailing `/` is fine, the
//! default port is filled in). [`Origin::matches_url`] decides whether an absolute request URL goes to that
//! origin. It is deliberately strict: anything it cannot parse with certainty (odd characters in the
//! authority, a percent-encoded host, a bad port) does not match, so it is refused rather than sent.
//!
//! ```
//! use stampede_plan::Origin;
//!
//! let origin: Origin = "http://LOCALHOST:8080/".parse().unwrap();
//! assert_eq!(origin.to_string(), "http://localhost:8080");
//! assert!(origin.matches_url("http://localhost:8080/api/items?page=2"));
//! assert!(!origin.matches_url("http://localhost:8081/"));
//! assert!("https://[::1]".parse::<Origin>().unwrap().matches_url("https://[0::1]:443/"));
//! ```

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An origin: scheme (`http` or `https`), host (lowercase; IPv6 without brackets, in canonical form) and
/// port (filled in from the scheme when not written).
///
/// Serialized as its `Display` string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// A DNS name or IPv4 address in lowercase, or an IPv6 address without brackets.
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
}

/// Why a string is not an origin.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OriginError {
    /// No `scheme://`, or a scheme other than http and https.
    #[error("the scheme must be http:// or https://")]
    Scheme,
    /// `user:password@` before the host.
    #[error("credentials (user@) are not allowed")]
    Userinfo,
    /// A path after the authority (only a single trailing `/` is allowed).
    #[error("a path ({0}) is not allowed")]
    Path(String),
    /// A query or a fragment.
    #[error("a query or fragment ({0}) is not allowed")]
    Query(String),
    /// No host, or a host with characters other than letters, digits, `.`, `-` and `_`.
    #[error("invalid host `{0}`")]
    Host(String),
    /// A port that is not a number from 1 to 65535.
    #[error("invalid port `{0}` (use 1 to 65535)")]
    Port(String),
}

impl Origin {
    /// The port implied by `scheme` when none is written.
    pub fn default_port(scheme: &str) -> Option<u16> {
        match scheme {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        }
    }

    /// Whether the absolute `url` (e.g. `https://Example.com:443/a?b`) is sent to this origin. Scheme and host
    /// compare case-insensitively and default ports are filled in; URLs that cannot be parsed with certainty
    /// never match.
    pub fn matches_url(&self, url: &str) -> bool {
        match split_url(url) {
            Some((scheme, authority, _)) => {
                // Parsers disagree on odd authorities (`\`, several `@`); refuse them rather than guess.
                if !authority.chars().all(is_authority_char) || authority.matches('@').count() > 1 {
                    return false;
                }
                // Credentials do not change where a request goes; drop them before comparing.
                let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
                parse_authority(&scheme, host_port).is_ok_and(|o| o == *self)
            }
            None => false,
        }
    }
}

/// The characters RFC 3986 allows in an authority (userinfo, host and port).
fn is_authority_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%!$&'()*+,;=:@[]".contains(c)
}

/// Splits `scheme://authority<rest>` into its lowercase scheme, the authority and the rest (path, query or
/// fragment, starting with `/`, `?` or `#`).
fn split_url(url: &str) -> Option<(String, &str, &str)> {
    let (scheme, after) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    Origin::default_port(&scheme)?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    Some((scheme, authority, rest))
}

/// Parses `host[:port]` (IPv6 in brackets) for a known scheme.
fn parse_authority(scheme: &str, authority: &str) -> Result<Origin, OriginError> {
    let default_port = Origin::default_port(scheme).ok_or(OriginError::Scheme)?;
    if authority.contains('@') {
        return Err(OriginError::Userinfo);
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or_else(|| OriginError::Host(authority.to_owned()))?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| OriginError::Host(format!("[{inside}]")))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| OriginError::Port(after.to_owned()))?,
            ),
        };
        (ip.to_string(), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid {
            return Err(OriginError::Host(host.to_owned()));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => default_port,
        Some(p) => {
            let digits_only =
                !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            match p.parse::<u16>() {
                Ok(n) if digits_only && n > 0 => n,
                _ => return Err(OriginError::Port(p.to_owned())),
            }
        }
    };
    Ok(Origin {
        scheme: scheme.to_owned(),
        host,
        port,
    })
}

impl FromStr for Origin {
    type Err = OriginError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, authority, rest) = split_url(s.trim()).ok_or(OriginError::Scheme)?;
        if let Some(at) = rest.find(['?', '#']) {
            return Err(OriginError::Query(rest[at..].to_owned()));
        }
        if !rest.is_empty() && rest != "/" {
            return Err(OriginError::Path(rest.to_owned()));
        }
        parse_authority(&scheme, authority)
    }
}

/// `scheme://host:port`, always with the port, IPv6 hosts in brackets.
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

impl TryFrom<String> for Origin {
    type Error = OriginError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Origin> for String {
    fn from(o: Origin) -> String {
        o.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Origin {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_normalises() {
        let cases = [
            ("http://127.0.0.1:18080", "http://127.0.0.1:18080"),
            ("http://127.0.0.1:18080/", "http://127.0.0.1:18080"),
            ("HTTP://Example.COM", "http://example.com:80"),
            ("https://example.com", "https://example.com:443"),
            ("https://example.com:8443/", "https://example.com:8443"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://[0:0:0:0:0:0:0:1]", "http://[::1]:80"),
            ("http://my_host.local:1", "http://my_host.local:1"),
        ];
        for (text, want) in cases {
            assert_eq!(origin(text).to_string(), want, "{text}");
        }
        let o = origin("https://[::1]");
        assert_eq!(
            (o.scheme.as_str(), o.host.as_str(), o.port),
            ("https", "::1", 443)
        );
    }

    #[test]
    fn rejects_non_origins() {
        let cases = [
            ("127.0.0.1:8080", OriginError::Scheme),
            ("ftp://example.com", OriginError::Scheme),
            ("ws://example.com", OriginError::Scheme),
            ("http://example.com/api", OriginError::Path("/api".into())),
            ("http://example.com//", OriginError::Path("//".into())),
            ("http://example.com/?a=1", OriginError::Query("?a=1".into())),
            ("http://example.com#top", OriginError::Query("#top".into())),
            ("http://user:pw@example.com", OriginError::Userinfo),
            ("http://", OriginError::Host("".into())),
            ("http://:80", OriginError::Host("".into())),
            (
                "http://exa mple.com",
                OriginError::Host("exa mple.com".into()),
            ),
            (
                "http://ex%41mple.com",
                OriginError::Host("ex%41mple.com".into()),
            ),
            ("http://[::1", OriginError::Host("[::1".into())),
            ("http://[nope]:80", OriginError::Host("[nope]".into())),
            ("http://[::1]8080", OriginError::Port("8080".into())),
            ("http://example.com:0", OriginError::Port("0".into())),
            (
                "http://example.com:65536",
                OriginError::Port("65536".into()),
            ),
            ("http://example.com:", OriginError::Port("".into())),
            ("http://example.com:+80", OriginError::Port("+80".into())),
            ("http://a:b:80", OriginError::Host("a:b".into())),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Origin>(), Err(want), "{text}");
        }
    }

    #[test]
    fn matches_urls() {
        let local = origin("http://127.0.0.1:18080");
        assert!(local.matches_url("http://127.0.0.1:18080"));
        assert!(local.matches_url("http://127.0.0.1:18080/"));
        assert!(local.matches_url("HTTP://127.0.0.1:18080/items/1?x=y#z"));
        assert!(local.matches_url("http://127.0.0.1:18080?x"));
        assert!(local.matches_url("http://user:pw@127.0.0.1:18080/"));
        assert!(!local.matches_url("http://127.0.0.1:18081/"));
        assert!(!local.matches_url("https://127.0.0.1:18080/"));
        assert!(!local.matches_url("http://127.0.0.2:18080/"));
        assert!(!local.matches_url("http://127.0.0.1:18080@evil.com/"));
        assert!(!local.matches_url("http://127.0.0.1\\@evil.com:18080/"));
        assert!(!local.matches_url("http://evil.com\\@127.0.0.1:18080/"));
        assert!(!local.matches_url("http://a@b@127.0.0.1:18080/"));
        assert!(!local.matches_url("http://127.0.0.1 :18080/"));
        assert!(!local.matches_url("//127.0.0.1:18080/"));
        assert!(!local.matches_url("/relative"));
        assert!(!local.matches_url(""));

        let named = origin("https://Example.com");
        assert!(named.matches_url("https://EXAMPLE.com/"));
        assert!(named.matches_url("https://example.com:443/x"));
        assert!(!named.matches_url("https://example.com.evil.org/"));
        assert!(!named.matches_url("http://example.com/"));

        let v6 = origin("http://[::1]:8080");
        assert!(v6.matches_url("http://[::1]:8080/a"));
        assert!(v6.matches_url("http://[0::1]:8080"));
        assert!(!v6.matches_url("http://[::2]:8080/"));
        assert!(!v6.matches_url("http://[::1]/"));
    }

    #[test]
    fn serde_as_string() {
        let o = origin("http://localhost");
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(json, r#""http://localhost:80""#);
        assert_eq!(serde_json::from_str::<Origin>(&json).unwrap(), o);
        assert!(serde_json::from_str::<Origin>(r#""http://x/path""#).is_err());
    }
}
