// Package openapitest checks real HTTP traffic against an OpenAPI 3.0
// document in tests, so that the server and its contract cannot drift apart.
//
// Wrap the test's client with [Validator.Client], or the handler under test
// with [Validator.Handler], and every exchange is checked:
//
//   - Every response must be documented for its operation and status: its
//     status code, its Content-Type, its body (against the schema) and the
//     headers the document declares for it. A status the operation does not
//     list fails, even when the document has a default response.
//   - A request that does not match the document is reported only when the
//     response is a success (2xx): tests of error handling send invalid
//     requests on purpose, but a server that accepts one has a bug.
//   - A request to a path and method the document does not describe must get
//     a redirect (3xx), a 404 or a 405; a 405 must carry an Allow header.
//     When the document defines components.responses named "NotFound" or
//     "MethodNotAllowed", those responses are checked against them.
//   - Security requirements are not checked: any credentials pass.
//
// The document's servers are ignored and requests are routed by path alone,
// so the validator works with httptest servers on any address.
//
// Mismatches are reported with t.Errorf, naming the method, path and status;
// the test goes on. Bodies stay readable by the caller.
package openapitest

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Validator checks requests and responses against one OpenAPI document.
// It is safe for concurrent use.
type Validator struct {
	t      testing.TB
	router routers.Router

	// unrouted holds the responses that requests matching no operation
	// are checked against, by status; see the package documentation.
	unrouted map[int]*openapi3.ResponseRef
}

// New parses spec (YAML or JSON), checks that it is a valid OpenAPI 3.0
// document and returns a validator for it. It stops the test with t.Fatalf
// if the document is invalid. External references are not followed.
func New(t testing.TB, spec []byte) *Validator {
	t.Helper()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		t.Fatalf("openapitest: loading the document: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapitest: invalid document: %v", err)
	}

	// Route by path alone: the document's servers name the host the API is
	// deployed at, while tests listen on random loopback ports.
	doc.Servers = nil
	for _, item := range doc.Paths.Map() {
		item.Servers = nil
		for _, op := range item.Operations() {
			op.Servers = nil
		}
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("openapitest: building the router: %v", err)
	}

	v := &Validator{t: t, router: router, unrouted: map[int]*openapi3.ResponseRef{}}
	if doc.Components != nil {
		for status, name := range map[int]string{
			http.StatusNotFound:         "NotFound",
			http.StatusMethodNotAllowed: "MethodNotAllowed",
		} {
			if ref := doc.Components.Responses[name]; ref != nil {
				v.unrouted[status] = ref
			}
		}
	}
	return v
}

// Client returns a client that sends requests like base (http.DefaultClient
// if nil) and checks every request and response. The caller reads and closes
// response bodies as usual. Responses of type text/event-stream are passed on
// unread: only their status and headers are checked.
func (v *Validator) Client(base *http.Client) *http.Client {
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = &transport{v: v, next: next}
	return &c
}

// transport is the http.RoundTripper behind Validator.Client.
type transport struct {
	v    *Validator
	next http.RoundTripper
}

func (rt *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		reqBody, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		// RoundTrip must not modify req: send a copy with a fresh body.
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(reqBody)), nil
		}
	}
	resp, err := rt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if isStream(resp.Header) {
		rt.v.check(req, reqBody, resp.StatusCode, resp.Header, nil)
		return resp, nil
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	rt.v.check(req, reqBody, resp.StatusCode, resp.Header, respBody)
	return resp, nil
}

// Handler returns a handler that serves with h and checks every request and
// the response h wrote, once h returns. It suits httptest.NewRecorder and
// httptest.NewServer alike; flushing and http.ResponseController work
// through it.
func (v *Validator) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reqBody []byte
		if r.Body != nil && r.Body != http.NoBody {
			var err error
			reqBody, err = io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				v.t.Errorf("openapitest: %s %s: reading the request body: %v", r.Method, r.URL.Path, err)
			}
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.header == nil { // h wrote nothing
			rec.WriteHeader(http.StatusOK)
		}
		var body []byte
		if !isStream(rec.header) {
			body = rec.body.Bytes()
		}
		v.check(r, reqBody, rec.status, rec.header, body)
	})
}

// recorder passes a response on and keeps a copy of its status, headers
// and body.
type recorder struct {
	http.ResponseWriter
	status int
	header http.Header // as sent, nil until then
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.header == nil {
		r.status = status
		r.header = r.ResponseWriter.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.header == nil {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush supports handlers that flush through the http.Flusher interface.
func (r *recorder) Flush() {
	if r.header == nil {
		r.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(r.ResponseWriter).Flush()
}

// isStream reports whether h describes a server-sent event stream, whose
// body is never buffered.
func isStream(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "text/event-stream"
}

// check validates one exchange and reports every mismatch. A nil respBody
// means the body was not captured and is not checked.
func (v *Validator) check(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) {
	v.t.Helper()
	ctx := context.Background()
	where := req.Method + " " + req.URL.Path
	options := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		SkipSettingDefaults:   true, // never rewrite the request
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		ExcludeResponseBody:   respBody == nil,
	}

	// The copy given to kin-openapi, which reads (and may rewrite) it.
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, pathParams, err := v.router.FindRoute(vreq)
	if err != nil && req.Method == http.MethodHead {
		// HEAD is served wherever GET is; its response has no body.
		vreq.Method = http.MethodGet
		route, pathParams, err = v.router.FindRoute(vreq)
		vreq.Method = http.MethodHead
	}
	if err != nil {
		v.checkUnrouted(vreq, where, status, header, respBody, options)
		return
	}

	reqInput := &openapi3filter.RequestValidationInput{
		Request:    vreq,
		PathParams: pathParams,
		Route:      route,
		Options:    options,
	}
	if err := openapi3filter.ValidateRequest(ctx, reqInput); err != nil && status >= 200 && status < 300 {
		v.t.Errorf("openapitest: %s: got %d, a success, for a request that does not match the document: %v",
			where, status, err)
	}
	respInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqInput,
		Status:                 status,
		Header:                 header,
		Options:                options,
	}
	respInput.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, respInput); err != nil {
		v.t.Errorf("openapitest: %s: response %d does not match the document: %v", where, status, err)
	}
}

// checkUnrouted checks the response to a request that matches no operation
// of the document.
func (v *Validator) checkUnrouted(req *http.Request, where string, status int, header http.Header, respBody []byte, options *openapi3filter.Options) {
	v.t.Helper()
	switch {
	case status >= 300 && status < 400:
		return
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
	default:
		v.t.Errorf("openapitest: %s: the document has no such operation, yet the response is %d (want 404 or 405)",
			where, status)
		return
	}
	if status == http.StatusMethodNotAllowed && strings.TrimSpace(header.Get("Allow")) == "" {
		v.t.Errorf("openapitest: %s: response 405 has no Allow header", where)
		return
	}
	ref := v.unrouted[status]
	if ref == nil {
		return
	}
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, ref))
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req,
			Route:   &routers.Route{Method: req.Method, Path: req.URL.Path, Operation: op},
			Options: options,
		},
		Status:  status,
		Header:  header,
		Options: options,
	}
	input.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		v.t.Errorf("openapitest: %s: response %d to a request matching no operation does not match the document: %v",
			where, status, err)
	}
}
