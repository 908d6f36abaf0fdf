package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that several goroutines may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// waitForURL polls out until serve has said where it listens.
func waitForURL(t *testing.T, out interface{ String() string }, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before listening: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start listening; output: %s", out.String())
	return ""
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestServeAndDrop runs the program as a user would, through run(): serve
// on the embedded store, a drop rehearsal against it, then a graceful stop.
func TestServeAndDrop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := t.TempDir()
	var out, errs lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"queuepass", "serve", "--addr", "127.0.0.1:0", "--data", data}, env(nil), &out, &errs)
	}()
	url := waitForURL(t, &out, done)

	// The admin key was made on first start, kept with mode 0600, and its
	// value never logged.
	keyPath := filepath.Join(data, adminKeyFile)
	info, err := os.Stat(keyPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin key file: %v, mode %v; want mode 0600", err, info.Mode())
	}
	raw, _ := os.ReadFile(keyPath)
	key := strings.TrimSpace(string(raw))
	if strings.Contains(errs.String(), key) || strings.Contains(out.String(), key) {
		t.Fatal("the admin key appears in the output")
	}
	if !strings.Contains(errs.String(), keyPath) {
		t.Errorf("the log does not say where the admin key is: %s", errs.String())
	}

	var report bytes.Buffer
	err = run(ctx, []string{"queuepass", "drop", "--server", url, "--admin-key", key, "--fans", "400", "--concurrency", "40", "--batch", "64"}, env(nil), &report, io.Discard)
	if err != nil {
		t.Fatalf("drop: %v\n%s", err, report.String())
	}
	for _, want := range []string{"inversions", "p99"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("drop report lacks %q:\n%s", want, report.String())
		}
	}

	// Fans on streams, with admissions by the admin, and then with the
	// event admitting by itself: every invariant holds the same.
	for _, args := range [][]string{
		{"--fans", "120", "--concurrency", "40", "--batch", "32", "--stream"},
		{"--fans", "120", "--concurrency", "40", "--rate", "3000", "--stream"},
		{"--fans", "60", "--concurrency", "30", "--rate", "3000"},
		{"--fans", "100", "--concurrency", "20", "--batch", "30", "--bots", "20", "--bot-addresses", "2", "--challenge", "4", "--arrival", "200ms"},
	} {
		report.Reset()
		err = run(ctx, append([]string{"queuepass", "drop", "--server", url, "--admin-key", key}, args...), env(nil), &report, io.Discard)
		if err != nil {
			t.Fatalf("drop %q: %v\n%s", args, err, report.String())
		}
		if !strings.Contains(report.String(), "wait estimates") || !strings.Contains(report.String(), "OK:") {
			t.Errorf("drop %q report lacks the estimates or the verdict:\n%s", args, report.String())
		}
	}

	// A second process cannot open the same data directory.
	err = run(ctx, []string{"queuepass", "serve", "--addr", "127.0.0.1:0", "--data", data}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second serve on one data directory = %v, want an error saying it is in use", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel = %v, want a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestUsage(t *testing.T) {
	dropWith := func(args ...string) []string {
		return append([]string{"queuepass", "drop", "--server", "http://127.0.0.1:1", "--admin-key", "0123456789abcdef"}, args...)
	}
	for _, args := range [][]string{
		{"queuepass"}, {"queuepass", "frobnicate"}, {"queuepass", "serve", "extra"}, {"queuepass", "drop"},
		dropWith("--bots", "-1"), dropWith("--bots", "10", "--rate", "60"), dropWith("--bot-addresses", "0"),
		dropWith("--bot-concurrency", "0"), dropWith("--challenge", "33"), dropWith("--arrival", "-1s"),
	} {
		err := run(context.Background(), args, env(nil), io.Discard, io.Discard)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("run(%q) = %v (exit %d), want a usage error (exit 2)", args, err, exitCode(err))
		}
	}
}

// TestKillDuringJoinsLosesNothing kills a serve process with SIGKILL in the
// middle of concurrent joins, restarts it, and checks that every join that
// was acknowledged is there, in the same order, with nothing duplicated.
func TestKillDuringJoinsLosesNothing(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	c := apiClient{http: &http.Client{Timeout: 10 * time.Second}, key: "durability-test-admin-key"}
	start := func() (*exec.Cmd, string) {
		return startServe(t, bin, []string{"QUEUEPASS_ADMIN_KEY=" + c.key}, "--data", data)
	}
	call := func(method, url string, body any) (int, map[string]any, error) {
		st, _, m, err := c.call(method, url, body)
		return st, m, err
	}

	cmd, url := start()
	if st, m, err := call("POST", url+"/v1/events", map[string]any{"id": "crash", "name": "Crash test"}); err != nil || st != 201 {
		t.Fatalf("create event = %d %v %v", st, m, err)
	}
	type ack struct {
		user, id string
		position int
	}
	var (
		mu    sync.Mutex
		acked []ack
		wg    sync.WaitGroup
	)
	killAt := 400
	killed := make(chan struct{})
	var once sync.Once
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				user := fmt.Sprintf("w%d-u%d", w, i)
				st, m, err := call("POST", url+"/v1/events/crash/tickets", map[string]any{"user_id": user})
				if err != nil || st != 201 {
					continue // the process may be dead: this join was never acknowledged
				}
				mu.Lock()
				acked = append(acked, ack{user, m["id"].(string), int(m["position"].(float64))})
				n := len(acked)
				mu.Unlock()
				if n >= killAt {
					once.Do(func() {
						cmd.Process.Signal(os.Kill)
						close(killed)
					})
				}
			}
		})
	}
	select {
	case <-killed:
	case <-time.After(2 * time.Minute):
		t.Fatal("joins did not reach the kill point")
	}
	wg.Wait()
	cmd.Wait()

	_, url = start()
	mu.Lock()
	defer mu.Unlock()
	seen := map[int]string{}
	for _, a := range acked {
		st, m, err := call("GET", url+"/v1/events/crash/tickets/"+a.id, nil)
		if err != nil || st != 200 {
			t.Errorf("acknowledged ticket %s of %s after restart = %d %v", a.id, a.user, st, err)
			continue
		}
		if got := int(m["position"].(float64)); got != a.position {
			t.Errorf("ticket of %s at position %d after restart, was acknowledged at %d", a.user, got, a.position)
		}
		if other, dup := seen[a.position]; dup {
			t.Errorf("position %d held by %s and %s", a.position, other, a.user)
		}
		seen[a.position] = a.user
		st, m, err = call("POST", url+"/v1/events/crash/tickets", map[string]any{"user_id": a.user})
		if err != nil || st != 200 || m["id"] != a.id {
			t.Errorf("rejoin of %s after restart = %d %v %v, want 200 with ticket %s", a.user, st, m["id"], err, a.id)
		}
	}
	st, stats, err := call("GET", url+"/v1/events/crash/stats", nil)
	if err != nil || st != 200 {
		t.Fatalf("stats = %d %v", st, err)
	}
	total := int(stats["total_tickets"].(float64))
	if total < len(acked) {
		t.Errorf("total tickets after restart = %d, fewer than the %d acknowledged", total, len(acked))
	}
	t.Logf("%d joins acknowledged before SIGKILL; %d tickets on disk after restart", len(acked), total)
}

func TestAdminKeyRules(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		file    string // written to admin.key with mode
		mode    os.FileMode
		wantErr string
	}{
		{name: "short key in the environment", env: "short", wantErr: "at least 16"},
		{name: "key with a space", env: "a key with spaces in it", wantErr: "without spaces"},
		{name: "file readable by others", file: "0123456789abcdef0123", mode: 0o644, wantErr: "chmod 600"},
		{name: "short key in the file", file: "short", mode: 0o600, wantErr: "at least 16"},
		{name: "good file", file: "0123456789abcdef0123", mode: 0o600},
		{name: "made on first start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, adminKeyFile), []byte(tt.file+"\n"), tt.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(filepath.Join(dir, adminKeyFile), tt.mode)
			}
			key, _, err := loadAdminKey(dir, env(map[string]string{"QUEUEPASS_ADMIN_KEY": tt.env}))
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("loadAdminKey = %q, %v; want an error with %q", key, err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || checkAdminKey(key) != nil):
				t.Errorf("loadAdminKey = %q, %v; want a good key", key, err)
			}
		})
	}
}

func TestKeygenAndSharedKeyFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "shared.json")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"queuepass", "keygen", "--out", file}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("keygen: %v", err)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, info.Mode())
	}
	if err := run(context.Background(), []string{"queuepass", "keygen", "--out", file}, env(nil), io.Discard, io.Discard); err == nil {
		t.Error("keygen over an existing file succeeded, want a refusal")
	}
	// Two data directories with one shared key file sign with one key.
	a, _, _, err := loadPassKeys(filepath.Join(dir, "a"), file)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _, err := loadPassKeys(filepath.Join(dir, "b"), file)
	if err != nil || a.SigningKeyID() != b.SigningKeyID() {
		t.Errorf("nodes on one key file sign with %q and %q (%v)", a.SigningKeyID(), b.SigningKeyID(), err)
	}
	if _, _, _, err := loadPassKeys(dir, filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a named key file that does not exist was accepted; nodes would not agree")
	}
}
