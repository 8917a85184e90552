#!/usr/bin/env python3
"""Compliance scan of a real ztunnel binary, probed from outside with OpenSSL.

It starts `BIN proxy` (built-in CA, local config, one workload) and checks:
  * `BIN version`: provider, FIPS mode, versions, suites and groups it reports;
  * ztunnel as a TLS server (its HBONE port 15008): `openssl s_client` offering one protocol
    version, one TLS 1.3 suite, one group, one server signature algorithm, or presenting a
    client certificate of one key type at a time;
  * ztunnel as a TLS client: ztunnel dials an HBONE destination served by `openssl s_server`
    configured with one version / suite / group / certificate key type at a time.
What was accepted is compared with compliance/policy.json. A probe counts as accepted only if
OpenSSL completed the handshake *and* ztunnel logged the established connection. Results go
to OUT/report-<build>.json and OUT/report-<build>.md; the exit code is 1 on any deviation.

usage: compliance/scan.py --build {ring,fips} --bin PATH [--out DIR] [--net N]
"""
import argparse
import datetime
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TD = "cluster.local"

VERSIONS = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}
SUITES13 = ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]
GROUPS = ["P-256", "P-384", "P-521", "X25519", "X448", "ffdhe2048", "ffdhe3072", "X25519MLKEM768"]
SERVER_SIGALGS = ["ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512",
                  "rsa_pss_rsae_sha256", "rsa_pkcs1_sha256", "ed25519", "ed448"]
# Certificate key type -> the TLS 1.3 signature scheme its holder signs CertificateVerify with.
KEY_TYPES = {
    "ec-p256": (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "ecdsa_secp256r1_sha256"),
    "ec-p384": (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], "ecdsa_secp384r1_sha384"),
    "ec-p521": (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"], "ecdsa_secp521r1_sha512"),
    "rsa-2048": (["-newkey", "rsa:2048"], "rsa_pss_rsae_sha256"),
    "ed25519": (["-newkey", "ed25519"], "ed25519"),
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace", **kw)


class Ztunnel:
    """A running `ztunnel proxy` whose JSON log lines are collected."""

    def __init__(self, binary, env):
        self.proc = subprocess.Popen([binary, "proxy"], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, encoding="utf-8", errors="replace")
        self.events, self.raw = [], []
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        # Logs are on stdout (as upstream's); start-up errors on stderr, merged into it.
        for line in self.proc.stdout:
            with self.lock:
                self.raw.append(line.rstrip())
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    pass
                self.lock.notify_all()

    def count(self, msg):
        with self.lock:
            return sum(1 for e in self.events if e.get("fields", e).get("message", e.get("message")) == msg
                       or e.get("message") == msg)

    def wait(self, msg, n, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if self.count(msg) >= n:
                return True
            time.sleep(0.05)
        return False

    def first(self, msg, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                for e in self.events:
                    if e.get("message") == msg or e.get("fields", {}).get("message") == msg:
                        return e
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"ztunnel never logged {msg!r}; log:\n" + "\n".join(self.raw[-30:]))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def field(e, k):
    return e.get(k, e.get("fields", {}).get(k))


def make_pki(binary, d):
    ca_cert, ca_key = d / "root-cert.pem", d / "root-key.pem"
    r = run([binary, "dev-ca", "--cert", str(ca_cert), "--key", str(ca_key), "--trust-domain", TD])
    if r.returncode != 0:
        raise RuntimeError(f"dev-ca failed: {r.stderr}")
    certs = {}
    for role, sa in (("client", "client"), ("server", "peer")):
        for kt, (newkey, _) in KEY_TYPES.items():
            key, csr, crt = d / f"{role}-{kt}.key", d / f"{role}-{kt}.csr", d / f"{role}-{kt}.pem"
            r = run(["openssl", "req", "-new", "-nodes", *newkey, "-keyout", str(key), "-out", str(csr),
                     "-subj", "/"])
            if r.returncode != 0:
                raise RuntimeError(f"openssl req {kt}: {r.stderr}")
            ext = d / f"{role}-{kt}.ext"
            ext.write_text(f"subjectAltName=critical,URI:spiffe://{TD}/ns/default/sa/{sa}\n"
                           "keyUsage=critical,digitalSignature,keyEncipherment\n"
                           "extendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\n")
            r = run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                     "-CAcreateserial", "-days", "1", "-sha256", "-extfile", str(ext), "-out", str(crt)])
            if r.returncode != 0:
                raise RuntimeError(f"openssl x509 {kt}: {r.stderr}")
            certs[(role, kt)] = (crt, key)
    return (ca_cert, ca_key), certs


def s_client(addr, args, ca, cert):
    cmd = ["openssl", "s_client", "-connect", f"{addr[0]}:{addr[1]}", "-CAfile", str(ca), "-alpn", "h2",
           "-cert", str(cert[0]), "-key", str(cert[1]), *args]
    try:
        # Closing stdin ends s_client right after the handshake (and the first server flight).
        r = subprocess.run(cmd, input="", capture_output=True, encoding="utf-8", errors="replace", timeout=10)
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    proto = next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.strip().startswith("Protocol  :")), None)
    cipher = next((l.split("Cipher is", 1)[1].strip() for l in out.splitlines() if "Cipher is" in l), None)
    group = next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Server Temp Key:")
                  or l.startswith("Negotiated TLS1.3 group:")), None)
    done = cipher not in (None, "(NONE)") and "handshake failure" not in out
    return done, {"protocol": proto, "cipher": cipher, "group": group, "openssl_tail": out.strip().splitlines()[-3:]}


def socks_connect(proxy, dst, timeout=5):
    s = socket.create_connection(proxy, timeout=timeout)
    s.sendall(b"\x05\x01\x00")
    s.recv(2)
    ip = socket.inet_aton(dst[0])
    s.sendall(b"\x05\x01\x00\x01" + ip + struct.pack(">H", dst[1]))
    try:
        s.recv(10)
        s.sendall(b"probe\n")
        s.recv(100)
    except OSError:
        pass
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, choices=["ring", "fips"])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", default=str(ROOT / "compliance" / "reports"))
    ap.add_argument("--net", type=int, default=None, help="second octet of the 127.N.0.x addresses")
    a = ap.parse_args()
    for tool in ("openssl",):
        if not shutil.which(tool):
            sys.exit(f"scan.py: `{tool}` is required (apt-get install {tool})")
    policy = json.loads((ROOT / "compliance" / "policy.json").read_text())["builds"][a.build]
    binary = str(Path(a.bin).resolve())
    net = a.net or (77 if a.build == "ring" else 78)
    zt_ip, srv_ip = f"127.{net}.0.2", f"127.{net}.0.3"
    results, deviations = {"build": a.build, "binary": binary}, []

    def verdict(kind, name, accepted, allowed, detail):
        ok = accepted == allowed
        if not ok:
            deviations.append(f"{kind} {name}: accepted={accepted} but policy allows={allowed}")
        results.setdefault(kind, []).append({"name": name, "accepted": accepted, "allowed": allowed,
                                             "ok": ok, **detail})

    # 1. What the binary says about itself.
    v = run([binary, "version"])
    rep = {}
    for line in v.stdout.splitlines():
        k, _, val = line.partition(": ")
        rep[k] = val
    want = policy["reported"]
    got = {"provider": rep.get("crypto provider"), "fips_mode": rep.get("FIPS mode") == "true",
           "protocol_versions": rep.get("protocol versions", "").split(", "),
           "cipher_suites": rep.get("cipher suites", "").split(", "),
           "kx_groups": rep.get("key exchange groups", "").split(", ")}
    results["version"] = {"exit": v.returncode, "stdout": v.stdout.splitlines(), "library": rep.get("crypto library")}
    for k, w in want.items():
        if got.get(k) != w:
            deviations.append(f"`ztunnel version` {k}: {got.get(k)!r}, policy {w!r}")
    schemes = [s.lower() for s in rep.get("signature schemes", "").split(", ")]
    results["version"]["signature_schemes"] = schemes

    d = Path(tempfile.mkdtemp(prefix=f"ztunnel-scan-{a.build}-"))
    (ca_cert, ca_key), certs = make_pki(binary, d)
    cfg = d / "config.yaml"
    cfg.write_text(f"""workloads:
- uid: scan//v1/Pod/default/client
  name: client
  namespace: default
  serviceAccount: client
  trustDomain: {TD}
  workloadIps: [{zt_ip}]
  protocol: HBONE
- uid: scan//v1/Pod/default/peer
  name: peer
  namespace: default
  serviceAccount: peer
  trustDomain: {TD}
  workloadIps: [{srv_ip}]
  protocol: HBONE
""")
    env = {"PATH": os.environ.get("PATH", ""), "PROXY_MODE": "dedicated",
           "PROXY_WORKLOAD_INFO": "default/client/client", "FAKE_CA": "true",
           "FAKE_CA_ROOT_CERT": str(ca_cert), "FAKE_CA_ROOT_KEY": str(ca_key), "LOCAL_XDS_PATH": str(cfg),
           "XDS_ADDRESS": "", "LOG_FORMAT": "json", "RUST_LOG": "info", "UNSTABLE_ENABLE_SOCKS5": "true",
           "ZTUNNEL_WORKER_THREADS": "1", "ZTUNNEL_INBOUND_ADDR": f"{zt_ip}:15008"}
    for k in ("OUTBOUND", "INBOUND_PLAINTEXT", "SOCKS5", "READINESS", "ADMIN", "METRICS"):
        env[f"ZTUNNEL_{k}_ADDR"] = f"{zt_ip}:0"
    zt = Ztunnel(binary, env)
    try:
        bound = zt.first("listeners bound")
        socks = field(bound, "socks5").rsplit(":", 1)
        socks = (socks[0], int(socks[1]))
        target = (zt_ip, 15008)
        ok_cert = certs[("client", "ec-p256")]
        accepted_msg = "HBONE connection accepted"

        def server_probe(kind, name, args, allowed, cert=ok_cert):
            before = zt.count(accepted_msg)
            done, det = s_client(target, args, ca_cert, cert)
            logged = zt.wait(accepted_msg, before + 1, 2.0 if done else 0.3)
            verdict(kind, name, done and logged, allowed, {"side": "server", **det})

        # 2. ztunnel as the server.
        for name, flag in VERSIONS.items():
            extra = ["-cipher", "DEFAULT@SECLEVEL=0"] if name in ("TLSv1", "TLSv1.1") else []
            server_probe("server_version", name, [flag, *extra], name in policy["protocol_versions"])
        for s in SUITES13:
            server_probe("server_suite", s, ["-tls1_3", "-ciphersuites", s], s in policy["cipher_suites"])
        probe_groups = GROUPS
        for g in probe_groups:
            r = run(["openssl", "s_client", "-groups", g, "-connect", "127.0.0.1:9", "-tls1_3"])
            if "cannot be set" in r.stderr or "SSL_CONF_cmd" in r.stderr:
                results.setdefault("not_probed", []).append(f"group {g}: the local openssl cannot offer it")
                continue
            server_probe("server_group", g, ["-tls1_3", "-groups", g], g in policy["groups"])
        for sa in SERVER_SIGALGS:
            # The server's certificate is P-256, so only the matching scheme can succeed; any
            # other accepted scheme would mean ztunnel signs with something unexpected.
            server_probe("server_signature", sa, ["-tls1_3", "-sigalgs", sa],
                         sa in policy["signature_schemes"] and sa == "ecdsa_secp256r1_sha256")
        for kt, (_, scheme) in KEY_TYPES.items():
            server_probe("client_cert_signature", f"{scheme} ({kt} client certificate)", ["-tls1_3"],
                         scheme in policy["signature_schemes"], cert=certs[("client", kt)])

        # 3. ztunnel as the client, dialling openssl s_server at the peer's HBONE port.
        established = "HBONE connection established"

        def client_probe(kind, name, args, allowed, kt="ec-p256"):
            crt, key = certs[("server", kt)]
            # The previous probe's s_server has just released the port; a bind can still lose
            # that race now and then ("Address already in use"), so retry the start a few times.
            for attempt in range(10):
                srv = subprocess.Popen(["openssl", "s_server", "-accept", f"{srv_ip}:15008", "-cert", str(crt),
                                        "-key", str(key), "-CAfile", str(ca_cert), "-Verify", "1", "-alpn", "h2",
                                        "-naccept", "1", *args],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       encoding="utf-8", errors="replace")
                lines = []
                threading.Thread(target=lambda l=lines, p=srv: l.extend(p.stdout), daemon=True).start()
                # s_server prints ACCEPT once it listens (a test connection would use up -naccept).
                for _ in range(100):
                    if any("ACCEPT" in l for l in lines) or srv.poll() is not None:
                        break
                    time.sleep(0.05)
                if srv.poll() is None or not any("in use" in l for l in lines):
                    break
                srv.wait()
                time.sleep(0.3)
            try:
                before = zt.count(established)
                try:
                    socks_connect(socks, (srv_ip, 80)).close()
                except OSError:
                    pass
                logged = zt.wait(established, before + 1, 3.0)
                time.sleep(0.2)
            finally:
                srv.kill()
                srv.wait()
            time.sleep(0.1)
            out = "".join(lines)
            cipher = next((l.split("CIPHER is", 1)[1].strip() for l in out.splitlines() if "CIPHER is" in l), None)
            verdict(kind, name, bool(logged and cipher), allowed,
                    {"side": "client", "s_server_cipher": cipher, "s_server_tail": out.strip().splitlines()[-3:]})

        for name, flag in VERSIONS.items():
            extra = ["-cipher", "DEFAULT@SECLEVEL=0"] if name in ("TLSv1", "TLSv1.1") else []
            client_probe("client_version", name, [flag, *extra], name in policy["protocol_versions"])
        for s in SUITES13:
            client_probe("client_suite", s, ["-tls1_3", "-ciphersuites", s], s in policy["cipher_suites"])
        for g in GROUPS:
            if any(n.startswith(f"group {g}:") for n in results.get("not_probed", [])):
                continue
            client_probe("client_group", g, ["-tls1_3", "-groups", g], g in policy["groups"])
        for kt, (_, scheme) in KEY_TYPES.items():
            client_probe("server_cert_signature", f"{scheme} ({kt} server certificate)", ["-tls1_3"],
                         scheme in policy["signature_schemes"], kt=kt)
    finally:
        zt.stop()
        shutil.rmtree(d, ignore_errors=True)

    results["deviations"] = deviations
    results["ok"] = not deviations
    results["openssl"] = run(["openssl", "version"]).stdout.strip()
    results["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"report-{a.build}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"report-{a.build}.md").write_text(markdown(results))
    print(markdown(results))
    return 0 if not deviations else 1


def markdown(r):
    lines = [f"# TLS compliance scan: `{r['build']}` build", "",
             f"- binary: `{r['binary']}`", f"- probed with: {r.get('openssl', '?')}", f"- date: {r.get('date', '?')}",
             f"- crypto library: {r['version'].get('library')}",
             f"- result: **{'PASS' if r.get('ok') else 'FAIL'}** ({len(r.get('deviations', []))} deviations)", ""]
    titles = [("server_version", "ztunnel as server: protocol versions"),
              ("server_suite", "ztunnel as server: TLS 1.3 cipher suites"),
              ("server_group", "ztunnel as server: key exchange groups"),
              ("server_signature", "ztunnel as server: signature algorithm it signs with (P-256 certificate)"),
              ("client_cert_signature", "ztunnel as server: client certificate signature schemes it verifies"),
              ("client_version", "ztunnel as client: protocol versions"),
              ("client_suite", "ztunnel as client: TLS 1.3 cipher suites"),
              ("client_group", "ztunnel as client: key exchange groups"),
              ("server_cert_signature", "ztunnel as client: server certificate signature schemes it verifies")]
    for key, title in titles:
        rows = r.get(key, [])
        if not rows:
            continue
        lines += [f"## {title}", "", "| offered | accepted | policy allows | ok |", "|---|---|---|---|"]
        for row in rows:
            lines.append(f"| {row['name']} | {'yes' if row['accepted'] else 'no'} | "
                         f"{'yes' if row['allowed'] else 'no'} | {'✔' if row['ok'] else '✘ DEVIATION'} |")
        lines.append("")
    if r.get("not_probed"):
        lines += ["## Not probed", ""] + [f"- {n}" for n in r["not_probed"]] + [""]
    if r.get("deviations"):
        lines += ["## Deviations", ""] + [f"- {x}" for x in r["deviations"]] + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
