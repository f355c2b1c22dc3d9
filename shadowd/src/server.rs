//! `shadowd serve`: wires the pieces together and runs until SIGTERM/SIGINT,
//! then ends every shadow (killing its backend) before exiting.

use crate::audit::LogFile;
use crate::cli::ServeArgs;
use crate::daemon::{self, Config, Msg};
use crate::registry::RegistryFile;
use anyhow::Context;
use std::os::unix::fs::PermissionsExt;

pub async fn serve(registry: RegistryFile, args: ServeArgs) -> anyhow::Result<()> {
    // Refuse to start on a broken registry: better now than on every request.
    registry.load().context("checking the registry")?;
    std::fs::create_dir_all(&args.run_dir)
        .with_context(|| format!("creating run dir {} (pass --run-dir)", args.run_dir.display()))?;
    std::fs::set_permissions(&args.run_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", args.run_dir.display()))?;
    let log = LogFile::open(&args.common.log_file).context("opening the log file (pass --log-file)")?;
    let fqdn = args.common.fqdn.clone().unwrap_or_else(daemon::fqdn::host_fqdn);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the control API on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let config = Config {
        listen: addr,
        registry,
        ssl_dir: args.common.ssl_dir,
        log_file: args.common.log_file,
        ports: args.common.port_range,
        backend: args.backend,
        fqdn,
        connect_grace: args.connect_grace,
        run_dir: args.run_dir,
        allowed_origins: args.allowed_origins,
        novnc_dir: args.novnc_dir,
    };
    log.write_json(&serde_json::json!({
        "time": crate::audit::log::now_rfc3339(),
        "level": "info",
        "message": format!("shadowd listening on http://{addr}"),
        "backend": format!("{:?}", config.backend).to_lowercase(),
        "ports": config.ports.to_string(),
        "fqdn": config.fqdn,
    }));
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let handle = daemon::start(config, log, closing_rx);
    // The first line on stdout says where the API is (useful with port 0).
    println!("shadowd listening on http://{addr}");
    tracing::info!(%addr, fqdn = %handle.config.fqdn, ports = %handle.config.ports, "serving");
    let app = crate::api::router(handle.clone());
    let signalled = async move {
        shutdown_signal().await;
        let _ = closing_tx.send(true);
    };
    axum::serve(listener, app).with_graceful_shutdown(signalled).await?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    if handle.send(Msg::Shutdown { done: done_tx }).is_ok() {
        let _ = done_rx.await;
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}
