package httpapi

import (
	"net/http"
	"slices"
	"strings"
)

// withCORS lets waiting pages served from the listed origins ("*" for any)
// call the API from the browser. Preflight requests are answered here.
// Authorization is not among the allowed request headers, so admin calls
// cannot be made cross-origin: they belong on servers, not in pages.
func withCORS(h http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		return h
	}
	anyOrigin := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !(anyOrigin || slices.Contains(origins, origin)) {
			h.ServeHTTP(w, r)
			return
		}
		hdr := w.Header()
		hdr.Add("Vary", "Origin")
		hdr.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hdr.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			hdr.Set("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key")
			hdr.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		hdr.Set("Access-Control-Expose-Headers", "Location, Retry-After, Idempotent-Replayed")
		h.ServeHTTP(w, r)
	})
}

// ParseOrigins reads a comma-separated list of origins such as
// "https://tickets.example.com,https://m.example.com", or "*".
func ParseOrigins(s string) []string {
	var out []string
	for o := range strings.SplitSeq(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, strings.TrimSuffix(o, "/"))
		}
	}
	return out
}
