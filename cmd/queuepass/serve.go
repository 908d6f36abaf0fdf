package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/httpapi"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/redisstore"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// Files in the data directory besides the store's own.
const (
	adminKeyFile = "admin.key"
	passKeyFile  = "pass-keys.json"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after a signal.
const shutdownTimeout = 15 * time.Second

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	fset.SetOutput(stderr)
	addr := fset.String("addr", envDefault(getenv, "QUEUEPASS_ADDR", "127.0.0.1:8080"), "listen address (env QUEUEPASS_ADDR)")
	dataDir := fset.String("data", envDefault(getenv, "QUEUEPASS_DATA", "./queuepass-data"), "data directory of the embedded store (env QUEUEPASS_DATA)")
	storeURL := fset.String("store", getenv("QUEUEPASS_STORE"), "redis://host:port/db or rediss://… to share one Redis (or Redis Cluster) between nodes; empty: the embedded store in --data (env QUEUEPASS_STORE)")
	metrics := fset.String("metrics", envDefault(getenv, "QUEUEPASS_METRICS", "public"), "who may read /metrics: public, admin or off (env QUEUEPASS_METRICS)")
	passKeyFile := fset.String("pass-key-file", getenv("QUEUEPASS_PASS_KEY_FILE"), "pass signing key file shared by every node (env QUEUEPASS_PASS_KEY_FILE; default: made in the data directory)")
	cors := fset.String("cors-origins", getenv("QUEUEPASS_CORS_ORIGINS"), "origins whose pages may call the API from a browser, comma-separated, or * (env QUEUEPASS_CORS_ORIGINS)")
	proxies := fset.String("trusted-proxies", getenv("QUEUEPASS_TRUSTED_PROXIES"), "addresses or CIDR blocks of proxies whose X-Forwarded-For names the client, for rate limits, comma-separated (env QUEUEPASS_TRUSTED_PROXIES)")
	limitFlags := map[waitroom.LimitClass]*string{}
	for _, l := range []struct {
		class waitroom.LimitClass
		env   string
		what  string
	}{
		{waitroom.LimitJoin, "QUEUEPASS_LIMIT_JOIN", "joins"},
		{waitroom.LimitChallenge, "QUEUEPASS_LIMIT_CHALLENGE", "proof-of-work challenges"},
		{waitroom.LimitRead, "QUEUEPASS_LIMIT_READ", "reads of events, tickets, streams and draws"},
	} {
		limitFlags[l.class] = fset.String("limit-"+string(l.class), envDefault(getenv, l.env, "off"),
			fmt.Sprintf("rate limit of %s per client address: N/s, N/m or N/h with an optional :BURST (e.g. 2/s:10), or off (env %s)", l.what, l.env))
	}
	if err := fset.Parse(args); err != nil {
		return err
	}
	limits := waitroom.Limits{}
	for class, spec := range limitFlags {
		l, err := waitroom.ParseLimit(*spec)
		if err != nil {
			return fmt.Errorf("%w: --limit-%s: %w", errUsage, class, err)
		}
		if l.Interval > 0 {
			limits[class] = l
		}
	}
	trusted, err := httpapi.ParseTrustedProxies(*proxies)
	if err != nil {
		return fmt.Errorf("%w: --trusted-proxies: %w", errUsage, err)
	}
	metricsAccess, err := httpapi.ParseMetricsAccess(*metrics)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, fset.Args())
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var (
		store    queuepass.Store
		adminKey string
	)
	if *storeURL == "" {
		bs, err := boltstore.Open(*dataDir)
		if err != nil {
			return err
		}
		store = bs
		reg.MustRegister(boltMetrics(bs)...)
		var adminKeyPath string
		if adminKey, adminKeyPath, err = loadAdminKey(*dataDir, getenv); err != nil {
			bs.Close()
			return err
		}
		if adminKeyPath != "" {
			log.Info("admin key is in a file of the data directory (set QUEUEPASS_ADMIN_KEY to choose one)", "path", adminKeyPath)
		}
	} else {
		// Nodes on one Redis are interchangeable: they must share the admin
		// key and the pass signing key, so both must be given.
		if adminKey = getenv("QUEUEPASS_ADMIN_KEY"); adminKey == "" {
			return fmt.Errorf("%w: with --store, set QUEUEPASS_ADMIN_KEY to the admin key that every node shares", errUsage)
		}
		if err := checkAdminKey(adminKey); err != nil {
			return fmt.Errorf("QUEUEPASS_ADMIN_KEY: %w", err)
		}
		if *passKeyFile == "" {
			return fmt.Errorf("%w: with --store, every node must sign passes with one key: make a key file once with `queuepass keygen --out pass-keys.json`, copy it to every node, and give it with --pass-key-file (or QUEUEPASS_PASS_KEY_FILE)", errUsage)
		}
		rs, err := redisstore.Open(ctx, *storeURL)
		if err != nil {
			return fmt.Errorf("store %s: %w", redactURL(*storeURL), err)
		}
		store = rs
		log.Info("store is Redis", "url", redactURL(*storeURL))
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	if getenv("QUEUEPASS_ADMIN_KEY") != "" {
		log.Info("admin key taken from QUEUEPASS_ADMIN_KEY")
	}
	keys, keyPath, created, err := loadPassKeys(*dataDir, *passKeyFile)
	if err != nil {
		return fmt.Errorf("pass signing key: %w", err)
	}
	log.Info("pass signing key ready", "path", keyPath, "created", created, "kid", keys.SigningKeyID())

	room := waitroom.New(waitroom.Config{Store: store, Keys: keys, Logger: log, Limits: limits})
	if len(limits) > 0 {
		args := []any{"trusted_proxies", *proxies}
		for class, l := range limits {
			args = append(args, string(class), l.String())
		}
		log.Info("rate limits per client address", args...)
	}
	// draining ends event streams when shutdown begins: Shutdown waits for
	// handlers but does not cancel them, and a stream would otherwise run
	// until shutdownTimeout. Other requests in flight still finish.
	draining := make(chan struct{})
	srv := &http.Server{
		Handler: httpapi.NewServer(httpapi.Config{
			Room:           room,
			AdminKey:       adminKey,
			Logger:         log,
			Registry:       reg,
			Metrics:        metricsAccess,
			CORSOrigins:    httpapi.ParseOrigins(*cors),
			TrustedProxies: trusted,
			Draining:       draining,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { close(draining) })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	where := slog.String("data", *dataDir)
	if *storeURL != "" {
		where = slog.String("store", redactURL(*storeURL))
	}
	log.Info("queuepass serving", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String(), where)
	fmt.Fprintf(stdout, "QueuePass listening on http://%s (API docs at /docs)\n", ln.Addr())

	var wg sync.WaitGroup
	roomCtx, stopRoom := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() { room.Run(roomCtx) })
	defer func() {
		stopRoom()
		wg.Wait()
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// loadAdminKey returns the admin key from QUEUEPASS_ADMIN_KEY, or else from
// the data directory's admin.key file, which it creates with a random key
// (mode 0600) on first start. path is the file used, "" for the environment.
func loadAdminKey(dataDir string, getenv func(string) string) (key, path string, err error) {
	if k := getenv("QUEUEPASS_ADMIN_KEY"); k != "" {
		if err := checkAdminKey(k); err != nil {
			return "", "", fmt.Errorf("QUEUEPASS_ADMIN_KEY: %w", err)
		}
		return k, "", nil
	}
	path = filepath.Join(dataDir, adminKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
			return "", "", fmt.Errorf("admin key file %s can be read by other users (mode %#o); run chmod 600 on it", path, info.Mode().Perm())
		}
		k := strings.TrimSpace(string(b))
		if err := checkAdminKey(k); err != nil {
			return "", "", fmt.Errorf("admin key file %s: %w", path, err)
		}
		return k, path, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("admin key: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	k := base64.RawURLEncoding.EncodeToString(raw)
	if err := writeNewFile(path, []byte(k+"\n")); err != nil {
		return "", "", fmt.Errorf("admin key: %w", err)
	}
	return k, path, nil
}

// boltMetrics are the embedded store's group-commit counters.
func boltMetrics(s *boltstore.Store) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "queuepass_store_commits_total",
			Help: "Batches the embedded store committed to disk (one fsync each).",
		}, func() float64 { c, _ := s.CommitStats(); return float64(c) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "queuepass_store_committed_ops_total",
			Help: "Calls carried by the embedded store's commits; divided by commits, the group commit yield.",
		}, func() float64 { _, n := s.CommitStats(); return float64(n) }),
	}
}

// redactURL hides a password in a store URL, for logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// loadPassKeys reads the shared key file when one is named (it must exist:
// nodes that made their own keys would not verify each other's passes), or
// else the data directory's own, made on first start.
func loadPassKeys(dataDir, shared string) (keys *pass.KeySet, path string, created bool, err error) {
	if shared != "" {
		keys, err = pass.Load(shared)
		return keys, shared, false, err
	}
	path = filepath.Join(dataDir, passKeyFile)
	keys, created, err = pass.LoadOrCreate(path)
	return keys, path, created, err
}

// minAdminKeyLen keeps admin keys out of guessing range.
const minAdminKeyLen = 16

// checkAdminKey refuses keys that are short or that no Authorization header
// could carry.
func checkAdminKey(k string) error {
	switch {
	case len(k) < minAdminKeyLen:
		return fmt.Errorf("the admin key must be at least %d characters", minAdminKeyLen)
	case strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return errors.New("the admin key must be printable ASCII without spaces")
	}
	return nil
}

// writeNewFile writes a file with mode 0600 that appears whole or not at
// all: written and synced under a temporary name, then linked into place,
// which fails if the file exists meanwhile.
func writeNewFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err = errors.Join(err, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
		return err
	}
	return os.Link(tmp, path)
}
