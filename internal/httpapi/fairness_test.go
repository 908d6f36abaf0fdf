package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/httpapi"
	"github.com/queuepass/queuepass/internal/waitroom"
)

func TestDrawOverHTTP(t *testing.T) {
	a := newAPI(t)
	opens := a.clock.Now().Add(time.Hour).Format(time.RFC3339)
	a.createEvent(map[string]any{"id": "drop", "name": "Drop", "opens_at": opens})
	ev := a.must(req{method: "GET", path: "/v1/events/drop"}, 200).json(t)
	draw, _ := ev["draw"].(map[string]any)
	commitment, _ := draw["commitment"].(string)
	if len(commitment) != 64 || draw["drawn_at"] != nil {
		t.Fatalf("scheduled event's draw = %v, want a commitment and no drawn_at", ev["draw"])
	}
	if r := a.do(req{method: "GET", path: "/v1/events/drop/draw"}); r.status != 409 || r.code() != "event_not_open" {
		t.Fatalf("GET draw before opening = %d %s, want 409 event_not_open", r.status, r.body)
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, a.join("drop", fmt.Sprint("early-", i))["id"].(string))
	}
	a.must(req{method: "PATCH", path: "/v1/events/drop", body: map[string]any{"state": "open"}, admin: true}, 200)

	d := a.must(req{method: "GET", path: "/v1/events/drop/draw"}, 200).json(t)
	if d["commitment"] != commitment || num(d["entrants"]) != 5 {
		t.Fatalf("draw = commitment %v, %v entrants; want %s, 5", d["commitment"], d["entrants"], commitment)
	}
	seed := hexBytes(t, d["seed"].(string))
	if sum := sha256.Sum256(seed[:]); hex.EncodeToString(sum[:]) != commitment {
		t.Errorf("SHA-256(seed) = %x, want the commitment %s", sum, commitment)
	}
	var order [][32]byte
	for _, h := range d["order"].([]any) {
		order = append(order, hexBytes(t, h.(string)))
	}
	if err := queuepass.VerifyDraw(hexBytes(t, commitment), seed, order); err != nil {
		t.Errorf("VerifyDraw of the published draw: %v", err)
	}
	for _, id := range ids {
		pos := num(a.ticket("drop", id)["position"])
		if h := queuepass.DrawHash(id); order[pos-1] != h {
			t.Errorf("the ticket at position %d is not at place %d of the published order", pos, pos)
		}
	}
	ev = a.must(req{method: "GET", path: "/v1/events/drop"}, 200).json(t)
	if draw := ev["draw"].(map[string]any); draw["commitment"] != commitment || draw["drawn_at"] == nil {
		t.Errorf("opened event's draw = %v, want the same commitment and a drawn_at", draw)
	}

	a.createEvent(map[string]any{"id": "now", "name": "Now"})
	if ev := a.must(req{method: "GET", path: "/v1/events/now"}, 200).json(t); ev["draw"] != nil {
		t.Errorf("an event created open has draw %v, want null", ev["draw"])
	}
	if r := a.do(req{method: "GET", path: "/v1/events/now/draw"}); r.status != 404 || r.code() != "not_found" {
		t.Errorf("GET draw of an event created open = %d %s, want 404 not_found", r.status, r.body)
	}
}

func hexBytes(t *testing.T, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("%q is not 32 bytes of hex", s)
	}
	return [32]byte(b)
}

// challenge gets a challenge for the event and solves it.
func (a *api) challenge(event string) (challenge, nonce string) {
	a.t.Helper()
	c := a.must(req{method: "POST", path: "/v1/events/" + event + "/challenges"}, 200)
	if cc := c.header.Get("Cache-Control"); cc != "no-store" {
		a.t.Errorf("challenge Cache-Control = %q, want no-store", cc)
	}
	m := c.json(a.t)
	challenge = m["challenge"].(string)
	nonce, err := queuepass.SolveChallenge(a.t.Context(), challenge, num(m["difficulty"]))
	if err != nil {
		a.t.Fatal(err)
	}
	return challenge, nonce
}

func TestProofOfWorkOverHTTP(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "pow", "name": "PoW", "challenge_difficulty": 8})
	join := func(body map[string]any) response {
		return a.do(req{method: "POST", path: "/v1/events/pow/tickets", body: body})
	}
	if r := join(map[string]any{"user_id": "alice"}); r.status != 428 || r.code() != "challenge_required" {
		t.Fatalf("join without a challenge = %d %s, want 428 challenge_required", r.status, r.body)
	}
	ch, nonce := a.challenge("pow")
	first := join(map[string]any{"user_id": "alice", "challenge": ch, "nonce": nonce})
	if first.status != 201 {
		t.Fatalf("join with a solved challenge = %d %s, want 201", first.status, first.body)
	}
	if r := join(map[string]any{"user_id": "bob", "challenge": ch, "nonce": nonce}); r.status != 403 || r.code() != "challenge_failed" {
		t.Errorf("join of bob with alice's challenge = %d %s, want 403 challenge_failed", r.status, r.body)
	}
	if r := join(map[string]any{"user_id": "alice"}); r.status != 200 || r.json(t)["id"] != first.json(t)["id"] {
		t.Errorf("repeat join of alice without a challenge = %d %s, want 200 with her ticket", r.status, r.body)
	}
	ch2, _ := a.challenge("pow")
	for _, tt := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
		fields string // the fields a 422 names, one entry each
	}{
		{"a wrong nonce", map[string]any{"user_id": "bob", "challenge": ch2, "nonce": "no"}, 403, "challenge_failed", ""},
		{"a made-up challenge", map[string]any{"user_id": "bob", "challenge": "made-up", "nonce": "1"}, 403, "challenge_failed", ""},
		{"a challenge without a nonce", map[string]any{"user_id": "bob", "challenge": ch2}, 422, "invalid_request", "nonce"},
		{"a nonce without a challenge", map[string]any{"user_id": "bob", "nonce": "1"}, 422, "invalid_request", "challenge"},
		{"a challenge and a null nonce", map[string]any{"user_id": "bob", "challenge": ch2, "nonce": nil}, 422, "invalid_request", "nonce"},
		{"an empty nonce", map[string]any{"user_id": "bob", "challenge": ch2, "nonce": ""}, 422, "invalid_request", "nonce"},
		{"an empty challenge", map[string]any{"user_id": "bob", "challenge": "", "nonce": "1"}, 422, "invalid_request", "challenge"},
		{"a nonce with a space", map[string]any{"user_id": "bob", "challenge": ch2, "nonce": "1 2"}, 422, "invalid_request", "nonce"},
		{"a nonce too long", map[string]any{"user_id": "bob", "challenge": ch2, "nonce": strings.Repeat("1", 65)}, 422, "invalid_request", "nonce"},
		{"a challenge that is a number", map[string]any{"user_id": "bob", "challenge": 5, "nonce": "1"}, 422, "invalid_request", "challenge"},
		{"both bad", map[string]any{"user_id": "bob", "challenge": 5, "nonce": 5}, 422, "invalid_request", "challenge,nonce"},
	} {
		if r := join(tt.body); r.status != tt.status || r.code() != tt.code || r.fields() != tt.fields {
			t.Errorf("join with %s = %d %s, want %d %s naming %q", tt.name, r.status, r.body, tt.status, tt.code, tt.fields)
		}
	}
	// The failures spent nothing: ch2 still makes bob's ticket.
	_, nonce2 := solvedAgain(t, ch2, 8)
	if r := join(map[string]any{"user_id": "bob", "challenge": ch2, "nonce": nonce2}); r.status != 201 {
		t.Errorf("join of bob with his own challenge after failures = %d %s, want 201", r.status, r.body)
	}
	if r := a.do(req{method: "POST", path: "/v1/events/nope/challenges"}); r.status != 404 || r.code() != "event_not_found" {
		t.Errorf("challenge of an unknown event = %d %s, want 404", r.status, r.body)
	}
}

func solvedAgain(t *testing.T, challenge string, difficulty int) (string, string) {
	t.Helper()
	nonce, err := queuepass.SolveChallenge(t.Context(), challenge, difficulty)
	if err != nil {
		t.Fatal(err)
	}
	return challenge, nonce
}

func TestAccessCodesOverHTTP(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "vip", "name": "VIP", "access": "code"})
	if ev := a.must(req{method: "GET", path: "/v1/events/vip"}, 200).json(t); ev["access"] != "code" {
		t.Errorf("event access = %v, want code", ev["access"])
	}
	add := func(body any) response {
		return a.do(req{method: "POST", path: "/v1/events/vip/codes", body: body, admin: true})
	}
	r := add(map[string]any{"codes": []string{"fan-0001", "FAN-0002"}})
	if r.status != 201 || r.header.Get("Location") != "/v1/events/vip/codes" {
		t.Fatalf("add codes = %d %s, Location %q; want 201", r.status, r.body, r.header.Get("Location"))
	}
	if got := mustJSON(r.json(t)["codes"]); got != `[{"code":"FAN-0001","used":0,"uses":1},{"code":"FAN-0002","used":0,"uses":1}]` {
		t.Errorf("added codes = %s, want both in upper case with 1 use", got)
	}
	gen := add(map[string]any{"generate": 3, "uses": 2})
	if gen.status != 201 || len(gen.json(t)["codes"].([]any)) != 3 {
		t.Fatalf("generate 3 codes = %d %s", gen.status, gen.body)
	}
	for _, tt := range []struct {
		name   string
		body   any
		status int
		code   string
		fields string
	}{
		{"an existing code", map[string]any{"codes": []string{"NEW-1", "fan-0001"}}, 422, "invalid_request", "codes"},
		{"both codes and generate", map[string]any{"codes": []string{"AAAA"}, "generate": 1}, 422, "invalid_request", "codes"},
		{"neither", map[string]any{"uses": 1}, 422, "invalid_request", "codes"},
		{"nothing", map[string]any{}, 422, "invalid_request", "codes"},
		{"a short code", map[string]any{"codes": []string{"GOOD", "abc"}}, 422, "invalid_request", "codes[1]"},
		{"a long code", map[string]any{"codes": []string{strings.Repeat("L", 33)}}, 422, "invalid_request", "codes[0]"},
		{"a code twice", map[string]any{"codes": []string{"TWIN", "twin"}}, 422, "invalid_request", "codes[1]"},
		{"no codes", map[string]any{"codes": []string{}}, 422, "invalid_request", "codes"},
		{"zero uses", map[string]any{"generate": 1, "uses": 0}, 422, "invalid_request", "uses"},
		{"too many", map[string]any{"generate": 1001}, 422, "invalid_request", "generate"},
	} {
		if r := add(tt.body); r.status != tt.status || r.code() != tt.code || r.fields() != tt.fields {
			t.Errorf("add codes with %s = %d %s, want %d %s naming %q", tt.name, r.status, r.body, tt.status, tt.code, tt.fields)
		}
	}
	// The largest call the API allows fits in its body limit, even indented.
	most := make([]string, waitroom.MaxCodesAdded)
	for i := range most {
		most[i] = fmt.Sprintf("%0*d", waitroom.MaxCodeLength, i)
	}
	indented, _ := json.MarshalIndent(map[string]any{"codes": most, "uses": waitroom.MaxCodeUses}, "", "    ")
	a.createEvent(map[string]any{"id": "bulk", "name": "Bulk", "access": "code"})
	if r := a.do(req{method: "POST", path: "/v1/events/bulk/codes", body: string(indented), admin: true}); r.status != 201 {
		t.Errorf("add %d codes of %d characters (%d bytes) = %d %.300s, want 201", len(most), waitroom.MaxCodeLength, len(indented), r.status, r.body)
	}
	if r := a.do(req{method: "POST", path: "/v1/events/vip/codes", body: map[string]any{"generate": 1}}); r.status != 401 {
		t.Errorf("add codes without the admin key = %d, want 401", r.status)
	}

	join := func(user, code string) response {
		body := map[string]any{"user_id": user}
		if code != "" {
			body["access_code"] = code
		}
		return a.do(req{method: "POST", path: "/v1/events/vip/tickets", body: body})
	}
	if r := join("alice", ""); r.status != 403 || r.code() != "forbidden" {
		t.Errorf("join without a code = %d %s, want 403 forbidden", r.status, r.body)
	}
	if r := join("alice", "Fan-0001"); r.status != 201 {
		t.Errorf("join with a code typed in mixed case = %d %s, want 201", r.status, r.body)
	}
	if r := join("bob", "FAN-0001"); r.status != 403 || r.code() != "forbidden" {
		t.Errorf("join with a used code = %d %s, want 403 forbidden", r.status, r.body)
	}
	if r := join("bob", "no!"); r.status != 422 {
		t.Errorf("join with a malformed code = %d %s, want 422", r.status, r.body)
	}

	var listed []any
	for cursor := ""; ; {
		path := "/v1/events/vip/codes?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		page := a.must(req{method: "GET", path: path, admin: true}, 200).json(t)
		listed = append(listed, page["codes"].([]any)...)
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(listed) != 5 {
		t.Fatalf("listed %d codes in pages of 2, want 5", len(listed))
	}
	prev := ""
	for _, c := range listed {
		c := c.(map[string]any)
		code := c["code"].(string)
		if code <= prev {
			t.Errorf("codes listed out of order: %q after %q", code, prev)
		}
		prev = code
		if want := map[bool]int{true: 1}[code == "FAN-0001"]; num(c["used"]) != want {
			t.Errorf("code %s used %v times, want %d", code, c["used"], want)
		}
	}
	stats := a.must(req{method: "GET", path: "/v1/events/vip/stats", admin: true}, 200).json(t)
	if got := mustJSON(stats["access_codes"]); got != `{"codes":5,"used":1,"uses":8}` {
		t.Errorf("stats access_codes = %s, want 5 codes, 8 uses, 1 used", got)
	}
	if r := a.do(req{method: "GET", path: "/v1/events/vip/codes?cursor=a%20b", admin: true}); r.status != 422 {
		t.Errorf("list codes with a bad cursor = %d, want 422", r.status)
	}

	// A code given out by mistake is ended, and one given to a group
	// gets more uses.
	a.must(req{method: "POST", path: "/v1/events/vip/codes", body: map[string]any{"codes": []string{"LEAKED", "GROUP"}}, admin: true}, 201)
	set := func(code string, body any, header map[string]string) response {
		return a.do(req{method: "PATCH", path: "/v1/events/vip/codes/" + code, body: body, admin: true, header: header})
	}
	if r := set("leaked", map[string]any{"uses": 0}, nil); r.status != 200 || mustJSON(r.json(t)) != `{"code":"LEAKED","used":0,"uses":0}` {
		t.Errorf("end code LEAKED = %d %s, want 200 with no uses", r.status, r.body)
	}
	if r := join("carol", "LEAKED"); r.status != 403 || r.code() != "forbidden" {
		t.Errorf("join with an ended code = %d %s, want 403 forbidden", r.status, r.body)
	}
	merge := map[string]string{"Content-Type": "application/merge-patch+json"}
	if r := set("GROUP", `{"uses": 2}`, merge); r.status != 200 || num(r.json(t)["uses"]) != 2 {
		t.Errorf("give GROUP 2 uses = %d %s, want 200 with 2 uses", r.status, r.body)
	}
	for _, user := range []string{"dave", "erin"} {
		if r := join(user, "group"); r.status != 201 {
			t.Errorf("join of %s with GROUP of 2 uses = %d %s, want 201", user, r.status, r.body)
		}
	}
	if r := set("FAN-0001", map[string]any{"uses": 0}, nil); r.status != 200 || mustJSON(r.json(t)) != `{"code":"FAN-0001","used":1,"uses":1}` {
		t.Errorf("end code FAN-0001, used once = %d %s, want 200 with its 1 use kept", r.status, r.body)
	}
	for _, tt := range []struct {
		name   string
		code   string
		body   any
		admin  bool
		status int
		want   string
		fields string
	}{
		{"an unknown code", "NOPE", map[string]any{"uses": 1}, true, 404, "not_found", ""},
		{"a malformed code", "no!", map[string]any{"uses": 1}, true, 404, "not_found", ""},
		{"no uses", "GROUP", map[string]any{}, true, 422, "invalid_request", "uses"},
		{"null uses", "GROUP", map[string]any{"uses": nil}, true, 422, "invalid_request", "uses"},
		{"negative uses", "GROUP", map[string]any{"uses": -1}, true, 422, "invalid_request", "uses"},
		{"another field", "GROUP", map[string]any{"uses": 1, "used": 0}, true, 422, "invalid_request", "used"},
		{"no admin key", "GROUP", map[string]any{"uses": 1}, false, 401, "unauthorized", ""},
	} {
		r := a.do(req{method: "PATCH", path: "/v1/events/vip/codes/" + tt.code, body: tt.body, admin: tt.admin})
		if r.status != tt.status || r.code() != tt.want || r.fields() != tt.fields {
			t.Errorf("change code with %s = %d %s, want %d %s naming %q", tt.name, r.status, r.body, tt.status, tt.want, tt.fields)
		}
	}
	if r := a.do(req{method: "PATCH", path: "/v1/events/nope/codes/GROUP", body: map[string]any{"uses": 1}, admin: true}); r.status != 404 || r.code() != "event_not_found" {
		t.Errorf("change a code of an unknown event = %d %s, want 404 event_not_found", r.status, r.body)
	}
	stats = a.must(req{method: "GET", path: "/v1/events/vip/stats", admin: true}, 200).json(t)
	if got := mustJSON(stats["access_codes"]); got != `{"codes":7,"used":3,"uses":10}` {
		t.Errorf("stats access_codes after the changes = %s, want 7 codes, 10 uses, 3 used", got)
	}
}

func TestInventoryOverHTTP(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "seats", "name": "Seats", "inventory": 3})
	var ids []string
	for i := range 5 {
		ids = append(ids, a.join("seats", fmt.Sprint("fan-", i))["id"].(string))
	}
	if tk := a.ticket("seats", ids[3]); tk["likely_sold_out"] != true {
		t.Errorf("ticket at position 4 of an inventory of 3: likely_sold_out = %v, want true", tk["likely_sold_out"])
	}
	if tk := a.ticket("seats", ids[2]); tk["likely_sold_out"] != false {
		t.Errorf("ticket at position 3 of an inventory of 3: likely_sold_out = %v, want false", tk["likely_sold_out"])
	}
	a.admit("seats", 2)
	complete := func(id string, body any) response {
		return a.do(req{method: "POST", path: "/v1/events/seats/tickets/" + id + "/complete", body: body, admin: true})
	}
	for _, tt := range []struct {
		name string
		body any
	}{
		{"a quantity of 0", map[string]any{"quantity": 0}},
		{"a quantity as a string", `{"quantity": "2"}`},
		{"an unknown field", map[string]any{"seats": 2}},
	} {
		if r := complete(ids[0], tt.body); r.status != 422 {
			t.Errorf("complete with %s = %d %s, want 422", tt.name, r.status, r.body)
		}
	}
	if r := complete(ids[0], map[string]any{"quantity": 2}); r.status != 200 {
		t.Fatalf("complete with quantity 2 = %d %s", r.status, r.body)
	}
	ev := a.must(req{method: "GET", path: "/v1/events/seats"}, 200).json(t)
	if ev["state"] != "open" || num(ev["inventory_remaining"]) != 1 {
		t.Errorf("after selling 2 of 3: state %v, remaining %v; want open, 1", ev["state"], ev["inventory_remaining"])
	}
	if r := complete(ids[1], nil); r.status != 200 { // no body: one
		t.Fatalf("complete without a body = %d %s", r.status, r.body)
	}
	ev = a.must(req{method: "GET", path: "/v1/events/seats"}, 200).json(t)
	if ev["state"] != "closed" || ev["state_reason"] != "sold_out" || num(ev["inventory_remaining"]) != 0 {
		t.Errorf("after selling out: state %v, reason %v, remaining %v; want closed, sold_out, 0", ev["state"], ev["state_reason"], ev["inventory_remaining"])
	}
	for _, id := range ids[2:] {
		if tk := a.ticket("seats", id); tk["status"] != "closed" || tk["status_reason"] != "sold_out" {
			t.Errorf("waiting ticket after selling out = %v, %v; want closed, sold_out", tk["status"], tk["status_reason"])
		}
	}
	if r := a.do(req{method: "POST", path: "/v1/events/seats/tickets", body: map[string]any{"user_id": "late"}}); r.status != 409 || r.code() != "event_closed" {
		t.Errorf("join after selling out = %d %s, want 409 event_closed", r.status, r.body)
	}
	stats := a.must(req{method: "GET", path: "/v1/events/seats/stats", admin: true}, 200).json(t)
	if num(stats["sold"]) != 3 || num(stats["inventory"]) != 3 || num(stats["inventory_remaining"]) != 0 {
		t.Errorf("stats sold %v of %v, remaining %v; want 3 of 3, 0", stats["sold"], stats["inventory"], stats["inventory_remaining"])
	}
	a.createEvent(map[string]any{"id": "any", "name": "No inventory"})
	if r := a.patch("any", map[string]any{"inventory": 0}); r.status != 422 {
		t.Errorf("PATCH inventory 0 = %d, want 422 (null clears it)", r.status)
	}
	if r := a.patch("any", map[string]any{"inventory": nil}); r.status != 200 || r.json(t)["inventory"] != nil {
		t.Errorf("PATCH inventory null = %d %s, want 200 without an inventory", r.status, r.body)
	}
}

func TestRateLimitsOverHTTP(t *testing.T) {
	limits := waitroom.Limits{
		waitroom.LimitJoin: {Interval: time.Second, Burst: 2},
		waitroom.LimitRead: {Interval: time.Second, Burst: 3},
	}
	a := newAPIWithRoom(t, func(c *waitroom.Config) { c.Limits = limits }, func(c *httpapi.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	a.createEvent(map[string]any{"id": "e", "name": "E"})
	join := func(user, from string) response {
		return a.do(req{method: "POST", path: "/v1/events/e/tickets", body: map[string]any{"user_id": user},
			header: map[string]string{"X-Forwarded-For": from}})
	}
	for i := range 2 {
		if r := join(fmt.Sprint("u", i), "198.51.100.1"); r.status != 201 {
			t.Fatalf("join %d within the burst = %d %s", i, r.status, r.body)
		}
	}
	r := join("u2", "198.51.100.1")
	if r.status != 429 || r.code() != "rate_limited" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("third join from one address = %d %s, Retry-After %q; want 429 rate_limited, 1", r.status, r.body, r.header.Get("Retry-After"))
	}
	// A client cannot pose as another by adding to the header: the last
	// trusted proxy (loopback) saw 198.51.100.1.
	if r := join("u2", "203.0.113.9, 198.51.100.1"); r.status != 429 {
		t.Errorf("join with a forged address in front = %d, want 429", r.status)
	}
	if r := join("u2", "198.51.100.2"); r.status != 201 {
		t.Errorf("join from another address = %d %s, want 201", r.status, r.body)
	}
	a.clock.Advance(time.Second)
	if r := join("u3", "198.51.100.1"); r.status != 201 {
		t.Errorf("join a second later = %d %s, want 201", r.status, r.body)
	}

	// Reads have their own buckets; the admin key lifts every limit.
	for range 3 {
		a.must(req{method: "GET", path: "/v1/events/e", header: map[string]string{"X-Forwarded-For": "198.51.100.1"}}, 200)
	}
	if r := a.do(req{method: "GET", path: "/v1/events/e", header: map[string]string{"X-Forwarded-For": "198.51.100.1"}}); r.status != 429 {
		t.Errorf("fourth read = %d, want 429", r.status)
	}
	a.must(req{method: "GET", path: "/v1/events/e", admin: true, header: map[string]string{"X-Forwarded-For": "198.51.100.1"}}, 200)

	// Challenges have no limit here, and verification is never limited.
	for range 5 {
		a.must(req{method: "POST", path: "/v1/events/e/challenges", header: map[string]string{"X-Forwarded-For": "198.51.100.1"}}, 200)
	}
	metrics := string(a.must(req{method: "GET", path: "/metrics"}, 200).body)
	for _, want := range []string{`queuepass_rate_limited_total{class="join"} 2`, `queuepass_rate_limited_total{class="read"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRateLimitsIgnoreUntrustedForwardedFor(t *testing.T) {
	a := newAPIWithRoom(t, func(c *waitroom.Config) {
		c.Limits = waitroom.Limits{waitroom.LimitJoin: {Interval: time.Minute, Burst: 1}}
	}, func(*httpapi.Config) {})
	a.createEvent(map[string]any{"id": "e", "name": "E"})
	for i, want := range []int{http.StatusCreated, http.StatusTooManyRequests} {
		r := a.do(req{method: "POST", path: "/v1/events/e/tickets", body: map[string]any{"user_id": fmt.Sprint("u", i)},
			header: map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)}})
		if r.status != want {
			t.Errorf("join %d with its own X-Forwarded-For from an untrusted peer = %d, want %d", i, r.status, want)
		}
	}
}
