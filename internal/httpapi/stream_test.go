package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/httpapi"
	"github.com/queuepass/queuepass/internal/openapitest"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// sse reads one server-sent events stream.
type sse struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// sseEvent is one event of a stream, or a comment (name "comment").
type sseEvent struct {
	name, data string
}

func openStream(t *testing.T, client *http.Client, url string) *sse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s, want 200", url, resp.StatusCode, b)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("stream %s = %q, want %q", k, got, want)
		}
	}
	s := &sse{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
	if ev, ok := s.next(); !ok || ev.name != "retry" || ev.data != "3000" {
		t.Fatalf("stream starts with %+v, want retry: 3000", ev)
	}
	return s
}

// next reads the next event, comment or retry advice; ok is false at the
// end of the stream.
func (s *sse) next() (ev sseEvent, ok bool) {
	s.t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, false
		}
		line = strings.TrimSuffix(line, "\n")
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				return ev, true
			}
		case field == "":
			return sseEvent{name: "comment", data: value}, true
		case field == "event":
			ev.name = value
		case field == "data":
			ev.data += value
		case field == "retry":
			ev = sseEvent{name: "retry", data: value}
		}
	}
}

// update reads the next update, skipping comments, and returns its ticket.
func (s *sse) update() map[string]any {
	s.t.Helper()
	for {
		ev, ok := s.next()
		if !ok {
			s.t.Fatal("stream ended, want an update")
		}
		if ev.name == "comment" {
			continue
		}
		if ev.name != "update" {
			s.t.Fatalf("stream event %q, want update", ev.name)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
			s.t.Fatalf("update data %q: %v", ev.data, err)
		}
		return m
	}
}

func (s *sse) wantEnd() {
	s.t.Helper()
	for {
		ev, ok := s.next()
		if !ok {
			return
		}
		if ev.name != "comment" {
			s.t.Fatalf("stream sent %+v, want its end", ev)
		}
	}
}

// newNodes starts n servers over one store, sharing one clock and keys.
func newNodes(t *testing.T, n int, configure func(*httpapi.Config)) []*api {
	t.Helper()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := clocktest.New(time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC))
	keys := pass.Generate()
	var nodes []*api
	for range n {
		room := waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: c.Now})
		cfg := httpapi.Config{Room: room, AdminKey: adminKey}
		configure(&cfg)
		srv := httptest.NewServer(httpapi.NewServer(cfg))
		t.Cleanup(srv.Close)
		v := openapitest.New(t, httpapi.OpenAPISpec())
		nodes = append(nodes, &api{t: t, url: srv.URL, client: v.Client(srv.Client()), clock: c, store: store})
	}
	return nodes
}

func streamPath(event, ticket string) string {
	return "/v1/events/" + event + "/tickets/" + ticket + "/stream"
}

func TestStreamAcrossNodes(t *testing.T) {
	nodes := newNodes(t, 2, func(*httpapi.Config) {})
	a, b := nodes[0], nodes[1]
	ev := a.createEvent(map[string]any{"name": "Drop"})
	a.join(ev, "u1")
	tk := a.join(ev, "u2")
	id := tk["id"].(string)
	s := openStream(t, b.client, b.url+streamPath(ev, id))

	first := s.update()
	if got, want := mustJSON(first), mustJSON(b.ticket(ev, id)); got != want {
		t.Errorf("first update = %s, want the ticket as GET returns it: %s", got, want)
	}
	a.clock.Advance(time.Second)
	a.admit(ev, 1) // on node A
	if u := s.update(); u["status"] != "waiting" || num(u["position"]) != 1 {
		t.Fatalf("update after an admission on another node = %v at %v, want waiting at 1", u["status"], u["position"])
	}
	a.clock.Advance(time.Second)
	a.must(req{method: "DELETE", path: "/v1/events/" + ev + "/tickets/" + id}, http.StatusNoContent)
	if u := s.update(); u["status"] != "left" {
		t.Fatalf("update after leaving = %v, want left", u["status"])
	}
	s.wantEnd()

	// A ticket that has ended gets its final state, and the end.
	s = openStream(t, a.client, a.url+streamPath(ev, id))
	if u := s.update(); u["status"] != "left" {
		t.Fatalf("stream of a left ticket = %v, want left", u["status"])
	}
	s.wantEnd()
}

func TestStreamUnknownTicket(t *testing.T) {
	a := newAPI(t)
	ev := a.createEvent(map[string]any{"name": "Drop"})
	for _, path := range []string{streamPath(ev, "nope"), streamPath("no-such-event", "nope")} {
		r := a.do(req{method: "GET", path: path})
		if r.status != http.StatusNotFound || !strings.HasSuffix(r.code(), "_not_found") {
			t.Errorf("GET %s = %d %s, want 404 *_not_found", path, r.status, r.code())
		}
	}
}

// TestStreamHeartbeatOutlivesTimeout: an idle stream sends heartbeats and
// lasts beyond the request timeout.
func TestStreamHeartbeatOutlivesTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	a := newAPIWith(t, func(c *httpapi.Config) {
		c.StreamHeartbeat = 10 * time.Millisecond
		c.RequestTimeout = timeout
	})
	ev := a.createEvent(map[string]any{"name": "Drop"})
	id := a.join(ev, "u1")["id"].(string)
	s := openStream(t, a.client, a.url+streamPath(ev, id))
	s.update()
	begin := time.Now()
	beats := 0
	for time.Since(begin) < 4*timeout {
		ev, ok := s.next()
		if !ok {
			t.Fatalf("stream ended after %v, %d heartbeats", time.Since(begin), beats)
		}
		if ev != (sseEvent{name: "comment", data: "heartbeat"}) {
			t.Fatalf("idle stream sent %+v, want heartbeats", ev)
		}
		beats++
	}
}

// TestStreamEndsWhenDraining: closing Config.Draining (as serve does when
// it shuts down) ends open streams.
func TestStreamEndsWhenDraining(t *testing.T) {
	draining := make(chan struct{})
	a := newAPIWith(t, func(c *httpapi.Config) { c.Draining = draining })
	ev := a.createEvent(map[string]any{"name": "Drop"})
	id := a.join(ev, "u1")["id"].(string)
	s := openStream(t, a.client, a.url+streamPath(ev, id))
	s.update()
	close(draining)
	s.wantEnd()
}

// TestStreamSoldOut: a completion that sells out the inventory closes the
// event, and open streams of waiting tickets get it at once, as their
// final update: closed, sold out.
func TestStreamSoldOut(t *testing.T) {
	nodes := newNodes(t, 2, func(*httpapi.Config) {})
	a, b := nodes[0], nodes[1]
	ev := a.createEvent(map[string]any{"name": "Seats", "inventory": 2})
	buyer := a.join(ev, "buyer")["id"].(string)
	waiter := a.join(ev, "waiter")["id"].(string)
	s := openStream(t, b.client, b.url+streamPath(ev, waiter))
	if u := s.update(); u["status"] != "waiting" || u["likely_sold_out"] != false {
		t.Fatalf("first update = %v, likely_sold_out %v; want waiting, false", u["status"], u["likely_sold_out"])
	}
	a.clock.Advance(time.Second)
	a.admit(ev, 1)
	if u := s.update(); num(u["position"]) != 1 {
		t.Fatalf("update after the buyer's admission = position %v, want 1", u["position"])
	}
	a.clock.Advance(time.Second)
	a.must(req{method: "POST", path: "/v1/events/" + ev + "/tickets/" + buyer + "/complete", body: map[string]any{"quantity": 2}, admin: true}, http.StatusOK)
	if u := s.update(); u["status"] != "closed" || u["status_reason"] != "sold_out" {
		t.Fatalf("update after selling out = %v (%v), want closed, sold_out", u["status"], u["status_reason"])
	}
	s.wantEnd()
}
