//! The `ztunnel` binary: `proxy` (default) runs the node proxy, `version` prints build and
//! crypto information, `demo` runs two nodes on loopback and shows traffic crossing a real
//! HBONE tunnel, `dev-ca` writes a shareable root for the built-in CA.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ztunnel::config::{Config, ProcessEnv};

const USAGE: &str = "\
usage: ztunnel [COMMAND]

commands:
  proxy     run the node proxy (default); configured through environment variables
  version   print version and crypto provider details
  demo      start two ztunnel nodes on loopback and send traffic through an HBONE tunnel
  dev-ca    write a root certificate + key for the built-in CA:
              ztunnel dev-ca --cert root-cert.pem --key root-key.pem [--trust-domain cluster.local]
  redirect  install or remove the in-pod redirection rules in a network namespace:
              ztunnel redirect install|remove --netns <name-or-path> [--backend auto|nft|legacy] [--ipv4-only]
  help      show this message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("proxy");
    // Every command uses the crypto provider; a FIPS build without FIPS mode stops here.
    if !matches!(cmd, "help" | "-h" | "--help")
        && let Err(e) = ztunnel::tls::provider::startup_check()
    {
        eprintln!("ztunnel: error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cmd {
        "proxy" => run_proxy(),
        "version" => {
            print_version();
            Ok(())
        }
        #[cfg(feature = "testing")]
        "demo" => ztunnel::testbed::demo::run(&args[1..]),
        // Production builds carry no test bed (its CA signs anything): the demo is not in them.
        #[cfg(not(feature = "testing"))]
        "demo" => Err(anyhow::anyhow!("this build has no demo: run `cargo run --release --features testing -- demo`")),
        "dev-ca" => dev_ca(&args[1..]),
        "redirect" => redirect(&args[1..]),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(anyhow::anyhow!("unknown command {other:?}\n\n{USAGE}")),
    };
    // Log lines still in the writer's buffer.
    ztunnel::telemetry::writer::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ztunnel: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_proxy() -> anyhow::Result<()> {
    let cfg = Config::from_source(&ProcessEnv).context("invalid configuration")?;
    ztunnel::telemetry::init(&cfg.log_filter, cfg.log_format == ztunnel::config::LogFormat::Json)
        .map_err(anyhow::Error::msg)?;
    match ztunnel::socket::raise_open_files_limit() {
        Ok((before, after)) if after > before => tracing::info!(before, after, "raised the open files limit"),
        Ok(_) => {}
        Err(e) => tracing::warn!("could not raise the open files limit: {e}"),
    }
    ztunnel::metrics::memory::set_allocator_stats(jemalloc_stats);
    ztunnel::metrics::memory::set_allocator_report(jemalloc_report);
    // Thread-per-core: the control plane has this thread's runtime and the data path its own
    // threads (started by `app::start`). Work-stealing: one runtime of all workers for both.
    let runtime = match cfg.runtime_flavor {
        ztunnel::config::RuntimeFlavor::ThreadPerCore => tokio::runtime::Builder::new_current_thread(),
        ztunnel::config::RuntimeFlavor::WorkStealing => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(cfg.num_worker_threads).thread_name("ztunnel-worker");
            b
        }
    }
    .enable_all()
    .build()
    .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let running = ztunnel::app::start(cfg).await?;
        running.wait_for_signal().await;
        anyhow::Ok(())
    })?;
    // Connections still open after the deadline are dropped with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(())
}

fn print_version() {
    let info = ztunnel::tls::provider::info();
    // Upstream's line first (scripts parse it), then our crypto report.
    let istio_version = std::env::var("ISTIO_META_ISTIO_VERSION").ok().filter(|v| !v.is_empty());
    let text = format!(
        "{}\nztunnel {}\ncrypto provider: {}\nFIPS mode: {}\ncrypto library: {}\nprotocol versions: {}\n\
         cipher suites: {}\nkey exchange groups: {}\nsignature schemes: {}\n",
        ztunnel::admin::config_dump::BuildInfo::current(istio_version),
        env!("CARGO_PKG_VERSION"),
        info.name,
        info.fips_mode,
        info.library,
        info.protocol_versions.join(", "),
        info.cipher_suites.join(", "),
        info.kx_groups.join(", "),
        info.signature_schemes.join(", "),
    );
    // `ztunnel version | head -1` closes the pipe early: that is not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
}

fn dev_ca(args: &[String]) -> anyhow::Result<()> {
    let mut cert = None;
    let mut key = None;
    let mut td = "cluster.local".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--cert" => cert = Some(PathBuf::from(val()?)),
            "--key" => key = Some(PathBuf::from(val()?)),
            "--trust-domain" => td = val()?,
            other => anyhow::bail!("unknown dev-ca option {other:?}\n\n{USAGE}"),
        }
    }
    let (cert, key) = (cert.context("--cert is required")?, key.context("--key is required")?);
    let ca = ztunnel::certs::dev_ca::DevCa::generate(&td)?;
    ca.write(&cert, &key)?;
    println!("wrote CA root {} and key {}", cert.display(), key.display());
    println!("use it with FAKE_CA=true FAKE_CA_ROOT_CERT={} FAKE_CA_ROOT_KEY={}", cert.display(), key.display());
    Ok(())
}

fn redirect(args: &[String]) -> anyhow::Result<()> {
    use ztunnel::redirect::rules::{self, Backend, Family, Ports};
    use ztunnel::socket::netns::Netns;
    let action = args.first().map(String::as_str).context("redirect needs `install` or `remove`")?;
    let mut netns = None;
    let mut backend = None;
    let mut families = vec![Family::V4, Family::V6];
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--netns" => netns = Some(val()?),
            "--backend" => {
                backend = match val()?.as_str() {
                    "auto" => None,
                    "nft" => Some(Backend::Nft),
                    "legacy" => Some(Backend::Legacy),
                    other => anyhow::bail!("--backend must be auto, nft or legacy, not {other:?}"),
                }
            }
            "--ipv4-only" => families = vec![Family::V4],
            other => anyhow::bail!("unknown redirect option {other:?}\n\n{USAGE}"),
        }
    }
    let steps = match action {
        "install" => rules::plan_install(&families, Ports::default()),
        "remove" => rules::plan_remove(&families),
        other => anyhow::bail!("redirect action must be install or remove, not {other:?}"),
    };
    let ns = Netns::open(&netns.context("--netns is required")?)?;
    let used = ns.run(move || -> anyhow::Result<Backend> {
        let backend = match backend {
            Some(b) => b,
            None => rules::detect_backend()?,
        };
        rules::execute(&steps, backend)?;
        Ok(backend)
    })??;
    println!("redirect {action}: done (iptables backend: {used})");
    Ok(())
}

// jemalloc, as upstream ztunnel: the data path allocates and frees buffers of tens of KiB at
// a high rate; glibc malloc hands those pages back and faults them in again (measured: ~13%
// of proxy CPU in page faults under load), jemalloc keeps them.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options, read from this symbol before `_RJEM_MALLOC_CONF` (which can
/// still override any of them). jemalloc hands freed pages back to the OS only as they
/// "decay", by default over 10 s: the buffers a burst freed stayed in RSS that long (issue 18;
/// figures in benches/README.md, "Memory"). With 1 s they are back with the OS within about
/// two seconds; a busy proxy reuses its pages well within that, so the page faults that made
/// us pick jemalloc do not come back. muzzy 0: purge with MADV_DONTNEED, which lowers RSS at
/// once, not MADV_FREE, which the kernel reclaims only under pressure. `background_thread`
/// (also the crate feature's default) purges off the data path, and for idle arenas too.
/// `narenas:1`: jemalloc's default of four arenas per CPU gives each of our few threads an
/// arena of its own, each with its own partly used slabs; one shared arena lowered idle RSS
/// by ~0.3 MiB (issue 16, benches/README.md) with no CPU cost measurable at 2 workers (the
/// thread caches serve the data path's small allocations without the arena lock).
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: MallocConf =
    MallocConf(c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:1".as_ptr());

/// jemalloc's counters for `istio_proxy_allocator_bytes` and `/debug/memory`. They are a
/// snapshot taken when the epoch advances, so advance it first; `None` if jemalloc refuses
/// (the gauges are then left out rather than shown as zero).
fn jemalloc_stats() -> Option<ztunnel::metrics::memory::AllocatorStats> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance().ok()?;
    Some(ztunnel::metrics::memory::AllocatorStats {
        allocated: stats::allocated::read().ok()? as u64,
        active: stats::active::read().ok()? as u64,
        resident: stats::resident::read().ok()? as u64,
        metadata: stats::metadata::read().ok()? as u64,
        retained: stats::retained::read().ok()? as u64,
    })
}

/// jemalloc's own statistics report (`malloc_stats_print`: per-arena, per-size-class,
/// metadata), for `/debug/memory?allocator`.
fn jemalloc_report() -> Option<String> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut options = tikv_jemalloc_ctl::stats_print::Options::default();
    options.skip_per_arena = true;
    tikv_jemalloc_ctl::stats_print::stats_print(&mut out, options).ok()?;
    String::from_utf8(out).ok()
}

/// A `const char *` jemalloc reads once at start-up.
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);
// SAFETY: points to a 'static, immutable C string.
unsafe impl Sync for MallocConf {}
