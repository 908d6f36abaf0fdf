package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/queuepass/queuepass"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

// object is a decoded JSON object body whose fields are read one at a time,
// so that every problem is collected and reported at once.
type object struct {
	raw  map[string]json.RawMessage
	verr queuepass.ValidationError
}

// readBody reads a request body of up to maxBodyBytes: 413 above that.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *problem) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, newProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
				fmt.Sprintf("The request body is larger than %d bytes.", maxBodyBytes))
		}
		return nil, newProblem(http.StatusBadRequest, "malformed_json", "The request body could not be read.")
	}
	return body, nil
}

// readObject reads a request body that must be a JSON object sent with one
// of mediaTypes (application/json when none are given). It answers the
// problems of transport and syntax: 415, 413, 400, and 422 for a body that
// is JSON but not an object.
func readObject(w http.ResponseWriter, r *http.Request, mediaTypes ...string) (*object, *problem) {
	if len(mediaTypes) == 0 {
		mediaTypes = []string{"application/json"}
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(mediaTypes, mt) || !charsetOK(params) {
		return nil, newProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("The request body must be sent as Content-Type: %s.", strings.Join(mediaTypes, " or ")))
	}
	body, prob := readBody(w, r)
	if prob != nil {
		return nil, prob
	}
	if !utf8.Valid(body) {
		return nil, newProblem(http.StatusBadRequest, "malformed_json", "The request body is not valid UTF-8.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, newProblem(http.StatusBadRequest, "malformed_json", "The request body is empty; a JSON object is required.")
	}
	if !json.Valid(body) {
		return nil, newProblem(http.StatusBadRequest, "malformed_json", "The request body is not well-formed JSON.")
	}
	o := &object{}
	if err := json.Unmarshal(body, &o.raw); err != nil || o.raw == nil {
		p := newProblem(http.StatusUnprocessableEntity, "invalid_request", "The request body must be a JSON object.")
		p.Errors = []queuepass.FieldError{{Field: "(body)", Message: "must be a JSON object"}}
		return nil, p
	}
	return o, nil
}

func charsetOK(params map[string]string) bool {
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// allow reports every field that is not in names as unknown.
func (o *object) allow(names ...string) {
	keys := make([]string, 0, len(o.raw))
	for k := range o.raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(names, k) {
			o.verr.Add(k, "unknown field")
		}
	}
}

// err returns the problems found so far, or nil.
func (o *object) err() error { return o.verr.Err() }

// field returns the raw value of name; present is false when it is absent,
// null is true when it is JSON null.
func (o *object) field(name string) (raw json.RawMessage, present, null bool) {
	raw, present = o.raw[name]
	return raw, present, present && string(raw) == "null"
}

// present reports whether name was sent with a value other than null.
func (o *object) present(name string) bool {
	_, present, null := o.field(name)
	return present && !null
}

// required reports name as missing when it is absent or null.
func (o *object) required(name string) bool {
	_, present, null := o.field(name)
	if !present || null {
		o.verr.Add(name, "is required")
		return false
	}
	return true
}

// string decodes a string field. ok is false when it is absent, null, or
// not a string (reported).
func (o *object) string(name string) (s string, ok bool) {
	raw, present, null := o.field(name)
	if !present || null {
		return "", false
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		o.verr.Add(name, "must be a string")
		return "", false
	}
	return s, true
}

// int decodes an integer field within [lo, hi].
func (o *object) int(name string, lo, hi int) (n int, ok bool) {
	raw, present, null := o.field(name)
	if !present || null {
		return 0, false
	}
	var f json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	// json.Number also takes a number in a string ("5"); the API does not.
	if raw[0] == '"' || d.Decode(&f) != nil {
		o.verr.Add(name, "must be an integer")
		return 0, false
	}
	i, err := f.Int64()
	if err != nil {
		o.verr.Add(name, "must be an integer between %d and %d", lo, hi)
		return 0, false
	}
	if i < int64(lo) || i > int64(hi) {
		o.verr.Add(name, "must be between %d and %d", lo, hi)
		return 0, false
	}
	return int(i), true
}

// time decodes an RFC 3339 time field, in UTC and whole seconds. null is
// reported as present with the zero time, which clears a setting.
func (o *object) time(name string) (t time.Time, present bool) {
	raw, present, null := o.field(name)
	if !present || null {
		return time.Time{}, present
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		o.verr.Add(name, "must be an RFC 3339 time or null")
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		o.verr.Add(name, "must be an RFC 3339 time such as 2026-12-03T18:00:00Z")
		return time.Time{}, false
	}
	if t.Year() < 2000 || t.Year() > 9999 {
		o.verr.Add(name, "must be between the years 2000 and 9999")
		return time.Time{}, false
	}
	return t.UTC().Truncate(time.Second), true
}

// validEventID reports whether id can name an event:
// ^[a-z0-9][a-z0-9-]{0,62}$.
func validEventID(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeText returns s in NFC and whether it is clean: free of control
// characters and of U+FFFD, which is what encoding/json makes of a lone
// surrogate escape ("\ud800"); letting it through would make different
// inputs one user.
func normalizeText(s string) (string, bool) {
	s = norm.NFC.String(s)
	return s, !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError })
}

// userID reads and normalizes a user_id field: 1..128 bytes of UTF-8 in NFC
// without control characters.
func (o *object) userID(name string) (string, bool) {
	if !o.required(name) {
		return "", false
	}
	s, ok := o.string(name)
	if !ok {
		return "", false
	}
	s, clean := normalizeText(s)
	switch {
	case !clean:
		o.verr.Add(name, "must not contain control characters, lone surrogates or U+FFFD")
	case len(s) == 0 || len(s) > 128:
		o.verr.Add(name, "must be 1 to 128 bytes of UTF-8 (after NFC normalization)")
	default:
		return s, true
	}
	return "", false
}

// eventName reads and normalizes an event name: 1..200 characters without
// control characters.
func (o *object) eventName(name string) (string, bool) {
	s, ok := o.string(name)
	if !ok {
		return "", false
	}
	s, clean := normalizeText(s)
	switch n := utf8.RuneCountInString(s); {
	case !clean:
		o.verr.Add(name, "must not contain control characters, lone surrogates or U+FFFD")
	case n == 0 || n > 200:
		o.verr.Add(name, "must be 1 to 200 characters")
	case strings.TrimSpace(s) == "":
		o.verr.Add(name, "must not be blank")
	default:
		return s, true
	}
	return "", false
}
