package gate_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/queuepass/queuepass/gate"
	"github.com/queuepass/queuepass/internal/pass"
)

func ExampleGate() {
	// A stand-in for QueuePass: the URL of its JWKS and a pass it issued.
	jwksURL, token, stop := queuePassStandIn()
	defer stop()

	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := gate.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "Welcome, %s!", c.UserID)
	})

	g, err := gate.New(gate.Config{EventID: "tour-2027", JWKSURL: jwksURL})
	if err != nil {
		log.Fatal(err)
	}
	protected := g.Handler(site) // serve this instead of site

	for _, auth := range []string{"", "Bearer " + token} {
		req := httptest.NewRequest(http.MethodGet, "/tickets", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		protected.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Body.String()[:min(rec.Body.Len(), 30)])
	}
	// Output:
	// 401 {"type":"urn:queuepass:problem
	// 200 Welcome, fan-42!
}

// queuePassStandIn serves the JWKS of a fresh key, as a QueuePass server
// does, and returns its URL, a pass of that key for tour-2027, and a
// function that stops the server.
func queuePassStandIn() (jwksURL, token string, stop func()) {
	ks := pass.Generate()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(ks.JWKS())
	}))
	now := time.Now()
	token, err := ks.Sign(pass.Claims{UserID: "fan-42", EventID: "tour-2027", TicketID: "t1",
		IssuedAt: now, ExpiresAt: now.Add(15 * time.Minute)})
	if err != nil {
		log.Fatal(err)
	}
	return srv.URL + "/.well-known/jwks.json", token, srv.Close
}
