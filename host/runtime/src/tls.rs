//! TLS for `https://` load traffic: the client configuration (which servers to trust) and the
//! handshake on a new connection.
//!
//! Servers are verified against Mozilla's root certificates (compiled in, so a minimal container
//! image without a system store works the same) plus the plan's `tls-ca-file`, or not at all with
//! `insecure-skip-tls-verify` (k6's `insecureSkipTLSVerify`: for test systems with self-signed
//! certificates). TLS 1.2 and 1.3 (rustls with ring), ALPN `h2` and `http/1.1` (HTTP/2 when the
//! server chooses it, see [`crate::http2`]; `http/1.1` only with the plan's `http2 = false`), session
//! resumption on: a connection opened after the first one to a server resumes its session, as
//! browsers and k6 do.

use crate::conn::OpenError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Why a TLS client configuration could not be built (the plan's input is at fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsConfigError {
    /// `tls-ca-file` holds no PEM certificate.
    #[error(
        "options.tls-ca-file holds no PEM certificate (expected one or more \"-----BEGIN CERTIFICATE-----\" blocks)"
    )]
    NoCertificate,
    /// A PEM block could not be read, or is not a usable CA certificate.
    #[error("options.tls-ca-file: certificate {index} cannot be used: {detail}")]
    BadCertificate {
        /// 1-based position of the certificate in the file.
        index: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// The client certificate or its key cannot be used.
    #[error("options.tls-client-cert and tls-client-key cannot be used: {0}")]
    BadClientIdentity(String),
}

/// A client certificate (its chain, leaf first) and its private key, both PEM: what the plan's
/// `tls-client-cert` and `tls-client-key` hold, for servers that ask for one (mutual TLS).
#[derive(Clone, Copy)]
pub struct ClientIdentity<'a> {
    /// One or more `CERTIFICATE` blocks.
    pub cert_pem: &'a str,
    /// A `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1) block.
    pub key_pem: &'a str,
}

/// Without the key: a log line must not show it.
impl std::fmt::Debug for ClientIdentity<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// The TLS side of an HTTP client: how it verifies servers. Cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    /// `insecure-skip-tls-verify`: for messages.
    insecure: bool,
}

impl ClientTls {
    /// Verify servers against Mozilla's roots plus the certificates in `extra_ca_pem` (the text of
    /// the plan's `tls-ca-file`), or not at all when `insecure_skip_verify`.
    pub fn new(
        extra_ca_pem: Option<&str>,
        insecure_skip_verify: bool,
    ) -> Result<ClientTls, TlsConfigError> {
        ClientTls::with_identity(extra_ca_pem, insecure_skip_verify, None)
    }

    /// As [`ClientTls::new`], and present `identity` to servers that ask for a client
    /// certificate.
    pub fn with_identity(
        extra_ca_pem: Option<&str>,
        insecure_skip_verify: bool,
        identity: Option<ClientIdentity<'_>>,
    ) -> Result<ClientTls, TlsConfigError> {
        let provider = Arc::new(ring_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let verifying = if insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            if let Some(pem) = extra_ca_pem {
                add_pem_certificates(&mut roots, pem)?;
            }
            builder.with_root_certificates(roots)
        };
        let mut config = match identity {
            None => verifying.with_no_client_auth(),
            Some(id) => {
                let (chain, key) = read_identity(id)?;
                verifying
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| match e {
                        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                            TlsConfigError::BadClientIdentity(
                                "tls-client-key is not the private key of tls-client-cert".into(),
                            )
                        }
                        e => TlsConfigError::BadClientIdentity(e.to_string()),
                    })?
            }
        };
        config.alpn_protocols = alpn(true);
        Ok(ClientTls {
            connector: TlsConnector::from(Arc::new(config)),
            insecure: insecure_skip_verify,
        })
    }

    /// The configuration without a plan's settings (Mozilla's roots), built once per process.
    pub fn default_roots() -> ClientTls {
        static DEFAULT: OnceLock<ClientTls> = OnceLock::new();
        DEFAULT
            .get_or_init(|| ClientTls::new(None, false).expect("no extra certificates to read"))
            .clone()
    }

    /// Offer HTTP/2 in the TLS handshake (ALPN `h2` before `http/1.1`; the plan's `http2`, on by
    /// default) or HTTP/1.1 only. Servers that choose HTTP/2 get it; the others HTTP/1.1.
    pub fn with_http2(mut self, on: bool) -> ClientTls {
        let mut config = (**self.connector.config()).clone();
        config.alpn_protocols = alpn(on);
        self.connector = TlsConnector::from(Arc::new(config));
        self
    }

    /// Whether servers go unverified (`insecure-skip-tls-verify`).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// The TLS handshake on a new connection to `host` (a name, or an IP literal without brackets).
    pub(crate) async fn handshake(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, OpenError> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| OpenError::Tls {
            message: format!("`{host}` cannot be a TLS server name: {e}"),
            certificate: false,
        })?;
        self.connector
            .connect(name, tcp)
            .await
            .map_err(|e| handshake_error(e, host))
    }
}

/// The protocols offered in the handshake, the preferred one first.
fn alpn(http2: bool) -> Vec<Vec<u8>> {
    if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    }
}

/// What a failed handshake's error says, and what to do about it: a TLS failure (the message
/// stable for one cause, no times of day in it, so it can be logged once), or a connection that
/// broke off during the handshake (reset, closed), which is not a TLS problem.
fn handshake_error(e: std::io::Error, host: &str) -> OpenError {
    use rustls::CertificateError as C;
    let Some(tls) = rustls_error(&e) else {
        return OpenError::Connect(std::io::Error::new(
            e.kind(),
            format!("the connection broke during the TLS handshake: {e}"),
        ));
    };
    let failed = "the TLS handshake failed";
    let insecure = "or, for a test system only, set options.insecure-skip-tls-verify = true";
    let message = match tls {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
            "{failed}: invalid peer certificate: UnknownIssuer; if the server's certificate is \
             signed by your own CA, name its PEM file in options.tls-ca-file ({insecure})"
        ),
        rustls::Error::InvalidCertificate(C::NotValidForNameContext { presented, .. }) => {
            format!(
                "{failed}: the server's certificate is not valid for `{host}` (it names {}); \
                 send to a host name the certificate names ({insecure})",
                presented
                    .iter()
                    .map(|n| unquoted(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        rustls::Error::InvalidCertificate(C::NotValidForName) => format!(
            "{failed}: the server's certificate is not valid for `{host}`; send to a host name \
             the certificate names ({insecure})"
        ),
        rustls::Error::InvalidCertificate(C::ExpiredContext { not_after, .. }) => format!(
            "{failed}: the server's certificate expired at {}; renew it on the server ({insecure})",
            utc(*not_after)
        ),
        rustls::Error::InvalidCertificate(C::NotValidYetContext { not_before, .. }) => format!(
            "{failed}: the server's certificate is not valid before {} (is this machine's clock \
             right?) ({insecure})",
            utc(*not_before)
        ),
        rustls::Error::InvalidCertificate(kind) => {
            format!("{failed}: invalid peer certificate: {kind:?} ({insecure})")
        }
        rustls::Error::AlertReceived(alert) => match client_certificate_refused(*alert) {
            Some(refused) => format!("{failed}: {refused}"),
            None => format!("{failed}: {tls}"),
        },
        other => format!("{failed}: {other}"),
    };
    OpenError::Tls {
        message,
        certificate: matches!(tls, rustls::Error::InvalidCertificate(_)),
    }
}

/// A name as rustls presents it (`DnsName("shop.test")`) without its wrapping (`shop.test`).
fn unquoted(name: &str) -> &str {
    name.split_once('"')
        .and_then(|(_, rest)| rest.rsplit_once('"'))
        .map_or(name, |(inner, _)| inner)
}

/// What a read error says when the server refused this client's TLS certificate, or the lack of
/// one, with a fatal alert after the handshake (TLS 1.3's order); None for any other error.
pub(crate) fn refused_after_handshake(e: &std::io::Error) -> Option<String> {
    let rustls::Error::AlertReceived(alert) = rustls_error(e)? else {
        return None;
    };
    client_certificate_refused(*alert)
}

/// The TLS error inside an I/O error from tokio-rustls, if that is what it is.
fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// What a fatal alert from the server says about this client's certificate (during the handshake
/// with TLS 1.2, after it with TLS 1.3), if it is about that.
fn client_certificate_refused(alert: rustls::AlertDescription) -> Option<String> {
    use rustls::AlertDescription as A;
    match alert {
        A::CertificateRequired => Some(format!(
            "the server asks for a client certificate (received fatal alert: {alert:?}); name \
             yours and its key in options.tls-client-cert and options.tls-client-key (if the \
             plan does, the server did not accept its kind of key)"
        )),
        A::BadCertificate
        | A::UnsupportedCertificate
        | A::CertificateRevoked
        | A::CertificateExpired
        | A::CertificateUnknown
        | A::UnknownCA
        | A::AccessDenied
        | A::DecryptError => Some(format!(
            "the server refused the client certificate of options.tls-client-cert (received \
             fatal alert: {alert:?})"
        )),
        _ => None,
    }
}

/// A certificate's time, as `2026-12-05T10:00:00Z`.
fn utc(t: UnixTime) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs());
    humantime::format_rfc3339_seconds(at).to_string()
}

/// rustls's *ring* backend. rustls 0.23.48 deprecated it for lacking post-quantum key exchange
/// (its aws-lc-rs backend has it); kept on purpose: ring builds from crates.io with a plain C
/// compiler (aws-lc needs far more), classical X25519 costs a load generator less CPU per
/// handshake than X25519MLKEM768, and what post-quantum key exchange guards against (traffic
/// recorded now, decrypted years later) matters little for load-test traffic.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The certificate blocks of a PEM file (the text of a plan's `tls-ca-file`), checked as
/// [`ClientTls::new`] checks them, and nothing else: a file that also holds a private key (a
/// combined key and certificate file) does not send the key to the workers with the plan.
pub fn certificates_pem(pem: &str) -> Result<String, TlsConfigError> {
    let out = certificate_blocks(pem);
    ClientTls::new(Some(&out), false)?;
    Ok(out)
}

/// The `CERTIFICATE` blocks of a PEM file, and nothing else (not checked).
pub fn certificate_blocks(pem: &str) -> String {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = String::new();
    let mut inside = false;
    for line in pem.lines() {
        let line = line.trim();
        inside |= line == BEGIN;
        if inside {
            out.push_str(line);
            out.push('\n');
        }
        inside &= line != END;
    }
    out
}

/// The certificate chain and private key of `id`.
fn read_identity(
    id: ClientIdentity<'_>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsConfigError> {
    let bad = TlsConfigError::BadClientIdentity;
    let chain = CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("tls-client-cert is not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(bad(
            "tls-client-cert holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\")"
                .into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).map_err(|e| {
        bad(format!(
            "tls-client-key holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"
        ))
    })?;
    Ok((chain, key))
}

/// Add every certificate of `pem` to `roots`.
fn add_pem_certificates(roots: &mut RootCertStore, pem: &str) -> Result<(), TlsConfigError> {
    let mut added = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
        let bad = |detail: String| TlsConfigError::BadCertificate {
            index: i + 1,
            detail,
        };
        let cert = cert.map_err(|e| bad(format!("not valid PEM: {e}")))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(TlsConfigError::NoCertificate);
    }
    Ok(())
}

/// `insecure-skip-tls-verify`: any certificate, any name. The handshake's signatures are still
/// checked (so the connection is encrypted with the key of the certificate the server sent), just
/// not who vouches for that certificate.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> String {
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .unwrap()
            .cert
            .pem()
    }

    #[test]
    fn a_ca_file_needs_at_least_one_certificate() {
        assert_eq!(
            ClientTls::new(Some(""), false).err(),
            Some(TlsConfigError::NoCertificate)
        );
        assert_eq!(
            ClientTls::new(Some("just text\n"), false).err(),
            Some(TlsConfigError::NoCertificate)
        );
        let pem = self_signed();
        let two = format!("{pem}{pem}");
        assert!(ClientTls::new(Some(&two), false).is_ok());
    }

    #[test]
    fn a_broken_certificate_is_named_by_its_position() {
        let pem = self_signed();
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = ClientTls::new(Some(&format!("{pem}{broken}")), false)
            .err()
            .expect("refused");
        assert!(
            matches!(err, TlsConfigError::BadCertificate { index: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("certificate 2"), "{err}");
    }

    #[test]
    fn only_certificates_are_kept_from_a_ca_file() {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (certified.cert.pem(), certified.signing_key.serialize_pem());
        let kept = certificates_pem(&format!("# a comment\n{key}{cert}")).unwrap();
        assert_eq!(kept, cert.replace("\r\n", "\n"));
        assert!(!kept.contains("PRIVATE KEY"));
        assert_eq!(
            certificates_pem(&key).err(),
            Some(TlsConfigError::NoCertificate)
        );
    }

    #[test]
    fn a_client_identity_needs_a_certificate_and_its_own_key() {
        let mine = rcgen::generate_simple_self_signed(vec!["client".to_owned()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).unwrap();
        let (cert, key) = (mine.cert.pem(), mine.signing_key.serialize_pem());
        let with = |cert_pem: &str, key_pem: &str| {
            ClientTls::with_identity(None, false, Some(ClientIdentity { cert_pem, key_pem }))
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(with(&cert, &key), None);
        let no_cert = with("", &key).expect("refused");
        assert!(
            no_cert.contains("tls-client-cert holds no PEM certificate"),
            "{no_cert}"
        );
        let no_key = with(&cert, &cert).expect("refused");
        assert!(
            no_key.contains("tls-client-key holds no usable PEM private key"),
            "{no_key}"
        );
        let mismatch = with(&cert, &other.signing_key.serialize_pem()).expect("refused");
        assert!(mismatch.contains("is not the private key of"), "{mismatch}");
    }

    #[test]
    fn insecure_ignores_the_ca_file() {
        let tls = ClientTls::new(None, true).unwrap();
        assert!(tls.is_insecure());
        assert!(!ClientTls::default_roots().is_insecure());
    }

    /// Sending `https://` requests through [`crate::HttpClient`] to the demo target over TLS.
    mod https {
        use super::*;
        use crate::client::{AllowedOrigin, HttpClient, OutgoingRequest, RequestError};
        use stampede_target::TlsTarget;
        use std::time::Duration;

        async fn target() -> TlsTarget {
            stampede_target::spawn_tls("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap()
        }

        fn client(t: &TlsTarget, tls: ClientTls) -> HttpClient {
            let origin = AllowedOrigin {
                scheme: "https".into(),
                host: "127.0.0.1".into(),
                port: t.addr.port(),
            };
            HttpClient::new(vec![origin]).with_tls(tls)
        }

        /// A client that trusts `t`'s certificate, with at most `max` connections.
        fn capped(t: &TlsTarget, max: u64) -> HttpClient {
            let origin = AllowedOrigin {
                scheme: "https".into(),
                host: "127.0.0.1".into(),
                port: t.addr.port(),
            };
            let tls = ClientTls::new(Some(&t.tls.cert_pem), false).unwrap();
            HttpClient::with_max_connections(vec![origin], Some(max)).with_tls(tls)
        }

        /// A client that trusts `t`'s certificate and offers HTTP/2 or only HTTP/1.1.
        fn speaking(t: &TlsTarget, http2: bool) -> HttpClient {
            let tls = ClientTls::new(Some(&t.tls.cert_pem), false).unwrap();
            client(t, tls.with_http2(http2))
        }

        /// Whether every request `t` saw came over the protocol asked for.
        fn assert_protocol(t: &TlsTarget, http2: bool) {
            let (all, h2) = (t.state.requests_total(), t.state.http2_requests_total());
            assert_eq!(h2, if http2 { all } else { 0 }, "{h2} of {all} over HTTP/2");
        }

        fn request(
            t: &TlsTarget,
            method: &str,
            path: &str,
            body: Option<Vec<u8>>,
        ) -> OutgoingRequest {
            OutgoingRequest {
                method: method.into(),
                url: format!("https://127.0.0.1:{}{path}", t.addr.port()),
                headers: vec![("content-type".into(), "application/json".into())],
                body,
                timeout: Duration::from_secs(10),
                discard_body: false,
            }
        }

        /// One handshake for many requests: the first response carries the connect and handshake
        /// times, the others reuse its connection.
        #[tokio::test]
        async fn requests_reuse_one_verified_tls_connection() {
            for http2 in [false, true] {
                reuse_one_connection(http2).await;
            }
        }

        async fn reuse_one_connection(http2: bool) {
            let t = target().await;
            let c = speaking(&t, http2);
            for i in 0..5 {
                let resp = c.send(&request(&t, "GET", "/", None)).await.unwrap();
                assert_eq!((resp.status, &resp.body[..]), (200, &b"ok\n"[..]));
                let tm = resp.timings;
                if i == 0 {
                    let tls = tm.tls_handshaking.expect("https");
                    assert!(tm.connecting > Duration::ZERO && tls > Duration::ZERO);
                    // The handshake is not counted as waiting for the response too.
                    assert!(tm.duration >= tm.connecting + tls + tm.waiting);
                } else {
                    assert_eq!(
                        (tm.connecting, tm.tls_handshaking),
                        (Duration::ZERO, Some(Duration::ZERO))
                    );
                }
            }
            assert_eq!(t.state.requests_total(), 5);
            assert_eq!(t.state.connections_total(), 1);
            assert_protocol(&t, http2);
            t.task.abort();
        }

        /// A body of several MiB goes through rustls's writer while the response is read (over
        /// HTTP/2, as the server's flow control allows).
        #[tokio::test]
        async fn a_large_upload_goes_out_whole() {
            for http2 in [false, true] {
                large_upload(http2).await;
            }
        }

        async fn large_upload(http2: bool) {
            let t = target().await;
            let c = speaking(&t, http2);
            let name = "x".repeat(1_500_000);
            let body = format!(r#"{{"username": "{name}", "password": "secret"}}"#).into_bytes();
            let len = body.len() as u64;
            let resp = c
                .send(&request(&t, "POST", "/login", Some(body)))
                .await
                .unwrap();
            assert_eq!(
                resp.status,
                200,
                "{:?}",
                String::from_utf8_lossy(&resp.body)
            );
            assert!(resp.bytes_sent > len, "{} of {len}", resp.bytes_sent);
            // The connection stays usable.
            let resp = c.send(&request(&t, "GET", "/", None)).await.unwrap();
            assert_eq!(resp.status, 200);
            assert_eq!(t.state.connections_total(), 1);
            assert_protocol(&t, http2);
            t.task.abort();
        }

        /// A server that answers before it has read the whole upload (axum's 2 MB limit on a JSON
        /// body: 413) is heard over TLS too, and the rest of the upload is not sent.
        #[tokio::test]
        async fn an_early_answer_to_an_upload_ends_it() {
            for http2 in [false, true] {
                early_answer(http2).await;
            }
        }

        async fn early_answer(http2: bool) {
            let t = target().await;
            let c = speaking(&t, http2);
            let body = vec![b' '; 16 << 20];
            let resp = c
                .send(&request(&t, "POST", "/login", Some(body)))
                .await
                .unwrap();
            assert_eq!(resp.status, 413);
            assert!(resp.bytes_sent < 16 << 20, "{}", resp.bytes_sent);
            let resp = c.send(&request(&t, "GET", "/", None)).await.unwrap();
            assert_eq!(resp.status, 200);
            assert_protocol(&t, http2);
            t.task.abort();
        }

        /// Over HTTP/2, requests at the same time share one connection, each a stream; every
        /// response is whole, and the bytes counted add up to more than the bodies.
        #[tokio::test]
        async fn http2_carries_requests_at_the_same_time_on_one_connection() {
            let t = target().await;
            let c = speaking(&t, true);
            let get = |path: &str| request(&t, "GET", path, None);
            // The first request opens the connection; the others find it.
            assert_eq!(c.send(&get("/")).await.unwrap().status, 200);
            let requests: Vec<_> = (0..20).map(|_| get("/delay/50")).collect();
            let began = std::time::Instant::now();
            let responses =
                futures_util::future::join_all(requests.iter().map(|r| c.send(r))).await;
            // One after another they would take a second.
            assert!(
                began.elapsed() < Duration::from_millis(900),
                "{:?}",
                began.elapsed()
            );
            let (mut sent, mut received) = (0, 0);
            for resp in responses {
                let resp = resp.unwrap();
                assert_eq!((resp.status, &resp.body[..]), (200, &b"ok\n"[..]));
                assert_eq!(resp.timings.connecting, Duration::ZERO);
                assert!(resp.timings.duration >= Duration::from_millis(50));
                // The connection's bytes go to the requests as they end: exact in total, not
                // per request while streams overlap.
                sent += resp.bytes_sent;
                received += resp.bytes_received;
            }
            // At least a frame header per request and way, and the three bytes of each body.
            assert!(
                sent > 20 * 9 && received > 20 * (9 + 3),
                "{sent} {received}"
            );
            assert_eq!(t.state.connections_total(), 1);
            assert_protocol(&t, true);
            t.task.abort();
        }

        /// Under `max-connections`, requests beyond the server's streams per connection wait on
        /// the connections there are rather than open more.
        #[tokio::test]
        async fn http2_keeps_to_max_connections() {
            let t = target().await;
            let c = capped(&t, 1);
            let requests: Vec<_> = (0..30)
                .map(|_| request(&t, "GET", "/delay/20", None))
                .collect();
            for resp in futures_util::future::join_all(requests.iter().map(|r| c.send(r))).await {
                assert_eq!(resp.unwrap().status, 200);
            }
            assert_eq!(t.state.connections_total(), 1);
            assert_protocol(&t, true);
            t.task.abort();
        }

        /// Under `max-connections = 1`, an idle HTTP/2 connection to one origin gives its permit
        /// up to a request for another origin (it would otherwise hold it until the server closed
        /// it, and that request would wait for ever).
        #[tokio::test]
        async fn http2_gives_its_permit_to_another_origin() {
            let (a, b) = (target().await, target().await);
            let origins = [&a, &b].map(|t| AllowedOrigin {
                scheme: "https".into(),
                host: "127.0.0.1".into(),
                port: t.addr.port(),
            });
            let mut roots = a.tls.cert_pem.clone();
            roots.push_str(&b.tls.cert_pem);
            let tls = ClientTls::new(Some(&roots), false).unwrap();
            let c = HttpClient::with_max_connections(origins.to_vec(), Some(1)).with_tls(tls);
            for t in [&a, &b, &a] {
                let req = request(t, "GET", "/", None);
                let resp = tokio::time::timeout(Duration::from_secs(10), c.send(&req))
                    .await
                    .expect("a request waited for the other origin's permit")
                    .unwrap();
                assert_eq!(resp.status, 200);
            }
            assert_eq!(a.state.connections_total(), 2);
            assert_eq!(b.state.connections_total(), 1);
            assert_protocol(&a, true);
            assert_protocol(&b, true);
            a.task.abort();
            b.task.abort();
        }

        /// More requests at once than the server allows streams on one connection (the demo
        /// target allows 200), under `max-connections = 1`: the excess waits for a stream, and
        /// the wait is not part of the requests' timings.
        #[tokio::test]
        async fn http2_requests_beyond_the_stream_limit_wait_for_a_stream() {
            let t = target().await;
            let c = capped(&t, 1);
            let requests: Vec<_> = (0..500)
                .map(|_| request(&t, "GET", "/delay/100", None))
                .collect();
            for resp in futures_util::future::join_all(requests.iter().map(|r| c.send(r))).await {
                let resp = resp.unwrap();
                assert_eq!(resp.status, 200);
                // A 100 ms answer, whichever wave of streams it was in (three waves in all).
                assert!(
                    resp.timings.duration < Duration::from_millis(250),
                    "{:?}",
                    resp.timings
                );
            }
            assert_eq!(t.state.connections_total(), 1);
            assert_protocol(&t, true);
            t.task.abort();
        }

        /// A body longer than the client's limit fails its request (`BodyTooLong`, from the
        /// `content-length`) and resets only its stream: the connection carries on. A discarded
        /// body is read and counted, not kept. A request that times out resets its stream too.
        #[tokio::test]
        async fn http2_limits_end_a_stream_not_the_connection() {
            let t = target().await;
            let c = speaking(&t, true).with_body_limit(1000);
            let err = c
                .send(&request(&t, "GET", "/bytes/5000", None))
                .await
                .unwrap_err();
            assert_eq!(
                err,
                RequestError::BodyTooLong {
                    limit: 1000,
                    status: 200
                }
            );
            let mut discard = request(&t, "GET", "/bytes/100000", None);
            discard.discard_body = true;
            let resp = c.send(&discard).await.unwrap();
            assert!(resp.body.is_empty());
            assert!(resp.bytes_received > 100_000, "{}", resp.bytes_received);
            let mut slow = request(&t, "GET", "/delay/5000", None);
            slow.timeout = Duration::from_millis(100);
            assert_eq!(c.send(&slow).await.unwrap_err(), RequestError::Timeout);
            let resp = c.send(&request(&t, "GET", "/", None)).await.unwrap();
            assert_eq!(resp.status, 200);
            assert_eq!(t.state.connections_total(), 1);
            assert_protocol(&t, true);
            t.task.abort();
        }

        /// A large download arrives whole over HTTP/2 (flow-control windows released as it is
        /// read), and `HEAD` gets the headers without a body.
        #[tokio::test]
        async fn http2_downloads_and_head() {
            let t = target().await;
            let c = speaking(&t, true);
            let resp = c
                .send(&request(&t, "GET", "/bytes/3000000", None))
                .await
                .unwrap();
            assert_eq!(resp.body.len(), 3_000_000);
            assert!(resp.body.iter().all(|&b| b == b'x'));
            assert!(resp.bytes_received > 3_000_000);
            let resp = c
                .send(&request(&t, "HEAD", "/bytes/3000000", None))
                .await
                .unwrap();
            assert_eq!(resp.status, 200);
            assert!(resp.body.is_empty());
            assert_eq!(resp.headers.get("content-length"), Some(&b"3000000"[..]));
            assert_eq!(t.state.connections_total(), 1);
            t.task.abort();
        }

        /// Without the target's certificate among the trusted ones, the handshake fails with a
        /// message that says which options to set; nothing reaches the server's routes.
        #[tokio::test]
        async fn an_untrusted_certificate_fails_and_says_what_to_do() {
            let t = target().await;
            let c = client(&t, ClientTls::default_roots());
            let err = c.send(&request(&t, "GET", "/", None)).await.unwrap_err();
            let RequestError::Tls {
                message,
                certificate,
            } = &err
            else {
                panic!("a TLS error: {err:?}");
            };
            assert!(*certificate);
            assert_eq!(err.code(), "tls");
            assert!(err.was_sent());
            let port = t.addr.port();
            for part in [
                &format!("127.0.0.1:{port}"),
                "UnknownIssuer",
                "options.tls-ca-file",
                "insecure-skip-tls-verify",
            ] {
                assert!(message.contains(part), "{part} in {message}");
            }
            assert_eq!(t.state.requests_total(), 0);
            t.task.abort();
        }

        #[tokio::test]
        async fn insecure_skip_verify_trusts_any_certificate() {
            let t = target().await;
            let c = client(&t, ClientTls::new(None, true).unwrap());
            let resp = c.send(&request(&t, "GET", "/json", None)).await.unwrap();
            assert_eq!(resp.status, 200);
            assert!(resp.body.len() > 500);
            t.task.abort();
        }

        /// Plain HTTP to a TLS port gets an answer that is not HTTP (or none), never a response.
        #[tokio::test]
        async fn plain_http_to_a_tls_port_fails() {
            let t = target().await;
            let origin = AllowedOrigin {
                scheme: "http".into(),
                host: "127.0.0.1".into(),
                port: t.addr.port(),
            };
            let c = HttpClient::new(vec![origin]);
            let mut req = request(&t, "GET", "/", None);
            req.url = req.url.replacen("https", "http", 1);
            req.timeout = Duration::from_secs(2);
            let err = c.send(&req).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    RequestError::Protocol(_) | RequestError::Connect(_) | RequestError::Timeout
                ),
                "{err:?}"
            );
            t.task.abort();
        }
    }

    /// Against a small TLS server whose answers and way of closing each test sets.
    mod scripted {
        use super::*;
        use crate::client::{AllowedOrigin, HttpClient, OutgoingRequest, RequestError};
        use crate::conn::Conn;
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::time::Duration;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        /// How the server ends a connection after its answers.
        #[derive(Clone, Copy)]
        enum Close {
            /// A TLS close_notify, then FIN.
            Notify,
            /// FIN without close_notify (as many servers do).
            Abrupt,
        }

        /// A certificate for `names`, valid until `not_after` (a year and month) if given.
        fn certificate(
            names: &[&str],
            not_after: Option<(i32, u8)>,
        ) -> rcgen::CertifiedKey<rcgen::KeyPair> {
            let mut params = rcgen::CertificateParams::new(
                names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            )
            .unwrap();
            if let Some((year, month)) = not_after {
                params.not_before = rcgen::date_time_ymd(year - 1, month, 1);
                params.not_after = rcgen::date_time_ymd(year, month, 1);
            }
            let signing_key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&signing_key).unwrap();
            rcgen::CertifiedKey { cert, signing_key }
        }

        /// A server on 127.0.0.1 presenting `cert`: on each connection it reads a request head
        /// and writes an answer, for each of `answers`, then closes as `close` says. Its port, and
        /// the connections it accepted.
        async fn server(
            cert: &rcgen::CertifiedKey<rcgen::KeyPair>,
            answers: &'static [&'static [u8]],
            close: Close,
        ) -> (u16, Arc<AtomicU64>) {
            let versions = rustls::DEFAULT_VERSIONS;
            serve(server_config(cert, None, versions), answers, close).await
        }

        /// A configuration presenting `cert` with `versions`; with `client_ca`, clients must
        /// present a certificate it signed.
        fn server_config(
            cert: &rcgen::CertifiedKey<rcgen::KeyPair>,
            client_ca: Option<&rcgen::CertifiedKey<rcgen::KeyPair>>,
            versions: &[&'static rustls::SupportedProtocolVersion],
        ) -> rustls::ServerConfig {
            let provider = Arc::new(ring_provider());
            let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(versions)
                .unwrap();
            let builder = match client_ca {
                None => builder.with_no_client_auth(),
                Some(ca) => {
                    let mut roots = RootCertStore::empty();
                    roots.add(ca.cert.der().clone()).unwrap();
                    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider,
                    )
                    .build()
                    .unwrap();
                    builder.with_client_cert_verifier(verifier)
                }
            };
            let key =
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
            builder
                .with_single_cert(vec![cert.cert.der().clone()], key)
                .unwrap()
        }

        /// [`server`] with `config`.
        async fn serve(
            config: rustls::ServerConfig,
            answers: &'static [&'static [u8]],
            close: Close,
        ) -> (u16, Arc<AtomicU64>) {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let accepted = Arc::new(AtomicU64::new(0));
            let counted = accepted.clone();
            tokio::spawn(async move {
                while let Ok((tcp, _)) = l.accept().await {
                    counted.fetch_add(1, Ordering::Relaxed);
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        for answer in answers {
                            let mut head = Vec::new();
                            while !head.ends_with(b"\r\n\r\n") {
                                let mut byte = [0u8; 1];
                                if tls.read(&mut byte).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                head.push(byte[0]);
                            }
                            if tls.write_all(answer).await.is_err() || tls.flush().await.is_err() {
                                return;
                            }
                        }
                        match close {
                            Close::Notify => {
                                let _ = tls.shutdown().await;
                            }
                            Close::Abrupt => {
                                let (mut tcp, _) = tls.into_inner();
                                let _ = tcp.shutdown().await;
                            }
                        }
                    });
                }
            });
            (port, accepted)
        }

        fn client(port: u16, cert: &rcgen::CertifiedKey<rcgen::KeyPair>) -> HttpClient {
            let origin = AllowedOrigin {
                scheme: "https".into(),
                host: "127.0.0.1".into(),
                port,
            };
            HttpClient::new(vec![origin])
                .with_tls(ClientTls::new(Some(&cert.cert.pem()), false).unwrap())
        }

        fn get(port: u16) -> OutgoingRequest {
            OutgoingRequest {
                method: "GET".into(),
                url: format!("https://127.0.0.1:{port}/"),
                headers: vec![],
                body: None,
                timeout: Duration::from_secs(5),
                discard_body: false,
            }
        }

        const KEEP_ALIVE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

        /// A server that closes a keep-alive connection after one answer, with or without
        /// close_notify: the next request finds out (at once, or by a retry for a GET) and goes
        /// on a new connection; none fails.
        #[tokio::test]
        async fn a_connection_the_server_closed_is_replaced() {
            let cert = certificate(&["127.0.0.1"], None);
            for close in [Close::Notify, Close::Abrupt] {
                let (port, accepted) = server(&cert, &[KEEP_ALIVE], close).await;
                let c = client(port, &cert);
                for i in 0..4 {
                    let resp = c.send(&get(port)).await.unwrap();
                    assert_eq!((resp.status, &resp.body[..]), (200, &b"ok"[..]));
                    if i % 2 == 1 {
                        // Sometimes the close has arrived before the next request, sometimes not.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                assert_eq!(accepted.load(Ordering::Relaxed), 4);
            }
        }

        /// An HTTP/2 server on 127.0.0.1 presenting `cert`: on each connection it answers the first
        /// request `200 ok`, then `then` the second one, and says `GOAWAY` after it; its port, and
        /// the connections it accepted.
        async fn h2_server(
            cert: &rcgen::CertifiedKey<rcgen::KeyPair>,
            then: Option<h2::Reason>,
        ) -> (u16, Arc<AtomicU64>) {
            let mut config = server_config(cert, None, rustls::DEFAULT_VERSIONS);
            config.alpn_protocols = vec![b"h2".to_vec()];
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let accepted = Arc::new(AtomicU64::new(0));
            let counted = accepted.clone();
            tokio::spawn(async move {
                while let Ok((tcp, _)) = l.accept().await {
                    counted.fetch_add(1, Ordering::Relaxed);
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let Ok(mut conn) = h2::server::handshake(tls).await else {
                            return;
                        };
                        let mut served = 0;
                        while let Some(Ok((_, mut respond))) = conn.accept().await {
                            served += 1;
                            match (served, then) {
                                (1, _) => {
                                    let head = http::Response::new(());
                                    let mut body = respond.send_response(head, false).unwrap();
                                    body.send_data(bytes::Bytes::from_static(b"ok"), true)
                                        .unwrap();
                                }
                                (_, Some(reason)) => respond.send_reset(reason),
                                _ => {}
                            }
                            if served == 2 || then.is_none() {
                                conn.graceful_shutdown();
                            }
                        }
                    });
                }
            });
            (port, accepted)
        }

        /// A server that says `GOAWAY` after each answer: the next request goes on a new
        /// connection, whether the `GOAWAY` arrived before it or not; none fails.
        #[tokio::test]
        async fn an_http2_connection_the_server_ends_is_replaced() {
            let cert = certificate(&["127.0.0.1"], None);
            let (port, accepted) = h2_server(&cert, None).await;
            let c = client(port, &cert);
            for i in 0..4 {
                let resp = c.send(&get(port)).await.unwrap();
                assert_eq!((resp.status, &resp.body[..]), (200, &b"ok"[..]));
                if i % 2 == 1 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            assert_eq!(accepted.load(Ordering::Relaxed), 4);
        }

        /// A stream the server refuses (`REFUSED_STREAM`: not processed) goes again on another
        /// connection; one it resets otherwise fails its request with a `protocol` error that
        /// names the reason, and nothing is sent again.
        #[tokio::test]
        async fn a_refused_http2_stream_goes_again_and_a_reset_one_fails() {
            let cert = certificate(&["127.0.0.1"], None);
            let (port, accepted) = h2_server(&cert, Some(h2::Reason::REFUSED_STREAM)).await;
            let c = client(port, &cert);
            // Whatever the method: a refused stream was not processed.
            for method in ["GET", "POST"] {
                let mut req = get(port);
                req.method = method.into();
                let resp = c.send(&req).await.unwrap();
                assert_eq!((resp.status, &resp.body[..]), (200, &b"ok"[..]));
            }
            assert_eq!(accepted.load(Ordering::Relaxed), 2);

            let (port, accepted) = h2_server(&cert, Some(h2::Reason::INTERNAL_ERROR)).await;
            let c = client(port, &cert);
            assert_eq!(c.send(&get(port)).await.unwrap().status, 200);
            let err = c.send(&get(port)).await.unwrap_err();
            let RequestError::Protocol(message) = &err else {
                panic!("a protocol error: {err:?}");
            };
            assert!(message.contains("INTERNAL_ERROR"), "{message}");
            assert_eq!(accepted.load(Ordering::Relaxed), 1);
        }

        /// A server that answers an upload's head at once and reads the body after: the upload
        /// goes on while the response's body is awaited, and both end whole.
        #[tokio::test]
        async fn an_http2_upload_goes_on_after_the_answer_began() {
            let cert = certificate(&["127.0.0.1"], None);
            let mut config = server_config(&cert, None, rustls::DEFAULT_VERSIONS);
            config.alpn_protocols = vec![b"h2".to_vec()];
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(async move {
                let (tcp, _) = l.accept().await.unwrap();
                let tls = acceptor.accept(tcp).await.unwrap();
                let mut conn = h2::server::handshake(tls).await.unwrap();
                let (request, mut respond) = conn.accept().await.unwrap().unwrap();
                tokio::spawn(async move {
                    let mut answer = respond
                        .send_response(http::Response::new(()), false)
                        .unwrap();
                    let mut body = request.into_body();
                    let mut length = 0;
                    while let Some(chunk) = body.data().await {
                        let chunk = chunk.unwrap();
                        length += chunk.len();
                        let _ = body.flow_control().release_capacity(chunk.len());
                    }
                    answer
                        .send_data(bytes::Bytes::from(length.to_string()), true)
                        .unwrap();
                });
                while conn.accept().await.is_some() {}
            });
            let c = client(port, &cert);
            let mut req = get(port);
            req.method = "POST".into();
            req.body = Some(vec![b'x'; 3 << 20]);
            let resp = c.send(&req).await.unwrap();
            assert_eq!(resp.status, 200);
            assert_eq!(&resp.body[..], (3 << 20).to_string().as_bytes());
            assert!(resp.bytes_sent > 3 << 20, "{}", resp.bytes_sent);
        }

        /// A body that runs until the close ends at a close without close_notify too; and a
        /// `Connection: close` answer is not reused.
        #[tokio::test]
        async fn a_body_read_to_the_close_ends_with_or_without_close_notify() {
            const UNTIL_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close";
            let cert = certificate(&["127.0.0.1"], None);
            for close in [Close::Notify, Close::Abrupt] {
                let (port, accepted) = server(&cert, &[UNTIL_CLOSE], close).await;
                let c = client(port, &cert);
                for _ in 0..2 {
                    let resp = c.send(&get(port)).await.unwrap();
                    assert_eq!(&resp.body[..], b"until close");
                }
                assert_eq!(accepted.load(Ordering::Relaxed), 2);
            }
        }

        /// The second connection to a server resumes the first one's TLS session.
        #[tokio::test]
        async fn a_second_connection_resumes_the_session() {
            let cert = certificate(&["127.0.0.1"], None);
            let (port, _) = server(&cert, &[KEEP_ALIVE, KEEP_ALIVE], Close::Notify).await;
            let tls = ClientTls::new(Some(&cert.cert.pem()), false).unwrap();
            let req = crate::h1::encode_request("GET", "/", "127.0.0.1", &[], b"").unwrap();
            let (mut first, _) = Conn::open("127.0.0.1", port, Some(&tls), None)
                .await
                .unwrap();
            assert!(!first.resumed());
            // TLS 1.3 tickets come after the handshake: read a response to take them in.
            assert!(first.exchange(&req, u64::MAX, false).await.is_ok());
            let (second, opened) = Conn::open("127.0.0.1", port, Some(&tls), None)
                .await
                .unwrap();
            assert!(second.resumed());
            assert!(opened.tls_handshaking > Duration::ZERO);
        }

        /// Certificate problems other than an unknown issuer say what they are, without the time
        /// of day (so each is logged once per VU), and do not point at tls-ca-file.
        #[tokio::test]
        async fn certificate_errors_say_what_is_wrong() {
            let cases = [
                (
                    certificate(&["shop.test"], None),
                    "is not valid for `127.0.0.1` (it names shop.test)",
                ),
                (
                    certificate(&["127.0.0.1"], Some((2020, 1))),
                    "expired at 2020-01-01T00:00:00Z",
                ),
            ];
            for (cert, says) in cases {
                let (port, _) = server(&cert, &[KEEP_ALIVE], Close::Notify).await;
                let c = client(port, &cert);
                let err = c.send(&get(port)).await.unwrap_err();
                let RequestError::Tls {
                    message,
                    certificate,
                } = &err
                else {
                    panic!("a TLS error: {err:?}");
                };
                assert!(*certificate);
                assert!(message.contains(says), "{says} in {message}");
                assert!(!message.contains("tls-ca-file"), "{message}");
                assert!(message.contains("insecure-skip-tls-verify"), "{message}");
            }
        }

        /// Mutual TLS, over TLS 1.2 (the server refuses during the handshake) and TLS 1.3 (after
        /// it, at the first read): the right client certificate is let in; none, or one the
        /// server does not trust, fails with a TLS error that says so.
        #[tokio::test]
        async fn a_client_certificate_is_presented_and_refusals_say_why() {
            let server_cert = certificate(&["127.0.0.1"], None);
            let mine = certificate(&["client"], None);
            let stranger = certificate(&["stranger"], None);
            let identity = |c: &rcgen::CertifiedKey<rcgen::KeyPair>| {
                (c.cert.pem(), c.signing_key.serialize_pem())
            };
            for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
                let config = server_config(&server_cert, Some(&mine), &[version]);
                let (port, _) = serve(config, &[KEEP_ALIVE], Close::Notify).await;
                let ca = server_cert.cert.pem();
                let client = |id: Option<&(String, String)>| {
                    let origin = AllowedOrigin {
                        scheme: "https".into(),
                        host: "127.0.0.1".into(),
                        port,
                    };
                    let identity =
                        id.map(|(cert_pem, key_pem)| ClientIdentity { cert_pem, key_pem });
                    HttpClient::new(vec![origin])
                        .with_tls(ClientTls::with_identity(Some(&ca), false, identity).unwrap())
                };
                let resp = client(Some(&identity(&mine)))
                    .send(&get(port))
                    .await
                    .unwrap();
                assert_eq!(resp.status, 200, "{version:?}");
                for (id, says) in [
                    (None, "asks for a client certificate"),
                    (Some(identity(&stranger)), "refused the client certificate"),
                ] {
                    let err = client(id.as_ref()).send(&get(port)).await.unwrap_err();
                    let RequestError::Tls {
                        message,
                        certificate,
                    } = &err
                    else {
                        panic!("{version:?}: a TLS error: {err:?}");
                    };
                    assert!(!certificate, "{version:?}: {message}");
                    assert!(message.contains(says), "{version:?}: {says} in {message}");
                    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
                }
            }
        }

        /// A server that hangs up during the handshake: a `connect` error, not a TLS one.
        #[tokio::test]
        async fn a_connection_closed_during_the_handshake_is_a_connect_error() {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(async move {
                while let Ok((tcp, _)) = l.accept().await {
                    drop(tcp);
                }
            });
            let cert = certificate(&["127.0.0.1"], None);
            let err = client(port, &cert).send(&get(port)).await.unwrap_err();
            assert!(
                matches!(&err, RequestError::Connect(m) if m.contains("during the TLS handshake")),
                "{err:?}"
            );
        }
    }
}
