package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/redistest"
)

// fanCall is a call of a fan (no admin key) from the client address from,
// which the nodes believe because they trust loopback as a proxy.
func fanCall(t *testing.T, method, url, from string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", from)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

// TestFairnessAcrossNodes checks on two nodes sharing one Redis that a
// challenge issued by one node is taken by the other and spent for both,
// that rate limits per client address hold for the nodes together, and that
// a code's last use goes to exactly one of two joins racing on two nodes.
func TestFairnessAcrossNodes(t *testing.T) {
	url, _ := redistest.Server(t)
	bin := buildBinary(t)
	keys := keyFile(t)
	var nodes []string
	for range 2 {
		_, u := startServe(t, bin, []string{"QUEUEPASS_ADMIN_KEY=" + testAdminKey},
			"--store", url, "--pass-key-file", keys, "--data", t.TempDir(),
			"--trusted-proxies", "127.0.0.1", "--limit-join", "1/m:2", "--limit-challenge", "1/m:3")
		nodes = append(nodes, u)
	}
	a, b := nodes[0], nodes[1]
	admin := apiClient{http: &http.Client{Timeout: 20 * time.Second}, key: testAdminKey}
	for _, ev := range []map[string]any{
		{"id": "pow", "name": "PoW", "challenge_difficulty": 8},
		{"id": "vip", "name": "VIP", "access": "code"},
	} {
		if st, _, m, err := admin.call("POST", a+"/v1/events", ev); err != nil || st != 201 {
			t.Fatalf("create %v = %d %v %v", ev["id"], st, m, err)
		}
	}

	// A challenge of node a makes a ticket on node b, once.
	st, _, ch := fanCall(t, "POST", a+"/v1/events/pow/challenges", "198.51.100.1", nil)
	if st != 200 {
		t.Fatalf("challenge on node a = %d %v", st, ch)
	}
	nonce, err := queuepass.SolveChallenge(t.Context(), ch["challenge"].(string), int(ch["difficulty"].(float64)))
	if err != nil {
		t.Fatal(err)
	}
	proof := func(user string) map[string]any {
		return map[string]any{"user_id": user, "challenge": ch["challenge"], "nonce": nonce}
	}
	if st, _, m := fanCall(t, "POST", b+"/v1/events/pow/tickets", "198.51.100.1", proof("alice")); st != 201 {
		t.Fatalf("join on node b with node a's challenge = %d %v, want 201", st, m)
	}
	if st, _, m := fanCall(t, "POST", a+"/v1/events/pow/tickets", "198.51.100.2", proof("bob")); st != 403 || m["code"] != "challenge_failed" {
		t.Errorf("join on node a with the challenge spent on node b = %d %v, want 403 challenge_failed", st, m)
	}

	// One address may join twice a minute, on whichever nodes.
	from := "198.51.100.3"
	for i, node := range []string{a, b} {
		if st, _, m := fanCall(t, "POST", node+"/v1/events/vip/tickets", from, map[string]any{"user_id": fmt.Sprint("x", i)}); st == 429 {
			t.Fatalf("join %d from %s = 429 %v, want it within the limit", i+1, from, m)
		}
	}
	for _, node := range []string{a, b} {
		st, h, m := fanCall(t, "POST", node+"/v1/events/vip/tickets", from, map[string]any{"user_id": "x3"})
		if st != 429 || m["code"] != "rate_limited" || h.Get("Retry-After") == "" {
			t.Errorf("third join from %s = %d %v, want 429 rate_limited with Retry-After: the nodes share the limit", from, st, m)
		}
	}
	// Challenges have a limit of their own.
	for i := range 3 {
		if st, _, m := fanCall(t, "POST", nodes[i%2]+"/v1/events/pow/challenges", "198.51.100.4", nil); st != 200 {
			t.Fatalf("challenge %d = %d %v, want 200", i+1, st, m)
		}
	}
	if st, _, _ := fanCall(t, "POST", b+"/v1/events/pow/challenges", "198.51.100.4", nil); st != 429 {
		t.Errorf("fourth challenge from one address = %d, want 429", st)
	}

	// The last use of a code goes to one of two joins racing on two nodes.
	if st, _, m, err := admin.call("POST", a+"/v1/events/vip/codes", map[string]any{"codes": []string{"LAST-SEAT"}}); err != nil || st != 201 {
		t.Fatalf("add code = %d %v %v", st, m, err)
	}
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, node := range nodes {
		wg.Go(func() {
			statuses[i], _, _ = fanCall(t, "POST", node+"/v1/events/vip/tickets", fmt.Sprintf("198.51.100.%d", 10+i),
				map[string]any{"user_id": fmt.Sprint("racer-", i), "access_code": "last-seat"})
		})
	}
	wg.Wait()
	if made := countOf(statuses, 201); made != 1 || countOf(statuses, 403) != 1 {
		t.Errorf("two joins racing for a code's last use on two nodes = %v, want one 201 and one 403", statuses)
	}
}

func countOf(xs []int, x int) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}
