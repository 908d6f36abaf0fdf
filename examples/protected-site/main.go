// Command protected-site is a small web site behind a QueuePass gate: its
// pages open only for people admitted from the waiting room of one event.
//
//	go run ./examples/protected-site --queuepass http://127.0.0.1:8080 --event ID [--addr 127.0.0.1:8090] [--waiting-room URL]
//
// See README.md in this directory for a walk-through.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/queuepass/queuepass/gate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "protected-site:", err)
		}
		os.Exit(1)
	}
}

// run serves the site until ctx ends. It prints one line to stdout, with
// the URL it serves, once it listens.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	queuePass := fs.String("queuepass", envOr(getenv, "QUEUEPASS_URL", "http://127.0.0.1:8080"), "base URL of the QueuePass server (env QUEUEPASS_URL)")
	event := fs.String("event", "", "ID of the event whose passes admit (required)")
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	waitingRoom := fs.String("waiting-room", "", "URL of the waiting page that refused visitors are sent to; empty: answer 401")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *event == "" {
		fs.Usage()
		return errors.New("--event is required")
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	g, err := gate.New(gate.Config{
		EventID:        *event,
		JWKSURL:        strings.TrimRight(*queuePass, "/") + "/.well-known/jwks.json",
		WaitingRoomURL: *waitingRoom,
		Logger:         log,
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           routes(g),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "protected site for event %s on http://%s\n", *event, ln.Addr())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// routes is the site: every page is behind the gate except /healthz.
func routes(g *gate.Gate) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	mux.Handle("/", g.Handler(handlePage()))
	return mux
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<title>Tickets</title>
<h1>Welcome, {{.UserID}}!</h1>
<p>You were admitted to {{.EventID}}. Your pass is good until {{.ExpiresAt.Format "15:04:05 MST"}}.</p>
`))

// handlePage greets the admitted visitor.
func handlePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := gate.ClaimsFrom(r.Context())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "private, no-store")
		page.Execute(w, c)
	})
}
