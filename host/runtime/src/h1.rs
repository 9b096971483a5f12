//! HTTP/1.1 on the wire, without I/O: a request's bytes, a response head's parse and how its body is
//! framed (RFC 9112), and the chunked decoder. [`crate::conn`] drives these over a TCP connection.
//!
//! Written for the load traffic's one job (send a request, read the whole response, keep the
//! connection when the server allows it) instead of going through hyper's client, whose connection
//! runs as a task of its own that each request reaches over channels: per request that was ~8,000
//! instructions of hyper, `http`'s header map and tokio wake-ups (BENCHMARKS.md, "Instructions per
//! request").

use bytes::Bytes;
use std::ops::Range;

/// The longest response head read (status line and headers); a longer one is a protocol error.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most header lines a response head may have.
const MAX_HEADERS: usize = 512;
/// Headers parsed with a stack array first; a head with more goes round again with room for
/// [`MAX_HEADERS`]. Small: the parse runs on a VU's fiber stack, whose touched pages stay resident.
const FEW_HEADERS: usize = 24;
/// The longest trailer section of a chunked body.
const MAX_TRAILERS: usize = 64 * 1024;

/// A request, encoded.
#[derive(Debug)]
pub(crate) struct EncodedRequest {
    /// Request line, headers, blank line and body.
    pub(crate) bytes: Vec<u8>,
    /// A `HEAD` request: its response has no body whatever its headers say.
    pub(crate) head: bool,
    /// Safe to send again on another connection if the first one closed before any response
    /// arrived (RFC 9110 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE).
    pub(crate) idempotent: bool,
    /// The request asked for the connection to close (`Connection: close`).
    pub(crate) close: bool,
}

/// What [`check_request`] found in a request's headers.
pub(crate) struct Checked {
    /// The caller set `Host` (a valid one).
    pub(crate) has_host: bool,
    /// The caller set a `Content-Length` (which matches the body).
    pub(crate) has_length: bool,
    /// The caller asked for the connection to close (`Connection: close`).
    pub(crate) close: bool,
}

/// The rules a request meets whichever protocol carries it (HTTP/1.1 here, HTTP/2 in
/// [`crate::http2::request`], which checks with this first, so a scenario gets the same answer from
/// either): the method and header names are tokens, header values hold no control bytes but tab,
/// one `Host` at most, and a valid `host[:port]` (the caller's, else `host`, the URL's), a caller's
/// `Content-Length` matches the body's `body_len` bytes, and no `Transfer-Encoding` (the body is
/// sent whole). Errors say what is wrong with the request.
pub(crate) fn check_request(
    method: &str,
    host: &str,
    headers: &[(String, String)],
    body_len: usize,
) -> Result<Checked, String> {
    if method.is_empty() || !method.bytes().all(is_token) {
        return Err(format!("bad method `{method}`"));
    }
    let mut checked = Checked {
        has_host: false,
        has_length: false,
        close: false,
    };
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(format!("bad header name `{name}`"));
        }
        if !value.bytes().all(is_value_byte) {
            return Err(format!("bad value for header `{name}`"));
        }
        if name.eq_ignore_ascii_case("host") {
            if checked.has_host {
                return Err("two Host headers; send one".into());
            }
            // What HTTP/2's `:authority` must be too (Go's client refuses the same).
            if value.trim().parse::<http::uri::Authority>().is_err() {
                return Err(format!(
                    "bad value for header `{name}`: `{value}` is not a host[:port]"
                ));
            }
            checked.has_host = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            if parse_length(value.as_bytes().trim_ascii()) != Some(body_len as u64) {
                return Err(format!(
                    "header `{name}: {value}` does not match the body's {body_len} bytes; leave it out and Stampede sets it"
                ));
            }
            checked.has_length = true;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!(
                "header `{name}` is not supported: the body is sent whole, with a Content-Length; leave it out"
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            checked.close |= has_token(value.as_bytes(), b"close");
        }
    }
    if !checked.has_host && !host.bytes().all(is_value_byte) {
        return Err(format!("bad host `{host}`"));
    }
    Ok(checked)
}

/// Encode a request in origin form. `target` is the path and query; `host` is the `Host` header
/// sent unless `headers` has one. A body (or a POST, PUT or PATCH without one) gets a
/// `Content-Length`. The request must pass [`check_request`]; errors say what is wrong with it.
pub(crate) fn encode_request(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<EncodedRequest, String> {
    let checked = check_request(method, host, headers, body.len())?;
    let size = method.len()
        + target.len()
        + 13
        + host.len()
        + 8
        + headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>()
        + 40
        + body.len();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        push_header(&mut out, name.as_bytes(), value.as_bytes());
    }
    if !checked.has_host {
        push_header(&mut out, b"host", host.as_bytes());
    }
    let wants_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if wants_length && !checked.has_length {
        push_header(
            &mut out,
            b"content-length",
            body.len().to_string().as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(EncodedRequest {
        bytes: out,
        head: method == "HEAD",
        idempotent: idempotent(method),
        close: checked.close,
    })
}

/// Whether a response has no body whatever its headers say (RFC 9110 6.4.1): one to a `HEAD`
/// request, a `1xx`, `204` or `304`.
pub(crate) fn bodiless(head_request: bool, status: u16) -> bool {
    head_request || (100..200).contains(&status) || status == 204 || status == 304
}

/// Whether a request with this method may be sent again when its connection closed before any
/// response (RFC 9110 9.2.2).
pub(crate) fn idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// RFC 9110 `tchar`: what method and header names are made of.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte a header value may hold: visible ASCII, space, tab and any non-ASCII byte (the same rule
/// as `http::HeaderValue`); never CR, LF or NUL, which would let a value end the header early.
fn is_value_byte(b: u8) -> bool {
    (b >= 0x20 && b != 0x7f) || b == b'\t'
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// How a response's body is delimited (RFC 9112 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body: a response to HEAD, a 1xx, 204 or 304.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// One header line's name and value, as byte ranges of the head.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    name: Range<u32>,
    value: Range<u32>,
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct Head {
    /// Status code.
    pub(crate) status: u16,
    /// Bytes of the head, blank line included.
    pub(crate) len: usize,
    /// How the body follows.
    pub(crate) framing: Framing,
    /// The connection may carry another request after this response.
    pub(crate) keep_alive: bool,
    spans: Vec<Span>,
}

impl Head {
    /// The headers, once the head's bytes are split off the read buffer.
    pub(crate) fn into_headers(self, raw: Bytes) -> ResponseHeaders {
        debug_assert_eq!(raw.len(), self.len);
        ResponseHeaders {
            raw,
            spans: self.spans,
        }
    }

    /// A 1xx response other than 101 (`100 Continue`, `103 Early Hints`): the real one follows.
    pub(crate) fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parse the response head at the start of `buf`: `Ok(None)` until it is complete, an error once it
/// is known to be longer than [`MAX_HEAD`] (complete or not). Header names are lower-cased in place.
/// `head_request`: the request was `HEAD` (no body follows).
pub(crate) fn parse_head(buf: &mut [u8], head_request: bool) -> Result<Option<Head>, String> {
    let parsed = match parse_with::<FEW_HEADERS>(buf) {
        Err(httparse::Error::TooManyHeaders) => parse_many(buf),
        other => other,
    };
    let too_long = || Err("the response head is longer than 64 KiB".to_owned());
    let (status, version, len, spans) = match parsed {
        Ok(Some((_, _, len, _))) if len > MAX_HEAD => return too_long(),
        Ok(Some(p)) => p,
        Ok(None) if buf.len() >= MAX_HEAD => return too_long(),
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("the response is not HTTP/1.x: {e}")),
    };
    for span in &spans {
        buf[span.name.start as usize..span.name.end as usize].make_ascii_lowercase();
    }
    let head = &buf[..len];
    let value = |s: &Span| &head[s.value.start as usize..s.value.end as usize];
    let (mut chunked, mut encoded, mut length, mut close, mut keep_alive_token) =
        (false, false, None::<u64>, false, false);
    for span in &spans {
        match &head[span.name.start as usize..span.name.end as usize] {
            b"transfer-encoding" => {
                encoded = true;
                // Only a last coding of `chunked` frames the body; any other is read to the end.
                chunked = value(span)
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            b"content-length" => {
                for part in value(span).split(|&b| b == b',') {
                    let n = parse_length(part.trim_ascii())
                        .ok_or_else(|| "the response has an invalid Content-Length".to_owned())?;
                    if length.is_some_and(|l| l != n) {
                        return Err("the response has conflicting Content-Length headers".into());
                    }
                    length = Some(n);
                }
            }
            b"connection" => {
                close |= has_token(value(span), b"close");
                keep_alive_token |= has_token(value(span), b"keep-alive");
            }
            _ => {}
        }
    }
    let framing = if bodiless(head_request, status) {
        Framing::Empty
    } else if encoded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    // HTTP/1.0 keeps a connection only when asked to; a body with both framings (a smuggling
    // vector) or one read to the end never leaves a reusable connection.
    // An HTTP/1.0 response with Transfer-Encoding has faulty framing (RFC 9112 6.1): close after it.
    let persistent = if version == 0 {
        keep_alive_token && !encoded
    } else {
        !close
    };
    let keep_alive = persistent
        && status != 101
        && framing != Framing::UntilClose
        && !(encoded && length.is_some());
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
        spans,
    }))
}

type Parsed = Option<(u16, u8, usize, Vec<Span>)>;

fn parse_with<const N: usize>(buf: &[u8]) -> Result<Parsed, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; N];
    parsed(buf, &mut headers)
}

#[inline(never)]
fn parse_many(buf: &[u8]) -> Result<Parsed, httparse::Error> {
    let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    parsed(buf, &mut headers)
}

fn parsed<'b>(
    buf: &'b [u8],
    headers: &mut [httparse::Header<'b>],
) -> Result<Parsed, httparse::Error> {
    let mut response = httparse::Response::new(headers);
    let len = match response.parse(buf)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let base = buf.as_ptr() as usize;
    // Offsets into `buf` (the head is at most MAX_HEAD bytes, so they fit in u32).
    let at = |s: &[u8]| {
        let start = (s.as_ptr() as usize - base) as u32;
        start..start + s.len() as u32
    };
    let spans = response
        .headers
        .iter()
        .map(|h| Span {
            name: at(h.name.as_bytes()),
            value: at(h.value),
        })
        .collect();
    let status = response.code.unwrap_or_default();
    let version = response.version.unwrap_or(1);
    Ok(Some((status, version, len, spans)))
}

/// A Content-Length value: decimal digits only (no sign, no spaces), at most 19 of them.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// A response's headers as received: names in lower case, values as sent (not always UTF-8).
#[derive(Debug, Clone, Default)]
pub struct ResponseHeaders {
    raw: Bytes,
    spans: Vec<Span>,
}

impl ResponseHeaders {
    /// The headers in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(|s| {
            (
                &self.raw[s.name.start as usize..s.name.end as usize],
                &self.raw[s.value.start as usize..s.value.end as usize],
            )
        })
    }

    /// The first value of header `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, v)| v)
    }

    /// How many header lines there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True without headers.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The headers of an HTTP/2 response (names already lower case), in the map's order.
    pub(crate) fn from_map(map: &http::HeaderMap) -> ResponseHeaders {
        let size: usize = map.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
        let mut raw = Vec::with_capacity(size);
        let mut spans = Vec::with_capacity(map.len());
        for (name, value) in map {
            let at = |raw: &Vec<u8>| u32::try_from(raw.len()).unwrap_or(u32::MAX);
            let name_start = at(&raw);
            raw.extend_from_slice(name.as_str().as_bytes());
            let value_start = at(&raw);
            raw.extend_from_slice(value.as_bytes());
            spans.push(Span {
                name: name_start..value_start,
                value: value_start..at(&raw),
            });
        }
        ResponseHeaders {
            raw: raw.into(),
            spans,
        }
    }

    /// As an `http::HeaderMap` (for `wasi:http`), skipping any name or value it refuses.
    pub fn to_header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::with_capacity(self.len());
        for (name, value) in self.iter() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name),
                http::HeaderValue::from_bytes(value),
            ) {
                // Within the header count the parse allows, far below the map's limit.
                let _ = map.try_append(name, value);
            }
        }
        map
    }
}

/// Decodes a `Transfer-Encoding: chunked` body as its bytes arrive.
#[derive(Debug, Default)]
pub(crate) struct ChunkedDecoder {
    state: Chunk,
    /// Hex digits of the current chunk size.
    digits: u8,
    /// Bytes of trailers seen.
    trailers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk size (hex): its value so far.
    Size(u64),
    /// Whitespace after a chunk size: only more of it, extensions or the line's end may follow.
    SizeSpace(u64),
    /// Chunk extensions, skipped to the end of the line.
    Extension(u64),
    /// The size line's LF.
    SizeLf(u64),
    /// This many data bytes to go.
    Data(u64),
    DataCr,
    DataLf,
    /// In a trailer line; `true` at its start.
    Trailer(bool),
    /// A trailer line's LF; `true` when that line was empty (the end).
    TrailerLf(bool),
    Done,
}

impl Default for Chunk {
    fn default() -> Self {
        Chunk::Size(0)
    }
}

impl ChunkedDecoder {
    /// Decode from `input`, handing data to `data`; returns the bytes consumed (all of `input`
    /// unless the body ended within it).
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<usize, String> {
        let bad = |what: &str| format!("the response's chunked body is malformed: {what}");
        let mut i = 0;
        while i < input.len() && self.state != Chunk::Done {
            let b = input[i];
            self.state = match self.state {
                Chunk::Size(n) => match (b as char).to_digit(16) {
                    Some(d) => {
                        self.digits += 1;
                        if self.digits > 15 {
                            return Err(bad("chunk size too large"));
                        }
                        Chunk::Size(n * 16 + u64::from(d))
                    }
                    None if self.digits == 0 => return Err(bad("no chunk size")),
                    None if b == b';' => Chunk::Extension(n),
                    None if b == b' ' || b == b'\t' => Chunk::SizeSpace(n),
                    None if b == b'\r' => Chunk::SizeLf(n),
                    None => return Err(bad("invalid chunk size")),
                },
                Chunk::SizeSpace(n) => match b {
                    b' ' | b'\t' => Chunk::SizeSpace(n),
                    b';' => Chunk::Extension(n),
                    b'\r' => Chunk::SizeLf(n),
                    _ => return Err(bad("invalid chunk size")),
                },
                Chunk::Extension(n) => match b {
                    b'\r' => Chunk::SizeLf(n),
                    b'\n' => return Err(bad("bare LF in a chunk size line")),
                    _ => Chunk::Extension(n),
                },
                Chunk::SizeLf(n) => {
                    if b != b'\n' {
                        return Err(bad("chunk size line without CRLF"));
                    }
                    self.digits = 0;
                    if n == 0 {
                        Chunk::Trailer(true)
                    } else {
                        Chunk::Data(n)
                    }
                }
                Chunk::Data(n) => {
                    let take = (input.len() - i).min(usize::try_from(n).unwrap_or(usize::MAX));
                    data(&input[i..i + take]);
                    i += take;
                    let left = n - take as u64;
                    self.state = if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data(left)
                    };
                    continue;
                }
                Chunk::DataCr if b == b'\r' => Chunk::DataLf,
                Chunk::DataLf if b == b'\n' => Chunk::Size(0),
                Chunk::DataCr | Chunk::DataLf => return Err(bad("chunk data without CRLF")),
                Chunk::Trailer(at_start) => {
                    self.trailers += 1;
                    if self.trailers > MAX_TRAILERS {
                        return Err(bad("trailers longer than 64 KiB"));
                    }
                    match b {
                        b'\r' => Chunk::TrailerLf(at_start),
                        b'\n' => return Err(bad("bare LF in a trailer line")),
                        _ => Chunk::Trailer(false),
                    }
                }
                Chunk::TrailerLf(empty) => {
                    if b != b'\n' {
                        return Err(bad("trailer line without CRLF"));
                    }
                    if empty {
                        Chunk::Done
                    } else {
                        Chunk::Trailer(true)
                    }
                }
                Chunk::Done => unreachable!("the loop stops at Done"),
            };
            i += 1;
        }
        Ok(i)
    }

    /// The body and its trailers are complete.
    pub(crate) fn is_done(&self) -> bool {
        self.state == Chunk::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<String, String> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        encode_request(method, "/a?b=c", "127.0.0.1:8080", &headers, body)
            .map(|r| String::from_utf8(r.bytes).unwrap())
    }

    #[test]
    fn requests_are_written_in_origin_form_with_host_and_length() {
        assert_eq!(
            request("GET", &[("accept", "*/*")], b"").unwrap(),
            "GET /a?b=c HTTP/1.1\r\naccept: */*\r\nhost: 127.0.0.1:8080\r\n\r\n"
        );
        assert_eq!(
            request("POST", &[("Host", "shop.test")], b"hi").unwrap(),
            "POST /a?b=c HTTP/1.1\r\nHost: shop.test\r\ncontent-length: 2\r\n\r\nhi"
        );
        assert_eq!(
            request("PUT", &[], b"").unwrap(),
            "PUT /a?b=c HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-length: 0\r\n\r\n"
        );
        assert_eq!(
            request("POST", &[("Content-Length", "2")], b"hi").unwrap(),
            "POST /a?b=c HTTP/1.1\r\nContent-Length: 2\r\nhost: 127.0.0.1:8080\r\n\r\nhi"
        );
        let r = encode_request("HEAD", "/", "h", &[], b"").unwrap();
        assert!(r.head && r.idempotent && !r.close);
        let close = vec![("connection".to_string(), "Close".to_string())];
        let r = encode_request("POST", "/", "h", &close, b"").unwrap();
        assert!(!r.head && !r.idempotent && r.close);
    }

    #[test]
    fn requests_that_could_not_be_read_back_as_sent_are_refused() {
        let err = |m, h: &[(&str, &str)], b: &[u8]| request(m, h, b).unwrap_err();
        assert_eq!(err("GE T", &[], b""), "bad method `GE T`");
        assert_eq!(err("", &[], b""), "bad method ``");
        assert_eq!(err("GET", &[("x y", "1")], b""), "bad header name `x y`");
        assert_eq!(err("GET", &[("", "1")], b""), "bad header name ``");
        assert_eq!(
            err("GET", &[("x", "a\r\nevil: 1")], b""),
            "bad value for header `x`"
        );
        assert_eq!(err("GET", &[("x", "a\0")], b""), "bad value for header `x`");
        assert!(err("POST", &[("content-length", "3")], b"hi").contains("does not match"));
        assert!(err("POST", &[("content-length", "+2")], b"hi").contains("does not match"));
        assert!(request("POST", &[("content-length", " 2 ")], b"hi").is_ok());
        assert!(err("POST", &[("transfer-encoding", "chunked")], b"hi").contains("not supported"));
        assert!(err("GET", &[("host", "a"), ("Host", "b")], b"").contains("two Host"));
        assert_eq!(
            err("GET", &[("Host", "a b")], b""),
            "bad value for header `Host`: `a b` is not a host[:port]"
        );
        assert!(err("GET", &[("Host", "")], b"").contains("not a host"));
        assert!(request("GET", &[("Host", "shop.test:8443")], b"").is_ok());
        // Tabs and non-ASCII bytes are fine in values.
        assert!(request("GET", &[("x", "a\tcafé")], b"").is_ok());
    }

    fn head(text: &[u8]) -> Result<Option<Head>, String> {
        parse_head(&mut text.to_vec(), false)
    }

    #[test]
    fn heads_are_parsed_once_complete_with_names_in_lower_case() {
        let text = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Name: caf\xe9\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\nok";
        for cut in 0..text.len() - 2 {
            assert!(head(&text[..cut]).unwrap().is_none(), "{cut}");
        }
        let mut buf = text.to_vec();
        let h = parse_head(&mut buf, false).unwrap().unwrap();
        assert_eq!(
            (h.status, h.len, h.framing),
            (200, text.len() - 2, Framing::Length(2))
        );
        assert!(h.keep_alive);
        let headers = h.into_headers(Bytes::copy_from_slice(&buf[..text.len() - 2]));
        let lines: Vec<(&[u8], &[u8])> = headers.iter().collect();
        assert_eq!(
            lines,
            [
                (&b"content-length"[..], &b"2"[..]),
                (b"x-name", b"caf\xe9"),
                (b"set-cookie", b"a=1"),
                (b"set-cookie", b"b=2"),
            ]
        );
        assert_eq!(headers.get("set-cookie"), Some(&b"a=1"[..]));
        assert_eq!(headers.get("x-missing"), None);
        let map = headers.to_header_map();
        assert_eq!(map.get_all("set-cookie").iter().count(), 2);
        assert_eq!(map["x-name"].as_bytes(), b"caf\xe9");
    }

    #[test]
    fn a_head_longer_than_64_kib_is_an_error_complete_or_not() {
        let mut text = b"HTTP/1.1 200 OK\r\nx-long: ".to_vec();
        text.resize(MAX_HEAD, b'a');
        let err = head(&text).unwrap_err();
        assert_eq!(err, "the response head is longer than 64 KiB");
        text.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head(&text).unwrap_err(), err);
        text.truncate(MAX_HEAD - 8);
        assert!(head(&text).unwrap().is_none());
    }

    #[test]
    fn a_head_with_many_headers_is_parsed_too() {
        let mut text = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..300 {
            text.extend_from_slice(format!("x-h{i}: {i}\r\n").as_bytes());
        }
        text.extend_from_slice(b"\r\n");
        let h = head(&text).unwrap().unwrap();
        assert_eq!(h.spans.len(), 300);
        text.truncate(text.len() - 2);
        for i in 300..600 {
            text.extend_from_slice(format!("x-h{i}: {i}\r\n").as_bytes());
        }
        text.extend_from_slice(b"\r\n");
        assert!(head(&text).is_err());
    }

    #[test]
    fn bodies_are_framed_as_rfc_9112_says() {
        let framing = |text: &str| head(text.as_bytes()).unwrap().unwrap();
        let h = framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, true));
        let h = framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        // Transfer-Encoding wins over Content-Length, and the connection is not reused.
        let h =
            framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let h = framing("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        for status in ["204 No Content", "304 Not Modified"] {
            let h = framing(&format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n"));
            assert_eq!((h.framing, h.keep_alive), (Framing::Empty, true));
        }
        let h = parse_head(
            &mut b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_vec(),
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.framing, Framing::Empty);
        let h = framing("HTTP/1.1 100 Continue\r\n\r\n");
        assert!(h.is_interim());
        assert_eq!(h.framing, Framing::Empty);
        let h = framing("HTTP/1.1 101 Switching Protocols\r\n\r\n");
        assert!(!h.is_interim() && !h.keep_alive);
        let h = framing("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nConnection: close\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(3), false));
        let h = framing("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n");
        assert!(!h.keep_alive);
        let h = framing("HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n");
        assert!(h.keep_alive);
        let h = framing(
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
        );
        assert!(!h.keep_alive);
        for bad in ["+3", "3 3", "x", "", "99999999999999999999"] {
            let text = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
            assert!(head(text.as_bytes()).is_err(), "{bad}");
        }
        assert!(
            head(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n").is_err()
        );
        assert!(head(b"garbage\r\n\r\n").is_err());
    }

    fn dechunk(parts: &[&[u8]]) -> Result<(Vec<u8>, bool, usize), String> {
        let mut d = ChunkedDecoder::default();
        let mut body = Vec::new();
        let mut rest = 0;
        for part in parts {
            let used = d.decode(part, |b| body.extend_from_slice(b))?;
            rest += part.len() - used;
        }
        Ok((body, d.is_done(), rest))
    }

    #[test]
    fn chunked_bodies_decode_however_they_arrive() {
        let text = b"5\r\nhello\r\n6 ;ext=1\r\n world\r\n0 \r\nx-trailer: 1\r\n\r\nNEXT";
        let (body, done, rest) = dechunk(&[text]).unwrap();
        assert_eq!((&body[..], done, rest), (&b"hello world"[..], true, 4));
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        let (body, done, rest) = dechunk(&bytes).unwrap();
        assert_eq!((&body[..], done, rest), (&b"hello world"[..], true, 4));
        let (body, done, _) = dechunk(&[b"A\r\n0123456789\r\n0\r\n\r\n"]).unwrap();
        assert_eq!((body.len(), done), (10, true));
        let (_, done, _) = dechunk(&[b"5\r\nhel"]).unwrap();
        assert!(!done);
    }

    #[test]
    fn malformed_chunked_bodies_are_errors() {
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"5\nhello",
            b"5\r\nhelloX\r\n",
            b"1234567890abcdef0\r\n",
            b"0\r\nx\n",
            b"5 5\r\nhello\r\n",
            b"5 junk\r\nhello\r\n",
        ] {
            assert!(dechunk(&[bad]).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
