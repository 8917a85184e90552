// Package zconfig prints a ztunnel /config_dump the way `istioctl ztunnel-config <cmd> --file`
// does, using istioctl's own config-dump writer.
package zconfig

import (
	"fmt"
	"io"
	"os"

	"istio.io/istio/istioctl/pkg/writer/ztunnel/configdump"
)

// Options mirror istioctl ztunnel-config's flags for --file mode.
type Options struct {
	// What: all | workload | service | policy | certificate | connections (istioctl aliases accepted).
	What string
	// Output: short (tables, default) | json | yaml.
	Output string
	// WithHeaders: `all --with-headers`.
	WithHeaders bool
	// Filters (istioctl: --workload-namespace, --address, --workload-node,
	// --service-namespace, --policy-namespace).
	Namespace, Address, Node string
}

var aliases = map[string]string{
	"all":      "all",
	"workload": "workload", "workloads": "workload", "w": "workload",
	"service": "service", "services": "service", "s": "service", "svc": "service",
	"policy": "policy", "policies": "policy", "p": "policy", "pol": "policy",
	"certificate": "certificate", "certificates": "certificate", "certs": "certificate", "cert": "certificate",
	"connections": "connections", "cons": "connections",
}

// Run reads the dump from file and prints the selected view to out.
func Run(file string, o Options, out io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return Print(data, o, out)
}

// Print prints the selected view of dump to out.
func Print(dump []byte, o Options, out io.Writer) error {
	what, ok := aliases[o.What]
	if o.What == "" {
		what, ok = "all", true
	}
	if !ok {
		return fmt.Errorf("unknown view %q (all|workload|service|policy|certificate|connections)", o.What)
	}
	if o.Output == "" {
		o.Output = "short"
	}
	if o.Output != "short" && o.Output != "json" && o.Output != "yaml" {
		return fmt.Errorf("output format %q not supported", o.Output)
	}
	// Exactly istioctl's setupConfigdumpZtunnelConfigWriter.
	cw := &configdump.ConfigWriter{Stdout: out, FullDump: dump}
	if err := cw.Prime(dump); err != nil {
		return err
	}
	short := o.Output == "short"
	switch what {
	case "all":
		if short {
			return cw.PrintFullSummary(o.WithHeaders)
		}
		return cw.PrintFullDump(o.Output)
	case "workload":
		f := configdump.WorkloadFilter{Namespace: o.Namespace, Address: o.Address, Node: o.Node}
		if short {
			return cw.PrintWorkloadSummary(f)
		}
		return cw.PrintWorkloadDump(f, o.Output)
	case "service":
		f := configdump.ServiceFilter{Namespace: o.Namespace}
		if short {
			return cw.PrintServiceSummary(f)
		}
		return cw.PrintServiceDump(f, o.Output)
	case "policy":
		f := configdump.PolicyFilter{Namespace: o.Namespace}
		if short {
			return cw.PrintPolicySummary(f)
		}
		return cw.PrintPolicyDump(f, o.Output)
	case "certificate":
		if short {
			return cw.PrintSecretSummary()
		}
		return cw.PrintSecretDump(o.Output)
	case "connections":
		f := configdump.ConnectionsFilter{Namespace: o.Namespace}
		if short {
			return cw.PrintConnectionsSummary(f)
		}
		return cw.PrintConnectionsDump(f, o.Output)
	}
	return nil
}
