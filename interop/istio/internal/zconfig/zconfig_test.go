package zconfig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// istioTestdata is istioctl's own ztunnel config-dump testdata in the module cache.
func istioTestdata(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/istio").Output()
	if err != nil {
		t.Skipf("cannot locate istio.io/istio module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "istioctl/pkg/writer/ztunnel/configdump/testdata")
}

func TestMatchesIstioctlGoldenOutput(t *testing.T) {
	dir := istioTestdata(t)
	dump, err := os.ReadFile(filepath.Join(dir, "dump.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts   Options
		golden string
	}{
		{Options{What: "all"}, "allsummary.txt"},
		{Options{What: "all", WithHeaders: true}, "allsummary_withheaders.txt"},
		{Options{What: "workload"}, "workloadsummary.txt"},
		{Options{What: "workloads", Namespace: "default"}, "workloadsummary_default.txt"},
		{Options{What: "certificate"}, "secretsummary.txt"},
		{Options{What: "policy"}, "policies.txt"},
	} {
		var out bytes.Buffer
		if err := Print(dump, tc.opts, &out); err != nil {
			t.Fatalf("%+v: %v", tc.opts, err)
		}
		want, err := os.ReadFile(filepath.Join(dir, tc.golden))
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != string(want) {
			t.Errorf("%+v: output differs from istioctl's %s:\n%s\n--- want ---\n%s", tc.opts, tc.golden, out.String(), want)
		}
	}
}

func TestParseError(t *testing.T) {
	var out bytes.Buffer
	err := Print([]byte(`{"workloads": 7}`), Options{What: "workload"}, &out)
	if err == nil {
		t.Fatal("expected a parse error")
	}
	if err := Print([]byte(`not json`), Options{}, &out); err == nil || !strings.Contains(err.Error(), "unmarshalling config dump") {
		t.Fatalf("expected istioctl's unmarshal error, got %v", err)
	}
	if err := Print([]byte(`{}`), Options{What: "nope"}, &out); err == nil {
		t.Fatal("expected unknown view error")
	}
}
