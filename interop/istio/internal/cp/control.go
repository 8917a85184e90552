package cp

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const maxBody = 64 << 20

// controlHandler serves the plain-HTTP control endpoint:
//
//	PUT /objects   replace the whole object set (multi-document YAML body); 200 + JSON summary once
//	               applied and committed by istiod, 400 text/plain on a bad document, 500 on failure
//	PATCH /objects create or update the objects in the body, leave the rest of the set alone
//	DELETE /objects delete the objects the body's documents name (400 if one is not in the set)
//	GET /objects   the current object set as multi-document YAML
//	GET /healthz   200 "ok"
//	GET /stats     JSON counters (CA granted/refused, xDS NACKs, connected proxies)
//	GET /metrics   istiod's Prometheus metrics
//	/debug/...     istiod's debug endpoints (syncz, config_dump?proxyID=..., ...)
func (s *Server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/objects", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write(s.objectsYAML())
		case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
			if err != nil {
				httpError(w, http.StatusBadRequest, fmt.Errorf("reading body: %v", err))
				return
			}
			apply := s.ApplyYAML
			switch r.Method {
			case http.MethodPatch:
				apply = s.PatchYAML
			case http.MethodDelete:
				apply = s.DeleteYAML
			}
			res, err := apply(r.Context(), body)
			if err != nil {
				code := http.StatusInternalServerError
				if isBadRequest(err) {
					code = http.StatusBadRequest
				}
				httpError(w, code, err)
				return
			}
			writeJSON(w, res)
		default:
			w.Header().Set("Allow", "GET, PUT, POST, PATCH, DELETE")
			httpError(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
		}
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Stats())
	})
	mux.Handle("/metrics", promhttp.HandlerFor(metricsRegistry, promhttp.HandlerOpts{}))
	mux.Handle("/debug/", s.Fake.DiscoveryDebug)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, trimErr(err)+"\n")
}
