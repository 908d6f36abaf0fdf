package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/httpapi"
	"github.com/queuepass/queuepass/internal/openapitest"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// clock is a hand-moved clock.
type clock = clocktest.Clock

const adminKey = "test-admin-key"

// api is a real server over a real store, reached through a client that
// checks every request and response against openapi.yaml.
type api struct {
	t      *testing.T
	url    string
	client *http.Client
	clock  *clock
	store  *boltstore.Store
}

func newAPI(t *testing.T) *api {
	t.Helper()
	return newAPIWith(t, func(*httpapi.Config) {})
}

// newAPIWith is newAPI with changes to the server's configuration.
func newAPIWith(t *testing.T, configure func(*httpapi.Config)) *api {
	t.Helper()
	return newAPIWithRoom(t, func(*waitroom.Config) {}, configure)
}

// newAPIWithRoom is newAPIWith with changes to the room's configuration
// too.
func newAPIWithRoom(t *testing.T, configureRoom func(*waitroom.Config), configure func(*httpapi.Config)) *api {
	t.Helper()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := clocktest.New(time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC))
	roomCfg := waitroom.Config{Store: store, Keys: pass.Generate(), Now: c.Now}
	configureRoom(&roomCfg)
	room := waitroom.New(roomCfg)
	cfg := httpapi.Config{Room: room, AdminKey: adminKey}
	configure(&cfg)
	srv := httptest.NewServer(httpapi.NewServer(cfg))
	t.Cleanup(srv.Close)
	v := openapitest.New(t, httpapi.OpenAPISpec())
	return &api{t: t, url: srv.URL, client: v.Client(srv.Client()), clock: c, store: store}
}

// response is what a call got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// code is the problem code of an error response.
func (r response) code() string {
	var p struct{ Code string }
	json.Unmarshal(r.body, &p)
	return p.Code
}

// fields names the fields a validation problem reports, in order and
// comma-separated: "nonce" for one entry, "codes,uses" for two.
func (r response) fields() string {
	var p struct{ Errors []queuepass.FieldError }
	json.Unmarshal(r.body, &p)
	names := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		names[i] = e.Field
	}
	return strings.Join(names, ",")
}

type req struct {
	method, path string
	body         any // string: sent as is; else JSON-encoded; nil: no body
	admin        bool
	header       map[string]string
}

func (a *api) do(r req) response {
	a.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(r.method, a.url+r.path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if r.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.admin {
		hr.Header.Set("Authorization", "Bearer "+adminKey)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := a.client.Do(hr)
	if err != nil {
		a.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must does r and fails the test unless the status is want.
func (a *api) must(r req, want int) response {
	a.t.Helper()
	got := a.do(r)
	if got.status != want {
		a.t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, got.status, got.body, want)
	}
	return got
}

func (a *api) createEvent(body map[string]any) string {
	a.t.Helper()
	return a.must(req{method: "POST", path: "/v1/events", body: body, admin: true}, 201).json(a.t)["id"].(string)
}

func (a *api) join(event, user string) map[string]any {
	a.t.Helper()
	r := a.do(req{method: "POST", path: "/v1/events/" + event + "/tickets", body: map[string]any{"user_id": user}})
	if r.status != 201 && r.status != 200 {
		a.t.Fatalf("join(%q, %q) = %d %s", event, user, r.status, r.body)
	}
	return r.json(a.t)
}

func (a *api) ticket(event, id string) map[string]any {
	a.t.Helper()
	return a.must(req{method: "GET", path: "/v1/events/" + event + "/tickets/" + id}, 200).json(a.t)
}

func (a *api) admit(event string, n int) map[string]any {
	a.t.Helper()
	return a.must(req{method: "POST", path: "/v1/events/" + event + "/admissions", body: map[string]any{"count": n}, admin: true}, 200).json(a.t)
}

func (a *api) patch(event string, body map[string]any) response {
	a.t.Helper()
	return a.do(req{method: "PATCH", path: "/v1/events/" + event, body: body, admin: true,
		header: map[string]string{"Content-Type": "application/merge-patch+json"}})
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func TestErrorsAreProblems(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "e1", "name": "One"})
	big := `{"user_id": "` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name       string
		r          req
		status     int
		code       string
		header     string // a header that must be set
		fieldCount int    // 422: the number of fields named
	}{
		{"no admin key", req{method: "POST", path: "/v1/events", body: map[string]any{"name": "x"}}, 401, "unauthorized", "WWW-Authenticate", 0},
		{"wrong admin key", req{method: "GET", path: "/v1/events", header: map[string]string{"Authorization": "Bearer nope"}}, 401, "unauthorized", "WWW-Authenticate", 0},
		{"event exists", req{method: "POST", path: "/v1/events", body: map[string]any{"id": "e1", "name": "again"}, admin: true}, 409, "event_exists", "", 0},
		{"every bad field at once", req{method: "POST", path: "/v1/events", admin: true, body: map[string]any{
			"id": "Bad ID", "name": "", "pass_ttl_seconds": 5, "max_active": -1, "admit_rate_per_minute": "fast", "extra": true}}, 422, "invalid_request", "", 6},
		{"missing name", req{method: "POST", path: "/v1/events", body: map[string]any{}, admin: true}, 422, "invalid_request", "", 1},
		{"bad time", req{method: "POST", path: "/v1/events", body: map[string]any{"name": "x", "opens_at": "tomorrow"}, admin: true}, 422, "invalid_request", "", 1},
		{"broken JSON", req{method: "POST", path: "/v1/events/e1/tickets", body: `{"user_id":`}, 400, "malformed_json", "", 0},
		{"empty body", req{method: "POST", path: "/v1/events/e1/tickets", body: ``}, 400, "malformed_json", "", 0},
		{"not an object", req{method: "POST", path: "/v1/events/e1/tickets", body: `["a"]`}, 422, "invalid_request", "", 1},
		{"invalid UTF-8", req{method: "POST", path: "/v1/events/e1/tickets", body: "{\"user_id\": \"\xff\"}"}, 400, "malformed_json", "", 0},
		{"wrong content type", req{method: "POST", path: "/v1/events/e1/tickets", body: `{"user_id":"u"}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type", "", 0},
		{"no content type", req{method: "POST", path: "/v1/events/e1/tickets", body: `{"user_id":"u"}`, header: map[string]string{"Content-Type": ""}}, 415, "unsupported_media_type", "", 0},
		{"too large", req{method: "POST", path: "/v1/events/e1/tickets", body: big}, 413, "payload_too_large", "", 0},
		{"user_id too long", req{method: "POST", path: "/v1/events/e1/tickets", body: map[string]any{"user_id": strings.Repeat("é", 65)}}, 422, "invalid_request", "", 1},
		{"user_id control char", req{method: "POST", path: "/v1/events/e1/tickets", body: map[string]any{"user_id": "a\nb"}}, 422, "invalid_request", "", 1},
		{"user_id empty", req{method: "POST", path: "/v1/events/e1/tickets", body: map[string]any{"user_id": ""}}, 422, "invalid_request", "", 1},
		{"user_id lone surrogate", req{method: "POST", path: "/v1/events/e1/tickets", body: `{"user_id": "\ud800"}`}, 422, "invalid_request", "", 1},
		{"count as a string", req{method: "POST", path: "/v1/events/e1/admissions", body: `{"count": "1"}`, admin: true}, 422, "invalid_request", "", 1},
		{"max_active as a string", req{method: "PATCH", path: "/v1/events/e1", body: `{"max_active": "5"}`, admin: true}, 422, "invalid_request", "", 1},
		{"state as a number", req{method: "PATCH", path: "/v1/events/e1", body: `{"state": 1}`, admin: true}, 422, "invalid_request", "", 1},
		{"user_id number", req{method: "POST", path: "/v1/events/e1/tickets", body: map[string]any{"user_id": 7}}, 422, "invalid_request", "", 1},
		{"unknown event", req{method: "GET", path: "/v1/events/nope"}, 404, "event_not_found", "", 0},
		{"impossible event id", req{method: "GET", path: "/v1/events/NOPE!"}, 404, "event_not_found", "", 0},
		{"unknown ticket", req{method: "GET", path: "/v1/events/e1/tickets/AQAAAAAAAAAAAAAAAAAAAAA"}, 404, "ticket_not_found", "", 0},
		{"unknown route", req{method: "GET", path: "/v2/whatever"}, 404, "not_found", "", 0},
		{"wrong method", req{method: "PUT", path: "/v1/events/e1", body: `{}`}, 405, "method_not_allowed", "Allow", 0},
		{"admit zero", req{method: "POST", path: "/v1/events/e1/admissions", body: map[string]any{"count": 0}, admin: true}, 422, "invalid_request", "", 1},
		{"admit too many", req{method: "POST", path: "/v1/events/e1/admissions", body: map[string]any{"count": 10001}, admin: true}, 422, "invalid_request", "", 1},
		{"admit fraction", req{method: "POST", path: "/v1/events/e1/admissions", body: map[string]any{"count": 1.5}, admin: true}, 422, "invalid_request", "", 1},
		{"bad list limit", req{method: "GET", path: "/v1/events?limit=0", admin: true}, 422, "invalid_request", "", 1},
		{"bad state", req{method: "PATCH", path: "/v1/events/e1", body: map[string]any{"state": "gone"}, admin: true}, 422, "invalid_request", "", 1},
		{"bad idempotency key", req{method: "POST", path: "/v1/events/e1/tickets", body: map[string]any{"user_id": "u"}, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, 422, "invalid_request", "", 1},
		{"complete a waiting ticket", req{method: "POST", path: "/v1/events/e1/tickets/AQAAAAAAAAAAAAAAAAAAAAA/complete", admin: true}, 404, "ticket_not_found", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := a.do(tt.r)
			if got.status != tt.status || got.code() != tt.code {
				t.Fatalf("%s %s = %d %s, want %d %s", tt.r.method, tt.r.path, got.status, got.body, tt.status, tt.code)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			if tt.header != "" && got.header.Get(tt.header) == "" {
				t.Errorf("header %s missing", tt.header)
			}
			p := got.json(t)
			for _, k := range []string{"type", "title", "status", "detail", "code"} {
				if _, ok := p[k]; !ok {
					t.Errorf("problem lacks %q: %s", k, got.body)
				}
			}
			if tt.fieldCount > 0 {
				errs, _ := p["errors"].([]any)
				if len(errs) != tt.fieldCount {
					t.Errorf("errors = %v, want %d fields named", errs, tt.fieldCount)
				}
			}
		})
	}
}

func TestDropWalkthrough(t *testing.T) {
	a := newAPI(t)
	r := a.must(req{method: "POST", path: "/v1/events", admin: true, body: map[string]any{"id": "tour", "name": "Tour 2027", "max_active": 2, "pass_ttl_seconds": 60}}, 201)
	if loc := r.header.Get("Location"); loc != "/v1/events/tour" {
		t.Errorf("Location = %q", loc)
	}
	first := a.join("tour", "alice")
	second := a.join("tour", "bob")
	if num(first["position"]) != 1 || num(second["position"]) != 2 || num(second["ahead"]) != 1 {
		t.Errorf("positions = %v, %v; want 1, 2", first["position"], second["position"])
	}
	if first["estimated_wait_seconds"] != nil || first["wait_range_seconds"] != nil {
		t.Errorf("estimated_wait_seconds, wait_range_seconds before any admission = %v, %v, want null", first["estimated_wait_seconds"], first["wait_range_seconds"])
	}
	got := a.do(req{method: "GET", path: "/v1/events/tour/tickets/" + second["id"].(string)})
	if cc := got.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("ticket Cache-Control = %q, want no-store", cc)
	}
	adm := a.admit("tour", 1)
	if num(adm["admitted"]) != 1 || num(adm["waiting"]) != 1 {
		t.Errorf("admit(1) = %v", adm)
	}
	alice := a.ticket("tour", first["id"].(string))
	if alice["status"] != "admitted" || alice["pass"] == nil || alice["position"] != nil {
		t.Fatalf("alice after admission = %v", alice)
	}
	bob := a.ticket("tour", second["id"].(string))
	if num(bob["position"]) != 1 || bob["estimated_wait_seconds"] == nil || num(bob["estimated_wait_seconds"]) < 0 {
		t.Errorf("bob after alice's admission = %v, want position 1 with an estimate", bob)
	}
	if rng, ok := bob["wait_range_seconds"].(map[string]any); !ok || num(rng["low"]) > num(bob["estimated_wait_seconds"]) || num(rng["high"]) < num(bob["estimated_wait_seconds"]) {
		t.Errorf("bob's wait_range_seconds = %v, want a range around estimated_wait_seconds %v", bob["wait_range_seconds"], bob["estimated_wait_seconds"])
	}
	v := a.must(req{method: "POST", path: "/v1/passes/verify", body: map[string]any{"pass": alice["pass"], "event_id": "tour"}}, 200).json(t)
	if v["valid"] != true || v["ticket_id"] != alice["id"] || v["user_id"] != "alice" {
		t.Errorf("verify = %v", v)
	}
	v = a.must(req{method: "POST", path: "/v1/passes/verify", body: map[string]any{"pass": alice["pass"], "event_id": "other"}}, 200).json(t)
	if v["valid"] != false || v["reason"] != "wrong_event" {
		t.Errorf("verify for another event = %v", v)
	}
	jwks := a.must(req{method: "GET", path: "/.well-known/jwks.json"}, 200).body
	if _, err := pass.ParseJWKS(jwks); err != nil {
		t.Errorf("JWKS does not parse: %v", err)
	}
	// Complete frees the place; the next admission takes bob.
	done := a.must(req{method: "POST", path: "/v1/events/tour/tickets/" + first["id"].(string) + "/complete", admin: true}, 200).json(t)
	if done["status"] != "completed" {
		t.Errorf("complete = %v", done)
	}
	a.admit("tour", 5)
	stats := a.must(req{method: "GET", path: "/v1/events/tour/stats", admin: true}, 200).json(t)
	counts := stats["counts"].(map[string]any)
	if num(stats["total_tickets"]) != 2 || num(counts["completed"]) != 1 || num(counts["admitted"]) != 1 || num(stats["active_passes"]) != 1 {
		t.Errorf("stats = %s", mustJSON(stats))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestJoinIsIdempotent(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "e", "name": "E"})
	// Concurrent joins of one user make one ticket; NFC makes "é" spelled
	// two ways one user.
	users := []string{"caf\u00e9", "cafe\u0301"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]bool{}
	created := 0
	for i := range 40 {
		wg.Go(func() {
			r := a.do(req{method: "POST", path: "/v1/events/e/tickets", body: map[string]any{"user_id": users[i%2]}})
			mu.Lock()
			defer mu.Unlock()
			switch r.status {
			case 201:
				created++
			case 200:
			default:
				t.Errorf("join = %d %s", r.status, r.body)
				return
			}
			ids[r.json(t)["id"].(string)] = true
		})
	}
	wg.Wait()
	if created != 1 || len(ids) != 1 {
		t.Errorf("40 concurrent joins of one user: %d created, %d distinct tickets; want 1, 1", created, len(ids))
	}
	var id string
	for id = range ids {
	}
	if got := a.ticket("e", id)["user_id"]; got != "caf\u00e9" {
		t.Errorf("user_id = %q, want the NFC form", got)
	}
}

func TestLeaveRulesOverHTTP(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "e", "name": "E"})
	x, y := a.join("e", "x"), a.join("e", "y")
	path := func(tk map[string]any) string { return "/v1/events/e/tickets/" + tk["id"].(string) }
	a.must(req{method: "DELETE", path: path(y)}, 204)
	a.must(req{method: "DELETE", path: path(y)}, 204)
	if got := a.ticket("e", y["id"].(string))["status"]; got != "left" {
		t.Errorf("status after leaving = %v", got)
	}
	a.admit("e", 10)
	if r := a.do(req{method: "DELETE", path: path(x)}); r.status != 409 || r.code() != "ticket_not_waiting" {
		t.Errorf("leave after admission = %d %s", r.status, r.body)
	}
	again := a.do(req{method: "POST", path: "/v1/events/e/tickets", body: map[string]any{"user_id": "y"}})
	if again.status != 201 || again.json(t)["id"] == y["id"] {
		t.Errorf("join after leaving = %d %s, want 201 with a new ticket", again.status, again.body)
	}
}

func TestAdmissionsNeedAnOpenEvent(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "s", "name": "S", "opens_at": "2026-12-04T18:00:00+01:00"})
	ev := a.must(req{method: "GET", path: "/v1/events/s"}, 200).json(t)
	if ev["state"] != "scheduled" || ev["opens_at"] != "2026-12-04T17:00:00Z" {
		t.Errorf("scheduled event = %v, want scheduled, opens_at in UTC", ev)
	}
	tk := a.join("s", "early")
	if tk["status"] != "prequeue" || tk["position"] != nil {
		t.Errorf("join before opening = %v", tk)
	}
	for _, tt := range []struct {
		setup map[string]any
		want  int
		code  string
	}{
		{nil, 409, "event_not_open"},                                  // scheduled
		{map[string]any{"state": "open"}, 200, ""},                    // opened early by the admin
		{map[string]any{"state": "paused"}, 409, "event_not_open"},    // paused
		{map[string]any{"state": "scheduled"}, 409, "event_not_open"}, // (refused transition, still paused)
		{map[string]any{"state": "closed"}, 409, "event_not_open"},    // closed
	} {
		if tt.setup != nil {
			a.patch("s", tt.setup)
		}
		r := a.do(req{method: "POST", path: "/v1/events/s/admissions", body: map[string]any{"count": 5}, admin: true})
		if r.status != tt.want || r.code() != tt.code {
			t.Errorf("after %v: admit = %d %s, want %d %s", tt.setup, r.status, r.body, tt.want, tt.code)
		}
	}
	if r := a.patch("s", map[string]any{"state": "open"}); r.status != 409 || r.code() != "invalid_transition" {
		t.Errorf("reopening a closed event = %d %s", r.status, r.body)
	}
	if r := a.do(req{method: "POST", path: "/v1/events/s/tickets", body: map[string]any{"user_id": "late"}}); r.status != 409 || r.code() != "event_closed" {
		t.Errorf("join a closed event = %d %s", r.status, r.body)
	}
}

func TestClosingClosesWaitingTickets(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "c", "name": "C"})
	var ids []string
	for i := range 30 {
		ids = append(ids, a.join("c", fmt.Sprint("u", i))["id"].(string))
	}
	a.admit("c", 10)
	if r := a.patch("c", map[string]any{"state": "closed"}); r.status != 200 {
		t.Fatalf("close = %d %s", r.status, r.body)
	}
	for i, id := range ids {
		want := "closed"
		if i < 10 {
			want = "admitted"
		}
		if got := a.ticket("c", id)["status"]; got != want {
			t.Errorf("ticket %d after closing = %v, want %s", i, got, want)
		}
	}
}

func TestAdmitMoreThanWaiting(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "m", "name": "M"})
	a.join("m", "only")
	if got := a.admit("m", 10000); num(got["admitted"]) != 1 || num(got["waiting"]) != 0 {
		t.Errorf("admit(10000) with one waiting = %v", got)
	}
	if got := a.admit("m", 1); num(got["admitted"]) != 0 || len(got["tickets"].([]any)) != 0 {
		t.Errorf("admit(1) with nobody waiting = %v", got)
	}
}

func TestIdempotencyKey(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "i", "name": "I"})
	for i := range 5 {
		a.join("i", fmt.Sprint("u", i))
	}
	admit := func(key string, count int) response {
		return a.do(req{method: "POST", path: "/v1/events/i/admissions", body: map[string]any{"count": count}, admin: true,
			header: map[string]string{"Idempotency-Key": key}})
	}
	first := admit("k1", 2)
	again := admit("k1", 2)
	if first.status != 200 || again.status != 200 || !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay = %d %s, first %d %s", again.status, again.body, first.status, first.body)
	}
	if r := admit("k1", 3); r.status != 422 || r.code() != "idempotency_key_reused" || !bytes.Contains(r.body, []byte(`"field":"Idempotency-Key"`)) {
		t.Errorf("same key, other body = %d %s", r.status, r.body)
	}
	// A request refused before it ran is not kept: the corrected request
	// may use the same key.
	if r := admit("k3", 0); r.status != 422 {
		t.Errorf("admit(0) = %d %s", r.status, r.body)
	}
	if r := admit("k3", 1); r.status != 200 || num(r.json(t)["admitted"]) != 1 {
		t.Errorf("corrected request with the key of a refused one = %d %s", r.status, r.body)
	}
	// Concurrent requests with one key execute once.
	var wg sync.WaitGroup
	bodies := make([]string, 8)
	for i := range bodies {
		wg.Go(func() { bodies[i] = string(admit("k2", 1).body) })
	}
	wg.Wait()
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("concurrent replays differ: %s vs %s", b, bodies[0])
		}
	}
	stats := a.must(req{method: "GET", path: "/v1/events/i/stats", admin: true}, 200).json(t)
	if got := num(stats["counts"].(map[string]any)["admitted"]); got != 4 {
		t.Errorf("admitted after k1 (2) replayed, k3 (1) and k2 (1) sent 8 times = %d, want 4", got)
	}
}

func TestListEventsPages(t *testing.T) {
	a := newAPI(t)
	var want []string
	for i := range 7 {
		want = append(want, a.createEvent(map[string]any{"id": fmt.Sprintf("ev-%d", i), "name": "n"}))
	}
	var got []string
	cursor := ""
	for range 10 {
		path := "/v1/events?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		page := a.must(req{method: "GET", path: path, admin: true}, 200).json(t)
		for _, e := range page["events"].([]any) {
			got = append(got, e.(map[string]any)["id"].(string))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged list = %v, want %v", got, want)
	}
	a.must(req{method: "DELETE", path: "/v1/events/ev-0", admin: true}, 204)
	a.must(req{method: "GET", path: "/v1/events/ev-0"}, 404)
}

func TestOperationalEndpoints(t *testing.T) {
	a := newAPI(t)
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml", "/docs"} {
		a.must(req{method: "GET", path: path}, 200)
	}
	if m := a.must(req{method: "GET", path: "/metrics"}, 200); !bytes.Contains(m.body, []byte(`queuepass_http_requests_total{code="200",route="GET /healthz"}`)) {
		t.Errorf("metrics lack the request counter by route:\n%.2000s", m.body)
	}
	// A store that cannot serve makes calls answer 503 with Retry-After,
	// and the detail says nothing internal.
	a.store.Close()
	for _, path := range []string{"/readyz", "/v1/events/x"} {
		r := a.do(req{method: "GET", path: path})
		if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("GET %s on a closed store = %d %s %v", path, r.status, r.body, r.header)
		}
	}
}

func TestMetricsAccess(t *testing.T) {
	for _, tt := range []struct {
		access          httpapi.MetricsAccess
		anyone, asAdmin int
	}{
		{httpapi.MetricsPublic, 200, 200},
		{httpapi.MetricsAdmin, 401, 200},
		{httpapi.MetricsOff, 404, 404},
	} {
		t.Run(string(tt.access), func(t *testing.T) {
			a := newAPIWith(t, func(c *httpapi.Config) { c.Metrics = tt.access })
			if r := a.do(req{method: "GET", path: "/metrics"}); r.status != tt.anyone {
				t.Errorf("GET /metrics without key = %d, want %d", r.status, tt.anyone)
			}
			if r := a.do(req{method: "GET", path: "/metrics", admin: true}); r.status != tt.asAdmin {
				t.Errorf("GET /metrics with admin key = %d, want %d", r.status, tt.asAdmin)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	a := newAPIWith(t, func(c *httpapi.Config) { c.CORSOrigins = []string{"https://tickets.example.com"} })
	a.createEvent(map[string]any{"id": "e", "name": "E"})
	send := func(method, origin string, header map[string]string) *http.Response {
		r, _ := http.NewRequest(method, a.url+"/v1/events/e/tickets", strings.NewReader(`{"user_id":"u"}`))
		r.Header.Set("Origin", origin)
		r.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			r.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	pre := send("OPTIONS", "https://tickets.example.com", map[string]string{"Access-Control-Request-Method": "POST"})
	if pre.StatusCode != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "https://tickets.example.com" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Content-Type") ||
		strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight = %d %v", pre.StatusCode, pre.Header)
	}
	if join := send("POST", "https://tickets.example.com", nil); join.StatusCode != 201 || join.Header.Get("Access-Control-Expose-Headers") == "" {
		t.Errorf("cross-origin join = %d %v", join.StatusCode, join.Header)
	}
	if other := send("OPTIONS", "https://evil.example", map[string]string{"Access-Control-Request-Method": "POST"}); other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from an unlisted origin allowed: %v", other.Header)
	}
}
