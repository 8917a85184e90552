package cp

import (
	"context"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"istio.io/istio/pkg/monitoring"
)

var (
	metricsOnce     sync.Once
	metricsRegistry = prometheus.NewRegistry()
)

// initMetrics installs istio's Prometheus exporter (as istiod does at startup) on a private
// registry, so istiod's own counters (pilot_total_xds_rejects, citadel_server_*) can be read.
func initMetrics() {
	metricsOnce.Do(func() {
		if _, err := monitoring.RegisterPrometheusExporter(metricsRegistry, metricsRegistry); err != nil {
			panic(err)
		}
	})
}

const createCertificateMethod = "/istio.v1.auth.IstioCertificateService/CreateCertificate"

type stats struct {
	mu          sync.Mutex
	caGranted   int64
	caRefused   int64
	lastRefusal string
	xdsStreams  int64
}

func newStats() *stats { return &stats{} }

func (st *stats) caInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if info.FullMethod == createCertificateMethod {
		st.mu.Lock()
		if err == nil {
			st.caGranted++
		} else {
			st.caRefused++
			s, _ := status.FromError(err)
			st.lastRefusal = s.Code().String() + ": " + s.Message()
		}
		st.mu.Unlock()
	}
	return resp, err
}

func (st *stats) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	st.mu.Lock()
	st.xdsStreams++
	st.mu.Unlock()
	return h(srv, ss)
}

// Stats is the body of GET /stats.
type Stats struct {
	CA struct {
		Granted     int64  `json:"granted"`
		Refused     int64  `json:"refused"`
		LastRefusal string `json:"last_refusal,omitempty"`
	} `json:"ca"`
	XDS struct {
		// Streams opened on the xDS port since start (all gRPC streams).
		StreamsOpened int64 `json:"streams_opened"`
		// Currently connected proxies, by istiod connection ID.
		Connected []string `json:"connected"`
		// NACKs istiod recorded (pilot_total_xds_rejects), by type URL.
		Nacks map[string]float64 `json:"nacks"`
		// DiscoveryServer.InboundUpdates / CommittedUpdates.
		InboundUpdates   int64 `json:"inbound_updates"`
		CommittedUpdates int64 `json:"committed_updates"`
	} `json:"xds"`
	// Selected istiod metrics, summed over labels.
	Metrics map[string]float64 `json:"metrics"`
}

var statMetrics = []string{
	"pilot_total_xds_rejects",
	"pilot_xds_pushes",
	"pilot_xds",
	"citadel_server_csr_count",
	"citadel_server_success_cert_issuance_count",
	"citadel_server_authentication_failure_count",
	"citadel_server_csr_sign_err_count",
}

func (s *Server) Stats() Stats {
	var out Stats
	s.stats.mu.Lock()
	out.CA.Granted, out.CA.Refused, out.CA.LastRefusal = s.stats.caGranted, s.stats.caRefused, s.stats.lastRefusal
	out.XDS.StreamsOpened = s.stats.xdsStreams
	s.stats.mu.Unlock()
	out.XDS.Connected = []string{}
	for _, c := range s.Fake.Discovery.AllClients() {
		out.XDS.Connected = append(out.XDS.Connected, c.ID())
	}
	out.XDS.InboundUpdates = s.Fake.Discovery.InboundUpdates.Load()
	out.XDS.CommittedUpdates = s.Fake.Discovery.CommittedUpdates.Load()
	out.XDS.Nacks = map[string]float64{}
	out.Metrics = map[string]float64{}
	families, _ := metricsRegistry.Gather()
	want := map[string]bool{}
	for _, m := range statMetrics {
		want[m] = true
	}
	for _, f := range families {
		name := f.GetName()
		if !want[name] {
			continue
		}
		total := 0.0
		for _, m := range f.GetMetric() {
			v := metricValue(m)
			total += v
			if name == "pilot_total_xds_rejects" {
				out.XDS.Nacks[labelValue(m, "type")] += v
			}
		}
		out.Metrics[name] = total
	}
	return out
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if strings.EqualFold(l.GetName(), name) {
			return l.GetValue()
		}
	}
	return ""
}
