package gate_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/queuepass/queuepass/gate"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/pass"
)

// clock is a hand-moved clock.
type clock = clocktest.Clock

var t0 = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)

const event = "tour-2027"

// jwksServer serves a JWK Set that tests can change, and counts fetches.
type jwksServer struct {
	url     string
	fetches atomic.Int64
	mu      sync.Mutex
	body    []byte
	status  int
}

func newJWKSServer(t *testing.T, keys ...*pass.KeySet) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.serve(t, keys...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/.well-known/jwks.json"
	return s
}

// serve makes the server publish the keys of all of keys.
func (s *jwksServer) serve(t *testing.T, keys ...*pass.KeySet) {
	t.Helper()
	body := jwksOf(t, keys...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, http.StatusOK
}

// fail makes the server answer 500.
func (s *jwksServer) fail() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = http.StatusInternalServerError
}

// jwksOf returns one JWK Set with the keys of every KeySet.
func jwksOf(t *testing.T, keys ...*pass.KeySet) []byte {
	t.Helper()
	var all []json.RawMessage
	for _, ks := range keys {
		var set struct{ Keys []json.RawMessage }
		if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
			t.Fatal(err)
		}
		all = append(all, set.Keys...)
	}
	b, err := json.Marshal(map[string]any{"keys": all})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func claims(event string) pass.Claims {
	return pass.Claims{
		UserID:    "fan-42",
		EventID:   event,
		TicketID:  "AQ8y3kYkzN1pZ6cVQ2x9hA",
		IssuedAt:  t0,
		ExpiresAt: t0.Add(15 * time.Minute),
	}
}

func sign(t *testing.T, ks *pass.KeySet, c pass.Claims) string {
	t.Helper()
	tok, err := ks.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rig is a Gate in front of a handler that reports the claims it sees.
type rig struct {
	t     *testing.T
	clock *clock
	jwks  *jwksServer
	h     http.Handler
}

func newRig(t *testing.T, ks *pass.KeySet, configure func(*gate.Config)) *rig {
	t.Helper()
	r := &rig{t: t, clock: clocktest.New(t0.Add(time.Minute)), jwks: newJWKSServer(t, ks)}
	cfg := gate.Config{EventID: event, JWKSURL: r.jwks.url, Now: r.clock.Now}
	configure(&cfg)
	g, err := gate.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.h = g.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, ok := gate.ClaimsFrom(req.Context())
		if !ok {
			t.Errorf("%s %s: no claims in the context", req.Method, req.URL)
		}
		fmt.Fprintf(w, "%s %s %s", c.EventID, c.UserID, c.ExpiresAt.Format(time.RFC3339))
	}))
	return r
}

func (r *rig) do(req *http.Request) *http.Response {
	r.t.Helper()
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	return rec.Result()
}

// admitted is the body of the protected handler for the pass of claims(event).
var admitted = event + " fan-42 " + t0.Add(15*time.Minute).Format(time.RFC3339)

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantProblem checks that resp is a problem+json with status and code, and
// returns its detail.
func wantProblem(t *testing.T, resp *http.Response, status int, code string) string {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d", resp.StatusCode, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p struct {
		Type, Title, Detail, Code string
		Status                    int
	}
	if err := json.Unmarshal([]byte(body(t, resp)), &p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	if p.Code != code || p.Status != status || p.Type != "urn:queuepass:problem:"+code || p.Title == "" {
		t.Errorf("problem = %+v, want code %q, status %d", p, code, status)
	}
	return p.Detail
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// forge returns a compact JWS of header and payload with the signature sig
// over the signing input.
func forge(t *testing.T, header, payload any, sig func(input string) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(h) + "." + b64(p)
	return input + "." + b64(sig(input))
}

// payload is the JWT payload of claims(event).
func payload() map[string]any {
	c := claims(event)
	return map[string]any{"iss": "queuepass", "sub": c.UserID, "aud": c.EventID, "jti": c.TicketID,
		"iat": c.IssuedAt.Unix(), "nbf": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix()}
}

// publicKey returns the Ed25519 public key of ks, from its JWKS.
func publicKey(t *testing.T, ks *pass.KeySet) ed25519.PublicKey {
	t.Helper()
	var set struct{ Keys []struct{ X string } }
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	x, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// withPass returns a GET of target carrying tok by source: "cookie",
// "header", "query" or "" (none).
func withPass(target, source, tok string) *http.Request {
	if source == "query" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "qp_pass=" + url.QueryEscape(tok)
	}
	req := httptest.NewRequest(http.MethodGet, target, nil)
	switch source {
	case "cookie":
		req.AddCookie(&http.Cookie{Name: "qp_pass", Value: tok})
	case "header":
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req
}

func TestPasses(t *testing.T) {
	ks := pass.Generate()
	other := pass.Generate() // not in the JWKS
	kid := ks.SigningKeyID()
	valid := sign(t, ks, claims(event))
	parts := strings.Split(valid, ".")
	tamper := func(i int, f func([]byte) []byte) string {
		p := append([]string(nil), parts...)
		b, err := base64.RawURLEncoding.DecodeString(p[i])
		if err != nil {
			t.Fatal(err)
		}
		p[i] = b64(f(b))
		return strings.Join(p, ".")
	}
	hs256 := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(payload()))
		tok.Header["kid"] = kid
		s, err := tok.SignedString([]byte(publicKey(t, ks)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	notYet := claims(event)
	notYet.IssuedAt, notYet.ExpiresAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
	exp := claims(event).ExpiresAt

	tests := []struct {
		name   string
		source string
		token  string
		at     time.Time
		want   pass.Reason // "": admitted; "-": refused without a pass
	}{
		{"valid by cookie", "cookie", valid, t0.Add(time.Minute), ""},
		{"valid by header", "header", valid, t0.Add(time.Minute), ""},
		{"expired within skew", "header", valid, exp.Add(pass.ClockSkew - time.Second), ""},
		{"nbf ahead within skew", "header", valid, t0.Add(-pass.ClockSkew), ""},
		{"missing", "", "", t0.Add(time.Minute), "-"},
		{"empty cookie", "cookie", "", t0.Add(time.Minute), "-"},
		{"another event", "header", sign(t, ks, claims("other-event")), t0.Add(time.Minute), pass.ReasonWrongEvent},
		{"expired beyond skew", "header", valid, exp.Add(pass.ClockSkew), pass.ReasonExpired},
		{"expired cookie", "cookie", valid, exp.Add(time.Hour), pass.ReasonExpired},
		{"not yet valid", "header", sign(t, ks, notYet), t0.Add(time.Minute), pass.ReasonNotYetValid},
		{"tampered payload", "cookie", tamper(1, func(b []byte) []byte {
			return []byte(strings.Replace(string(b), "fan-42", "fan-43", 1))
		}), t0.Add(time.Minute), pass.ReasonBadSignature},
		{"tampered signature", "header", tamper(2, func(b []byte) []byte {
			b[7] ^= 1
			return b
		}), t0.Add(time.Minute), pass.ReasonBadSignature},
		{"alg none", "header", forge(t, map[string]any{"alg": "none", "kid": kid, "typ": "JWT"}, payload(),
			func(string) []byte { return nil }), t0.Add(time.Minute), pass.ReasonUnsupportedAlgorithm},
		{"HS256 with the public key as secret", "header", hs256, t0.Add(time.Minute), pass.ReasonUnsupportedAlgorithm},
		{"unknown kid", "header", sign(t, other, claims(event)), t0.Add(time.Minute), pass.ReasonUnknownKey},
		{"malformed", "header", "not-a-pass", t0.Add(time.Minute), pass.ReasonMalformed},
		{"malformed three parts", "cookie", "a.b.c", t0.Add(time.Minute), pass.ReasonMalformed},
		{"wrong auth scheme", "", "", t0.Add(time.Minute), "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, ks, func(*gate.Config) {})
			r.clock.Set(tt.at)
			req := withPass("/shows/7", tt.source, tt.token)
			if tt.name == "wrong auth scheme" {
				req.Header.Set("Authorization", "Basic "+b64([]byte("fan:"+valid)))
			}
			resp := r.do(req)
			if tt.want == "" {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d (%s), want 200", resp.StatusCode, body(t, resp))
				}
				if got := body(t, resp); got != admitted {
					t.Errorf("handler saw claims %q, want %q", got, admitted)
				}
				return
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			detail := wantProblem(t, resp, http.StatusUnauthorized, "unauthorized")
			if tt.want == "-" {
				if challenge != "Bearer" {
					t.Errorf("WWW-Authenticate = %q, want Bearer", challenge)
				}
				return
			}
			if challenge != `Bearer error="invalid_token"` {
				t.Errorf("WWW-Authenticate = %q, want Bearer with invalid_token", challenge)
			}
			if !strings.Contains(detail, string(tt.want)) {
				t.Errorf("detail = %q, want reason %q", detail, tt.want)
			}
		})
	}
}

func TestQueryPass(t *testing.T) {
	ks := pass.Generate()
	valid := sign(t, ks, claims(event))
	wrong := sign(t, ks, claims("other-event"))

	tests := []struct {
		name       string
		target     string
		cookie     string // a pass already in the cookie
		wantStatus int
		wantLoc    string // Location, "": none
		wantCookie bool
		secure     bool
	}{
		{"valid", "/shows/7?seat=A&qp_pass=" + valid + "&x=%20",
			"", http.StatusSeeOther, "http://example.com/shows/7?seat=A&x=%20", true, false},
		{"valid over TLS", "https://example.com/?qp_pass=" + valid,
			"", http.StatusSeeOther, "https://example.com/", true, true},
		{"valid, replacing an expired cookie", "/?qp_pass=" + valid,
			sign(t, ks, pass.Claims{UserID: "u", EventID: event, TicketID: "t", IssuedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(-time.Minute * 30)}),
			http.StatusSeeOther, "http://example.com/", true, false},
		{"repeated parameter, first counts", "/?qp_pass=" + valid + "&qp_pass=junk",
			"", http.StatusSeeOther, "http://example.com/", true, false},
		{"escaped parameter name", "/?qp%5Fpass=" + valid,
			"", http.StatusSeeOther, "http://example.com/", true, false},
		{"another event", "/?qp_pass=" + wrong, "", http.StatusUnauthorized, "", false, false},
		{"another event, but a valid cookie", "/a?qp_pass=" + wrong + "&b=1",
			valid, http.StatusSeeOther, "http://example.com/a?b=1", false, false},
		{"malformed", "/?qp_pass=xyz", "", http.StatusUnauthorized, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, ks, func(*gate.Config) {})
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "qp_pass", Value: tt.cookie})
			}
			resp := r.do(req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET %s: status = %d, want %d", tt.target, resp.StatusCode, tt.wantStatus)
			}
			if loc := resp.Header.Get("Location"); loc != tt.wantLoc {
				t.Errorf("Location = %q, want %q", loc, tt.wantLoc)
			}
			if resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
			}
			cookies := resp.Cookies()
			if !tt.wantCookie {
				if len(cookies) != 0 {
					t.Errorf("Set-Cookie %v, want none", cookies)
				}
				return
			}
			if len(cookies) != 1 {
				t.Fatalf("Set-Cookie %v, want one cookie", cookies)
			}
			c := cookies[0]
			if c.Name != "qp_pass" || c.Value != valid || c.Path != "/" || !c.HttpOnly ||
				c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure ||
				c.MaxAge != 14*60 || !c.Expires.Equal(t0.Add(15*time.Minute)) {
				t.Errorf("Set-Cookie %s, want qp_pass=<pass>; Path=/; Max-Age=840; HttpOnly; SameSite=Lax; Secure=%v; Expires at the pass's exp",
					c.Raw, tt.secure)
			}

			// The browser follows the redirect with the cookie.
			next := httptest.NewRequest(http.MethodGet, tt.wantLoc, nil)
			next.AddCookie(c)
			if resp := r.do(next); resp.StatusCode != http.StatusOK || body(t, resp) != admitted {
				t.Errorf("GET %s with the cookie: status %d, want 200 with the claims", tt.wantLoc, resp.StatusCode)
			}
		})
	}
}

func TestQueryPassOnlyOnGetAndHead(t *testing.T) {
	ks := pass.Generate()
	r := newRig(t, ks, func(*gate.Config) {})
	valid := sign(t, ks, claims(event))

	resp := r.do(httptest.NewRequest(http.MethodHead, "/?qp_pass="+valid, nil))
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Errorf("HEAD with qp_pass: status %d, cookies %v; want 303 with the cookie", resp.StatusCode, resp.Cookies())
	}
	resp = r.do(httptest.NewRequest(http.MethodPost, "/?qp_pass="+valid, nil))
	wantProblem(t, resp, http.StatusUnauthorized, "unauthorized")
}

func TestWaitingRoomRedirect(t *testing.T) {
	ks := pass.Generate()
	const waiting = "https://queue.example/wait?lang=en"
	expired := sign(t, ks, pass.Claims{UserID: "u", EventID: event, TicketID: "t",
		IssuedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(-30 * time.Minute)})

	tests := []struct {
		name       string
		waitingURL string
		method     string
		target     string
		accept     string
		cookie     string
		wantReturn string // "": a 401 problem, not a redirect
	}{
		{"navigation", waiting, http.MethodGet, "/shows/7?seat=A", "text/html,application/xhtml+xml,*/*;q=0.8", "",
			"http://example.com/shows/7?seat=A"},
		{"navigation with an expired cookie", waiting, http.MethodGet, "/", "text/html", expired, "http://example.com/"},
		{"navigation with a refused query pass", waiting, http.MethodGet, "https://example.com/x?qp_pass=junk&y=2", "text/html", "",
			"https://example.com/x?y=2"},
		{"HEAD navigation", waiting, http.MethodHead, "/", "text/html", "", "http://example.com/"},
		{"fetch of JSON", waiting, http.MethodGet, "/api/seats", "application/json", "", ""},
		{"no Accept", waiting, http.MethodGet, "/", "", "", ""},
		{"html refused by q=0", waiting, http.MethodGet, "/", "text/html;q=0, application/json", "", ""},
		{"html refused by q=0.000", waiting, http.MethodGet, "/", "application/json, text/html; q=0.000", "", ""},
		{"html with a low q", waiting, http.MethodGet, "/", "application/json, text/html;q=0.1", "", "http://example.com/"},
		{"form post", waiting, http.MethodPost, "/buy", "text/html", "", ""},
		{"no waiting room configured", "", http.MethodGet, "/", "text/html", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, ks, func(c *gate.Config) { c.WaitingRoomURL = tt.waitingURL })
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "qp_pass", Value: tt.cookie})
			}
			resp := r.do(req)
			if tt.wantReturn == "" {
				wantProblem(t, resp, http.StatusUnauthorized, "unauthorized")
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want Bearer", resp.Header.Get("WWW-Authenticate"))
				}
				return
			}
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status = %d, want 303", resp.StatusCode)
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			q := loc.Query()
			if loc.Scheme != "https" || loc.Host != "queue.example" || loc.Path != "/wait" ||
				q.Get("lang") != "en" || q.Get("event") != event || q.Get("return") != tt.wantReturn {
				t.Errorf("Location = %s, want %s with event=%s and return=%s", loc, waiting, event, tt.wantReturn)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	old, next, forged := pass.Generate(), pass.Generate(), pass.Generate()
	r := newRig(t, old, func(*gate.Config) {})
	long := claims(event)
	long.ExpiresAt = t0.Add(24 * time.Hour) // outlives the clock moves below
	status := func(ks *pass.KeySet) int {
		t.Helper()
		return r.do(withPass("/", "header", sign(t, ks, long))).StatusCode
	}
	check := func(step string, ks *pass.KeySet, wantStatus int, wantFetches int64) {
		t.Helper()
		if got := status(ks); got != wantStatus {
			t.Errorf("%s: status = %d, want %d", step, got, wantStatus)
		}
		if got := r.jwks.fetches.Load(); got != wantFetches {
			t.Errorf("%s: %d fetches of the JWKS, want %d", step, got, wantFetches)
		}
	}

	check("first pass fetches the keys", old, http.StatusOK, 1)
	check("known kid does not fetch", old, http.StatusOK, 1)

	r.clock.Advance(MinRefresh)
	r.jwks.serve(t, old, next)
	check("new kid after rotation fetches and is admitted", next, http.StatusOK, 2)
	check("old key still verifies", old, http.StatusOK, 2)
	check("forged kid right after a fetch is refused without a fetch", forged, http.StatusUnauthorized, 2)

	r.clock.Advance(MinRefresh - time.Second)
	check("forged kid within the interval does not fetch", forged, http.StatusUnauthorized, 2)
	r.clock.Advance(time.Second)
	check("forged kid after the interval fetches and is refused", forged, http.StatusUnauthorized, 3)

	r.jwks.serve(t, next)
	r.clock.Advance(gate.MaxKeyAge)
	check("keys older than MaxKeyAge are fetched again; a dropped key stops verifying", old, http.StatusUnauthorized, 4)
	check("the new set verifies", next, http.StatusOK, 4)

	r.jwks.fail()
	r.clock.Advance(gate.MaxKeyAge)
	check("a failed fetch keeps the old keys", next, http.StatusOK, 5)
	check("and is not retried at once", next, http.StatusOK, 5)
}

// MinRefresh is gate.MinRefreshInterval, short for tables.
const MinRefresh = gate.MinRefreshInterval

func TestUnknownKidFloodFetchesOnce(t *testing.T) {
	old, next, forged := pass.Generate(), pass.Generate(), pass.Generate()
	r := newRig(t, old, func(*gate.Config) {})
	if resp := r.do(withPass("/", "cookie", sign(t, old, claims(event)))); resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}

	flood := func(ks *pass.KeySet, wantStatus int) {
		t.Helper()
		tok := sign(t, ks, claims(event))
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if resp := r.do(withPass("/", "header", tok)); resp.StatusCode != wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, wantStatus)
				}
			})
		}
		wg.Wait()
	}

	r.clock.Advance(MinRefresh)
	flood(forged, http.StatusUnauthorized)
	if got := r.jwks.fetches.Load(); got != 2 {
		t.Errorf("100 concurrent passes with a forged kid: %d fetches in all, want 2", got)
	}
	flood(forged, http.StatusUnauthorized)
	if got := r.jwks.fetches.Load(); got != 2 {
		t.Errorf("another 100 within MinRefreshInterval: %d fetches in all, want 2", got)
	}

	r.clock.Advance(MinRefresh)
	r.jwks.serve(t, old, next)
	flood(next, http.StatusOK)
	if got := r.jwks.fetches.Load(); got != 3 {
		t.Errorf("100 concurrent passes of a rotated-in key: %d fetches in all, want 3", got)
	}
}

func TestKeysUnavailable(t *testing.T) {
	ks := pass.Generate()
	r := newRig(t, ks, func(*gate.Config) {})
	r.jwks.fail()
	req := func() *http.Request { return withPass("/", "cookie", sign(t, ks, claims(event))) }

	resp := r.do(req())
	wantProblem(t, resp, http.StatusServiceUnavailable, "unavailable")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	r.jwks.serve(t, ks)
	if resp := r.do(req()); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("within MinRefreshInterval of a failed fetch: status %d, want 503", resp.StatusCode)
	}
	if got := r.jwks.fetches.Load(); got != 1 {
		t.Errorf("%d fetches, want 1", got)
	}
	r.clock.Advance(MinRefresh)
	if resp := r.do(req()); resp.StatusCode != http.StatusOK {
		t.Errorf("after the interval, with the JWKS back: status %d, want 200", resp.StatusCode)
	}
}

func TestStaticJWKS(t *testing.T) {
	ks, other := pass.Generate(), pass.Generate()
	c := clocktest.New(t0)
	g, err := gate.New(gate.Config{EventID: event, JWKS: ks.JWKS(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tt := range []struct {
		ks   *pass.KeySet
		want int
	}{{ks, http.StatusOK}, {other, http.StatusUnauthorized}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, withPass("/", "header", sign(t, tt.ks, claims(event))))
		if rec.Code != tt.want {
			t.Errorf("status = %d, want %d", rec.Code, tt.want)
		}
	}
}

func TestCookieName(t *testing.T) {
	ks := pass.Generate()
	r := newRig(t, ks, func(c *gate.Config) { c.CookieName = "tour_pass"; c.Secure = true })
	valid := sign(t, ks, claims(event))
	resp := r.do(withPass("/", "query", valid))
	if cs := resp.Cookies(); len(cs) != 1 || cs[0].Name != "tour_pass" || !cs[0].Secure {
		t.Errorf("Set-Cookie %v, want a Secure tour_pass cookie", cs)
	}
	if loc := resp.Header.Get("Location"); loc != "https://example.com/" {
		t.Errorf("Location = %q, want the https URL", loc)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: "tour_pass", Value: valid})
	if resp := r.do(req); resp.StatusCode != http.StatusOK {
		t.Errorf("pass in tour_pass: status %d, want 200", resp.StatusCode)
	}
	if resp := r.do(withPass("/", "cookie", valid)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("pass in qp_pass when the cookie is tour_pass: status %d, want 401", resp.StatusCode)
	}
}

func TestNewRejects(t *testing.T) {
	jwks := pass.Generate().JWKS()
	tests := []struct {
		name string
		cfg  gate.Config
	}{
		{"no event", gate.Config{JWKS: jwks}},
		{"no keys", gate.Config{EventID: event}},
		{"both key sources", gate.Config{EventID: event, JWKS: jwks, JWKSURL: "https://queuepass.example/.well-known/jwks.json"}},
		{"bad JWKS", gate.Config{EventID: event, JWKS: []byte(`{"keys":[]}`)}},
		{"relative JWKS URL", gate.Config{EventID: event, JWKSURL: "/.well-known/jwks.json"}},
		{"JWKS URL of another scheme", gate.Config{EventID: event, JWKSURL: "file:///etc/jwks.json"}},
		{"relative waiting room URL", gate.Config{EventID: event, JWKS: jwks, WaitingRoomURL: "queue.example/wait"}},
		{"bad cookie name", gate.Config{EventID: event, JWKS: jwks, CookieName: "qp pass"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if g, err := gate.New(tt.cfg); err == nil {
				t.Errorf("New(%+v) = %v, want an error", tt.cfg, g)
			}
		})
	}
}

func TestClaimsFromOutsideTheGate(t *testing.T) {
	if c, ok := gate.ClaimsFrom(t.Context()); ok {
		t.Errorf("ClaimsFrom(a plain context) = %+v, true; want false", c)
	}
}
