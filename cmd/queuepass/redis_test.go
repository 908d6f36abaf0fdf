package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/queuepass/queuepass/internal/redistest"
)

const testAdminKey = "multi-node-test-admin-key"

// buildBinary builds queuepass once per test that needs real processes.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "queuepass")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServe starts `queuepass serve` with args and env, and returns its
// base URL once it listens. The process is killed at cleanup.
func startServe(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("serve %v stderr:\n%s", args, stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := listening.FindStringSubmatch(line)
	if err != nil || m == nil {
		cmd.Wait()
		t.Fatalf("serve did not say where it listens: %q, %v\n%s", line, err, stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	return cmd, m[1]
}

// redisServer is a throwaway redis-server on a loopback port, which a test
// may stop and start again on the same port and directory.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, args ...string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(redistest.EnvURL) != "" {
			t.Fatalf("redis-server not on PATH: %v", err)
		}
		t.Skip("redis-server not on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir(), args: args}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir, "--save", ""}, r.args...)
	r.cmd = exec.Command("redis-server", args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("redis-server on port %d did not start", r.port)
}

// stop kills the server at once (SIGKILL), as a crash would.
func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// api is a tiny JSON client for process-level tests.
type apiClient struct {
	http *http.Client
	key  string
}

func (c apiClient) call(method, url string, body any) (int, http.Header, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m, nil
}

func keyFile(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "pass-keys.json")
	if err := run(context.Background(), []string{"queuepass", "keygen", "--out", file}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestThreeNodesOnOneRedis runs the drop rehearsal with its requests spread
// over three serve processes that share one Redis: every invariant must
// hold as it does on one node.
func TestThreeNodesOnOneRedis(t *testing.T) {
	url := redistest.URL(t)
	bin := buildBinary(t)
	keys := keyFile(t)
	var servers []string
	for range 3 {
		_, u := startServe(t, bin, []string{"QUEUEPASS_ADMIN_KEY=" + testAdminKey},
			"--store", url, "--pass-key-file", keys, "--data", t.TempDir())
		servers = append(servers, u)
	}
	args := []string{"queuepass", "drop", "--admin-key", testAdminKey, "--fans", "1500", "--concurrency", "60", "--batch", "100"}
	for _, s := range servers {
		args = append(args, "--server", s)
	}
	var report bytes.Buffer
	if err := run(context.Background(), args, env(nil), &report, io.Discard); err != nil {
		t.Fatalf("drop over three nodes: %v\n%s", err, report.String())
	}
	t.Logf("\n%s", report.String())
}

func TestServeOnRedisNeedsSharedKeys(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no admin key", nil, []string{"--store", "redis://127.0.0.1:1/0", "--pass-key-file", "x"}, "QUEUEPASS_ADMIN_KEY"},
		{"no pass key file", map[string]string{"QUEUEPASS_ADMIN_KEY": testAdminKey}, []string{"--store", "redis://127.0.0.1:1/0"}, "keygen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"queuepass", "serve", "--data", t.TempDir()}, tt.args...), env(tt.env), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("serve %v = %v, want an error that mentions %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestRedisOutageAndRestart stops Redis under a node: calls must answer
// 503 unavailable with Retry-After within the request timeout, /readyz
// must say 503, and once Redis is back (from its append-only file, fsync
// always) the node serves again by itself and every acknowledged join and
// admission is there.
func TestRedisOutageAndRestart(t *testing.T) {
	rs := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	bin := buildBinary(t)
	_, base := startServe(t, bin, []string{"QUEUEPASS_ADMIN_KEY=" + testAdminKey},
		"--store", rs.url(), "--pass-key-file", keyFile(t), "--data", t.TempDir())
	c := apiClient{http: &http.Client{Timeout: 20 * time.Second}, key: testAdminKey}
	if st, _, m, err := c.call("POST", base+"/v1/events", map[string]any{"id": "outage", "name": "Outage"}); err != nil || st != 201 {
		t.Fatalf("create = %d %v %v", st, m, err)
	}

	// Joins and admissions run while Redis is killed and restarted.
	type ack struct {
		user, id string
	}
	var (
		mu       sync.Mutex
		joined   []ack
		admitted = map[string]bool{}
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				user := fmt.Sprintf("w%d-%d", w, i)
				st, h, m, err := c.call("POST", base+"/v1/events/outage/tickets", map[string]any{"user_id": user})
				switch {
				case err != nil:
					t.Errorf("join %s: %v (the node must answer, not hang up)", user, err)
					return
				case st == 201:
					mu.Lock()
					joined = append(joined, ack{user, m["id"].(string)})
					mu.Unlock()
				case st == 503:
					if m["code"] != "unavailable" || h.Get("Retry-After") == "" {
						t.Errorf("join during the outage = 503 %v %v, want code unavailable with Retry-After", m, h)
					}
					time.Sleep(10 * time.Millisecond) // a client's back-off, not a wait for state
				default:
					t.Errorf("join %s = %d %v", user, st, m)
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			st, _, m, err := c.call("POST", base+"/v1/events/outage/admissions", map[string]any{"count": 5})
			if err == nil && st == 200 {
				mu.Lock()
				for _, tk := range m["tickets"].([]any) {
					admitted[tk.(map[string]any)["id"].(string)] = true
				}
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(joined) }
	waitUntil("200 joins", func() bool { return count() >= 200 })

	rs.stop()
	start := time.Now()
	st, h, m, err := c.call("GET", base+"/v1/events/outage", nil)
	if err != nil || st != 503 || m["code"] != "unavailable" || h.Get("Retry-After") == "" {
		t.Errorf("GET event with Redis down = %d %v %v %v, want 503 unavailable with Retry-After", st, m, h, err)
	}
	if d := time.Since(start); d > 11*time.Second {
		t.Errorf("the 503 took %v, longer than the request timeout", d)
	}
	if st, _, _, _ := c.call("GET", base+"/readyz", nil); st != 503 {
		t.Errorf("/readyz with Redis down = %d, want 503", st)
	}
	before := count()

	rs.start()
	waitUntil("/readyz to recover", func() bool { st, _, _, _ := c.call("GET", base+"/readyz", nil); return st == 200 })
	waitUntil("joins after the restart", func() bool { return count() >= before+200 })
	close(stop)
	wg.Wait()

	// Every acknowledged join and admission survived the restart.
	mu.Lock()
	defer mu.Unlock()
	for _, a := range joined {
		st, _, m, err := c.call("GET", base+"/v1/events/outage/tickets/"+a.id, nil)
		if err != nil || st != 200 {
			t.Errorf("acknowledged ticket of %s after the restart = %d %v", a.user, st, err)
			continue
		}
		if admitted[a.id] && m["status"] != "admitted" {
			t.Errorf("admitted ticket of %s is %v after the restart", a.user, m["status"])
		}
	}
	t.Logf("%d joins and %d admissions acknowledged across a Redis crash and restart", len(joined), len(admitted))
}
