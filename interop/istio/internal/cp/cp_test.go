package cp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	pb "istio.io/api/security/v1alpha1"
	"istio.io/istio/pilot/pkg/model"
	pilotxds "istio.io/istio/pilot/pkg/xds"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/security"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/security/pkg/pki/util"

	"interop/istio/internal/ambientenv"
)

func TestMain(m *testing.M) {
	// Ambient flags are read by istio's package initialisers: re-exec the test binary with them.
	ambientenv.EnsureOrReexec()
	os.Exit(m.Run())
}

func readTestdata(t *testing.T) []byte {
	b, err := os.ReadFile("../../testdata/two-nodes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start(t, Options{Objects: readTestdata(t), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

// dial connects like ztunnel: TLS with ALPN h2, verifying istiod's cert against root-cert.pem.
func dial(t *testing.T, s *Server, addr, token string) *grpc.ClientConn {
	t.Helper()
	rootPEM, err := os.ReadFile(s.Info().RootCert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs:    pool,
		ServerName: "istiod.istio-system.svc",
		NextProtos: []string{"h2"},
	}))}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ztunnelADS(t *testing.T, s *Server, node, podIP string) *pilotxds.DeltaAdsTest {
	conn := dial(t, s, s.Info().XDS, "istio-system/ztunnel/ztunnel-"+node)
	return pilotxds.NewDeltaAdsTest(t, conn).
		WithID("ztunnel~" + podIP + "~ztunnel-" + node + ".istio-system~istio-system.svc.cluster.local").
		WithMetadata(model.NodeMetadata{Namespace: "istio-system", NodeName: node, ClusterID: ClusterID}).
		WithType(v3.AddressType).
		WithTimeout(10 * time.Second)
}

func names(resp *discovery.DeltaDiscoveryResponse) []string {
	var out []string
	for _, r := range resp.Resources {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func TestDeltaADSAsZtunnel(t *testing.T) {
	s := start(t)
	ads := ztunnelADS(t, s, "node-a", "10.0.1.10")
	resp := ads.RequestResponseAck(&discovery.DeltaDiscoveryRequest{TypeUrl: v3.AddressType})
	got := names(resp)
	t.Logf("Address resources: %v", got)
	for _, want := range []string{
		"Kubernetes//Pod/default/client",
		"Kubernetes//Pod/default/server",
		"default/echo.default.svc.cluster.local",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing Address %q in %v", want, got)
		}
	}
	for _, r := range resp.Resources {
		if r.Name != "Kubernetes//Pod/default/client" {
			continue
		}
		addr := &workloadapi.Address{}
		if err := r.Resource.UnmarshalTo(addr); err != nil {
			t.Fatal(err)
		}
		w := addr.GetWorkload()
		if w.GetServiceAccount() != "client" || w.GetNode() != "node-a" || w.GetTunnelProtocol() != workloadapi.TunnelProtocol_HBONE {
			t.Errorf("unexpected client workload: %v", w)
		}
		t.Logf("client workload: %v", w)
	}

	// Remove the server pod: istiod must send its removal.
	objs := strings.Replace(string(readTestdata(t)), "  name: server\n", "  name: server2\n", 1)
	res, err := s.ApplyYAML(context.Background(), []byte(objs))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("apply: %+v", res)
	if len(res.Created) != 1 || len(res.Deleted) != 1 || len(res.Updated) != 0 {
		t.Fatalf("unexpected diff: %+v", res)
	}
	var removed, added []string
	deadline := time.Now().Add(10 * time.Second)
	for !(slices.Contains(removed, "Kubernetes//Pod/default/server") && slices.Contains(added, "Kubernetes//Pod/default/server2")) {
		if time.Now().After(deadline) {
			t.Fatalf("no removal of server / addition of server2: removed %v added %v", removed, added)
		}
		r := ads.ExpectResponse()
		removed = append(removed, r.RemovedResources...)
		added = append(added, names(r)...)
		ads.Request(&discovery.DeltaDiscoveryRequest{TypeUrl: v3.AddressType, ResponseNonce: r.Nonce})
	}

	// An AuthorizationPolicy arrives on the Authorization type.
	pol := objs + "\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow-client\n  namespace: default\n" +
		"spec:\n  selector:\n    matchLabels:\n      app: server\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        principals: [\"cluster.local/ns/default/sa/client\"]\n"
	if _, err := s.ApplyYAML(context.Background(), []byte(pol)); err != nil {
		t.Fatal(err)
	}
	authz := ztunnelADS(t, s, "node-a", "10.0.1.10").WithType(v3.WorkloadAuthorizationType)
	aresp := authz.RequestResponseAck(&discovery.DeltaDiscoveryRequest{TypeUrl: v3.WorkloadAuthorizationType})
	if got := names(aresp); !slices.Contains(got, "default/allow-client") {
		t.Fatalf("Authorization resources: %v", got)
	}

	// A NACK is counted by istiod and shows in /stats.
	nack := ztunnelADS(t, s, "node-b", "10.0.2.10")
	nack.RequestResponseNack(&discovery.DeltaDiscoveryRequest{TypeUrl: v3.AddressType})
	deadline = time.Now().Add(10 * time.Second)
	for {
		st := s.Stats()
		total := 0.0
		for _, v := range st.XDS.Nacks {
			total += v
		}
		if total >= 1 {
			t.Logf("stats: %+v", st)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("NACK not counted: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestXDSRejectsBadToken(t *testing.T) {
	s := start(t)
	const id = "ztunnel~10.0.1.10~ztunnel-node-a.istio-system~istio-system.svc.cluster.local"
	if err := adsStreamError(t, dial(t, s, s.Info().XDS, "nobody"), id, "istio-system"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("want Unauthenticated, got %v", err)
	}
	// A valid token for another namespace fails istiod's identity check.
	if err := adsStreamError(t, dial(t, s, s.Info().XDS, "default/client/client"), id, "istio-system"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("want PermissionDenied, got %v", err)
	}
}

// adsStreamError opens a delta ADS stream as node id, asks for Addresses and returns the error
// the server ends the stream with. The server may refuse before the request is even written
// (the send then sees EOF), so only what Recv reports counts.
func adsStreamError(t *testing.T, conn *grpc.ClientConn, id, namespace string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return err
	}
	meta := model.NodeMetadata{Namespace: namespace}
	_ = stream.Send(&discovery.DeltaDiscoveryRequest{
		Node:    &corev3.Node{Id: id, Metadata: meta.ToStruct()},
		TypeUrl: v3.AddressType,
	})
	for {
		if _, err := stream.Recv(); err != nil {
			if err == io.EOF {
				t.Fatal("stream ended without an error status")
			}
			return err
		}
	}
}

func csr(t *testing.T, id string) string {
	b, _, err := util.GenCSR(util.CertOptions{Host: id, ECSigAlg: util.EcdsaSigAlg, ECCCurve: util.P256Curve})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func requestCert(t *testing.T, s *Server, token, impersonate string, clusterID bool) (*pb.IstioCertificateResponse, error) {
	conn := dial(t, s, s.Info().CA, token)
	client := pb.NewIstioCertificateServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if clusterID {
		ctx = metadata.AppendToOutgoingContext(ctx, "clusterid", string(ClusterID))
	}
	req := &pb.IstioCertificateRequest{Csr: csr(t, "spiffe://cluster.local/ns/x/sa/y"), ValidityDuration: 3600}
	if impersonate != "" {
		req.Metadata = &structpb.Struct{Fields: map[string]*structpb.Value{
			security.ImpersonatedIdentity: structpb.NewStringValue(impersonate),
		}}
	}
	return client.CreateCertificate(ctx, req)
}

func leafSANs(t *testing.T, resp *pb.IstioCertificateResponse, rootPEM []byte) []string {
	t.Helper()
	chain := resp.GetCertChain()
	if len(chain) < 2 {
		t.Fatalf("chain too short: %d", len(chain))
	}
	if strings.TrimSpace(chain[len(chain)-1]) != strings.TrimSpace(string(rootPEM)) {
		t.Fatalf("last element of the chain is not root-cert.pem")
	}
	block, _ := pem.Decode([]byte(chain[0]))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("leaf does not verify against root-cert.pem: %v", err)
	}
	var out []string
	for _, u := range leaf.URIs {
		out = append(out, u.String())
	}
	return out
}

func TestCA(t *testing.T) {
	s := start(t)
	rootPEM, err := os.ReadFile(filepath.Join(filepath.Dir(s.Info().RootCert), "root-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := pem.Decode(rootPEM)
	rc, err := x509.ParseCertificate(root.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if rc.PublicKeyAlgorithm != x509.RSA || rc.Subject.Organization[0] != "cluster.local" || !rc.IsCA {
		t.Fatalf("unexpected root: alg %v subject %v", rc.PublicKeyAlgorithm, rc.Subject)
	}

	// Own identity (the CSR's SAN is ignored; the token decides).
	resp, err := requestCert(t, s, "default/client/client", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if sans := leafSANs(t, resp, rootPEM); !slices.Equal(sans, []string{"spiffe://cluster.local/ns/default/sa/client"}) {
		t.Fatalf("SANs %v", sans)
	}

	// Shared-mode ztunnel on node-a impersonating a pod identity on its node.
	resp, err = requestCert(t, s, "istio-system/ztunnel/ztunnel-node-a", "spiffe://cluster.local/ns/default/sa/client", true)
	if err != nil {
		t.Fatal(err)
	}
	if sans := leafSANs(t, resp, rootPEM); !slices.Equal(sans, []string{"spiffe://cluster.local/ns/default/sa/client"}) {
		t.Fatalf("SANs %v", sans)
	}

	refused := []struct {
		name, token, impersonate string
		clusterID                bool
	}{
		{"identity on another node", "istio-system/ztunnel/ztunnel-node-a", "spiffe://cluster.local/ns/default/sa/server", true},
		{"untrusted caller", "default/client/client", "spiffe://cluster.local/ns/default/sa/client", true},
		{"no clusterid header", "istio-system/ztunnel/ztunnel-node-a", "spiffe://cluster.local/ns/default/sa/client", false},
		{"unbound ztunnel token", "istio-system/ztunnel", "spiffe://cluster.local/ns/default/sa/client", true},
		{"pod does not exist", "default/client/ghost", "", true},
		{"wrong service account", "default/server/client", "", true},
		{"garbage token", "garbage", "", true},
	}
	for _, tc := range refused {
		_, err := requestCert(t, s, tc.token, tc.impersonate, tc.clusterID)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: want Unauthenticated, got %v", tc.name, err)
		}
	}
	st := s.Stats()
	if st.CA.Granted != 2 || st.CA.Refused != int64(len(refused)) {
		t.Errorf("stats: %+v", st.CA)
	}
}

func TestControlEndpoint(t *testing.T) {
	s := start(t)
	base := "http://" + s.Info().Control
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	for _, bad := range []struct{ body, want string }{
		{"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  nodeNam: a\n", `unknown field "spec.nodeNam"`},
		{"apiVersion: v1\nkind: Pod\nmetadata: [\n", "document 1"},
		{"apiVersion: v1\nkind: Frob\nmetadata:\n  name: x\n", "unsupported kind v1 Frob"},
		{"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n", "document 2: duplicate object Namespace a"},
	} {
		code, msg := do("PUT", "/objects", bad.body)
		if code != 400 || !strings.Contains(msg, bad.want) {
			t.Errorf("PUT %q: %d %q, want 400 containing %q", bad.body, code, msg, bad.want)
		}
	}
	// A bad document leaves the set untouched; an identical set is a no-op.
	code, msg := do("PUT", "/objects", string(readTestdata(t)))
	if code != 200 || !strings.Contains(msg, `"created": []`) || !strings.Contains(msg, `"deleted": []`) {
		t.Fatalf("reapply: %d %s", code, msg)
	}
	// v1beta1 Istio objects are stored at v1.
	code, msg = do("PUT", "/objects", string(readTestdata(t))+"---\napiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata:\n  name: deny-all\n  namespace: default\nspec: {}\n")
	if code != 200 || !strings.Contains(msg, "AuthorizationPolicy.security.istio.io default/deny-all") {
		t.Fatalf("apply policy: %d %s", code, msg)
	}
	if code, body := do("GET", "/objects", ""); code != 200 || !strings.Contains(body, "security.istio.io/v1\n") {
		t.Fatalf("GET /objects: %d %s", code, body)
	}
	if code, body := do("GET", "/stats", ""); code != 200 || !strings.Contains(body, `"nacks"`) {
		t.Fatalf("stats: %d %s", code, body)
	}
	// PATCH adds or changes only what it names; DELETE removes only what it names.
	extra := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: default\ndata:\n  k: v\n"
	code, msg = do("PATCH", "/objects", extra)
	if code != 200 || !strings.Contains(msg, `"ConfigMap default/extra"`) || !strings.Contains(msg, `"deleted": []`) {
		t.Fatalf("PATCH create: %d %s", code, msg)
	}
	code, msg = do("PATCH", "/objects", strings.Replace(extra, "k: v", "k: w", 1))
	if code != 200 || !strings.Contains(msg, `"updated": [`+"\n"+`    "ConfigMap default/extra"`) {
		t.Fatalf("PATCH update: %d %s", code, msg)
	}
	if _, body := do("GET", "/objects", ""); !strings.Contains(body, "deny-all") || !strings.Contains(body, "k: w") {
		t.Fatalf("after PATCH the rest of the set must remain: %s", body)
	}
	gone := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: default\n"
	code, msg = do("DELETE", "/objects", gone)
	if code != 200 || !strings.Contains(msg, `"deleted": [`+"\n"+`    "ConfigMap default/extra"`) {
		t.Fatalf("DELETE: %d %s", code, msg)
	}
	if code, msg := do("DELETE", "/objects", gone); code != 400 || !strings.Contains(msg, "ConfigMap default/extra: not in the object set") {
		t.Fatalf("DELETE of a missing object: %d %s", code, msg)
	}
	if _, body := do("GET", "/objects", ""); !strings.Contains(body, "deny-all") || strings.Contains(body, "name: extra") {
		t.Fatalf("after DELETE: %s", body)
	}
}
