package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
)

// canned is one response a test server gives.
type canned struct {
	status int
	header map[string]string
	body   string
}

// seen is what a test server received.
type seen struct {
	method, uri string
	header      http.Header
	body        string
}

// serve starts a server that answers every request with resp and reports
// each request it receives on the returned channel.
func serve(t *testing.T, resp canned) (*httptest.Server, <-chan seen) {
	t.Helper()
	reqs := make(chan seen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- seen{method: r.Method, uri: r.URL.RequestURI(), header: r.Header.Clone(), body: string(b)}
		for k, v := range resp.header {
			w.Header().Set(k, v)
		}
		if resp.body != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(resp.status)
		io.WriteString(w, resp.body)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

// received returns the one request the server got.
func received(t *testing.T, reqs <-chan seen) seen {
	t.Helper()
	select {
	case r := <-reqs:
		return r
	default:
		t.Fatal("server received no request")
		return seen{}
	}
}

const ticketJSON = `{"id":"tk1","event_id":"ev","user_id":"u1","status":"waiting","position":3,"ahead":2,
	"estimated_wait_seconds":null,"joined_at":"2026-12-03T18:00:00Z","admitted_at":null,"pass":null,
	"pass_expires_at":null,"poll_after_seconds":5}`

const eventJSON = `{"id":"ev","name":"Ev","state":"open","opens_at":null,"closes_at":"2026-12-04T00:00:00Z",
	"admit_rate_per_minute":0,"max_active":0,"pass_ttl_seconds":900,"idle_timeout_seconds":0,"waiting":0,"created_at":"2026-12-03T17:00:00Z"}`

func TestRequests(t *testing.T) {
	opensAt := time.Date(2026, 12, 3, 19, 0, 0, 500, time.FixedZone("CET", 3600))
	paused := queuepass.StatePaused
	tests := []struct {
		name        string
		resp        canned
		call        func(context.Context, *client.Client) error
		method, uri string
		contentType string
		admin       bool
		body        string // JSON; "" for none
	}{
		{
			name: "create event",
			resp: canned{status: 201, body: eventJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateEvent(ctx, client.CreateEventParams{ID: "ev", Name: "Ev", OpensAt: &opensAt, MaxActive: 5, IdleTimeoutSeconds: 120})
				return err
			},
			method: "POST", uri: "/v1/events", contentType: "application/json", admin: true,
			body: `{"id":"ev","name":"Ev","opens_at":"2026-12-03T18:00:00Z","max_active":5,"idle_timeout_seconds":120}`,
		},
		{
			name: "get event escapes id",
			resp: canned{status: 200, body: eventJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.GetEvent(ctx, "a/b")
				return err
			},
			method: "GET", uri: "/v1/events/a%2Fb",
		},
		{
			name: "list events",
			resp: canned{status: 200, body: `{"events":[],"next_cursor":null}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListEvents(ctx, client.ListOptions{Limit: 10, Cursor: "c 1"})
				return err
			},
			method: "GET", uri: "/v1/events?cursor=c+1&limit=10", admin: true,
		},
		{
			name: "merge patch sends null to clear",
			resp: canned{status: 200, body: eventJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.UpdateEvent(ctx, "ev", client.EventPatch{State: &paused, ClearOpensAt: true, MaxActive: new(0), IdleTimeoutSeconds: new(0)})
				return err
			},
			method: "PATCH", uri: "/v1/events/ev", contentType: "application/merge-patch+json", admin: true,
			body: `{"idle_timeout_seconds":0,"max_active":0,"opens_at":null,"state":"paused"}`,
		},
		{
			name: "delete event",
			resp: canned{status: 204},
			call: func(ctx context.Context, c *client.Client) error {
				return c.DeleteEvent(ctx, "ev")
			},
			method: "DELETE", uri: "/v1/events/ev", admin: true,
		},
		{
			name: "stats",
			resp: canned{status: 200, body: `{"event_id":"ev","state":"open","total_tickets":0,"counts":{},"last_admission_at":null}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Stats(ctx, "ev")
				return err
			},
			method: "GET", uri: "/v1/events/ev/stats", admin: true,
		},
		{
			name: "join sends no admin key",
			resp: canned{status: 201, body: ticketJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, _, err := c.Join(ctx, "ev", "u1")
				return err
			},
			method: "POST", uri: "/v1/events/ev/tickets", contentType: "application/json",
			body: `{"user_id":"u1"}`,
		},
		{
			name: "ticket",
			resp: canned{status: 200, body: ticketJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Ticket(ctx, "ev", "tk1")
				return err
			},
			method: "GET", uri: "/v1/events/ev/tickets/tk1",
		},
		{
			name: "leave",
			resp: canned{status: 204},
			call: func(ctx context.Context, c *client.Client) error {
				return c.Leave(ctx, "ev", "tk1")
			},
			method: "DELETE", uri: "/v1/events/ev/tickets/tk1",
		},
		{
			name: "admit",
			resp: canned{status: 200, body: `{"admitted":0,"tickets":[],"waiting":0}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Admit(ctx, "ev", 500)
				return err
			},
			method: "POST", uri: "/v1/events/ev/admissions", contentType: "application/json", admin: true,
			body: `{"count":500}`,
		},
		{
			name: "complete has no body",
			resp: canned{status: 200, body: ticketJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Complete(ctx, "ev", "tk1")
				return err
			},
			method: "POST", uri: "/v1/events/ev/tickets/tk1/complete", admin: true,
		},
		{
			name: "revoke has no body",
			resp: canned{status: 200, body: ticketJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Revoke(ctx, "ev", "tk1")
				return err
			},
			method: "POST", uri: "/v1/events/ev/tickets/tk1/revoke", admin: true,
		},
		{
			name: "verify",
			resp: canned{status: 200, body: `{"valid":true,"reason":null,"ticket_id":"tk1","user_id":"u1","expires_at":null}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.VerifyPass(ctx, "p.a.s", "ev")
				return err
			},
			method: "POST", uri: "/v1/passes/verify", contentType: "application/json",
			body: `{"pass":"p.a.s","event_id":"ev"}`,
		},
		{
			name: "join with proof and code",
			resp: canned{status: 201, body: ticketJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, _, err := c.JoinWith(ctx, "ev", client.JoinParams{UserID: "u1", Challenge: "ch", Nonce: "42", AccessCode: "fan-1"})
				return err
			},
			method: "POST", uri: "/v1/events/ev/tickets", contentType: "application/json",
			body: `{"user_id":"u1","challenge":"ch","nonce":"42","access_code":"fan-1"}`,
		},
		{
			name: "challenge",
			resp: canned{status: 200, body: `{"challenge":"ch","difficulty":4,"expires_at":"2026-12-03T18:05:00Z"}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Challenge(ctx, "ev")
				return err
			},
			method: "POST", uri: "/v1/events/ev/challenges",
		},
		{
			name: "draw",
			resp: canned{status: 200, body: `{"event_id":"ev","algorithm":"a","commitment":"c","seed":"s","drawn_at":"2026-12-03T18:00:00Z","entrants":0,"order":[]}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Draw(ctx, "ev")
				return err
			},
			method: "GET", uri: "/v1/events/ev/draw",
		},
		{
			name: "add codes",
			resp: canned{status: 201, body: `{"codes":[]}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.AddCodes(ctx, "ev", []string{"AAAA", "BBBB"}, 2)
				return err
			},
			method: "POST", uri: "/v1/events/ev/codes", contentType: "application/json", admin: true,
			body: `{"codes":["AAAA","BBBB"],"uses":2}`,
		},
		{
			name: "generate codes",
			resp: canned{status: 201, body: `{"codes":[]}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.GenerateCodes(ctx, "ev", 10, 1)
				return err
			},
			method: "POST", uri: "/v1/events/ev/codes", contentType: "application/json", admin: true,
			body: `{"generate":10,"uses":1}`,
		},
		{
			name: "end a code",
			resp: canned{status: 200, body: `{"code":"AAAA","uses":1,"used":1}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SetCodeUses(ctx, "ev", "AAAA", 0)
				return err
			},
			method: "PATCH", uri: "/v1/events/ev/codes/AAAA", contentType: "application/merge-patch+json", admin: true,
			body: `{"uses":0}`,
		},
		{
			name: "list codes",
			resp: canned{status: 200, body: `{"codes":[],"next_cursor":null}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListCodes(ctx, "ev", client.ListOptions{Limit: 5, Cursor: "AAAA"})
				return err
			},
			method: "GET", uri: "/v1/events/ev/codes?cursor=AAAA&limit=5", admin: true,
		},
		{
			name: "complete a quantity",
			resp: canned{status: 200, body: ticketJSON},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CompleteQuantity(ctx, "ev", "tk1", 3)
				return err
			},
			method: "POST", uri: "/v1/events/ev/tickets/tk1/complete", contentType: "application/json", admin: true,
			body: `{"quantity":3}`,
		},
		{
			name: "jwks",
			resp: canned{status: 200, body: `{"keys":[]}`},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.JWKS(ctx)
				return err
			},
			method: "GET", uri: "/.well-known/jwks.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reqs := serve(t, tt.resp)
			c := client.New(srv.URL+"/", client.WithAdminKey("k3y"), client.WithUserAgent("test-agent"))
			if err := tt.call(t.Context(), c); err != nil {
				t.Fatalf("call: %v", err)
			}
			r := received(t, reqs)
			if r.method != tt.method || r.uri != tt.uri {
				t.Errorf("request = %s %s, want %s %s", r.method, r.uri, tt.method, tt.uri)
			}
			if got := r.header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			wantAuth := ""
			if tt.admin {
				wantAuth = "Bearer k3y"
			}
			if got := r.header.Get("Authorization"); got != wantAuth {
				t.Errorf("Authorization = %q, want %q", got, wantAuth)
			}
			if got := r.header.Get("User-Agent"); got != "test-agent" {
				t.Errorf("User-Agent = %q, want %q", got, "test-agent")
			}
			if !sameJSON(t, r.body, tt.body) {
				t.Errorf("body = %s, want %s", r.body, tt.body)
			}
		})
	}
}

// sameJSON reports whether two JSON texts are equal as values; "" equals
// only "".
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	if got == "" || want == "" {
		return got == want
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func TestIdempotencyKey(t *testing.T) {
	tests := []struct {
		name string
		opts []client.CallOption
		want string
	}{
		{"absent without the option", nil, ""},
		{"sent with the option", []client.CallOption{client.IdempotencyKey("key-1")}, "key-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reqs := serve(t, canned{status: 201, body: ticketJSON})
			c := client.New(srv.URL)
			if _, _, err := c.Join(t.Context(), "ev", "u1", tt.opts...); err != nil {
				t.Fatalf("Join: %v", err)
			}
			r := received(t, reqs)
			if got := r.header.Get("Idempotency-Key"); got != tt.want {
				t.Errorf("Idempotency-Key = %q, want %q", got, tt.want)
			}
			if _, ok := r.header["Idempotency-Key"]; ok != (tt.want != "") {
				t.Errorf("Idempotency-Key present = %v, want %v", ok, tt.want != "")
			}
		})
	}
}

func TestJoinCreated(t *testing.T) {
	for _, tt := range []struct {
		status int
		want   bool
	}{{201, true}, {200, false}} {
		srv, _ := serve(t, canned{status: tt.status, body: ticketJSON})
		_, created, err := client.New(srv.URL).Join(t.Context(), "ev", "u1")
		if err != nil || created != tt.want {
			t.Errorf("Join answered %d: created = %v, %v; want %v, nil", tt.status, created, err, tt.want)
		}
	}
}

func TestNullableFields(t *testing.T) {
	t.Run("waiting ticket", func(t *testing.T) {
		srv, _ := serve(t, canned{status: 200, body: ticketJSON})
		tk, err := client.New(srv.URL).Ticket(t.Context(), "ev", "tk1")
		if err != nil {
			t.Fatal(err)
		}
		if tk.Position == nil || *tk.Position != 3 || tk.Ahead == nil || *tk.Ahead != 2 {
			t.Errorf("Position, Ahead = %v, %v; want 3, 2", deref(tk.Position), deref(tk.Ahead))
		}
		if tk.EstimatedWaitSeconds != nil || tk.AdmittedAt != nil || tk.PassExpiresAt != nil || tk.Pass != "" {
			t.Errorf("null fields decoded as %v, %v, %v, %q; want nil, nil, nil, empty",
				tk.EstimatedWaitSeconds, tk.AdmittedAt, tk.PassExpiresAt, tk.Pass)
		}
		if want := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC); !tk.JoinedAt.Equal(want) {
			t.Errorf("JoinedAt = %v, want %v", tk.JoinedAt, want)
		}
		if tk.Status != queuepass.StatusWaiting {
			t.Errorf("Status = %q, want %q", tk.Status, queuepass.StatusWaiting)
		}
	})
	t.Run("admitted ticket", func(t *testing.T) {
		body := `{"id":"tk1","event_id":"ev","user_id":"u1","status":"admitted","position":null,"ahead":null,
			"estimated_wait_seconds":0,"joined_at":"2026-12-03T18:00:00Z","admitted_at":"2026-12-03T18:05:00Z",
			"pass":"a.b.c","pass_expires_at":"2026-12-03T18:20:00Z","poll_after_seconds":30}`
		srv, _ := serve(t, canned{status: 200, body: body})
		tk, err := client.New(srv.URL).Ticket(t.Context(), "ev", "tk1")
		if err != nil {
			t.Fatal(err)
		}
		if tk.Position != nil || tk.Ahead != nil {
			t.Errorf("Position, Ahead = %v, %v; want nil, nil", tk.Position, tk.Ahead)
		}
		if tk.EstimatedWaitSeconds == nil || *tk.EstimatedWaitSeconds != 0 {
			t.Errorf("EstimatedWaitSeconds = %v, want 0 (not nil)", tk.EstimatedWaitSeconds)
		}
		if tk.AdmittedAt == nil || tk.PassExpiresAt == nil || tk.Pass != "a.b.c" {
			t.Errorf("AdmittedAt, PassExpiresAt, Pass = %v, %v, %q; want set", tk.AdmittedAt, tk.PassExpiresAt, tk.Pass)
		}
	})
	t.Run("revoked ticket", func(t *testing.T) {
		body := `{"id":"tk1","event_id":"ev","user_id":"u1","status":"expired","status_reason":"revoked",
			"position":null,"ahead":null,"estimated_wait_seconds":null,"joined_at":"2026-12-03T18:00:00Z",
			"admitted_at":"2026-12-03T18:05:00Z","pass":null,"pass_expires_at":null,"poll_after_seconds":60}`
		srv, _ := serve(t, canned{status: 200, body: body})
		tk, err := client.New(srv.URL).Ticket(t.Context(), "ev", "tk1")
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != queuepass.StatusExpired || tk.StatusReason != queuepass.ReasonRevoked {
			t.Errorf("Status, StatusReason = %q, %q; want expired, revoked", tk.Status, tk.StatusReason)
		}
	})
	t.Run("stats", func(t *testing.T) {
		body := `{"event_id":"ev","state":"open","total_tickets":3,"counts":{"prequeue":0,"waiting":0,
			"admitted":3,"completed":0,"left":0,"expired":0,"closed":0},"active_passes":3,
			"admitted_last_minute":1,"admitted_last_10_minutes":3,"admissions_per_minute":0.3,
			"median_wait_seconds":null,"abandoned":2,"last_admission_at":null}`
		srv, _ := serve(t, canned{status: 200, body: body})
		s, err := client.New(srv.URL).Stats(t.Context(), "ev")
		if err != nil {
			t.Fatal(err)
		}
		if s.AdmittedLast10Minutes != 3 || s.MedianWaitSeconds != nil || s.Abandoned != 2 {
			t.Errorf("AdmittedLast10Minutes, MedianWaitSeconds, Abandoned = %d, %v, %d; want 3, nil, 2", s.AdmittedLast10Minutes, deref(s.MedianWaitSeconds), s.Abandoned)
		}
	})
	t.Run("event", func(t *testing.T) {
		srv, _ := serve(t, canned{status: 200, body: eventJSON})
		ev, err := client.New(srv.URL).GetEvent(t.Context(), "ev")
		if err != nil {
			t.Fatal(err)
		}
		if ev.OpensAt != nil || ev.ClosesAt == nil {
			t.Errorf("OpensAt, ClosesAt = %v, %v; want nil, set", ev.OpensAt, ev.ClosesAt)
		}
	})
	t.Run("verification", func(t *testing.T) {
		srv, _ := serve(t, canned{status: 200, body: `{"valid":false,"reason":"wrong_event","ticket_id":null,"user_id":null,"expires_at":null}`})
		v, err := client.New(srv.URL).VerifyPass(t.Context(), "a.b.c", "other")
		if err != nil {
			t.Fatal(err)
		}
		want := client.Verification{Reason: client.ReasonWrongEvent}
		if !reflect.DeepEqual(v, want) {
			t.Errorf("VerifyPass = %+v, want %+v", v, want)
		}
	})
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestErrors(t *testing.T) {
	problem := map[string]string{"Content-Type": "application/problem+json"}
	tests := []struct {
		name     string
		resp     canned
		want     client.Error
		sentinel error // errors.Is must match it; nil: none
	}{
		{
			name: "not found",
			resp: canned{status: 404, header: problem, body: `{"type":"urn:queuepass:problem:event_not_found",
				"title":"Event not found","status":404,"detail":"no event \"ev\"","code":"event_not_found"}`},
			want: client.Error{Status: 404, Code: "event_not_found", Type: "urn:queuepass:problem:event_not_found",
				Title: "Event not found", Detail: `no event "ev"`},
			sentinel: queuepass.ErrEventNotFound,
		},
		{
			name: "invalid request lists fields",
			resp: canned{status: 422, header: problem, body: `{"type":"urn:queuepass:problem:invalid_request",
				"title":"Invalid request","status":422,"detail":"2 invalid fields","code":"invalid_request",
				"errors":[{"field":"name","message":"required"},{"field":"max_active","message":"must be >= 0"}]}`},
			want: client.Error{Status: 422, Code: "invalid_request", Type: "urn:queuepass:problem:invalid_request",
				Title: "Invalid request", Detail: "2 invalid fields", Fields: []queuepass.FieldError{
					{Field: "name", Message: "required"}, {Field: "max_active", Message: "must be >= 0"}}},
		},
		{
			name: "unavailable with Retry-After",
			resp: canned{status: 503, header: map[string]string{"Content-Type": "application/problem+json", "Retry-After": "7"},
				body: `{"type":"urn:queuepass:problem:unavailable","title":"Unavailable","status":503,"detail":"","code":"unavailable"}`},
			want: client.Error{Status: 503, Code: "unavailable", Type: "urn:queuepass:problem:unavailable",
				Title: "Unavailable", RetryAfter: 7 * time.Second},
			sentinel: queuepass.ErrUnavailable,
		},
		{
			name: "not a problem",
			resp: canned{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html>bad gateway</html>\n"},
			want: client.Error{Status: 502, Title: "Bad Gateway", Detail: "<html>bad gateway</html>"},
		},
		{
			name: "unauthorized",
			resp: canned{status: 401, header: map[string]string{"Content-Type": "application/problem+json", "WWW-Authenticate": "Bearer"},
				body: `{"type":"urn:queuepass:problem:unauthorized","title":"Unauthorized","status":401,"detail":"","code":"unauthorized"}`},
			want: client.Error{Status: 401, Code: "unauthorized", Type: "urn:queuepass:problem:unauthorized", Title: "Unauthorized"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := serve(t, tt.resp)
			_, err := client.New(srv.URL).GetEvent(t.Context(), "ev")
			var got *client.Error
			if !errors.As(err, &got) {
				t.Fatalf("GetEvent error = %v (%T), want *client.Error", err, err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("GetEvent error = %+v, want %+v", *got, tt.want)
			}
			for _, s := range []error{queuepass.ErrEventNotFound, queuepass.ErrUnavailable, queuepass.ErrEventClosed} {
				if want := s == tt.sentinel; errors.Is(err, s) != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s, !want, want)
				}
			}
			if !strings.Contains(err.Error(), tt.want.Code) {
				t.Errorf("Error() = %q, does not name code %q", err.Error(), tt.want.Code)
			}
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	at := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	srv, _ := serve(t, canned{status: 429, header: map[string]string{"Retry-After": at}})
	_, err := client.New(srv.URL).GetEvent(t.Context(), "ev")
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("GetEvent error = %v, want *client.Error", err)
	}
	if e.RetryAfter < 59*time.Minute || e.RetryAfter > time.Hour {
		t.Errorf("RetryAfter = %v for Retry-After %q, want about 1h", e.RetryAfter, at)
	}
	if !e.Temporary() {
		t.Errorf("Temporary() = false for 429, want true")
	}
}

func TestTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	_, err := client.New(url).GetEvent(t.Context(), "ev")
	var e *client.Error
	if err == nil || errors.As(err, &e) {
		t.Errorf("GetEvent on a closed port = %v, want a transport error", err)
	}
}

func TestEmptyIDs(t *testing.T) {
	srv, reqs := serve(t, canned{status: 200, body: ticketJSON})
	c := client.New(srv.URL)
	if _, err := c.Ticket(t.Context(), "ev", ""); err == nil {
		t.Error(`Ticket("ev", "") succeeded, want an error`)
	}
	if err := c.DeleteEvent(t.Context(), ""); err == nil {
		t.Error(`DeleteEvent("") succeeded, want an error`)
	}
	if len(reqs) != 0 {
		t.Errorf("server received %d requests for empty IDs, want 0", len(reqs))
	}
}

func TestPatchSetAndClear(t *testing.T) {
	srv, reqs := serve(t, canned{status: 200, body: eventJSON})
	now := time.Now()
	_, err := client.New(srv.URL).UpdateEvent(t.Context(), "ev", client.EventPatch{OpensAt: &now, ClearOpensAt: true})
	if err == nil {
		t.Error("UpdateEvent with OpensAt and ClearOpensAt succeeded, want an error")
	}
	if len(reqs) != 0 {
		t.Error("server received the contradictory patch")
	}
}

func TestAllEvents(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("cursor") {
		case "":
			io.WriteString(w, `{"events":[{"id":"a"},{"id":"b"}],"next_cursor":"p2"}`)
		case "p2":
			io.WriteString(w, `{"events":[{"id":"c"}],"next_cursor":null}`)
		default:
			http.Error(w, "bad cursor", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	var ids []string
	for ev, err := range client.New(srv.URL).AllEvents(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("AllEvents = %v, want %v", ids, want)
	}
}

func TestNewHTTPClientHasTimeouts(t *testing.T) {
	hc := client.NewHTTPClient(0)
	if hc.Timeout <= 0 {
		t.Errorf("Timeout = %v, want > 0", hc.Timeout)
	}
	tr, ok := hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport is %T, want *http.Transport", hc.Transport)
	}
	if tr.TLSHandshakeTimeout <= 0 || tr.ResponseHeaderTimeout <= 0 || tr.IdleConnTimeout <= 0 {
		t.Errorf("transport timeouts = %v, %v, %v; want all > 0", tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout, tr.IdleConnTimeout)
	}
}

func TestJWKEd25519(t *testing.T) {
	tests := []struct {
		key  client.JWK
		fail bool
	}{
		{client.JWK{Kty: "OKP", Crv: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, false},
		{client.JWK{Kty: "EC", Crv: "P-256", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, true},
		{client.JWK{Kty: "OKP", Crv: "Ed25519", X: "AAAA"}, true},
		{client.JWK{Kty: "OKP", Crv: "Ed25519", X: "not base64!"}, true},
	}
	for _, tt := range tests {
		k, err := tt.key.Ed25519()
		if (err != nil) != tt.fail {
			t.Errorf("%+v.Ed25519() = %x, %v; want failure %v", tt.key, k, err, tt.fail)
		}
	}
}
