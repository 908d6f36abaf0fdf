package httpapi_test

import (
	"testing"
	"time"
)

func TestRevokeOverHTTP(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "r", "name": "Revoke", "max_active": 1, "pass_ttl_seconds": 600})
	alice := a.join("r", "alice")
	bob := a.join("r", "bob")
	if alice["status_reason"] != nil {
		t.Errorf("waiting ticket status_reason = %v, want null", alice["status_reason"])
	}
	a.admit("r", 1)
	pass := a.ticket("r", alice["id"].(string))["pass"]
	a.clock.Advance(30 * time.Second)

	path := "/v1/events/r/tickets/" + alice["id"].(string) + "/revoke"
	key := map[string]string{"Idempotency-Key": "revoke-alice-1"}
	got := a.must(req{method: "POST", path: path, admin: true, header: key}, 200).json(t)
	if got["status"] != "expired" || got["status_reason"] != "revoked" || got["pass"] != nil {
		t.Errorf("revoke = %s, want expired, revoked, no pass", mustJSON(got))
	}
	// A replay with the same key, and a fresh revoke, answer the same.
	if again := a.must(req{method: "POST", path: path, admin: true, header: key}, 200).json(t); mustJSON(again) != mustJSON(got) {
		t.Errorf("replayed revoke = %s, want %s", mustJSON(again), mustJSON(got))
	}
	if again := a.must(req{method: "POST", path: path, admin: true}, 200).json(t); again["status"] != "expired" || again["status_reason"] != "revoked" {
		t.Errorf("revoke of a revoked ticket = %s, want it unchanged", mustJSON(again))
	}
	if now := a.ticket("r", alice["id"].(string)); now["status"] != "expired" || now["status_reason"] != "revoked" {
		t.Errorf("revoked ticket = %s", mustJSON(now))
	}

	v := a.must(req{method: "POST", path: "/v1/passes/verify", body: map[string]any{"pass": pass, "event_id": "r"}}, 200).json(t)
	if v["valid"] != false || v["reason"] != "revoked" {
		t.Errorf("verify after revoke = %s, want valid false, reason revoked", mustJSON(v))
	}
	stats := a.must(req{method: "GET", path: "/v1/events/r/stats", admin: true}, 200).json(t)
	counts := stats["counts"].(map[string]any)
	if num(counts["admitted"]) != 0 || num(counts["expired"]) != 1 || num(stats["active_passes"]) != 0 {
		t.Errorf("stats after revoke = %s, want 0 admitted, 1 expired", mustJSON(stats))
	}

	// Only an admitted ticket with a live pass can be revoked.
	for _, c := range []struct {
		name, path string
		admin      bool
		status     int
		code       string
	}{
		{"waiting", "/v1/events/r/tickets/" + bob["id"].(string) + "/revoke", true, 409, "ticket_not_admitted"},
		{"no admin key", path, false, 401, "unauthorized"},
		{"unknown ticket", "/v1/events/r/tickets/AQAAAAAAAAAAAAAAAAAAAAA/revoke", true, 404, "ticket_not_found"},
		{"unknown event", "/v1/events/nope/tickets/" + bob["id"].(string) + "/revoke", true, 404, "event_not_found"},
	} {
		r := a.do(req{method: "POST", path: c.path, admin: c.admin})
		if r.status != c.status || r.code() != c.code {
			t.Errorf("revoke %s = %d %s, want %d %s", c.name, r.status, r.code(), c.status, c.code)
		}
	}

	// The freed place goes to bob, whose pass can run out: then it is
	// expired without a reason, and cannot be revoked.
	a.admit("r", 1)
	a.clock.Advance(10 * time.Minute)
	if b := a.ticket("r", bob["id"].(string)); b["status"] != "expired" || b["status_reason"] != nil {
		t.Errorf("bob after his pass ran out = %s, want expired without a reason", mustJSON(b))
	}
	r := a.do(req{method: "POST", path: "/v1/events/r/tickets/" + bob["id"].(string) + "/revoke", admin: true})
	if r.status != 409 || r.code() != "ticket_not_admitted" {
		t.Errorf("revoke after the pass ran out = %d %s, want 409 ticket_not_admitted", r.status, r.code())
	}
}

func TestStatsRecentAdmissionsOverHTTP(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "s", "name": "Stats", "pass_ttl_seconds": 3600})
	stats := a.must(req{method: "GET", path: "/v1/events/s/stats", admin: true}, 200).json(t)
	if stats["median_wait_seconds"] != nil || num(stats["admitted_last_10_minutes"]) != 0 {
		t.Errorf("stats before any admission = %s, want median_wait_seconds null, admitted_last_10_minutes 0", mustJSON(stats))
	}
	// a, b join at 0 and are admitted at 2 min (120 s); c joins at 2 min
	// and is admitted at 5 min (180 s).
	a.join("s", "a")
	a.join("s", "b")
	a.clock.Advance(2 * time.Minute)
	a.admit("s", 2)
	a.join("s", "c")
	a.clock.Advance(3 * time.Minute)
	a.admit("s", 1)

	tests := []struct {
		advance            time.Duration
		lastMinute, last10 int
		median             any // float64 seconds, or nil for null
	}{
		{0, 1, 3, 120.0}, // at 5 min: waits 120, 120, 180
		{7*time.Minute + 30*time.Second, 0, 1, 180.0}, // at 12.5 min: the batch of 2 min is gone
		{3 * time.Minute, 0, 0, nil},                  // at 15.5 min: none left
	}
	for i, tt := range tests {
		a.clock.Advance(tt.advance)
		s := a.must(req{method: "GET", path: "/v1/events/s/stats", admin: true}, 200).json(t)
		if num(s["admitted_last_minute"]) != tt.lastMinute || num(s["admitted_last_10_minutes"]) != tt.last10 || s["median_wait_seconds"] != tt.median {
			t.Errorf("stats #%d = %s, want admitted_last_minute %d, admitted_last_10_minutes %d, median_wait_seconds %v",
				i, mustJSON(s), tt.lastMinute, tt.last10, tt.median)
		}
	}
}
