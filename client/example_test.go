package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
)

func Example() {
	srv := httptest.NewServer(exampleHandler()) // stands in for `queuepass serve`
	defer srv.Close()

	c := client.New(srv.URL)
	ctx := context.Background()

	t, created, err := c.Join(ctx, "tour-2027", "fan-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(created, t.Status, *t.Position)

	_, _, err = c.Join(ctx, "no-such-event", "fan-42")
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Code)
	}
	fmt.Println(errors.Is(err, queuepass.ErrEventNotFound))
	// Output:
	// true waiting 1
	// 404 event_not_found
	// true
}

// exampleHandler answers joins of one event, tour-2027, the way a QueuePass
// server does for the first fan in line.
func exampleHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events/tour-2027/tickets", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"tk-1","event_id":"tour-2027","user_id":"fan-42","status":"waiting",
			"position":1,"ahead":0,"estimated_wait_seconds":null,"joined_at":"2026-12-03T18:00:00Z",
			"admitted_at":null,"pass":null,"pass_expires_at":null,"poll_after_seconds":5}`)
	})
	mux.HandleFunc("POST /v1/events/{event}/tickets", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"type":"urn:queuepass:problem:event_not_found","title":"Event not found",
			"status":404,"detail":"","code":"event_not_found"}`)
	})
	return mux
}
