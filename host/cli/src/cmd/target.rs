//! `stampede target`: the built-in demo system under test.

use crate::exit::{Failure, bad_input};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `stampede target`.
#[derive(clap::Args)]
pub struct TargetArgs {
    /// Address to listen on; must be loopback (127.0.0.0/8 or [::1]).
    #[arg(long, default_value = "127.0.0.1:18080", value_parser = parse_listen)]
    listen: SocketAddr,
    /// Serve https:// with a self-signed certificate made at start (for localhost, 127.0.0.1, ::1
    /// and the --listen address).
    #[arg(long)]
    tls: bool,
    /// With --tls: write the certificate (PEM) to this file, for a plan's `options.tls-ca-file`.
    #[arg(long, value_name = "FILE", requires = "tls")]
    tls_cert_out: Option<PathBuf>,
    /// With --tls: require a client certificate signed by a certificate in this PEM file (mutual
    /// TLS); a client without one fails its handshake.
    #[arg(long, value_name = "FILE", requires = "tls")]
    tls_client_ca: Option<PathBuf>,
}

/// An IP address and port; a host name gets a hint, since none is looked up.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        "expected an IP address and a port, such as 127.0.0.1:18080 or [::1]:18080 (host names \
         such as localhost are not looked up)"
            .to_owned()
    })
}

pub async fn run(args: TargetArgs) -> Result<(), Failure> {
    // Ctrl-C, SIGTERM or SIGHUP: stop after the requests in flight.
    let mut signals = crate::signals::StopSignals::new();
    let shutdown = async move {
        signals.next().await;
    };
    if !args.tls {
        // Said once the socket is bound: a script that waits for this line may start the load.
        let listening = |addr| {
            crate::out::err_line(&format!(
                "stampede target listening on http://{addr} (Ctrl-C to stop)"
            ));
        };
        return stampede_target::serve_announced(args.listen, listening, shutdown)
            .await
            .map_err(bad_input);
    }
    let client_ca = match &args.tls_client_ca {
        None => None,
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading the client CA file {}", path.display()))
                .map_err(bad_input)?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(bad_input(anyhow::anyhow!(
                    "--tls-client-ca {} holds no PEM certificate",
                    path.display()
                )));
            }
            Some(pem)
        }
    };
    let listening = |addr: SocketAddr, tls: &stampede_target::SelfSigned| {
        let trust = match &args.tls_cert_out {
            Some(path) => {
                std::fs::write(path, &tls.cert_pem)
                    .with_context(|| format!("writing the certificate to {}", path.display()))?;
                format!(
                    "; its self-signed certificate is in {} (a plan trusts it with options.tls-ca-file)",
                    path.display()
                )
            }
            None => "; self-signed certificate (write it out with --tls-cert-out FILE)".to_owned(),
        };
        let mtls = if args.tls_client_ca.is_some() {
            "; clients must present a certificate"
        } else {
            ""
        };
        crate::out::err_line(&format!(
            "stampede target listening on https://{addr}{trust}{mtls} (Ctrl-C to stop)"
        ));
        Ok(())
    };
    stampede_target::serve_tls(args.listen, client_ca.as_deref(), listening, shutdown)
        .await
        .map_err(bad_input)
}
