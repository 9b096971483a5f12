//! `stampede target --tls`: the demo target over `https://`, with a self-signed certificate made
//! when it starts (for `localhost`, `127.0.0.1`, `::1` and the address it listens on). Its PEM can
//! be written to a file that a plan then trusts with `options.tls-ca-file`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::TargetState;

/// A client that has not finished its handshake within this long is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate for the loopback names and the server configuration that presents it.
#[derive(Clone)]
pub struct SelfSigned {
    /// The certificate, PEM-encoded: what a client trusts to verify this server.
    pub cert_pem: String,
    cert: CertificateDer<'static>,
    key: Arc<PrivatePkcs8KeyDer<'static>>,
    acceptor: TlsAcceptor,
}

impl SelfSigned {
    /// A new key pair and a self-signed certificate for `localhost`, `127.0.0.1`, `::1` and `ip`.
    pub fn generate(ip: IpAddr) -> anyhow::Result<SelfSigned> {
        let mut names = ["localhost", "127.0.0.1", "::1"]
            .map(str::to_owned)
            .to_vec();
        let ip = ip.to_string();
        if !names.contains(&ip) {
            names.push(ip);
        }
        let certified = rcgen::generate_simple_self_signed(names)
            .context("generating the demo target's self-signed certificate")?;
        let cert = certified.cert.der().clone();
        let key = Arc::new(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let acceptor = acceptor(&cert, &key, None)?;
        Ok(SelfSigned {
            cert_pem: certified.cert.pem(),
            cert,
            key,
            acceptor,
        })
    }

    /// Ask every client for a certificate signed by one of the certificates in `ca_pem` (mutual
    /// TLS), and refuse the handshake of a client without one.
    pub fn require_client_certificates(&mut self, ca_pem: &str) -> anyhow::Result<()> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots
                .add(cert.context("reading the client CA certificates")?)
                .context("adding a client CA certificate")?;
        }
        anyhow::ensure!(
            !roots.is_empty(),
            "the client CA file holds no PEM certificate"
        );
        self.acceptor = acceptor(&self.cert, &self.key, Some(roots))?;
        Ok(())
    }
}

/// A server configuration presenting `cert`, asking clients for a certificate signed by one of
/// `client_roots` when given.
fn acceptor(
    cert: &CertificateDer<'static>,
    key: &PrivatePkcs8KeyDer<'static>,
    client_roots: Option<RootCertStore>,
) -> anyhow::Result<TlsAcceptor> {
    // rustls deprecated its ring backend for lacking post-quantum key exchange; a self-signed
    // demo target on loopback has nothing to protect, and ring builds with a plain C compiler.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?;
    let builder = match client_roots {
        None => builder.with_no_client_auth(),
        Some(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .context("setting up client certificate verification")?,
        ),
    };
    let mut config = builder
        .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key.clone_key()))
        .context("setting up TLS with the self-signed certificate")?;
    // HTTP/2 for clients that offer it (browsers, k6, Stampede), HTTP/1.1 for the others.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TCP connections and hands over those whose TLS handshake completed. Handshakes run in
/// tasks of their own, so a slow or silent client does not hold up the others.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(listener: TcpListener, tls: &SelfSigned, state: Arc<TargetState>) -> Self {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (tx, ready) = mpsc::channel(1024);
        let acceptor = tls.acceptor.clone();
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, say: wait a little rather than spin.
                        tracing::debug!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                state.connections.fetch_add(1, Ordering::Relaxed);
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener {
            ready,
            local,
            accepting,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // Never: the accepting task holds a sender until this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
