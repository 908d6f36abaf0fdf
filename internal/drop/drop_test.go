package drop

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass/client"
)

func TestReportOK(t *testing.T) {
	ok := Report{Fans: 10}
	if !ok.OK() {
		t.Fatalf("OK() = false for a clean report")
	}
	var sb strings.Builder
	if err := ok.WriteText(&sb); err != nil || !strings.Contains(sb.String(), "OK:") || strings.Contains(sb.String(), "FAIL") {
		t.Errorf("WriteText of a clean report = %q, %v; want an OK verdict and no FAIL", sb.String(), err)
	}

	breaks := map[string]func(*Report){
		"no fans":            func(r *Report) { r.Fans = 0 },
		"tickets":            func(r *Report) { r.FansWithoutOneTicket = 1 },
		"repeats":            func(r *Report) { r.RepeatJoinErrors = 1 },
		"shared":             func(r *Report) { r.SharedTickets = 1 },
		"inversions":         func(r *Report) { r.Inversions = 1 },
		"rises":              func(r *Report) { r.PositionRises = 1 },
		"positions":          func(r *Report) { r.PositionErrors = 1 },
		"statuses":           func(r *Report) { r.StatusErrors = 1 },
		"admitted twice":     func(r *Report) { r.AdmittedTwice = 1 },
		"never admitted":     func(r *Report) { r.NeverAdmitted = 1 },
		"unknown":            func(r *Report) { r.UnknownAdmitted = 1 },
		"invalid passes":     func(r *Report) { r.InvalidPasses = 1 },
		"wrong event":        func(r *Report) { r.WrongEventAccepted = 1 },
		"local pass failure": func(r *Report) { r.LocalPassFailures = 1 },
		"join errors":        func(r *Report) { r.Join.Errors = 1 },
		"challenge errors":   func(r *Report) { r.Challenges.Errors = 1 },
		"verify errors":      func(r *Report) { r.Verify.Errors = 1 },
	}
	for name, brk := range breaks {
		r := Report{Fans: 10}
		brk(&r)
		if r.OK() {
			t.Errorf("%s: OK() = true, want false", name)
		}
		sb.Reset()
		r.WriteText(&sb)
		if !strings.Contains(sb.String(), "FAILED") {
			t.Errorf("%s: WriteText = %q, want a FAILED verdict", name, sb.String())
		}
	}
}

func TestQuantiles(t *testing.T) {
	r := newRecorder()
	values := rand.New(rand.NewPCG(3, 4)).Perm(1000)
	for _, v := range values {
		d := int64(v+1) * int64(time.Millisecond)
		r.observe(1000, 1000+d, nil)
	}
	r.observe(1000, 1005, fmt.Errorf("boom"))
	s := r.stats()
	near := func(got, want time.Duration) bool {
		return got >= want*98/100 && got <= want*102/100
	}
	if !near(s.P50, 500*time.Millisecond) || !near(s.P99, 990*time.Millisecond) {
		t.Errorf("p50, p99 = %v, %v; want about 500ms, 990ms", s.P50, s.P99)
	}
	if s.Count != 1001 || s.Errors != 1 || s.Max != time.Second || s.Span != time.Second {
		t.Errorf("count, errors, max, span = %d, %d, %v, %v; want 1001, 1, 1s, 1s", s.Count, s.Errors, s.Max, s.Span)
	}
	if want := []string{"boom"}; !reflect.DeepEqual(s.ErrorSamples, want) {
		t.Errorf("error samples = %q, want %q", s.ErrorSamples, want)
	}
}

func TestBuckets(t *testing.T) {
	prev := -1
	for _, ns := range []int64{-5, 0, 1, 127, 128, 129, 255, 256, 1 << 20, 1<<40 - 1, 1 << 50} {
		b := bucketOf(ns)
		if b < prev || b >= numBuckets {
			t.Errorf("bucketOf(%d) = %d, want in [%d, %d)", ns, b, prev, numBuckets)
		}
		prev = b
		if v := bucketValue(b); ns >= 0 && ns < 1<<40 && (v < ns-ns/64-1 || v > ns+ns/64+1) {
			t.Errorf("bucketValue(bucketOf(%d)) = %d, more than 1/64 off", ns, v)
		}
	}
}

// signPass makes an EdDSA JWT with the given claims.
func signPass(t *testing.T, priv ed25519.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "EdDSA", "kid": kid, "typ": "JWT"}) + "." + enc(claims)
	return signing + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(signing)))
}

func TestLocalPassCheck(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := newKeySet(client.JWKS{Keys: []client.JWK{{Kty: "OKP", Crv: "Ed25519", Kid: "k1", Alg: "EdDSA",
		X: base64.RawURLEncoding.EncodeToString(pub)}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	claims := func(aud any, exp time.Time) map[string]any {
		return map[string]any{"iss": "queuepass", "sub": "fan-1", "aud": aud, "jti": "tk1",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix()}
	}
	good := signPass(t, priv, "k1", claims("ev", now.Add(time.Hour)))
	tests := []struct {
		name, pass, event string
		ok                bool
	}{
		{"valid", good, "ev", true},
		{"valid with aud array", signPass(t, priv, "k1", claims([]string{"ev"}, now.Add(time.Hour))), "ev", true},
		{"other event", good, "ev2", false},
		{"expired", signPass(t, priv, "k1", claims("ev", now.Add(-time.Hour))), "ev", false},
		{"unknown key", signPass(t, priv, "k2", claims("ev", now.Add(time.Hour))), "ev", false},
		{"tampered", good[:len(good)-4] + "AAAA", "ev", false},
		{"not a JWT", "nope", "ev", false},
	}
	for _, tt := range tests {
		err := ks.check(tt.pass, tt.event, "fan-1", "tk1", now)
		if (err == nil) != tt.ok {
			t.Errorf("%s: check = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestProgressPlain(t *testing.T) {
	var sb strings.Builder
	p := newProgress(&sb, false)
	p.start("joins", 20)
	for range 20 {
		p.add(1)
	}
	p.end()
	lines := strings.Split(strings.TrimSpace(sb.String()), "\n")
	if len(lines) != 11 || lines[0] != "joins 0/20" || lines[5] != "joins 10/20" || lines[10] != "joins 20/20" {
		t.Errorf("progress lines = %q, want 11 lines from joins 0/20 to joins 20/20", lines)
	}
}

func TestProgressBar(t *testing.T) {
	var sb strings.Builder
	p := newProgress(&sb, true)
	p.start("joins", 4)
	p.add(4)
	p.end()
	if got := sb.String(); !strings.HasPrefix(got, "\r") || !strings.Contains(got, "4/4 100%") || !strings.HasSuffix(got, "\n") {
		t.Errorf("progress bar = %q, want \\r redraws ending at 4/4 100%% and a newline", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []Config{
		{},
		{Servers: []string{"127.0.0.1:8080"}},
		{Servers: []string{"http://127.0.0.1:1"}, Batch: 10001},
		{Servers: []string{"http://127.0.0.1:1"}, Fans: -1},
		{Servers: []string{"http://127.0.0.1:1"}, RetryShare: 1.5},
		{Servers: []string{"http://127.0.0.1:1"}, Bots: 10, Rate: 60},
		{Servers: []string{"http://127.0.0.1:1"}, Bots: -1},
		{Servers: []string{"http://127.0.0.1:1"}, BotAddresses: MaxBotAddresses + 1},
		{Servers: []string{"http://127.0.0.1:1"}, Challenge: 33},
		{Servers: []string{"http://127.0.0.1:1"}, Arrival: -time.Second},
		{Servers: []string{"http://127.0.0.1:1"}, Arrival: MaxArrival + time.Second},
	}
	for _, cfg := range tests {
		if _, err := Run(t.Context(), cfg); err == nil {
			t.Errorf("Run(%+v) succeeded, want a config error", cfg)
		}
	}
}

func TestFailFast(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	denying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"type":"urn:queuepass:problem:unauthorized","title":"Unauthorized","status":401,"detail":"","code":"unauthorized"}`)
	}))
	defer denying.Close()

	tests := []struct {
		server, want string
	}{
		{closed.URL, "cannot reach"},
		{denying.URL, "rejected the admin key"},
	}
	for _, tt := range tests {
		rep, err := Run(t.Context(), Config{Servers: []string{tt.server}, AdminKey: "wrong"})
		if err == nil || !strings.Contains(err.Error(), tt.want) || rep != nil {
			t.Errorf("Run against %s = %v, %v; want no report and an error saying %q", tt.server, rep, err, tt.want)
		}
	}
}
