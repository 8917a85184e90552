#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<target>/ (a few valid inputs each). Hand-rolled protobuf,
HPACK and DNS encoders, so it needs nothing beyond Python. Run from anywhere:
python3 fuzz/seeds.py. Seeds named crash-* (regression inputs) are never touched."""
import os, struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)

# --- protobuf -------------------------------------------------------------------------------
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def f_varint(field, n):
    return varint(field << 3) + varint(n)

def f_bytes(field, b):
    b = b.encode() if isinstance(b, str) else b
    return varint(field << 3 | 2) + varint(len(b)) + b

def ip4(s):
    return bytes(int(x) for x in s.split("."))

IP6_FD00_1 = bytes([0xFD] + [0] * 14 + [1])

port = lambda sp, tp: f_varint(1, sp) + f_varint(2, tp)
gw_addr = lambda ip, p: f_bytes(2, f_bytes(1, "") + f_bytes(2, ip)) + f_varint(3, p)
gw_host = lambda ns, h, p: f_bytes(1, f_bytes(1, ns) + f_bytes(2, h)) + f_varint(3, p)

workload = (
    f_bytes(20, "Kubernetes//Pod/default/echo-1")
    + f_bytes(1, "echo-1") + f_bytes(2, "default") + f_bytes(3, ip4("10.0.0.7"))
    + f_varint(5, 1) + f_bytes(7, "echo") + f_bytes(9, "node-1")
    + f_bytes(10, "echo") + f_bytes(11, "v1") + f_bytes(13, "echo")
    + f_bytes(22, f_bytes(1, "default/echo.default.svc.cluster.local") + f_bytes(2, f_bytes(1, port(80, 8080))))
    + f_bytes(16, "default/allow") + f_bytes(18, "Kubernetes")
    + f_bytes(24, f_bytes(1, "r1") + f_bytes(2, "z1"))
)
workload_wp = (
    f_bytes(20, "Kubernetes//Pod/default/w-2") + f_bytes(1, "w-2") + f_bytes(2, "default")
    + f_bytes(3, IP6_FD00_1) + f_bytes(8, gw_addr(ip4("10.0.0.9"), 15008))
    + f_bytes(19, gw_host("istio-system", "gw.example", 15008))
    + f_bytes(23, f_varint(1, 1) + f_varint(2, 15088)) + f_bytes(27, f_varint(1, 3))
)
service = (
    f_bytes(1, "echo") + f_bytes(2, "default") + f_bytes(3, "echo.default.svc.cluster.local")
    + f_bytes(4, f_bytes(1, "") + f_bytes(2, ip4("10.96.0.1")))
    + f_bytes(4, f_bytes(1, "") + f_bytes(2, IP6_FD00_1))
    + f_bytes(5, port(80, 8080)) + f_bytes(6, "spiffe://cluster.local/ns/default/sa/echo")
    + f_bytes(7, gw_addr(ip4("10.0.0.9"), 15008))
    + f_bytes(8, f_varint(1, 4) + f_varint(1, 5) + f_varint(2, 2) + f_varint(3, 1))
    + f_varint(9, 3)
)
address_w, address_w2, address_s = f_bytes(1, workload), f_bytes(1, workload_wp), f_bytes(2, service)
write("xds_address", "workload", address_w)
write("xds_address", "workload-waypoint", address_w2)
write("xds_address", "service", address_s)

sm_exact = lambda s: f_bytes(1, s)
match = (
    f_bytes(1, sm_exact("default")) + f_bytes(4, f_bytes(2, "spiffe://cluster.local/ns/bad/"))
    + f_bytes(11, f_bytes(1, "default") + f_bytes(2, "client"))
    + f_bytes(5, f_bytes(1, ip4("10.0.0.0")) + f_varint(2, 8))
    + f_bytes(8, f_bytes(1, IP6_FD00_1) + f_varint(2, 128))
    + f_bytes(9, varint(80) + varint(8080))  # packed
    + f_bytes(3, f_bytes(4, b""))  # presence
)
authz_allow = f_bytes(1, "allow") + f_bytes(2, "default") + f_varint(3, 1) + f_bytes(5, f_bytes(1, f_bytes(2, match)))
authz_deny = f_bytes(1, "deny-all") + f_bytes(2, "istio-system") + f_varint(4, 1) + f_bytes(5, b"")
write("xds_authorization", "allow", authz_allow)
write("xds_authorization", "deny-global", authz_deny)

ADDR = "type.googleapis.com/istio.workload.Address"
AUTHZ = "type.googleapis.com/istio.security.Authorization"
resource = lambda name, type_url, body: f_bytes(3, name) + f_bytes(1, "1") + f_bytes(2, f_bytes(1, type_url) + f_bytes(2, body))
frame = lambda msg: struct.pack(">H", len(msg)) + msg
delta_addr = f_bytes(4, ADDR) + f_bytes(2, resource("Kubernetes//Pod/default/echo-1", ADDR, address_w)) \
    + f_bytes(2, resource("default/echo.default.svc.cluster.local", ADDR, address_s)) \
    + f_bytes(2, resource("Kubernetes//Pod/default/w-2", ADDR, address_w2)) + f_bytes(5, "n1")
delta_authz = f_bytes(4, AUTHZ) + f_bytes(2, resource("default/allow", AUTHZ, authz_allow))
delta_remove = f_bytes(4, ADDR) + f_bytes(6, "Kubernetes//Pod/default/echo-1")
# A conflicting second workload claiming the same IP, and a body of the wrong type.
dup = address_w.replace(b"echo-1", b"echo-9")
delta_conflict = f_bytes(2, resource("Kubernetes//Pod/default/echo-9", "", dup)) + f_bytes(2, resource("x", AUTHZ, address_w))
write("xds_delta", "add-addresses", frame(delta_addr))
write("xds_delta", "add-remove-policy", frame(delta_addr) + frame(delta_authz) + frame(delta_remove))
write("xds_delta", "conflict", frame(delta_addr) + frame(delta_conflict))

# --- ZDS: [flags][WorkloadRequest] frames; flags bit0 = netns fd attached ----------------------
info = lambda name: f_bytes(1, name) + f_bytes(2, "default") + f_bytes(3, "sa")
add = lambda uid, name: f_bytes(1, f_bytes(1, uid) + f_bytes(2, info(name)))
keep = lambda uid: f_bytes(5, f_bytes(1, uid))
delete = lambda uid: f_bytes(2, f_bytes(2, uid))
snap = f_bytes(3, b"")
z = lambda flags, msg: frame(bytes([flags]) + msg)
write("zds", "add-snapshot-del", z(1, add("u1", "a")) + z(1, add("u2", "b")) + z(0, snap) + z(0, delete("u1")))
write("zds", "reconnect-keep", z(1, add("u1", "a")) + z(2, keep("u1")) + z(0, keep("u3")) + z(0, snap))
write("zds", "failed-add-retry", z(1, add("u1", "failing")) + z(5, add("u2", "ok")) + z(0, add("u3", "nofd")) + z(4, snap))

# --- SOCKS5 ----------------------------------------------------------------------------------
write("socks5", "ipv4", bytes([5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 7, 0x1F, 0x90]))
write("socks5", "ipv6", bytes([5, 1, 0, 5, 1, 0, 4]) + IP6_FD00_1 + bytes([0, 80]))
write("socks5", "domain", bytes([5, 2, 2, 0, 5, 1, 0, 3, 11]) + b"example.com" + bytes([0, 80]))
write("socks5", "bind", bytes([5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80]))

# --- CONNECT authority / headers -------------------------------------------------------------
write("connect_headers", "ipv4", "10.0.0.7:8080\nfor=\"10.0.0.1:5000\"")
write("connect_headers", "ipv6-mapped", "[::ffff:10.0.0.7]:80\nfor=\"[fd00::1]:80\";proto=https")
write("connect_headers", "hostname", "echo.default.svc:80\nfor=10.0.0.1, for=10.0.0.2")
write("inbound_target", "ipv4", "10.0.0.7:8080")
write("inbound_target", "ipv6", "[fd00::7]:15008")
write("inbound_target", "ipv6-mapped", "[::ffff:10.0.0.7]:80")
write("inbound_target", "hostname", "Echo.Default.svc.cluster.local:80")
write("inbound_target", "plus-port", "echo:+080")
write("baggage", "upstream", "k8s.cluster.name=Kubernetes,k8s.namespace.name=ns1,k8s.deployment.name=client,service.name=client-app,service.version=v2")
write("baggage", "properties", " k8s.job.name = j ;prop=1,garbage,service.name=,other=x")
write("baggage", "cronjob", "k8s.cronjob.name=nightly,k8s.pod.name=p-1,service.version=a=b")

# --- HTTP/2 frames after the preface -----------------------------------------------------------
def h2frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload

def lit(name, value):
    # Literal without indexing; the name by static-table index when it is an int.
    v = value.encode()
    if isinstance(name, int):
        return bytes([name]) + varint_hpack(len(v)) + v
    n = name.encode()
    return b"\x00" + varint_hpack(len(n)) + n + varint_hpack(len(v)) + v

def varint_hpack(n):  # 7-bit prefix, no Huffman
    if n < 127:
        return bytes([n])
    out, n = bytes([127]), n - 127
    while n >= 128:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])

settings = h2frame(4, 0, 0, b"")
settings_ack = h2frame(4, 1, 0, b"")
connect = lambda sid, auth, extra=b"": h2frame(1, 4, sid, lit(2, "CONNECT") + lit(1, auth) + extra)
hdrs = lit("baggage", "k8s.cluster.name=c1,k8s.namespace.name=default,service.name=client") + lit("forwarded", 'for="10.0.0.1:5000"')
write("hbone_server", "connect-data", settings + settings_ack + connect(1, "10.0.0.7:8080", hdrs) + h2frame(0, 0, 1, b"hello") + h2frame(0, 1, 1, b""))
write("hbone_server", "get-and-bad-authority", settings + h2frame(1, 5, 1, b"\x82\x86\x84" + lit(1, "x")) + connect(3, "example.com"))
write("hbone_server", "ping-window-rst", settings + h2frame(6, 0, 0, b"12345678") + connect(1, "[fd00::1]:80") + h2frame(8, 0, 1, struct.pack(">I", 1000)) + h2frame(3, 0, 1, struct.pack(">I", 8)) + h2frame(7, 0, 0, struct.pack(">II", 1, 0)))

# --- DNS queries ----------------------------------------------------------------------------
def qname(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".") if l) + b"\x00"

def dns_query(qid, name, qtype, edns=None):
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    msg = header + qname(name) + struct.pack(">HH", qtype, 1)
    if edns:
        msg += b"\x00" + struct.pack(">HHIH", 41, edns, 0, 0)
    return msg

write("dns", "a-fqdn", dns_query(0x1234, "echo.default.svc.cluster.local.", 1))
write("dns", "aaaa-short", dns_query(0x4321, "echo", 28))
write("dns", "a-search-edns", dns_query(7, "echo.default.svc.cluster.local.default.svc.cluster.local.", 1, edns=1232))
write("dns", "external", dns_query(9, "example.com.", 1))
write("dns", "not-a-query", struct.pack(">HHHHHH", 5, 0x8000, 0, 0, 0, 0))

# --- Local config ---------------------------------------------------------------------------
write("local_config", "minimal", "workloads:\n- name: a\n  namespace: ns\n  workloadIps: [10.0.0.1]\n")
example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "localhost.yaml")
write("local_config", "localhost-example", open(example).read())
write("local_config", "bad-protocol", "workloads:\n- namespace: ns\n  workloadIps: [10.0.0.1]\n  protocol: QUIC\n")
write("local_config", "service-policy", "services:\n- name: s\n  namespace: ns\n  hostname: s.ns.svc\n  vips: [\"/10.96.0.1\"]\n  ports: {80: 8080}\npolicies:\n- name: p\n  namespace: ns\n  action: Deny\n  rules: [[[{notDestinationPorts: [1]}]]]\n")
