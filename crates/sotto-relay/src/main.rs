//! The `sotto-relay` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sotto_loadgen::LoadgenOptions;
use sotto_proto::service::ServiceConfig;
use sotto_relay::RelayError;
use sotto_relay::authority::AuthorityConfig;
use sotto_relay::dev::{self, DevOptions};
use sotto_relay::identity::KeyPolicy;
use sotto_relay::limits::Limits;
use sotto_relay::run::RunConfig;
use sotto_relay::run::ServiceSection;

#[derive(Parser, Debug)]
#[command(
    name = "sotto-relay",
    version,
    about = "Sotto relay: onion forwarding and forgetful queues"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a whole local network on loopback (N relays) and serve the PWA.
    Dev(DevArgs),
    /// Run one relay from a config file (environment overrides: SOTTO_LISTEN, SOTTO_PUBLIC_URL,
    /// SOTTO_DATA_DIR, SOTTO_HTTP, SOTTO_DIRECTORY_FILE, SOTTO_LOG).
    Run(RunArgs),
    /// Run directory authorities: collect relays' signed descriptors, sign and serve
    /// /directory.json (config: key_files, listen, relays, poll_secs, lifetime_secs).
    Authority(RunArgs),
    /// Drive a running network on loopback with real clients and report throughput and
    /// end-to-end latency (last line: LOADGEN_JSON {...}).
    Loadgen(LoadgenArgs),
}

#[derive(clap::Args, Debug)]
struct LoadgenArgs {
    /// The network's directory, e.g. http://127.0.0.1:8080/directory.json (loopback only).
    #[arg(long, value_name = "URL")]
    directory: String,
    /// Offered load in messages per second (at most 5000).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of measured load (at most 120).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Conversations (client pairs), set up through invitations.
    #[arg(long, default_value_t = 10)]
    pairs: usize,
    /// Characters per text message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Seconds to wait for the last messages after the load stops.
    #[arg(long, default_value_t = 10.0)]
    drain: f64,
    /// Proof-of-work bits the relays ask for on queue creation.
    #[arg(long, default_value_t = 16)]
    pow_bits: u8,
    /// Only measure the floor: WebSocket ping->pong round trips to every relay.
    #[arg(long, conflicts_with = "create_queues")]
    echo: bool,
    /// Only create (and subscribe) this many queues, for memory measurements.
    #[arg(long, value_name = "N")]
    create_queues: Option<usize>,
    /// With --create-queues: report this process's VmRSS before and after.
    #[arg(long, value_name = "PID")]
    rss_pid: Option<u32>,
    /// Seed the load generator's RNG (reproducible keys and routes).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The relay's TOML config.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(clap::Args, Debug)]
struct DevArgs {
    /// Address of the HTTP server (PWA, /directory.json, /healthz, /metrics).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    http: SocketAddr,
    /// Number of relays.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=64))]
    relays: u16,
    /// Port of the first relay's WebSocket; relay i listens on BASE+i-1 (0: any free ports).
    #[arg(long, default_value_t = 9101, value_name = "PORT")]
    ws_base_port: u16,
    /// Durable state: one subfolder per relay with its key file and store
    /// [default: $XDG_DATA_HOME/sotto/dev or ~/.local/share/sotto/dev].
    #[arg(long, value_name = "DIR", conflicts_with = "ephemeral")]
    data_dir: Option<PathBuf>,
    /// Keep all state in a temporary directory, removed on exit.
    #[arg(long)]
    ephemeral: bool,
    /// Directory holding index.html, web/ and pkg/.
    #[arg(long, default_value = ".", value_name = "DIR")]
    web_root: PathBuf,
    /// Seconds of a Sphinx key epoch: each relay rotates its key this often.
    #[arg(long, default_value_t = KeyPolicy::default().epoch_secs, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    key_epoch_secs: u64,
    /// Seconds the previous epoch's key stays valid after a rotation (at most the epoch, at
    /// least 10: the time clients take to read the directory again after a rotation).
    #[arg(long, default_value_t = KeyPolicy::default().overlap_secs, value_name = "SECS")]
    key_overlap_secs: u64,
    /// Proof-of-work bits the queue service asks of a queue creation (published in
    /// /directory.json).
    #[arg(long, default_value_t = ServiceConfig::default().pow_bits, value_name = "BITS",
          value_parser = clap::value_parser!(u8).range(0..=32))]
    pow_bits: u8,
    /// A TOML file of queue-service settings: the keys of relay.toml's `[service]` section
    /// (e.g. `max_queues = 100`, `max_surbs = 500`). Its keys win over `--pow-bits`.
    #[arg(long, value_name = "FILE")]
    service_config: Option<PathBuf>,
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SOTTO_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> Result<(), RelayError> {
    match cli.command {
        Command::Run(a) => {
            let config = RunConfig::load(&a.config, |k| std::env::var(k).ok())?;
            init_logging(config.log.as_deref().unwrap_or("info"));
            sotto_relay::run::run(config).await
        }
        Command::Authority(a) => {
            init_logging("info");
            let config = AuthorityConfig::load(&a.config)?;
            sotto_relay::authority::run(config).await
        }
        Command::Loadgen(a) => {
            init_logging("warn");
            sotto_loadgen::run(LoadgenOptions {
                directory: a.directory,
                rate: a.rate,
                duration: a.duration,
                warmup: a.warmup,
                pairs: a.pairs,
                size: a.size,
                drain: a.drain,
                pow_bits: a.pow_bits,
                echo: a.echo,
                create_queues: a.create_queues,
                rss_pid: a.rss_pid,
                seed: a.seed,
            })
            .await
            // Printed as before the load generator had its own crate: `config: …`.
            .map_err(|e| RelayError::Config(e.to_string()))
        }
        Command::Dev(a) => {
            init_logging("warn");
            dev::run(DevOptions {
                http: a.http,
                relays: a.relays,
                ws_base_port: a.ws_base_port,
                data_dir: a.data_dir,
                ephemeral: a.ephemeral,
                web_root: a.web_root,
                limits: Limits::default(),
                service: {
                    let base = ServiceConfig {
                        pow_bits: a.pow_bits,
                        ..ServiceConfig::default()
                    };
                    match &a.service_config {
                        Some(path) => ServiceSection::load(path)?.apply(base),
                        None => base,
                    }
                },
                keys: KeyPolicy {
                    epoch_secs: a.key_epoch_secs,
                    overlap_secs: a.key_overlap_secs,
                },
            })
            .await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sotto-relay: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    tracing::debug!("block_on returned");
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    tracing::debug!("runtime down");
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sotto-relay: error: {e}");
            ExitCode::FAILURE
        }
    }
}
