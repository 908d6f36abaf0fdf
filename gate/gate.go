// Package gate is net/http middleware for a site that QueuePass protects:
// it lets a request through only when it carries a valid pass for the
// site's event, so that only people admitted from the waiting room get in.
//
//	g, err := gate.New(gate.Config{
//		EventID:        "tour-2027",
//		JWKSURL:        "https://queuepass.example/.well-known/jwks.json",
//		WaitingRoomURL: "https://queue.example/tour-2027",
//	})
//	if err != nil { … }
//	http.ListenAndServe(addr, g.Handler(site))
//
// # Where the pass comes from
//
// The gate looks for the pass in a cookie (Config.CookieName, "qp_pass" by
// default), then in an "Authorization: Bearer" header; the first one that
// verifies admits the request. A waiting page sends an admitted person to
// the site with the pass in the qp_pass query parameter. The gate takes it
// out of the URL at once, so it does not linger in history, bookmarks,
// Referer headers or logs: for a GET or HEAD request whose URL carries
// qp_pass, the gate answers 303 See Other to the same URL without the
// parameter and, if the pass verifies, sets the cookie (HttpOnly, SameSite
// Lax, Path /, Secure over TLS or with Config.Secure, expiring with the
// pass). If it does not verify, the request is judged by its cookie and
// header as usual: redirected to the URL without qp_pass if they admit it,
// refused otherwise. A qp_pass parameter on other methods is ignored.
//
// # Keys
//
// Passes are verified with the public keys of the QueuePass server, read
// from its JWK Set at Config.JWKSURL, or given once in Config.JWKS. Fetched
// keys are cached and fetched again after an hour, and at once when a pass
// names a key (kid) the cache does not know, so that key rotation needs no
// change here. Fetches are bounded in time and size, concurrent requests
// share one fetch, and at most one fetch starts per MinRefreshInterval, so
// a flood of passes with made-up kids cannot flood QueuePass. A pass is
// accepted up to 30 seconds before its start and after its expiry, for
// clocks that disagree.
//
// The check is offline, with the same code QueuePass uses: the gate does not
// learn of a visit completed before its pass expires. A site that must know
// asks QueuePass (POST /v1/passes/verify).
//
// # Refusals
//
// A request without a valid pass gets one of:
//
//   - 303 See Other to Config.WaitingRoomURL, if it is set and the request
//     is a navigation (GET or HEAD accepting text/html). The gate adds two
//     query parameters: event (Config.EventID) and return (the absolute URL
//     of the refused request, without qp_pass). A waiting page should only
//     send people back to return URLs of sites it knows.
//   - 401 Unauthorized otherwise, with "WWW-Authenticate: Bearer" and an
//     application/problem+json body (RFC 9457) whose code is
//     "unauthorized".
//   - 503 Service Unavailable (code "unavailable", with Retry-After) while
//     no keys could be fetched yet.
//
// On success the verified claims are in the request's context: see
// ClaimsFrom.
package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/queuepass/queuepass/internal/pass"
)

// DefaultCookieName is the name of the pass cookie when Config.CookieName
// is empty.
const DefaultCookieName = "qp_pass"

// QueryParam is the query parameter that carries a pass from the waiting
// page to the site.
const QueryParam = "qp_pass"

// Config configures a Gate. EventID and one source of keys, JWKSURL or
// JWKS, are required; everything else has a useful zero value.
type Config struct {
	// EventID is the event whose passes admit (the pass's aud).
	EventID string

	// JWKSURL is the URL of the QueuePass server's JWK Set, for example
	// "https://queuepass.example/.well-known/jwks.json".
	JWKSURL string

	// JWKS is a JWK Set (the document at JWKSURL) to use instead of
	// fetching one. Those keys never change; a rotation needs a new Gate.
	JWKS []byte

	// WaitingRoomURL is where refused navigations are sent (see the
	// package documentation). Empty: they get a 401 like other requests.
	WaitingRoomURL string

	// CookieName is the name of the pass cookie; empty: DefaultCookieName.
	CookieName string

	// Secure says that people reach the site over HTTPS even when requests
	// reach this server without TLS (behind a TLS-terminating proxy): the
	// cookie is always Secure and return URLs use https. Requests that
	// arrive over TLS are treated so without it.
	Secure bool

	// HTTPClient fetches the JWK Set; nil: a client with timeouts. Each
	// fetch is also bounded by a 10-second deadline.
	HTTPClient *http.Client

	// Now returns the current time; nil: time.Now. It decides the validity
	// of passes and when keys may be fetched again.
	Now func() time.Time

	// Logger receives refused passes (Debug, with the reason, never the
	// pass) and key fetches (Info, Warn on failure); nil: discard.
	Logger *slog.Logger
}

// Claims are what a verified pass says: the admitted user, the event and
// ticket, and when the pass was issued and expires. Times are in UTC.
type Claims struct {
	Issuer    string
	UserID    string
	EventID   string
	TicketID  string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

type claimsKey struct{}

// ClaimsFrom returns the claims of the pass that admitted the request whose
// context is ctx, and whether there is one: inside a Gate's Handler there
// always is.
func ClaimsFrom(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// Gate checks passes. It is safe for concurrent use; it starts no
// goroutines and needs no closing.
type Gate struct {
	event      string
	keys       *keySource
	waitingURL *url.URL // nil: always 401
	cookie     string
	secure     bool
	now        func() time.Time
	log        *slog.Logger
}

// New returns the Gate that cfg describes. It reports an error for a
// missing EventID, for both or neither of JWKSURL and JWKS, for a JWKSURL
// or WaitingRoomURL that is not an absolute http(s) URL, for an invalid
// JWKS, and for a CookieName that is not a valid cookie name. New makes no
// request: keys are fetched when the first request needs them.
func New(cfg Config) (*Gate, error) {
	g := &Gate{
		event:  cfg.EventID,
		cookie: cfg.CookieName,
		secure: cfg.Secure,
		now:    cfg.Now,
		log:    cfg.Logger,
	}
	if g.event == "" {
		return nil, errors.New("gate: no EventID")
	}
	if g.cookie == "" {
		g.cookie = DefaultCookieName
	}
	if err := (&http.Cookie{Name: g.cookie, Value: "x"}).Valid(); err != nil {
		return nil, fmt.Errorf("gate: CookieName: %w", err)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if cfg.WaitingRoomURL != "" {
		u, err := parseHTTPURL(cfg.WaitingRoomURL)
		if err != nil {
			return nil, fmt.Errorf("gate: WaitingRoomURL: %w", err)
		}
		g.waitingURL = u
	}
	switch {
	case cfg.JWKSURL != "" && cfg.JWKS != nil:
		return nil, errors.New("gate: both JWKSURL and JWKS are set, want one")
	case cfg.JWKS != nil:
		v, err := pass.ParseJWKS(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("gate: JWKS: %w", err)
		}
		g.keys = staticKeys(v)
	case cfg.JWKSURL != "":
		u, err := parseHTTPURL(cfg.JWKSURL)
		if err != nil {
			return nil, fmt.Errorf("gate: JWKSURL: %w", err)
		}
		hc := cfg.HTTPClient
		if hc == nil {
			hc = newHTTPClient()
		}
		g.keys = fetchedKeys(u.String(), hc, g.log)
	default:
		return nil, errors.New("gate: no keys: set JWKSURL or JWKS")
	}
	return g, nil
}

// parseHTTPURL parses an absolute http or https URL.
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return u, nil
}

// Handler returns next behind the gate: it calls next only for requests
// with a valid pass, with the pass's claims in the request's context, and
// answers all others itself as the package documentation describes.
func (g *Gate) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := g.now()
		if tok, clean, ok := g.queryPass(r); ok {
			g.takeQueryPass(w, r, tok, clean, now)
			return
		}
		c, err := g.check(r, now)
		if err != nil {
			g.refuse(w, r, err, g.requestURL(r))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

// takeQueryPass answers a request with a pass in its URL: with a redirect
// to clean, the URL without it, setting the cookie if the pass is valid,
// or keeping the cookie the browser has if that one is valid, or else with
// a refusal.
func (g *Gate) takeQueryPass(w http.ResponseWriter, r *http.Request, tok, clean string, now time.Time) {
	c, err := g.keys.verify(r.Context(), tok, g.event, now)
	if err == nil {
		http.SetCookie(w, &http.Cookie{
			Name:     g.cookie,
			Value:    tok,
			Path:     "/",
			Expires:  c.ExpiresAt,
			MaxAge:   max(1, int(c.ExpiresAt.Sub(now).Seconds()+0.999)),
			Secure:   g.secure || r.TLS != nil,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		})
		g.redirect(w, clean)
		return
	}
	g.logRefusal(r, "query", err)
	if _, ok := err.(keysUnavailableError); !ok {
		if _, err := g.check(r, now); err == nil {
			g.redirect(w, clean)
			return
		}
	}
	g.refuse(w, r, err, clean)
}

// check verifies the pass of the cookie, else that of the Authorization
// header. It returns the claims of the first valid one, or the error of
// the first one found, or errNoPass.
func (g *Gate) check(r *http.Request, now time.Time) (Claims, error) {
	var first error
	for _, src := range [...]struct {
		name string
		tok  func(*http.Request) string
	}{
		{"cookie", g.cookiePass},
		{"header", bearerPass},
	} {
		tok := src.tok(r)
		if tok == "" {
			continue
		}
		c, err := g.keys.verify(r.Context(), tok, g.event, now)
		if err == nil {
			return c, nil
		}
		g.logRefusal(r, src.name, err)
		if first == nil {
			first = err
		}
		if _, ok := err.(keysUnavailableError); ok {
			return Claims{}, err
		}
	}
	if first == nil {
		return Claims{}, errNoPass
	}
	return Claims{}, first
}

// errNoPass is the refusal of a request that carries no pass.
var errNoPass = errors.New("no pass")

func (g *Gate) cookiePass(r *http.Request) string {
	if c, err := r.Cookie(g.cookie); err == nil {
		return c.Value
	}
	return ""
}

// bearerPass returns the token of an "Authorization: Bearer" header.
func bearerPass(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// queryPass returns the pass in the query of a GET or HEAD request and the
// absolute URL of the request without it.
func (g *Gate) queryPass(r *http.Request) (tok, clean string, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", "", false
	}
	var kept []string
	for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if name, err := url.QueryUnescape(k); err == nil && name == QueryParam {
			if !ok { // the first one counts, as in url.Values.Get
				tok, _ = url.QueryUnescape(v)
				ok = true
			}
			continue
		}
		kept = append(kept, part)
	}
	if !ok {
		return "", "", false
	}
	u := g.baseURL(r)
	u.RawQuery = strings.Join(kept, "&")
	return tok, u.String(), true
}

// requestURL is the absolute URL of r as the browser sees it.
func (g *Gate) requestURL(r *http.Request) string {
	u := g.baseURL(r)
	u.RawQuery = r.URL.RawQuery
	return u.String()
}

// baseURL is the absolute URL of r without its query.
func (g *Gate) baseURL(r *http.Request) *url.URL {
	scheme := "http"
	if g.secure || r.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
}

func (g *Gate) redirect(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

// refuse answers a request without a valid pass; returnURL is where the
// waiting room should send the person back to.
func (g *Gate) refuse(w http.ResponseWriter, r *http.Request, err error, returnURL string) {
	if ku, ok := err.(keysUnavailableError); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(MinRefreshInterval/time.Second)))
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "Service unavailable",
			"The keys that verify passes are not available yet.")
		g.log.Warn("gate: no keys to verify passes", "err", ku.err)
		return
	}
	if g.waitingURL != nil && isNavigation(r) {
		u := *g.waitingURL
		q := u.Query()
		q.Set("event", g.event)
		q.Set("return", returnURL)
		u.RawQuery = q.Encode()
		g.redirect(w, u.String())
		return
	}
	challenge, detail := "Bearer", "A valid pass for this event is required."
	var ve *pass.VerifyError
	if errors.As(err, &ve) {
		challenge = `Bearer error="invalid_token"`
		detail = "The pass was refused: " + string(ve.Reason) + "."
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeProblem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized", detail)
}

// writeProblem writes an RFC 9457 problem in the shape of the QueuePass API.
func writeProblem(w http.ResponseWriter, status int, code, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}{"urn:queuepass:problem:" + code, title, status, detail, code})
}

// isNavigation reports whether r looks like a browser loading a page: a GET
// or HEAD that accepts text/html.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "text/html" {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); err != nil || q > 0 {
				return true // no q, or one above zero
			}
		}
	}
	return false
}

func (g *Gate) logRefusal(r *http.Request, source string, err error) {
	var ve *pass.VerifyError
	if errors.As(err, &ve) {
		g.log.Debug("gate: pass refused", "source", source, "reason", string(ve.Reason),
			"err", ve.Err, "path", r.URL.Path)
	}
}
