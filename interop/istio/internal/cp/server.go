// Package cp runs a test control plane built from istiod's own packages: the discovery server
// from pilot/test/xds (ambient enabled, real gRPC over TLS), istiod's CA gRPC service
// (security/pkg/server/ca) with the kube-JWT authenticator and node authorizer, and a control
// endpoint that replaces the fake cluster's object set.
package cp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"istio.io/istio/pilot/pkg/features"
	istiogrpc "istio.io/istio/pilot/pkg/grpc"
	secmodel "istio.io/istio/pilot/pkg/security/model"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/keepalive"
	kubelib "istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/multicluster"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/security"
	"istio.io/istio/pkg/test"
	xdspkg "istio.io/istio/pkg/xds"
	"istio.io/istio/security/pkg/cmd"
	"istio.io/istio/security/pkg/pki/ca"
	caserver "istio.io/istio/security/pkg/server/ca"
	"istio.io/istio/security/pkg/server/ca/authenticate"
	"istio.io/istio/security/pkg/server/ca/authenticate/kubeauth"
)

// TrustDomain is the trust domain (and the self-signed root's organisation), istiod's default.
const TrustDomain = constants.DefaultClusterLocalDomain

// ClusterID is the ID of the single fake cluster ("Kubernetes", istiod's default).
const ClusterID = cluster.ID(constants.DefaultClusterName)

// IstiodDNSNames are the SANs of the istiod serving certificate (plus IP 127.0.0.1).
var IstiodDNSNames = []string{"istiod.istio-system.svc", "istiod.istio-system.svc.cluster.local", "localhost", "127.0.0.1"}

// Options configures Start.
type Options struct {
	// Objects is the initial multi-document YAML object set.
	Objects []byte
	// StateDir receives root-cert.pem.
	StateDir string
	// Listen addresses; must be loopback. Empty means 127.0.0.1:0.
	XDSAddr, CAAddr, ControlAddr string
	// Settle is how long istiod's update counters must stay still (with every update
	// committed) before an object change is reported applied. Default 100ms.
	Settle time.Duration
	// SyncTimeout bounds the wait for an object change to be applied. Default 20s.
	SyncTimeout time.Duration
	// Debounce is istiod's push debounce (PILOT_DEBOUNCE_AFTER); 0 as in istio's fake server.
	Debounce time.Duration
}

// Info is what `serve` prints as its single stdout line.
type Info struct {
	XDS      string `json:"xds"`
	CA       string `json:"ca"`
	Control  string `json:"control"`
	RootCert string `json:"root_cert"`
}

// Server is a running control plane.
type Server struct {
	t    test.Failer
	opts Options
	info Info

	Fake    *xds.FakeDiscoveryServer
	Kube    kubelib.Client
	CA      *ca.IstioCA
	RootPEM []byte

	xdsGrpc, caGrpc *grpc.Server
	httpSrv         *http.Server
	closeOnce       sync.Once

	applyMu sync.Mutex
	current map[objKey]*object
	rv      int64
	readers map[string]func(name, ns string) (runtime.Object, bool)

	stats *stats
}

func listenLoopback(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("bad listen address %q: %v", addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("listen address %q is not loopback", addr)
	}
	return net.Listen("tcp", addr)
}

// Start builds and starts the control plane. t receives Cleanup registrations (use a
// *testing.T in tests, a ProcessFailer in the binary). PILOT_ENABLE_AMBIENT=true must have
// been in the environment when the process started (see package ambientenv).
func Start(t test.Failer, opts Options) (*Server, error) {
	if !features.EnableAmbient {
		return nil, fmt.Errorf("PILOT_ENABLE_AMBIENT=true must be set in the environment before the process starts")
	}
	if opts.Settle == 0 {
		opts.Settle = 100 * time.Millisecond
	}
	if opts.SyncTimeout == 0 {
		opts.SyncTimeout = 20 * time.Second
	}
	if len(features.CATrustedNodeAccounts) == 0 {
		// The istiod Helm chart always sets CA_TRUSTED_NODE_ACCOUNTS=<istio namespace>/ztunnel.
		features.CATrustedNodeAccounts.Insert(types.NamespacedName{Namespace: "istio-system", Name: "ztunnel"})
	}
	initial, err := parseObjects(opts.Objects)
	if err != nil {
		return nil, fmt.Errorf("objects: %v", err)
	}
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, err
	}
	initMetrics()

	s := &Server{t: t, opts: opts, current: map[objKey]*object{}, stats: newStats()}

	// --- CA: istiod's in-memory self-signed root (what istiod builds when it has no cacerts and
	// no kube access: same options as the kube path, RSA 2048, org = trust domain).
	caOpts, err := ca.NewSelfSignedDebugIstioCAOptions("", cmd.DefaultSelfSignedCACertTTL,
		cmd.DefaultWorkloadCertTTL, cmd.DefaultMaxWorkloadCertTTL, TrustDomain, 2048)
	if err != nil {
		return nil, fmt.Errorf("self-signed CA: %v", err)
	}
	s.CA, err = ca.NewIstioCA(caOpts)
	if err != nil {
		return nil, fmt.Errorf("istio CA: %v", err)
	}
	s.RootPEM = s.CA.GetCAKeyCertBundle().GetRootCertPem()
	rootPath, err := filepath.Abs(filepath.Join(opts.StateDir, "root-cert.pem"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(rootPath, s.RootPEM, 0o644); err != nil {
		return nil, err
	}
	// istiod's own serving cert, issued by its CA the way istiod does it (certcontroller.go).
	certChain, keyPEM, err := s.CA.GenKeyCert(IstiodDNSNames, cmd.DefaultSelfSignedCACertTTL, false)
	if err != nil {
		return nil, fmt.Errorf("istiod serving cert: %v", err)
	}
	servingCert, err := tls.X509KeyPair(certChain, keyPEM)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(s.RootPEM)

	xdsLis, err := listenLoopback(opts.XDSAddr)
	if err != nil {
		return nil, fmt.Errorf("xds listener: %v", err)
	}
	caLis, err := listenLoopback(opts.CAAddr)
	if err != nil {
		xdsLis.Close()
		return nil, fmt.Errorf("ca listener: %v", err)
	}
	ctlLis, err := listenLoopback(opts.ControlAddr)
	if err != nil {
		xdsLis.Close()
		caLis.Close()
		return nil, fmt.Errorf("control listener: %v", err)
	}
	s.info = Info{XDS: xdsLis.Addr().String(), CA: caLis.Addr().String(), Control: ctlLis.Addr().String(), RootCert: rootPath}

	// --- Discovery server (istiod's, with the fake cluster).
	s.Fake = xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		DefaultClusterName: ClusterID,
		DebounceTime:       opts.Debounce,
		KubeClientModifier: func(c kubelib.Client) {
			installTokenReviewReactor(c.Kube().(*fake.Clientset))
		},
	})
	s.Kube = s.Fake.KubeClient()

	// Authenticators exactly as istiod's bootstrap builds them (server.go): client cert first,
	// then the kube JWT authenticator (TokenReview against the cluster). Shared by xDS
	// (XDS_AUTH defaults to true) and the CA.
	authenticators := []security.Authenticator{
		&authenticate.ClientCertAuthenticator{},
		kubeauth.NewKubeJWTAuthenticator(s.Fake.Discovery.Env.Watcher, s.Kube.Kube(), ClusterID, nil, nil),
	}
	s.Fake.Discovery.Authenticators = authenticators

	// CA server with the node authorizer (CA_TRUSTED_NODE_ACCOUNTS), fed by a multicluster
	// controller holding our one cluster, as istiod's multicluster controller would.
	mc := multicluster.NewFakeController()
	caSrv, err := caserver.New(s.CA, cmd.DefaultMaxWorkloadCertTTL, authenticators, mc)
	if err != nil {
		return nil, fmt.Errorf("ca server: %v", err)
	}
	stop := test.NewStop(t)
	mc.Add(ClusterID, s.Kube, stop)

	// Informer-backed readers for every supported kind (used to know a write has been observed).
	s.readers = map[string]func(name, ns string) (runtime.Object, bool){}
	for gk, h := range supportedKinds {
		if !h.noReader {
			s.readers[gk.String()] = h.newReader(s.Kube)
		}
	}
	// Start the informers created after the fake server started (node authorizer, readers).
	if !s.Kube.RunAndWait(stop) {
		return nil, fmt.Errorf("informers did not sync")
	}

	// --- gRPC servers: options and TLS as istiod's secure gRPC server (port 15012).
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{servingCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    roots,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"},
	}
	secmodel.EnforceGoCompliance(tlsCfg)
	newGrpc := func() *grpc.Server {
		o := istiogrpc.ServerOptions(keepalive.DefaultOption(), xdspkg.RecordRecvSize, s.stats.caInterceptor)
		o = append(o, grpc.Creds(credentials.NewTLS(tlsCfg)), grpc.ChainStreamInterceptor(s.stats.streamInterceptor))
		return grpc.NewServer(o...)
	}
	s.xdsGrpc = newGrpc()
	s.Fake.Discovery.Register(s.xdsGrpc)
	caSrv.Register(s.xdsGrpc) // istiod serves the CA on its xDS port too
	s.caGrpc = newGrpc()
	caSrv.Register(s.caGrpc)
	go func() { _ = s.xdsGrpc.Serve(xdsLis) }()
	go func() { _ = s.caGrpc.Serve(caLis) }()

	s.httpSrv = &http.Server{Handler: s.controlHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.httpSrv.Serve(ctlLis) }()
	t.Cleanup(s.Close)

	if _, err := s.apply(context.Background(), initial); err != nil {
		s.Close()
		return nil, fmt.Errorf("applying initial objects: %v", err)
	}
	log.Infof("istio-cp ready: xds=%s ca=%s control=%s", s.info.XDS, s.info.CA, s.info.Control)
	return s, nil
}

// Info returns the listen addresses and root cert path.
func (s *Server) Info() Info { return s.info }

// Close stops the servers started by Start (the fake discovery server is stopped by the
// Failer's cleanups).
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.httpSrv != nil {
			_ = s.httpSrv.Close()
		}
		if s.xdsGrpc != nil {
			s.xdsGrpc.Stop()
		}
		if s.caGrpc != nil {
			s.caGrpc.Stop()
		}
	})
}

// ApplyYAML replaces the object set (same as PUT /objects).
func (s *Server) ApplyYAML(ctx context.Context, data []byte) (*ApplyResult, error) {
	objs, err := parseObjects(data)
	if err != nil {
		return nil, &badRequest{err}
	}
	return s.apply(ctx, objs)
}

type badRequest struct{ error }

// ApplyResult summarises an object-set replacement.
type ApplyResult struct {
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Deleted   []string `json:"deleted"`
	Unchanged int      `json:"unchanged"`
	// istiod's DiscoveryServer counters once the change settled.
	InboundUpdates   int64 `json:"inbound_updates"`
	CommittedUpdates int64 `json:"committed_updates"`
	ElapsedMillis    int64 `json:"elapsed_ms"`
}

type pendingCheck struct {
	key     objKey
	deleted bool
	rv      string
}

// PatchYAML creates or updates the given objects and leaves every other object as it is
// (PATCH /objects): one pod changed in a set of 50k costs one write, not a diff of the set.
func (s *Server) PatchYAML(ctx context.Context, data []byte) (*ApplyResult, error) {
	objs, err := parseObjects(data)
	if err != nil {
		return nil, &badRequest{err}
	}
	return s.applyWith(ctx, func(cur map[objKey]*object) (diff, error) { return patchDiff(cur, objs), nil })
}

// DeleteYAML deletes the objects the documents name (DELETE /objects; only apiVersion, kind
// and metadata are read). Naming an object that is not in the set is a bad request and
// deletes nothing.
func (s *Server) DeleteYAML(ctx context.Context, data []byte) (*ApplyResult, error) {
	objs, err := parseObjects(data)
	if err != nil {
		return nil, &badRequest{err}
	}
	return s.applyWith(ctx, func(cur map[objKey]*object) (diff, error) {
		d, err := deleteDiff(cur, objs)
		if err != nil {
			return diff{}, &badRequest{err}
		}
		return d, nil
	})
}

func (s *Server) apply(ctx context.Context, next []*object) (*ApplyResult, error) {
	return s.applyWith(ctx, func(cur map[objKey]*object) (diff, error) { return computeDiff(cur, next), nil })
}

// applyWith writes the diff plan computes against the current set (under the apply lock) and
// waits for istiod to commit it.
func (s *Server) applyWith(ctx context.Context, plan func(map[objKey]*object) (diff, error)) (*ApplyResult, error) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	start := time.Now()
	d, err := plan(s.current)
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{Created: []string{}, Updated: []string{}, Deleted: []string{}, Unchanged: len(d.unchanged)}
	var checks []pendingCheck

	write := func(o *object, create bool) error {
		defaultUID(o, s.current[o.key])
		obj := o.obj.DeepCopyObject()
		// The fake trackers store objects as given and assign no resourceVersion; stamp one
		// (as the API server would) so informer caches can be checked for this exact write.
		s.rv++
		if m, err := meta.Accessor(obj); err == nil {
			m.SetResourceVersion(strconv.FormatInt(s.rv, 10))
		}
		var out runtime.Object
		var err error
		if create {
			out, err = o.handler.create(s.Kube, obj)
		} else {
			out, err = o.handler.update(s.Kube, obj)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", o.key, err)
		}
		s.current[o.key] = o
		checks = append(checks, pendingCheck{key: o.key, rv: resourceVersion(out)})
		return nil
	}
	for _, o := range d.create {
		if err := write(o, true); err != nil {
			return nil, err
		}
		res.Created = append(res.Created, o.key.String())
	}
	for _, o := range d.update {
		if err := write(o, false); err != nil {
			return nil, err
		}
		res.Updated = append(res.Updated, o.key.String())
	}
	for _, o := range d.delete {
		if err := o.handler.delete(s.Kube, o.key.Name, o.key.Namespace); err != nil {
			return nil, fmt.Errorf("%s: delete: %v", o.key, err)
		}
		delete(s.current, o.key)
		checks = append(checks, pendingCheck{key: o.key, deleted: true})
		res.Deleted = append(res.Deleted, o.key.String())
	}
	if err := s.waitSynced(ctx, checks); err != nil {
		return nil, err
	}
	res.InboundUpdates = s.Fake.Discovery.InboundUpdates.Load()
	res.CommittedUpdates = s.Fake.Discovery.CommittedUpdates.Load()
	res.ElapsedMillis = time.Since(start).Milliseconds()
	return res, nil
}

func resourceVersion(o runtime.Object) string {
	if m, ok := o.(interface{ GetResourceVersion() string }); ok {
		return m.GetResourceVersion()
	}
	return ""
}

// waitSynced returns once (1) every write is visible in the shared informers istiod reads
// from, and (2) istiod's DiscoveryServer has committed every inbound config update (the
// EnsureSynced condition of pilot/test/xds) and no new update arrived for opts.Settle.
func (s *Server) waitSynced(ctx context.Context, checks []pendingCheck) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.SyncTimeout)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for _, c := range checks {
		read := s.readers[c.key.GroupKind.String()]
		for read != nil {
			got, found := read(c.key.Name, c.key.Namespace)
			if c.deleted && !found {
				break
			}
			if !c.deleted && found && (c.rv == "" || resourceVersion(got) == c.rv) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("timed out waiting for the informer to observe %s", c.key)
			case <-tick.C:
			}
		}
	}
	d := s.Fake.Discovery
	last := d.InboundUpdates.Load()
	lastChange := time.Now()
	for {
		in, committed := d.InboundUpdates.Load(), d.CommittedUpdates.Load()
		if in != last {
			last, lastChange = in, time.Now()
		}
		if committed >= in && time.Since(lastChange) >= s.opts.Settle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for istiod to commit updates (inbound %d, committed %d)", in, committed)
		case <-tick.C:
		}
	}
}

func (s *Server) objectsYAML() []byte {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	return renderObjects(s.current)
}

func isBadRequest(err error) bool {
	_, ok := err.(*badRequest)
	return ok
}

func trimErr(err error) string {
	return strings.TrimSpace(err.Error())
}
