package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/queuepass/queuepass/internal/openapitest"
)

// loadSpec parses and validates the embedded document, examples included.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPISpec())
	if err != nil {
		t.Fatalf("loading openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.yaml is invalid: %v", err)
	}
	return doc
}

func TestOpenAPISpecIsValid(t *testing.T) {
	doc := loadSpec(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
}

func TestOpenAPISpecReturnsCopy(t *testing.T) {
	a := OpenAPISpec()
	a[0] = 'X'
	if b := OpenAPISpec(); b[0] == 'X' {
		t.Errorf("OpenAPISpec returned a shared slice")
	}
}

// TestOpenAPISpecConventions checks the rules of API.md that hold for every
// operation, so that a new operation cannot forget one.
func TestOpenAPISpecConventions(t *testing.T) {
	doc := loadSpec(t)

	// Every code of the API.md error table, by status.
	codes := map[string]int{
		"malformed_json": 400, "unauthorized": 401, "forbidden": 403, "challenge_failed": 403,
		"event_not_found": 404, "ticket_not_found": 404, "not_found": 404, "method_not_allowed": 405,
		"event_exists": 409, "event_closed": 409, "event_not_open": 409, "invalid_transition": 409,
		"ticket_not_waiting": 409, "ticket_not_admitted": 409, "payload_too_large": 413,
		"unsupported_media_type": 415, "invalid_request": 422, "idempotency_key_reused": 422,
		"challenge_required": 428, "rate_limited": 429, "internal": 500, "unavailable": 503,
	}
	var enum []string
	for _, c := range doc.Components.Schemas["ProblemCode"].Value.Enum {
		enum = append(enum, c.(string))
	}
	for code := range codes {
		if !slices.Contains(enum, code) {
			t.Errorf("ProblemCode lacks %q", code)
		}
	}
	if len(enum) != len(codes) {
		t.Errorf("ProblemCode has %d codes, want the %d of API.md", len(enum), len(codes))
	}

	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s: no operationId or summary", where)
			}
			admin := op.Security != nil && slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool {
				_, ok := r["adminKey"]
				return ok && len(r) == 1
			})
			want := []int{}
			if admin {
				want = append(want, 401)
			}
			if op.RequestBody != nil {
				want = append(want, 400, 413, 415, 422)
				for ct, mt := range op.RequestBody.Value.Content {
					s := mt.Schema.Value
					if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
						t.Errorf("%s: request body %s allows unknown fields", where, ct)
					}
				}
			}
			if strings.HasPrefix(path, "/v1/") {
				want = append(want, 429, 500, 503)
			}
			for _, status := range want {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s: response %d is not documented", where, status)
				}
			}
			if op.Responses.Default() != nil {
				t.Errorf("%s: has a default response; document each status", where)
			}
			for _, p := range op.Parameters {
				if p.Value.Name == "Idempotency-Key" && op.Responses.Status(422) == nil {
					t.Errorf("%s: takes Idempotency-Key but does not document 422", where)
				}
			}

			for statusText, ref := range op.Responses.Map() {
				status, err := strconv.Atoi(statusText)
				if err != nil {
					t.Errorf("%s: response %q is not a status code", where, statusText)
					continue
				}
				checkResponse(t, where, status, ref.Value, codes)
			}
		}
	}
}

// checkResponse checks one documented response against the conventions.
func checkResponse(t *testing.T, where string, status int, resp *openapi3.Response, codes map[string]int) {
	t.Helper()
	wantHeader := map[int]string{201: "Location", 401: "WWW-Authenticate", 405: "Allow", 429: "Retry-After", 503: "Retry-After"}[status]
	if status == 201 && !strings.HasPrefix(where, "POST /v1/") {
		wantHeader = ""
	}
	if wantHeader != "" {
		if h := resp.Headers[wantHeader]; h == nil || !h.Value.Required {
			t.Errorf("%s: response %d does not require header %s", where, status, wantHeader)
		}
	}
	if mt := resp.Content.Get("application/json"); mt != nil && mt.Schema.Ref == "#/components/schemas/Ticket" {
		if h := resp.Headers["Cache-Control"]; h == nil || !h.Value.Required {
			t.Errorf("%s: ticket response %d does not require Cache-Control", where, status)
		}
	}
	if status < 400 {
		return
	}
	if len(resp.Content) != 1 || resp.Content["application/problem+json"] == nil {
		t.Errorf("%s: error response %d is not only application/problem+json", where, status)
		return
	}
	s := resp.Content["application/problem+json"].Schema.Value
	if len(s.AllOf) < 2 || s.AllOf[0].Ref != "#/components/schemas/Problem" {
		t.Errorf("%s: response %d is not allOf [Problem, {status, code}]", where, status)
		return
	}
	narrow := s.AllOf[1].Value
	if got := narrow.Properties["status"].Value.Enum; len(got) != 1 || got[0] != float64(status) {
		t.Errorf("%s: response %d has status enum %v", where, status, got)
	}
	for _, c := range narrow.Properties["code"].Value.Enum {
		if codes[c.(string)] != status {
			t.Errorf("%s: response %d has code %q, which API.md gives status %d", where, status, c, codes[c.(string)])
		}
	}
}

// docsMux serves the documentation the way routes.go registers it.
func docsMux() *http.ServeMux {
	mux := http.NewServeMux()
	docs := handleDocs()
	mux.Handle("GET /openapi.yaml", handleOpenAPI())
	mux.Handle("GET /docs", docs)
	mux.Handle("GET /docs/", docs)
	return mux
}

func TestOpenAPIHandler(t *testing.T) {
	h := openapitest.New(t, OpenAPISpec()).Handler(docsMux())

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.yaml", nil))
	res := rec.Result()
	if res.StatusCode != 200 {
		t.Fatalf("GET /openapi.yaml = %d, want 200", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("Content-Type = %q, want application/yaml", ct)
	}
	if got := rec.Body.String(); got != string(OpenAPISpec()) {
		t.Errorf("GET /openapi.yaml served %d bytes, not the embedded document", len(got))
	}
	etag := res.Header.Get("ETag")
	if !regexp.MustCompile(`^"[^"]+"$`).MatchString(etag) {
		t.Fatalf("ETag = %q, want a strong entity tag", etag)
	}
	if cc := res.Header.Get("Cache-Control"); cc == "" {
		t.Errorf("no Cache-Control")
	}

	req := httptest.NewRequest("GET", "/openapi.yaml", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("GET /openapi.yaml with If-None-Match = %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
	}
}

func TestDocs(t *testing.T) {
	srv := httptest.NewServer(docsMux())
	defer srv.Close()
	client := openapitest.New(t, OpenAPISpec()).Client(&http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	get := func(path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(b)
	}
	checkCSP := func(where string, res *http.Response) {
		t.Helper()
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", where, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") {
			t.Errorf("GET %s: Content-Security-Policy %q allows more than this origin", where, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", where)
		}
	}

	// Each page is HTML under the CSP, without the inline script, style or
	// event handler that the CSP would block, and every URL it references
	// is local and served with the right type (pages have no extension).
	refRE := regexp.MustCompile(`(?:src|href)="([^"]*)"`)
	scriptRE := regexp.MustCompile(`<script src="(/[^"]*)"></script>`)
	inlineRE := regexp.MustCompile(`<style|\sstyle=|\son[a-z]+=|javascript:`)
	wantType := map[string]string{"": "text/html", ".css": "text/css", ".js": "text/javascript", ".png": "image/png", ".yaml": "application/yaml"}
	refs := map[string][]string{}    // page → the URLs it references
	scripts := map[string][]string{} // page → the scripts it runs, in order
	for _, page := range []string{"/docs", "/docs/challenge"} {
		res, html := get(page)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s = %d %s, want 200 text/html", page, res.StatusCode, res.Header.Get("Content-Type"))
		}
		checkCSP(page, res)
		if n, m := strings.Count(html, "<script"), len(scriptRE.FindAllString(html, -1)); n != m {
			t.Errorf("GET %s: %d of %d scripts are inline, which the CSP forbids", page, n-m, n)
		}
		if m := inlineRE.FindString(html); m != "" {
			t.Errorf("GET %s: the page has inline style or script (%q), which its CSP forbids", page, m)
		}
		for _, m := range scriptRE.FindAllStringSubmatch(html, -1) {
			scripts[page] = append(scripts[page], m[1])
		}
		for _, m := range refRE.FindAllStringSubmatch(html, -1) {
			ref := m[1]
			refs[page] = append(refs[page], ref)
			if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
				t.Errorf("GET %s references %q, which is not a path on this server", page, ref)
				continue
			}
			res, body := get(ref)
			want, known := wantType[path.Ext(ref)]
			if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !known || !strings.HasPrefix(ct, want) {
				t.Errorf("GET %s (from %s) = %d %s, want 200 %s", ref, page, res.StatusCode, ct, want)
			}
			if len(body) == 0 {
				t.Errorf("GET %s served nothing", ref)
			}
			if strings.HasPrefix(ref, "/docs") {
				checkCSP(ref, res)
			}
		}
	}
	if want := []string{"/docs/swagger-ui-bundle.js", "/docs/queuepass-docs.js"}; !slices.Equal(scripts["/docs"], want) {
		t.Errorf("/docs runs %q, want %q", scripts["/docs"], want)
	}
	if want := []string{"/docs/queuepass-pow.js", "/docs/queuepass-challenge.js"}; !slices.Equal(scripts["/docs/challenge"], want) {
		t.Errorf("/docs/challenge runs %q, want %q", scripts["/docs/challenge"], want)
	}
	if !slices.Contains(refs["/docs"], "/docs/challenge") || !slices.Contains(refs["/docs/challenge"], "/docs") {
		t.Errorf("/docs and /docs/challenge do not link to each other: %q, %q", refs["/docs"], refs["/docs/challenge"])
	}

	// The page's own script points Swagger UI at this server's document and
	// keeps the admin key out of the browser's storage.
	_, initJS := get("/docs/queuepass-docs.js")
	for _, want := range []string{`url: "/openapi.yaml"`, "persistAuthorization: false", "validatorUrl: null"} {
		if !strings.Contains(initJS, want) {
			t.Errorf("the page's initializer lacks %s:\n%s", want, initJS)
		}
	}
	// The solver is served for waiting pages to include, and says what it
	// offers (TestBrowserChallenge runs it).
	_, solver := get("/docs/queuepass-pow.js")
	for _, want := range []string{"QueuePass.solveChallenge(challenge, difficulty, {onProgress, signal})", "QueuePass.join(eventId, userId, {"} {
		if !strings.Contains(solver, want) {
			t.Errorf("queuepass-pow.js lacks %q", want)
		}
	}

	// Every file of ours is served: a page at its path, the rest by name.
	files, err := os.ReadDir("docsassets")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := f.Name(); path.Ext(name) != ".html" {
			if res, _ := get("/docs/" + name); res.StatusCode != 200 {
				t.Errorf("GET /docs/%s = %d, want docsassets/%s", name, res.StatusCode, name)
			}
		}
	}

	// Revalidation, the trailing-slash redirect, and files that are not served.
	for _, file := range []string{"/docs/swagger-ui-bundle.js", "/docs/queuepass-pow.js", "/docs/challenge"} {
		res, _ := get(file)
		if res2, body := get(file, "If-None-Match", res.Header.Get("ETag")); res2.StatusCode != 304 || body != "" {
			t.Errorf("GET %s with If-None-Match = %d with %d bytes, want 304 and none", file, res2.StatusCode, len(body))
		}
	}
	if res, _ := get("/docs/"); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/docs" {
		t.Errorf("GET /docs/ = %d to %q, want 301 to /docs", res.StatusCode, res.Header.Get("Location"))
	}
	for _, path := range []string{"/docs/nothing.js", "/docs/swagger-ui.js.map", "/docs/index.html", "/docs/swagger-initializer.js",
		"/docs/challenge.html", "/docs/docsassets/index.html", "/docs/docsassets"} {
		if res, _ := get(path); res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s = %d %s, want a 404 problem", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}
