package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/httpapi"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// benchServer is the real handler over a real store, called in process so
// that the profile shows the handler's own costs.
func benchServer(b *testing.B) http.Handler {
	b.Helper()
	store, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	room := waitroom.New(waitroom.Config{Store: store, Keys: pass.Generate()})
	h := httpapi.NewServer(httpapi.Config{Room: room, AdminKey: adminKey})
	call(b, h, "POST", "/v1/events", `{"id":"bench","name":"Bench"}`, http.StatusCreated)
	return h
}

func call(b *testing.B, h http.Handler, method, path, body string, want int) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+adminKey)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s = %d %s", method, path, w.Code, w.Body)
	}
	return w
}

func BenchmarkJoin(b *testing.B) {
	h := benchServer(b)
	var n atomic.Int64
	b.SetParallelism(32) // many requests in flight, as under load, so commits are shared
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			call(b, h, "POST", "/v1/events/bench/tickets", fmt.Sprintf(`{"user_id":"u%d"}`, n.Add(1)), http.StatusCreated)
		}
	})
}

func BenchmarkTicket(b *testing.B) {
	h := benchServer(b)
	w := call(b, h, "POST", "/v1/events/bench/tickets", `{"user_id":"first"}`, http.StatusCreated)
	path := w.Header().Get("Location")
	for i := range 1000 {
		call(b, h, "POST", "/v1/events/bench/tickets", fmt.Sprintf(`{"user_id":"u%d"}`, i), http.StatusCreated)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			call(b, h, "GET", path, "", http.StatusOK)
		}
	})
}
