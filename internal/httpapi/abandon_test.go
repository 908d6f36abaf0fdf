package httpapi_test

import (
	"testing"
	"time"
)

func TestAbandonmentOverHTTP(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "i", "name": "Idle", "idle_timeout_seconds": 60})
	ev := a.must(req{method: "GET", path: "/v1/events/i", admin: true}, 200).json(t)
	if num(ev["idle_timeout_seconds"]) != 60 {
		t.Errorf("event = %s, want idle_timeout_seconds 60", mustJSON(ev))
	}
	gone := a.join("i", "gone")
	here := a.join("i", "here")
	for range 8 { // two minutes of polling every 15 s
		a.clock.Advance(15 * time.Second)
		a.ticket("i", here["id"].(string))
	}
	adm := a.admit("i", 1)
	tks := adm["tickets"].([]any)
	if len(tks) != 1 || tks[0].(map[string]any)["user_id"] != "here" {
		t.Errorf("admit = %s, want the poller admitted", mustJSON(adm))
	}
	if got := a.ticket("i", gone["id"].(string)); got["status"] != "expired" || got["status_reason"] != "abandoned" {
		t.Errorf("silent ticket = %s, want expired, abandoned", mustJSON(got))
	}
	stats := a.must(req{method: "GET", path: "/v1/events/i/stats", admin: true}, 200).json(t)
	if num(stats["abandoned"]) != 1 || num(stats["counts"].(map[string]any)["expired"]) != 1 {
		t.Errorf("stats = %s, want 1 abandoned, 1 expired", mustJSON(stats))
	}

	if got := a.patch("i", map[string]any{"idle_timeout_seconds": 0}); got.status != 200 || num(got.json(t)["idle_timeout_seconds"]) != 0 {
		t.Errorf("PATCH idle_timeout_seconds 0 = %d %s", got.status, got.body)
	}
	for _, bad := range []any{-1, 86401, 1.5, "60", nil} {
		if got := a.patch("i", map[string]any{"idle_timeout_seconds": bad}); got.status != 422 || got.code() != "invalid_request" {
			t.Errorf("PATCH idle_timeout_seconds %v = %d %s, want 422 invalid_request", bad, got.status, got.body)
		}
	}
}
