package cp

import (
	"fmt"
	"os"
	"sync"

	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/test"
)

// ProcessFailer implements istio's test.Failer for a long-running process (not `go test`):
// Fatal logs to stderr and exits the process with status 1; Cleanup functions run, last
// registered first, when Close is called.
type ProcessFailer struct {
	mu       sync.Mutex
	cleanups []func()
	tempRoot string
	closed   bool
}

var _ test.Failer = &ProcessFailer{}

// NewProcessFailer returns a Failer whose TempDir() directories live under tempRoot
// (os.TempDir() if empty).
func NewProcessFailer(tempRoot string) *ProcessFailer {
	return &ProcessFailer{tempRoot: tempRoot}
}

func (f *ProcessFailer) Fail()    { f.fatal("test.Failer.Fail called") }
func (f *ProcessFailer) FailNow() { f.fatal("test.Failer.FailNow called") }
func (f *ProcessFailer) Helper()  {}
func (f *ProcessFailer) Log(args ...any) {
	log.Info(fmt.Sprint(args...))
}

func (f *ProcessFailer) Logf(format string, args ...any) {
	log.Infof(format, args...)
}

func (f *ProcessFailer) Fatal(args ...any) { f.fatal(fmt.Sprint(args...)) }
func (f *ProcessFailer) Fatalf(format string, args ...any) {
	f.fatal(fmt.Sprintf(format, args...))
}
func (f *ProcessFailer) Skip(args ...any) { f.fatal("skip: " + fmt.Sprint(args...)) }

func (f *ProcessFailer) fatal(msg string) {
	fmt.Fprintf(os.Stderr, "istio-cp: fatal: %s\n", msg)
	os.Exit(1)
}

func (f *ProcessFailer) TempDir() string {
	d, err := os.MkdirTemp(f.tempRoot, "istio-cp-")
	if err != nil {
		f.fatal(err.Error())
	}
	f.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

func (f *ProcessFailer) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// Close runs the registered cleanups in reverse order (once).
func (f *ProcessFailer) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	cs := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}
