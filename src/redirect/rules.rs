//! In-pod redirection rules: what istio-cni installs inside each ambient pod's network
//! namespace so the pod's traffic reaches the ztunnel listeners bound in that namespace.
//!
//! - outbound TCP → 15001, inbound TCP (except HBONE on 15008) → 15006, DNS (UDP and TCP 53)
//!   → 15053;
//! - traffic marked by ztunnel (`SO_MARK` 0x539 = PACKET_MARK 1337) is never redirected; its
//!   connections get connmark 0x111, restored on replies, and `ip rule fwmark 0x111/0xfff
//!   lookup 100` + `local 0.0.0.0/0 dev lo table 100` deliver original-source inbound replies
//!   back to ztunnel's transparent sockets;
//! - the kubelet probe SNAT address (169.254.7.127 / its IPv6 twin) bypasses capture.
//!
//! Everything lives in dedicated `ISTIO_*` chains hooked from the built-in chains, so install
//! is idempotent (chains are flushed and refilled, hooks added only when missing) and removal
//! deletes exactly what install added. [`plan_install`]/[`plan_remove`] are pure (unit-tested);
//! [`execute`] runs a plan with the iptables backend found by [`detect_backend`].

use std::fmt;
use std::process::Command;

/// ztunnel's own packets (PACKET_MARK 1337).
pub const ZTUNNEL_MARK: &str = "0x539/0xfff";
/// Connections ztunnel owns (set from [`ZTUNNEL_MARK`] in mangle PREROUTING).
pub const CONN_MARK: &str = "0x111/0xfff";
/// Policy routing table for original-source replies.
pub const ROUTE_TABLE: &str = "100";
const PROBE_V4: &str = "169.254.7.127";
const PROBE_V6: &str = "fd16:9254:7127:1337:ffff:ffff:ffff:ffff";

/// Chain names (ours), per table.
pub const PRERT: &str = "ISTIO_PRERT";
pub const OUTPUT: &str = "ISTIO_OUTPUT";

/// Redirect ports (upstream's fixed values).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub outbound: u16,
    pub inbound_plaintext: u16,
    pub inbound_hbone: u16,
    pub dns: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports { outbound: 15001, inbound_plaintext: 15006, inbound_hbone: 15008, dns: 15053 }
    }
}

/// IP family: selects the iptables binary, loopback address and probe address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn loopback(self) -> &'static str {
        match self {
            Family::V4 => "127.0.0.1/32",
            Family::V6 => "::1/128",
        }
    }
    fn probe(self) -> &'static str {
        match self {
            Family::V4 => PROBE_V4,
            Family::V6 => PROBE_V6,
        }
    }
    fn any(self) -> &'static str {
        match self {
            Family::V4 => "0.0.0.0/0",
            Family::V6 => "::/0",
        }
    }
}

/// One step of a plan. Rules are iptables argument lists without the table/chain prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the chain if missing, then flush it.
    ResetChain {
        family: Family,
        table: &'static str,
        chain: &'static str,
    },
    Append {
        family: Family,
        table: &'static str,
        chain: &'static str,
        rule: Vec<String>,
    },
    /// Append to a built-in chain unless an identical rule is already there.
    Hook {
        family: Family,
        table: &'static str,
        chain: &'static str,
        rule: Vec<String>,
    },
    /// Delete every copy of a rule from a built-in chain (absent = fine).
    Unhook {
        family: Family,
        table: &'static str,
        chain: &'static str,
        rule: Vec<String>,
    },
    /// Flush and delete a chain (absent = fine).
    DeleteChain {
        family: Family,
        table: &'static str,
        chain: &'static str,
    },
    /// `ip [-6] rule|route add|del ...`; `add` skips when present, `del` when absent.
    Ip {
        family: Family,
        add: bool,
        args: Vec<String>,
    },
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn hooks() -> Vec<(&'static str, &'static str, Vec<String>)> {
    vec![
        ("mangle", "PREROUTING", words(&format!("-j {PRERT}"))),
        ("mangle", "OUTPUT", words(&format!("-j {OUTPUT}"))),
        ("nat", "PREROUTING", words(&format!("-j {PRERT}"))),
        ("nat", "OUTPUT", words(&format!("-j {OUTPUT}"))),
    ]
}

fn chain_rules(family: Family, p: Ports) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let lo = family.loopback();
    let probe = family.probe();
    let m = ZTUNNEL_MARK;
    let cm = CONN_MARK;
    let r = |t: &'static str, c: &'static str, s: String| (t, c, words(&s));
    vec![
        // ztunnel's connections: remember them (connmark) and restore the mark on replies.
        r("mangle", PRERT, format!("-m mark --mark {m} -j CONNMARK --set-xmark {cm}")),
        r(
            "mangle",
            OUTPUT,
            format!("-m connmark --mark {cm} -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff"),
        ),
        // Inbound: kubelet probes bypass; other TCP (not HBONE, not from ztunnel) → 15006.
        r("nat", PRERT, format!("-s {probe} -p tcp -m tcp -j ACCEPT")),
        r(
            "nat",
            PRERT,
            format!(
                "! -d {lo} -p tcp -m tcp ! --dport {} -m mark ! --mark {m} -j REDIRECT --to-ports {}",
                p.inbound_hbone, p.inbound_plaintext
            ),
        ),
        // Outbound: probe replies bypass; DNS → 15053; ztunnel's own traffic and local
        // traffic pass; every other TCP → 15001.
        r("nat", OUTPUT, format!("-d {probe} -p tcp -m tcp -j ACCEPT")),
        r(
            "nat",
            OUTPUT,
            format!("! -o lo -p udp -m udp --dport 53 -m mark ! --mark {m} -j REDIRECT --to-ports {}", p.dns),
        ),
        r(
            "nat",
            OUTPUT,
            format!("! -d {lo} -p tcp -m tcp --dport 53 -m mark ! --mark {m} -j REDIRECT --to-ports {}", p.dns),
        ),
        r("nat", OUTPUT, format!("-p tcp -m mark --mark {cm} -j ACCEPT")),
        r("nat", OUTPUT, format!("! -d {lo} -o lo -j ACCEPT")),
        r("nat", OUTPUT, format!("! -d {lo} -p tcp -m mark ! --mark {m} -j REDIRECT --to-ports {}", p.outbound)),
    ]
}

fn ip_steps(family: Family, add: bool) -> Vec<Step> {
    vec![
        Step::Ip { family, add, args: words(&format!("rule fwmark {CONN_MARK} pref 32764 lookup {ROUTE_TABLE}")) },
        Step::Ip { family, add, args: words(&format!("route local {} dev lo table {ROUTE_TABLE}", family.any())) },
    ]
}

/// Everything install does, in order: chains (reset), their rules, hooks, policy routing.
pub fn plan_install(families: &[Family], ports: Ports) -> Vec<Step> {
    let mut steps = Vec::new();
    for &family in families {
        for table in ["mangle", "nat"] {
            for chain in [PRERT, OUTPUT] {
                steps.push(Step::ResetChain { family, table, chain });
            }
        }
        for (table, chain, rule) in chain_rules(family, ports) {
            steps.push(Step::Append { family, table, chain, rule });
        }
        for (table, chain, rule) in hooks() {
            steps.push(Step::Hook { family, table, chain, rule });
        }
        steps.extend(ip_steps(family, true));
    }
    steps
}

/// Everything remove does: unhook, delete our chains, drop the policy routing.
pub fn plan_remove(families: &[Family]) -> Vec<Step> {
    let mut steps = Vec::new();
    for &family in families {
        for (table, chain, rule) in hooks() {
            steps.push(Step::Unhook { family, table, chain, rule });
        }
        for table in ["mangle", "nat"] {
            for chain in [PRERT, OUTPUT] {
                steps.push(Step::DeleteChain { family, table, chain });
            }
        }
        steps.extend(ip_steps(family, false));
    }
    steps
}

/// Which iptables flavour to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Nft,
    Legacy,
}

impl Backend {
    pub fn binary(self, family: Family) -> &'static str {
        match (self, family) {
            (Backend::Nft, Family::V4) => "iptables-nft",
            (Backend::Nft, Family::V6) => "ip6tables-nft",
            (Backend::Legacy, Family::V4) => "iptables-legacy",
            (Backend::Legacy, Family::V6) => "ip6tables-legacy",
        }
    }
    fn save(self) -> &'static str {
        match self {
            Backend::Nft => "iptables-nft-save",
            Backend::Legacy => "iptables-legacy-save",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Nft => "nft",
            Backend::Legacy => "legacy",
        })
    }
}

/// Why the rules could not be installed or removed.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("no iptables backend available (need iptables-nft or iptables-legacy: apt-get install iptables)")]
    NoBackend,
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("could not run `{command}`: {source}")]
    Spawn { command: String, source: std::io::Error },
}

fn available(binary: &str) -> bool {
    Command::new(binary).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Counts `-A` rules in a backend's current ruleset (0 when the tool is missing).
fn rule_count(backend: Backend) -> usize {
    Command::new(backend.save())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.starts_with("-A ")).count())
        .unwrap_or(0)
}

/// Picks the backend the namespace already uses (more existing rules wins, as istio-cni
/// does); with no rules anywhere, nft when available, else legacy.
pub fn detect_backend() -> Result<Backend, RulesError> {
    let nft = available(Backend::Nft.binary(Family::V4));
    let legacy = available(Backend::Legacy.binary(Family::V4));
    match (nft, legacy) {
        (false, false) => Err(RulesError::NoBackend),
        (true, false) => Ok(Backend::Nft),
        (false, true) => Ok(Backend::Legacy),
        (true, true) => {
            Ok(if rule_count(Backend::Legacy) > rule_count(Backend::Nft) { Backend::Legacy } else { Backend::Nft })
        }
    }
}

fn run(binary: &str, args: &[String]) -> Result<std::process::Output, RulesError> {
    let command = format!("{binary} {}", args.join(" "));
    Command::new(binary).args(args).output().map_err(|source| RulesError::Spawn { command, source })
}

fn must(binary: &str, args: &[String]) -> Result<(), RulesError> {
    let out = run(binary, args)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(RulesError::Command {
            command: format!("{binary} {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

fn ok(binary: &str, args: &[String]) -> Result<bool, RulesError> {
    Ok(run(binary, args)?.status.success())
}

fn with(prefix: &[&str], rest: &[String]) -> Vec<String> {
    prefix.iter().map(|s| s.to_string()).chain(rest.iter().cloned()).collect()
}

/// Runs `steps` in the calling thread's network namespace with `backend`.
pub fn execute(steps: &[Step], backend: Backend) -> Result<(), RulesError> {
    for step in steps {
        match step {
            Step::ResetChain { family, table, chain } => {
                let bin = backend.binary(*family);
                if !ok(bin, &with(&["-t", table, "-L", chain, "-n"], &[]))? {
                    must(bin, &with(&["-t", table, "-N", chain], &[]))?;
                }
                must(bin, &with(&["-t", table, "-F", chain], &[]))?;
            }
            Step::Append { family, table, chain, rule } => {
                must(backend.binary(*family), &with(&["-t", table, "-A", chain], rule))?;
            }
            Step::Hook { family, table, chain, rule } => {
                let bin = backend.binary(*family);
                if !ok(bin, &with(&["-t", table, "-C", chain], rule))? {
                    must(bin, &with(&["-t", table, "-A", chain], rule))?;
                }
            }
            Step::Unhook { family, table, chain, rule } => {
                let bin = backend.binary(*family);
                while ok(bin, &with(&["-t", table, "-C", chain], rule))? {
                    must(bin, &with(&["-t", table, "-D", chain], rule))?;
                }
            }
            Step::DeleteChain { family, table, chain } => {
                let bin = backend.binary(*family);
                if ok(bin, &with(&["-t", table, "-L", chain, "-n"], &[]))? {
                    must(bin, &with(&["-t", table, "-F", chain], &[]))?;
                    must(bin, &with(&["-t", table, "-X", chain], &[]))?;
                }
            }
            Step::Ip { family, add, args } => {
                let fam = if *family == Family::V6 { "-6" } else { "-4" };
                // `ip rule del`/`ip route del` remove one match per call; `add` fails with
                // EEXIST on a duplicate route but happily duplicates rules, so check first.
                let present = ip_present(fam, args)?;
                if *add && !present {
                    must("ip", &with(&[fam], &with(&[args[0].as_str(), "add"], &args[1..])))?;
                } else if !*add && present {
                    must("ip", &with(&[fam], &with(&[args[0].as_str(), "del"], &args[1..])))?;
                }
            }
        }
    }
    Ok(())
}

/// Whether `ip rule` / `ip route` already holds our entry (matched on the table + selector).
fn ip_present(fam: &str, args: &[String]) -> Result<bool, RulesError> {
    let listing = match args[0].as_str() {
        "rule" => run("ip", &with(&[fam, "rule", "show"], &[]))?,
        _ => run("ip", &with(&[fam, "route", "show", "table", ROUTE_TABLE], &[]))?,
    };
    let text = String::from_utf8_lossy(&listing.stdout);
    Ok(match args[0].as_str() {
        "rule" => {
            text.lines().any(|l| l.contains("fwmark 0x111/0xfff") && l.contains(&format!("lookup {ROUTE_TABLE}")))
        }
        _ => text.lines().any(|l| l.starts_with("local") && l.contains("dev lo")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(steps: &[Step], table: &str, chain: &str) -> Vec<String> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Append { table: t, chain: c, rule, family: Family::V4 } if *t == table && *c == chain => {
                    Some(rule.join(" "))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn outbound_tcp_goes_to_15001_unless_marked_or_local() {
        let plan = plan_install(&[Family::V4], Ports::default());
        let out = appended(&plan, "nat", OUTPUT);
        let last = out.last().unwrap();
        assert_eq!(last, "! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001");
        // Loopback traffic is accepted before the catch-all redirect.
        let lo = out.iter().position(|r| r == "! -d 127.0.0.1/32 -o lo -j ACCEPT").unwrap();
        assert!(lo < out.len() - 1);
    }

    #[test]
    fn inbound_skips_hbone_and_marked() {
        let plan = plan_install(&[Family::V4], Ports::default());
        let pre = appended(&plan, "nat", PRERT);
        assert_eq!(pre[0], "-s 169.254.7.127 -p tcp -m tcp -j ACCEPT");
        assert_eq!(
            pre[1],
            "! -d 127.0.0.1/32 -p tcp -m tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006"
        );
    }

    #[test]
    fn dns_udp_and_tcp_go_to_15053() {
        let plan = plan_install(&[Family::V4], Ports::default());
        let out = appended(&plan, "nat", OUTPUT);
        assert!(out.iter().any(|r| r.contains("-p udp -m udp --dport 53") && r.ends_with("--to-ports 15053")));
        assert!(out.iter().any(|r| r.contains("-p tcp -m tcp --dport 53") && r.ends_with("--to-ports 15053")));
        // DNS redirects come before the TCP catch-all, or TCP/53 would land on 15001.
        let dns = out.iter().position(|r| r.contains("--dport 53") && r.contains("tcp")).unwrap();
        assert!(dns < out.len() - 1);
    }

    #[test]
    fn connmark_and_policy_route() {
        let plan = plan_install(&[Family::V4], Ports::default());
        assert_eq!(
            appended(&plan, "mangle", PRERT),
            vec!["-m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff"]
        );
        assert!(plan.contains(&Step::Ip {
            family: Family::V4,
            add: true,
            args: words("rule fwmark 0x111/0xfff pref 32764 lookup 100")
        }));
        assert!(plan.contains(&Step::Ip {
            family: Family::V4,
            add: true,
            args: words("route local 0.0.0.0/0 dev lo table 100")
        }));
    }

    #[test]
    fn v6_uses_v6_addresses() {
        let plan = plan_install(&[Family::V6], Ports::default());
        let text = format!("{plan:?}");
        assert!(text.contains("::1/128") && text.contains(PROBE_V6) && !text.contains("127.0.0.1"));
    }

    #[test]
    fn remove_undoes_every_hook_chain_and_route() {
        let fams = [Family::V4, Family::V6];
        let install = plan_install(&fams, Ports::default());
        let remove = plan_remove(&fams);
        for s in &install {
            match s {
                Step::Hook { family, table, chain, rule } => {
                    assert!(remove.contains(&Step::Unhook { family: *family, table, chain, rule: rule.clone() }))
                }
                Step::ResetChain { family, table, chain } => {
                    assert!(remove.contains(&Step::DeleteChain { family: *family, table, chain }))
                }
                Step::Ip { family, args, .. } => {
                    assert!(remove.contains(&Step::Ip { family: *family, add: false, args: args.clone() }))
                }
                Step::Append { .. } => {}
                other => panic!("unexpected install step {other:?}"),
            }
        }
    }
}
