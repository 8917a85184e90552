// Package ambientenv makes sure istio's feature flags see ambient mode enabled.
//
// istio reads PILOT_ENABLE_AMBIENT (and derives PILOT_ENABLE_AMBIENT_WAYPOINTS, HBONE flags,
// ...) in package initialisers, i.e. before main runs. Setting features.EnableAmbient in code
// would leave the derived flags at their non-ambient defaults, so instead the process re-executes
// itself once with the environment istiod gets from its Helm chart in ambient mode.
package ambientenv

import (
	"fmt"
	"os"
	"syscall"
)

// Env is the environment a re-executed process gets (unless already set by the caller).
var Env = map[string]string{
	"PILOT_ENABLE_AMBIENT": "true",
	// Helm's istiod deployment sets this to <istio namespace>/ztunnel.
	"CA_TRUSTED_NODE_ACCOUNTS": "istio-system/ztunnel",
}

const marker = "ISTIO_CP_REEXECED"

// EnsureOrReexec returns if PILOT_ENABLE_AMBIENT=true is already in the environment; otherwise
// it sets Env and replaces the process with a fresh copy of itself (same pid, args and fds).
func EnsureOrReexec() {
	if os.Getenv("PILOT_ENABLE_AMBIENT") == "true" {
		return
	}
	if os.Getenv(marker) != "" {
		fmt.Fprintln(os.Stderr, "istio-cp: PILOT_ENABLE_AMBIENT is not true after re-exec")
		os.Exit(1)
	}
	for k, v := range Env {
		if _, set := os.LookupEnv(k); !set || k == "PILOT_ENABLE_AMBIENT" {
			os.Setenv(k, v)
		}
	}
	os.Setenv(marker, "1")
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "istio-cp: cannot find own executable: %v\n", err)
		os.Exit(1)
	}
	err = syscall.Exec(exe, os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "istio-cp: re-exec failed: %v\n", err)
	os.Exit(1)
}
