package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	swaggerfiles "github.com/swaggo/files/v2"
)

// openAPIFiles holds openapi.yaml, the hand-written contract of the v1 API.
// An embed.FS cannot be modified.
//
//go:embed openapi.yaml
var openAPIFiles embed.FS

// OpenAPISpec returns the OpenAPI 3.0 document of the v1 API, exactly as
// served at /openapi.yaml. Each call returns a new copy, which the caller may
// modify. It is safe for concurrent use.
func OpenAPISpec() []byte {
	b, err := openAPIFiles.ReadFile("openapi.yaml")
	if err != nil {
		// The file is embedded at build time; this cannot happen.
		panic("httpapi: openapi.yaml is not embedded: " + err.Error())
	}
	return b
}

// handleOpenAPI serves the OpenAPI document as application/yaml, with a
// strong ETag so that clients revalidate cheaply (If-None-Match gets 304).
// It answers GET and HEAD; register it for "GET /openapi.yaml".
func handleOpenAPI() http.Handler {
	spec := OpenAPISpec()
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(spec))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/yaml; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(spec))
	})
}

// docsFiles holds QueuePass' own documentation files: the pages /docs
// (index.html) and /docs/challenge (challenge.html), their scripts and style
// sheet, and queuepass-pow.js, the browser solver of proof-of-work
// challenges that waiting pages may include or copy.
//
//go:embed docsassets
var docsFiles embed.FS

// handleDocs serves the documentation pages and the files they load, all
// from the binary, so they work offline: at /docs an interactive page (Swagger
// UI) that renders /openapi.yaml and can call the API; at /docs/challenge a
// page that joins an event with a solved proof-of-work challenge, through
// /docs/queuepass-pow.js. Their Content-Security-Policy lets them load and
// call nothing but this origin (images may also be data: URLs, which Swagger
// UI's style sheet uses for icons), and no inline script or style. The admin
// key pasted under "Authorize" stays out of the browser's storage.
//
// /docs/ redirects to /docs; unknown files under /docs/ get a 404 problem.
// Register the one handler for both "GET /docs" and "GET /docs/".
func handleDocs() http.Handler {
	// Files are hashed once, here, and read from the binary per request,
	// so the 1.4 MB bundle is not copied onto the heap.
	type file struct {
		contentType string
		etag        string
		open        func() (io.ReadSeeker, error)
	}
	contentTypes := map[string]string{
		".html": "text/html; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".png":  "image/png",
	}
	load := func(fsys fs.FS, name string) file {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			// The files are embedded at build time, ours here and Swagger
			// UI's in the swaggo module; this only fails if an upgrade
			// renamed one.
			panic("httpapi: documentation file missing: " + err.Error())
		}
		return file{contentTypes[path.Ext(name)], fmt.Sprintf(`"%x"`, sha256.Sum256(body)), func() (io.ReadSeeker, error) {
			f, err := fsys.Open(name)
			if err != nil {
				return nil, err
			}
			// Embedded files seek, and hold nothing that needs closing.
			rs, ok := f.(io.ReadSeeker)
			if !ok {
				return nil, fmt.Errorf("embedded %s cannot seek", name)
			}
			return rs, nil
		}}
	}

	// The pages are ours, not the upstream index.html (which points at the
	// petstore), each at its own path; their scripts and style sheet are
	// files because the CSP forbids inline ones.
	ours, err := fs.Sub(docsFiles, "docsassets")
	if err != nil {
		panic("httpapi: " + err.Error())
	}
	pages := map[string]file{
		"/docs":           load(ours, "index.html"),
		"/docs/challenge": load(ours, "challenge.html"),
	}
	assets := map[string]file{} // by name under /docs/
	for _, name := range []string{"queuepass-docs.js", "queuepass-docs.css", "queuepass-challenge.js", "queuepass-pow.js"} {
		assets[name] = load(ours, name)
	}
	for _, name := range []string{"swagger-ui.css", "index.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"} {
		assets[name] = load(swaggerfiles.FS, name)
	}

	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	const notFound = `{"type":"urn:queuepass:problem:not_found","title":"Not Found","status":404,` +
		`"detail":"The documentation has no such file.","code":"not_found"}` + "\n"

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		p := r.URL.Path
		if p == "/docs/" {
			http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
			return
		}
		f, found := pages[p]
		if !found && strings.HasPrefix(p, "/docs/") {
			f, found = assets[strings.TrimPrefix(p, "/docs/")]
		}
		if !found {
			h.Set("Content-Type", "application/problem+json")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, notFound)
			return
		}
		content, err := f.open()
		if err != nil {
			// Embedded files open unless the binary is broken.
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		h.Set("Content-Security-Policy", csp)
		http.ServeContent(w, r, "", time.Time{}, content)
	})
}
