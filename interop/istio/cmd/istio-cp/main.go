// Command istio-cp is a test control plane built from istiod's packages, for running ztunnel
// against real istiod code. See ../../README.md.
//
//	istio-cp serve --objects FILE.yaml --state-dir DIR [--xds-addr A] [--ca-addr A] [--control-addr A]
//	istio-cp ztunnel-config --file DUMP.json [all|workload|service|policy|certificate|connections]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"interop/istio/internal/ambientenv"
	"interop/istio/internal/cp"
	"interop/istio/internal/zconfig"

	"istio.io/istio/pkg/log"
)

const usage = `usage:
  istio-cp serve --objects FILE.yaml --state-dir DIR [--xds-addr 127.0.0.1:0] [--ca-addr 127.0.0.1:0]
                 [--control-addr 127.0.0.1:0] [--settle 100ms] [--debounce 0s] [--log-level default:info]
                 [--no-stdin-watch]
  istio-cp ztunnel-config --file DUMP.json [all|workload|service|policy|certificate|connections]
                 [-o short|json|yaml] [--with-headers] [--namespace NS] [--address IP] [--node NODE]
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		ambientenv.EnsureOrReexec()
		os.Exit(serve(os.Args[2:]))
	case "ztunnel-config", "zc":
		os.Exit(ztunnelConfig(os.Args[2:]))
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "istio-cp: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}

// configureLogging sends istio's logs (stdout by default) to stderr: stdout carries only the
// JSON line.
func configureLogging(levels string) error {
	o := log.DefaultOptions()
	o.OutputPaths = []string{"stderr"}
	o.ErrorOutputPaths = []string{"stderr"}
	for _, item := range strings.Split(levels, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		scope, level, ok := strings.Cut(item, ":")
		if !ok {
			scope, level = "default", item
		}
		l := log.StringToLevel(level)
		if l == 0 && level != "none" {
			return fmt.Errorf("bad log level %q", item)
		}
		o.SetDefaultOutputLevel(scope, l)
	}
	return log.Configure(o)
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	objects := fs.String("objects", "", "multi-document YAML file with the initial Kubernetes/Istio objects")
	stateDir := fs.String("state-dir", "", "directory for root-cert.pem (created if missing)")
	xdsAddr := fs.String("xds-addr", "127.0.0.1:0", "xDS (and CA) gRPC/TLS listen address, loopback only")
	caAddr := fs.String("ca-addr", "127.0.0.1:0", "CA gRPC/TLS listen address, loopback only")
	controlAddr := fs.String("control-addr", "127.0.0.1:0", "control HTTP listen address, loopback only")
	settle := fs.Duration("settle", 100*time.Millisecond, "quiet period after istiod committed all updates before PUT /objects returns")
	debounce := fs.Duration("debounce", 0, "istiod push debounce (PILOT_DEBOUNCE_AFTER)")
	logLevel := fs.String("log-level", "default:info", "istio log levels, e.g. default:info,ads:debug,serverca:debug")
	noStdin := fs.Bool("no-stdin-watch", false, "do not exit when stdin reaches EOF")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *stateDir == "" {
		fmt.Fprint(os.Stderr, "istio-cp serve: --state-dir is required and no positional arguments are accepted\n", usage)
		return 2
	}
	// stdout carries exactly one line: keep a private handle on it and point fd 1 at stderr, so
	// nothing else (istio's logger, stray prints in libraries) can write there.
	out, err := privateStdout()
	if err != nil {
		fmt.Fprintf(os.Stderr, "istio-cp: %v\n", err)
		return 1
	}
	if err := configureLogging(*logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "istio-cp: %v\n", err)
		return 2
	}
	var data []byte
	if *objects != "" {
		var err error
		if data, err = os.ReadFile(*objects); err != nil {
			fmt.Fprintf(os.Stderr, "istio-cp: %v\n", err)
			return 1
		}
	}
	f := cp.NewProcessFailer("")
	defer f.Close()
	srv, err := cp.Start(f, cp.Options{
		Objects:     data,
		StateDir:    *stateDir,
		XDSAddr:     *xdsAddr,
		CAAddr:      *caAddr,
		ControlAddr: *controlAddr,
		Settle:      *settle,
		Debounce:    *debounce,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "istio-cp: %v\n", err)
		return 1
	}
	line, _ := json.Marshal(srv.Info())
	fmt.Fprintln(out, string(line))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if !*noStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			log.Infof("stdin closed; shutting down")
			stop()
		}()
	}
	<-ctx.Done()
	log.Infof("shutting down")
	srv.Close()
	return 0
}

func privateStdout() (*os.File, error) {
	fd, err := unix.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("dup stdout: %v", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.Dup2(2, 1); err != nil {
		return nil, fmt.Errorf("redirect stdout: %v", err)
	}
	return os.NewFile(uintptr(fd), "stdout"), nil
}

// reorder moves flags after positional arguments in front of them, so both
// `ztunnel-config --file F workload` and `ztunnel-config workload --file F` work.
func reorder(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if fl := fs.Lookup(name); fl != nil {
				if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func ztunnelConfig(args []string) int {
	fs := flag.NewFlagSet("ztunnel-config", flag.ContinueOnError)
	var file string
	var o zconfig.Options
	fs.StringVar(&file, "file", "", "ztunnel /config_dump JSON file")
	fs.StringVar(&file, "f", "", "shorthand for --file")
	fs.StringVar(&o.Output, "output", "short", "short|json|yaml")
	fs.StringVar(&o.Output, "o", "short", "shorthand for --output")
	fs.BoolVar(&o.WithHeaders, "with-headers", false, "all: print section headers")
	fs.StringVar(&o.Namespace, "namespace", "", "filter by namespace (workload/service/policy/connections)")
	fs.StringVar(&o.Address, "address", "", "workload: filter by address")
	fs.StringVar(&o.Node, "node", "", "workload: filter by node")
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return 2
	}
	if file == "" || fs.NArg() > 1 {
		fmt.Fprint(os.Stderr, "istio-cp ztunnel-config: --file is required, at most one view\n", usage)
		return 2
	}
	o.What = fs.Arg(0)
	// istioctl logs nothing here, but keep istio's logger off stdout regardless.
	_ = configureLogging("default:warn")
	if err := zconfig.Run(file, o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}
