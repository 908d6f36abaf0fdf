package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// idempotent makes a POST honour an Idempotency-Key header: the first
// request with a key runs and its response is kept; a repeat with the same
// key and content gets that response again without running; the same key
// with other content gets 422 idempotency_key_reused; a repeat that arrives
// while the first still runs waits for its response. Keys are scoped to the
// method and path. Only responses of requests that ran are kept: 2xx and
// 409 (a conflict with the state of things). Requests refused before they
// ran (400, 401, 404, 413, 415, 422) and server errors (5xx) are not kept,
// so that a corrected request or a retry may use the same key.
func idempotent(room *waitroom.Room, log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, present := r.Header["Idempotency-Key"]
		if !present {
			h.ServeHTTP(w, r)
			return
		}
		if len(key) != 1 || !validIdempotencyKey(key[0]) {
			p := newProblem(http.StatusUnprocessableEntity, "invalid_request", "Idempotency-Key must be 1 to 255 printable ASCII characters, sent once.")
			p.Errors = []queuepass.FieldError{{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}}
			writeProblem(w, p)
			return
		}
		body, prob := readBody(w, r)
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		scope := r.Method + " " + r.URL.Path + "\n" + key[0]
		fp := fingerprint(r, body)

		rec, claimed, err := claimOrWait(r.Context(), room, scope, fp)
		switch {
		case err != nil:
			writeProblem(w, problemFor(r.Context(), log, err))
		case claimed:
			bw := &bufferedWriter{header: http.Header{}}
			h.ServeHTTP(bw, r)
			if err := keep(r.Context(), room, scope, fp, bw); err != nil {
				log.Warn("keeping the response of an idempotent request failed", "err", err)
			}
			bw.writeTo(w)
		case rec.Fingerprint != fp:
			p := newProblem(http.StatusUnprocessableEntity, "idempotency_key_reused",
				"This Idempotency-Key was used before for a different request; use a new key for a new request.")
			p.Errors = []queuepass.FieldError{{Field: "Idempotency-Key", Message: "was used before for a request with other content"}}
			writeProblem(w, p)
		default:
			for k, v := range rec.Header {
				w.Header().Set(k, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(rec.Status)
			w.Write(rec.Body)
		}
	})
}

// claimOrWait claims the key, or returns its finished record; while another
// request holds the claim it waits, as long as ctx allows.
func claimOrWait(ctx context.Context, room *waitroom.Room, scope string, fp [32]byte) (queuepass.IdempotencyRecord, bool, error) {
	wait := 10 * time.Millisecond
	for {
		rec, claimed, err := room.ClaimIdempotencyKey(ctx, scope, fp)
		if err != nil || claimed || rec.Done || rec.Fingerprint != fp {
			return rec, claimed, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return rec, false, errors.Join(queuepass.ErrUnavailable, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}

// keep stores a claimed request's response, or releases the claim when the
// response is a server error.
func keep(ctx context.Context, room *waitroom.Room, scope string, fp [32]byte, bw *bufferedWriter) error {
	// Keep the record even if the client went away meanwhile.
	ctx = context.WithoutCancel(ctx)
	if !kept(bw.status) {
		return room.ReleaseIdempotencyKey(ctx, scope)
	}
	rec := queuepass.IdempotencyRecord{Fingerprint: fp, Done: true, Status: bw.status, Header: map[string]string{}, Body: bw.body.Bytes()}
	for _, k := range []string{"Content-Type", "Location", "Cache-Control"} {
		if v := bw.header.Get(k); v != "" {
			rec.Header[k] = v
		}
	}
	return room.FinishIdempotencyKey(ctx, scope, rec)
}

// kept reports whether a response with status is kept for its key.
func kept(status int) bool {
	return status < 300 || status == http.StatusConflict
}

func fingerprint(r *http.Request, body []byte) [32]byte {
	h := sha256.New()
	io.WriteString(h, r.Method+"\x00"+r.URL.Path+"\x00"+r.Header.Get("Content-Type")+"\x00")
	h.Write(body)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// bufferedWriter holds a response so it can be both kept and sent.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *bufferedWriter) writeTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(max(b.status, http.StatusOK))
	w.Write(b.body.Bytes())
}
