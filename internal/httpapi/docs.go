package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
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

// handleDocs serves an interactive page (Swagger UI) that renders
// /openapi.yaml and can call the API, at /docs, and the files it loads under
// /docs/. Everything comes from the binary: the page works offline and its
// Content-Security-Policy lets it load and call nothing but this origin
// (images may also be data: URLs, which Swagger UI's style sheet uses for
// icons). The admin key pasted under "Authorize" is kept in the browser's
// local storage across reloads.
//
// /docs/ redirects to /docs; unknown files under /docs/ get a 404 problem.
// Register the one handler for both "GET /docs" and "GET /docs/".
func handleDocs() http.Handler {
	// The page is ours, not the upstream index.html (which points at the
	// petstore); scripts live in files because the CSP forbids inline ones.
	const indexHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QueuePass API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="stylesheet" href="/docs/index.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"><noscript>This page needs JavaScript. The contract itself is at <a href="/openapi.yaml">/openapi.yaml</a>.</noscript></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/queuepass-docs.js"></script>
</body>
</html>
`
	const initJS = `"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    persistAuthorization: false, // the admin key stays out of localStorage
    displayRequestDuration: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    filter: true,
    validatorUrl: null
  });
});
`
	// Files are hashed once, here, and read from the binary per request,
	// so the 1.4 MB bundle is not copied onto the heap.
	type file struct {
		contentType string
		etag        string
		open        func() (io.ReadSeeker, error)
	}
	etagOf := func(b []byte) string { return fmt.Sprintf(`"%x"`, sha256.Sum256(b)) }
	ours := func(contentType, body string) file {
		return file{contentType, etagOf([]byte(body)), func() (io.ReadSeeker, error) { return strings.NewReader(body), nil }}
	}
	index := ours("text/html; charset=utf-8", indexHTML)
	assets := map[string]file{
		"queuepass-docs.js": ours("text/javascript; charset=utf-8", initJS),
	}
	for name, contentType := range map[string]string{
		"swagger-ui.css":       "text/css; charset=utf-8",
		"index.css":            "text/css; charset=utf-8",
		"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"favicon-32x32.png":    "image/png",
		"favicon-16x16.png":    "image/png",
	} {
		body, err := fs.ReadFile(swaggerfiles.FS, name)
		if err != nil {
			// The files are embedded in the swaggo module at build time;
			// this only fails if an upgrade renamed them.
			panic("httpapi: Swagger UI file missing: " + err.Error())
		}
		assets[name] = file{contentType, etagOf(body), func() (io.ReadSeeker, error) {
			f, err := swaggerfiles.FS.Open(name)
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

	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	const notFound = `{"type":"urn:queuepass:problem:not_found","title":"Not Found","status":404,` +
		`"detail":"The documentation has no such file.","code":"not_found"}` + "\n"

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		var f file
		var found bool
		switch p := r.URL.Path; {
		case p == "/docs":
			f, found = index, true
		case p == "/docs/":
			http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
			return
		case strings.HasPrefix(p, "/docs/"):
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
