// Package httpapi serves QueuePass' HTTP API (v1): routing, decoding and
// validation, problem+json errors, admin authentication, Idempotency-Key
// replay, metrics, the OpenAPI document and its interactive page.
//
// routes.go lists the whole surface. Handlers translate between HTTP and
// internal/waitroom and hold no rules of their own.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/queuepass/queuepass/internal/waitroom"
)

// Config holds a server's dependencies. Room and AdminKey are required.
type Config struct {
	Room     *waitroom.Room
	AdminKey string       // the bearer token of admin calls; never logged
	Logger   *slog.Logger // nil: discard

	// Registry collects the server's metrics; /metrics serves what it
	// gathers. nil: a new registry.
	Registry *prometheus.Registry

	// Metrics says who may read /metrics: MetricsPublic (the zero value),
	// MetricsAdmin (with the admin key) or MetricsOff (404).
	Metrics MetricsAccess

	// CORSOrigins are the origins whose pages may call the API from a
	// browser ("*": any); none: no cross-origin calls.
	CORSOrigins []string

	// TrustedProxies are the peers whose X-Forwarded-For header names the
	// client, for rate limits (Room's Limits); none: the connection's peer
	// is the client.
	TrustedProxies []netip.Prefix

	// RequestTimeout bounds the work of one request; zero: 10 seconds.
	// Event streams are exempt: they last as long as their client stays.
	RequestTimeout time.Duration

	// StreamHeartbeat is how often an idle event stream sends a comment;
	// zero: 15 seconds.
	StreamHeartbeat time.Duration

	// Draining, once closed, ends every event stream. http.Server.Shutdown
	// waits for handlers to return but does not cancel their requests, so
	// whoever shuts the server down closes Draining when shutdown begins
	// (http.Server.RegisterOnShutdown); requests other than streams still
	// finish normally. nil: streams end only with their client or ticket.
	Draining <-chan struct{}
}

// MetricsAccess says who may read /metrics.
type MetricsAccess string

// The kinds of access to /metrics.
const (
	MetricsPublic MetricsAccess = "public"
	MetricsAdmin  MetricsAccess = "admin"
	MetricsOff    MetricsAccess = "off"
)

// ParseMetricsAccess reads public, admin or off.
func ParseMetricsAccess(s string) (MetricsAccess, error) {
	switch a := MetricsAccess(s); a {
	case MetricsPublic, MetricsAdmin, MetricsOff:
		return a, nil
	}
	return "", fmt.Errorf("metrics access %q: want public, admin or off", s)
}

// NewServer returns the API's handler.
func NewServer(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.StreamHeartbeat <= 0 {
		cfg.StreamHeartbeat = defaultHeartbeat
	}
	mux := http.NewServeMux()
	m := newMetrics(cfg.Registry)
	addRoutes(mux, cfg, m)
	mux.Handle("/", handleUnmatched(mux))
	var h http.Handler = mux
	h = m.instrument(h)
	h = withTimeout(h, cfg.RequestTimeout)
	h = withCORS(h, cfg.CORSOrigins)
	h = recoverPanics(h, cfg.Logger)
	return h
}

// handleUnmatched answers what no route matches: 405 (with Allow) for a
// known path with another method, else 404, both as problem+json. It is
// registered for "/", so the mux routes every request once.
func handleUnmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		probe := r.Clone(r.Context())
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeProblem(w, newProblem(http.StatusNotFound, "not_found", "There is nothing at this path."))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not allowed here; allowed: %s.", r.Method, strings.Join(allow, ", "))))
	})
}

// withTimeout bounds the context of every request, except on routes
// wrapped in untimed.
func withTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), untimedKey{}, r.Context()), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// untimedKey is the context key under which withTimeout keeps the
// request's context as it was before the timeout.
type untimedKey struct{}

// untimed lifts withTimeout's bound for one route (event streams, which
// last as long as the client wants): the handler gets the request's
// context from before the timeout, still cancelled when the client goes
// away.
func untimed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if parent, ok := r.Context().Value(untimedKey{}).(context.Context); ok {
			r = r.WithContext(parent)
		}
		h.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500, so one bad request cannot
// take the process down.
func recoverPanics(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			log.Error("panic serving request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeProblem(w, newProblem(http.StatusInternalServerError, "internal", "An internal error occurred; it has been logged."))
		}()
		h.ServeHTTP(w, r)
	})
}

// requireAdmin lets a request through only with the admin bearer key.
func requireAdmin(adminKey string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(adminKey))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAdmin(r, want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="queuepass"`)
			writeProblem(w, newProblem(http.StatusUnauthorized, "unauthorized",
				"This call needs the admin key: Authorization: Bearer <admin key>."))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// isAdmin compares the request's bearer token with the admin key in
// constant time (hashing first, so the length leaks nothing either).
func isAdmin(r *http.Request, want [sha256.Size]byte) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// noStore marks responses as not to be cached: ticket responses are one
// holder's live state.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status a handler sends.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushing for
// streams, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// metrics are the server's Prometheus collectors.
type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
	routes      sync.Map // route pattern → *routeMetrics
}

// routeMetrics are one route's collectors, looked up once: finding them in
// the vectors by label values costs more than the rest of a poll's
// bookkeeping.
type routeMetrics struct {
	duration prometheus.Observer
	codes    sync.Map // status code → prometheus.Counter
}

func (m *metrics) route(pattern string) *routeMetrics {
	if rm, ok := m.routes.Load(pattern); ok {
		return rm.(*routeMetrics)
	}
	rm, _ := m.routes.LoadOrStore(pattern, &routeMetrics{duration: m.duration.WithLabelValues(pattern)})
	return rm.(*routeMetrics)
}

func (m *metrics) count(pattern string, rm *routeMetrics, status int) {
	c, ok := rm.codes.Load(status)
	if !ok {
		c, _ = rm.codes.LoadOrStore(status, m.requests.WithLabelValues(pattern, strconv.Itoa(status)))
	}
	c.(prometheus.Counter).Inc()
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "queuepass_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "queuepass_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "queuepass_rate_limited_total",
			Help: "Requests refused with 429 by the rate limits per client, by class (join, challenge, read).",
		}, []string{"class"}),
	}
	reg.MustRegister(m.requests, m.duration, m.rateLimited)
	return m
}

func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		rm := m.route(r.Pattern)
		m.count(r.Pattern, rm, max(sw.status, http.StatusOK))
		rm.duration.Observe(time.Since(start).Seconds())
	})
}
