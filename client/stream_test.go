package client_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
)

func TestStream(t *testing.T) {
	const (
		waiting = `{"id":"t1","event_id":"e","user_id":"u","status":"waiting","position":2,"ahead":1,"estimated_wait_seconds":null,"joined_at":"2026-12-03T18:00:00Z","admitted_at":null,"pass":null,"pass_expires_at":null,"poll_after_seconds":2}`
		left    = `{"id":"t1","event_id":"e","user_id":"u","status":"left","position":null,"ahead":null,"estimated_wait_seconds":null,"joined_at":"2026-12-03T18:00:00Z","admitted_at":null,"pass":null,"pass_expires_at":null,"poll_after_seconds":60}`
	)
	for _, tt := range []struct {
		name    string
		body    string
		want    []queuepass.TicketStatus
		wantErr error
	}{
		{"to a final status", "retry: 3000\n\nevent: update\ndata: " + waiting + "\n\n: heartbeat\n\nevent: update\ndata: " + left + "\n\n",
			[]queuepass.TicketStatus{queuepass.StatusWaiting, queuepass.StatusLeft}, nil},
		{"ended early", "retry: 3000\n\nevent: update\ndata: " + waiting + "\n\n",
			[]queuepass.TicketStatus{queuepass.StatusWaiting}, client.ErrStreamEnded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/events/e/tickets/t1/stream" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			var got []queuepass.TicketStatus
			var err error
			for tk, e := range client.New(srv.URL).Stream(t.Context(), "e", "t1") {
				if e != nil {
					err = e
					break
				}
				got = append(got, tk.Status)
			}
			if len(got) != len(tt.want) || (len(got) > 0 && got[len(got)-1] != tt.want[len(tt.want)-1]) {
				t.Errorf("Stream statuses = %v, want %v", got, tt.want)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Stream error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestStreamNotFound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"type":"urn:queuepass:problem:ticket_not_found","title":"Not Found","status":404,"detail":"x","code":"ticket_not_found"}`)
	}))
	defer srv.Close()
	for _, err := range client.New(srv.URL).Stream(t.Context(), "e", "t1") {
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code != "ticket_not_found" {
			t.Errorf("Stream of an unknown ticket: error %v, want *Error ticket_not_found", err)
		}
		return
	}
	t.Error("Stream yielded nothing")
}
