//! `stampede target`: the built-in demo system under test.

use crate::exit::{Failure, bad_input};
use std::net::SocketAddr;

/// Arguments of `stampede target`.
#[derive(clap::Args)]
pub struct TargetArgs {
    /// Address to listen on; must be loopback (127.0.0.0/8 or [::1]).
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: SocketAddr,
}

pub async fn run(args: TargetArgs) -> Result<(), Failure> {
    eprintln!(
        "stampede target listening on http://{} (Ctrl-C to stop)",
        args.listen
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    stampede_target::serve(args.listen, shutdown)
        .await
        .map_err(bad_input)
}
