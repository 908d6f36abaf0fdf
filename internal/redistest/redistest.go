// Package redistest gives tests a real Redis: the one named by
// QUEUEPASS_TEST_REDIS_URL, or a throwaway Redis Cluster that a test starts
// on loopback ports with the redis-server and redis-cli found on PATH.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvURL is the environment variable that names the Redis that tests use.
// When it is set, tests that need Redis fail instead of skipping when Redis
// cannot be reached or started.
const EnvURL = "QUEUEPASS_TEST_REDIS_URL"

// URL returns the Redis URL in QUEUEPASS_TEST_REDIS_URL, or skips the test
// with a message that says how to run it.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skipf("%s is not set; set it (e.g. redis://127.0.0.1:6379/0) to run the Redis tests", EnvURL)
	}
	return u
}

// required reports whether Redis tests must run (EnvURL is set).
func required() bool { return os.Getenv(EnvURL) != "" }

// Server starts a standalone redis-server on a loopback port, with its
// files in a t.TempDir(), no persistence unless extra arguments say
// otherwise (for example "--appendonly", "yes"), and returns its URL
// ("redis://127.0.0.1:port/0") and a function that kills it (also called
// at cleanup). It skips or fails like Cluster when redis-server is missing.
func Server(t testing.TB, extra ...string) (url string, kill func()) {
	t.Helper()
	server := lookPath(t, "redis-server")
	port := freePorts(t, 1)[0]
	kill = start(t, server, port, t.TempDir(), extra...)
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port), kill
}

// Cluster starts a Redis Cluster of n masters (n >= 3) and no replicas on
// loopback ports, each node with its files in a t.TempDir() and no
// persistence, waits until every node reports cluster_state:ok, and returns
// the URL of one node ("redis://127.0.0.1:port"). The nodes are killed at
// cleanup. Without redis-server or redis-cli on PATH it skips the test,
// unless QUEUEPASS_TEST_REDIS_URL is set, in which case it fails it.
func Cluster(t testing.TB, n int) string {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest.Cluster(%d): Redis Cluster needs at least 3 masters", n)
	}
	server := lookPath(t, "redis-server")
	cli := lookPath(t, "redis-cli")
	var addrs []string
	for _, port := range freePorts(t, n) {
		start(t, server, port, t.TempDir(), "--cluster-enabled", "yes", "--cluster-node-timeout", "5000",
			"--cluster-config-file", "nodes.conf")
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		waitFor(t, 30*time.Second, "cluster_state:ok on "+addr, func() bool {
			info, err := command(addr, "CLUSTER", "INFO")
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
	}
	return "redis://" + addrs[0]
}

// lookPath finds a program on PATH, or skips (fails, with EnvURL set).
func lookPath(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if required() {
			t.Fatalf("redistest: %s must be on PATH: %v", name, err)
		}
		t.Skipf("redistest: %s not on PATH; skipping", name)
	}
	return path
}

// start runs redis-server on 127.0.0.1:port with its files in dir, waits
// until it answers PING, and returns a function that kills it, which
// cleanup calls too.
func start(t testing.TB, server string, port int, dir string, extra ...string) (kill func()) {
	t.Helper()
	args := append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
	}, extra...)
	cmd := exec.Command(server, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server on port %d: %v", port, err)
	}
	var once sync.Once
	kill = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("redis-server :%d output:\n%s", port, out.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitFor(t, 10*time.Second, "redis-server "+addr+" to accept connections", func() bool {
		return ping(addr)
	})
	return kill
}

// freePorts finds n ports p on loopback such that both p and its cluster
// bus port p+10000 can be listened on now.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatal("redistest: found no free loopback ports")
		}
		p := 20000 + rand.IntN(10000)
		if free(p) && free(p+10000) && !contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

func contains(ps []int, p int) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func ping(addr string) bool {
	out, err := command(addr, "PING")
	return err == nil && out == "PONG"
}

// command sends one command over RESP to addr and returns its reply as
// text (simple strings and bulk strings only).
func command(addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("redis: unexpected reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}
