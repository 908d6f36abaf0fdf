package openapitest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/queuepass/queuepass/internal/openapitest"
)

// tinySpec is a small document with the features the validator must
// handle: a server URL that tests do not listen on, path parameters with a
// pattern, a secured operation, a required response header, a strict request
// body and the named responses for requests that match no operation.
const tinySpec = `
openapi: 3.0.3
info:
  title: Pets
  version: "1"
servers:
  - url: https://pets.example.com/api
paths:
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [name]
              properties:
                name: {type: string, minLength: 1}
      responses:
        '201':
          description: Created.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
        '422':
          $ref: '#/components/responses/Problem'
  /pets/{id}:
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: string, pattern: '^[a-z]+$'}
    get:
      security:
        - bearer: []
      responses:
        '200':
          description: The pet.
          headers:
            Cache-Control:
              required: true
              schema: {type: string}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
        '404':
          $ref: '#/components/responses/Problem'
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
  schemas:
    Pet:
      type: object
      additionalProperties: false
      required: [id, name]
      properties:
        id: {type: string}
        name: {type: string}
    Problem:
      type: object
      required: [code]
      properties:
        code: {type: string}
  responses:
    Problem:
      description: A problem.
      content:
        application/problem+json:
          schema: {$ref: '#/components/schemas/Problem'}
    NotFound:
      description: Nothing here.
      content:
        application/problem+json:
          schema: {$ref: '#/components/schemas/Problem'}
    MethodNotAllowed:
      description: Wrong method.
      headers:
        Allow:
          required: true
          schema: {type: string}
      content:
        application/problem+json:
          schema: {$ref: '#/components/schemas/Problem'}
`

// reporter is a testing.TB that records what the validator reports instead
// of failing the test.
type reporter struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  string
}

func (r *reporter) Helper() {}

func (r *reporter) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *reporter) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *reporter) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// reply is what the fake server answers.
type reply struct {
	status int
	header map[string]string
	body   string
}

const (
	pet     = `{"id":"rex","name":"Rex"}`
	problem = `{"code":"nope"}`
)

func TestValidator(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	problemCT := map[string]string{"Content-Type": "application/problem+json"}
	petHeader := map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		reply       reply
		// wantErr lists substrings of the one report expected; empty
		// means no report.
		wantErr []string
	}{
		{
			name: "good GET", method: "GET", path: "/pets/rex",
			reply: reply{200, petHeader, pet},
		},
		{
			name: "secured operation without credentials", method: "GET", path: "/pets/rex",
			reply: reply{200, petHeader, pet},
		},
		{
			name: "HEAD is checked like GET", method: "HEAD", path: "/pets/rex",
			reply: reply{200, petHeader, ""},
		},
		{
			name: "documented 404", method: "GET", path: "/pets/rex",
			reply: reply{404, problemCT, problem},
		},
		{
			name: "body does not match the schema", method: "GET", path: "/pets/rex",
			reply:   reply{200, petHeader, `{"id":7,"name":"Rex"}`},
			wantErr: []string{"GET /pets/rex", "200", "doesn't match schema"},
		},
		{
			name: "undocumented field", method: "GET", path: "/pets/rex",
			reply:   reply{200, petHeader, `{"id":"rex","name":"Rex","age":3}`},
			wantErr: []string{"GET /pets/rex", "age"},
		},
		{
			name: "required header missing", method: "GET", path: "/pets/rex",
			reply:   reply{200, jsonCT, pet},
			wantErr: []string{"GET /pets/rex", "200", `"Cache-Control" missing`},
		},
		{
			name: "undocumented status", method: "GET", path: "/pets/rex",
			reply:   reply{500, problemCT, problem},
			wantErr: []string{"GET /pets/rex", "500", "status is not supported"},
		},
		{
			name: "undocumented content type", method: "GET", path: "/pets/rex",
			reply:   reply{200, map[string]string{"Content-Type": "text/plain", "Cache-Control": "no-store"}, "Rex"},
			wantErr: []string{"GET /pets/rex", "200", "text/plain"},
		},
		{
			name: "good POST", method: "POST", path: "/pets", contentType: "application/json", body: `{"name":"Rex"}`,
			reply: reply{201, jsonCT, pet},
		},
		{
			name: "invalid request rejected", method: "POST", path: "/pets", contentType: "application/json", body: `{"name":"Rex","colour":"red"}`,
			reply: reply{422, problemCT, problem},
		},
		{
			name: "invalid request accepted", method: "POST", path: "/pets", contentType: "application/json", body: `{"name":"Rex","colour":"red"}`,
			reply:   reply{201, jsonCT, pet},
			wantErr: []string{"POST /pets", "201", "does not match the document", "colour"},
		},
		{
			name: "path parameter against its pattern, rejected", method: "GET", path: "/pets/REX",
			reply: reply{404, problemCT, problem},
		},
		{
			name: "path parameter against its pattern, accepted", method: "GET", path: "/pets/REX",
			reply:   reply{200, petHeader, pet},
			wantErr: []string{"GET /pets/REX", "200", "does not match the document"},
		},
		{
			name: "unknown path, 404 problem", method: "GET", path: "/nothing",
			reply: reply{404, problemCT, problem},
		},
		{
			name: "unknown path, plain 404", method: "GET", path: "/nothing",
			reply:   reply{404, map[string]string{"Content-Type": "text/plain"}, "404 page not found"},
			wantErr: []string{"GET /nothing", "404", "text/plain"},
		},
		{
			name: "unknown path, success", method: "GET", path: "/nothing",
			reply:   reply{200, jsonCT, `{}`},
			wantErr: []string{"GET /nothing", "200", "no such operation"},
		},
		{
			name: "unknown path, redirect", method: "GET", path: "/pets/",
			reply: reply{301, map[string]string{"Location": "/pets"}, ""},
		},
		{
			name: "wrong method, 405 with Allow", method: "DELETE", path: "/pets/rex",
			reply: reply{405, map[string]string{"Content-Type": "application/problem+json", "Allow": "GET, HEAD"}, problem},
		},
		{
			name: "wrong method, 405 without Allow", method: "DELETE", path: "/pets/rex",
			reply:   reply{405, problemCT, problem},
			wantErr: []string{"DELETE /pets/rex", "405", "Allow"},
		},
	}
	for _, tt := range tests {
		fake := func(t *testing.T) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, err := io.ReadAll(r.Body)
				if err != nil || string(got) != tt.body {
					t.Errorf("server read request body %q, %v; want %q", got, err, tt.body)
				}
				for k, v := range tt.reply.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.reply.status)
				io.WriteString(w, tt.reply.body)
			})
		}
		newRequest := func(t *testing.T, url string) *http.Request {
			t.Helper()
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, url+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			return req
		}
		check := func(t *testing.T, rep *reporter, status int, body string) {
			t.Helper()
			if status != tt.reply.status || body != tt.reply.body && tt.method != "HEAD" {
				t.Errorf("caller got %d %q, want %d %q", status, body, tt.reply.status, tt.reply.body)
			}
			got := rep.reported()
			switch {
			case len(tt.wantErr) == 0 && len(got) > 0:
				t.Errorf("reported %q, want nothing", got)
			case len(tt.wantErr) > 0 && len(got) != 1:
				t.Errorf("reported %q, want one report containing %q", got, tt.wantErr)
			case len(tt.wantErr) > 0:
				for _, want := range tt.wantErr {
					if !strings.Contains(got[0], want) {
						t.Errorf("reported %q, want it to contain %q", got[0], want)
					}
				}
			}
		}

		t.Run(tt.name+"/Client", func(t *testing.T) {
			srv := httptest.NewServer(fake(t))
			defer srv.Close()
			rep := &reporter{TB: t}
			client := openapitest.New(rep, []byte(tinySpec)).Client(&http.Client{
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			})
			resp, err := client.Do(newRequest(t, srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			check(t, rep, resp.StatusCode, string(body))
		})

		t.Run(tt.name+"/Handler", func(t *testing.T) {
			rep := &reporter{TB: t}
			h := openapitest.New(rep, []byte(tinySpec)).Handler(fake(t))
			req := newRequest(t, "http://127.0.0.1:8080")
			if req.Body == nil { // as a server would see it
				req.Body = http.NoBody
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			check(t, rep, rec.Code, rec.Body.String())
		})
	}
}

func TestHandlerImplicitStatus(t *testing.T) {
	rep := &reporter{TB: t}
	h := openapitest.New(rep, []byte(tinySpec)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, pet) // no WriteHeader: 200
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/pets/rex", nil))
	if rec.Code != 200 || rec.Body.String() != pet {
		t.Errorf("got %d %q, want 200 %q", rec.Code, rec.Body.String(), pet)
	}
	if got := rep.reported(); len(got) > 0 {
		t.Errorf("reported %q, want nothing", got)
	}
}

func TestClientConcurrent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"id":%q,"name":"x"}`, strings.TrimPrefix(r.URL.Path, "/pets/"))
	}))
	defer srv.Close()
	rep := &reporter{TB: t}
	client := openapitest.New(rep, []byte(tinySpec)).Client(nil)

	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 10 {
				id := strings.Repeat(string(rune('a'+i)), j+1)
				resp, err := client.Get(srv.URL + "/pets/" + id)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := fmt.Sprintf(`{"id":%q,"name":"x"}`, id); string(body) != want {
					t.Errorf("GET /pets/%s = %q, want %q", id, body, want)
				}
			}
		})
	}
	wg.Wait()
	if got := rep.reported(); len(got) > 0 {
		t.Errorf("reported %q, want nothing", got)
	}
}

func TestNewRejectsInvalidDocument(t *testing.T) {
	for name, spec := range map[string]string{
		"not YAML":     "{{{",
		"dangling ref": strings.Replace(tinySpec, "#/components/schemas/Pet'", "#/components/schemas/Cat'", 1),
		"missing info": strings.Replace(tinySpec, "info:\n  title: Pets\n  version: \"1\"\n", "", 1),
		"external ref": strings.Replace(tinySpec, "#/components/schemas/Pet'", "other.yaml#/Pet'", 1),
	} {
		t.Run(name, func(t *testing.T) {
			rep := &reporter{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				openapitest.New(rep, []byte(spec))
			}()
			<-done
			if rep.fatal == "" {
				t.Errorf("New did not stop the test")
			}
		})
	}
}
