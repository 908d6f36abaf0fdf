package storetest

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/queuepass/queuepass"
)

var idempotencyTests = []subtest{
	{"ClaimFinishReplay", testIdempotencyClaimFinish},
	{"Release", testIdempotencyRelease},
	{"Purge", testIdempotencyPurge},
	{"ConcurrentClaims", testIdempotencyConcurrent},
}

func fingerprint(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func (f *fixture) claim(key string, fp [32]byte, when int) (queuepass.IdempotencyRecord, bool) {
	f.t.Helper()
	rec, claimed, err := f.s.ClaimIdempotencyKey(f.ctx(), key, fp, at(when))
	if err != nil {
		f.t.Fatalf("ClaimIdempotencyKey(%q) error: %v", key, err)
	}
	return rec, claimed
}

// recordDiff describes how got differs from want, or returns "".
func recordDiff(got, want queuepass.IdempotencyRecord) string {
	var d []string
	if got.Fingerprint != want.Fingerprint {
		d = append(d, fmt.Sprintf("Fingerprint = %x, want %x", got.Fingerprint[:4], want.Fingerprint[:4]))
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		d = append(d, fmt.Sprintf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt))
	}
	if got.Done != want.Done {
		d = append(d, fmt.Sprintf("Done = %v, want %v", got.Done, want.Done))
	}
	if got.Status != want.Status {
		d = append(d, fmt.Sprintf("Status = %d, want %d", got.Status, want.Status))
	}
	if !maps.Equal(got.Header, want.Header) && len(got.Header)+len(want.Header) > 0 {
		d = append(d, fmt.Sprintf("Header = %v, want %v", got.Header, want.Header))
	}
	if string(got.Body) != string(want.Body) {
		d = append(d, fmt.Sprintf("Body = %q, want %q", got.Body, want.Body))
	}
	return strings.Join(d, "; ")
}

func testIdempotencyClaimFinish(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	fp := fingerprint(`{"name":"Tour"}`)
	if _, claimed := f.claim("k1", fp, 1); !claimed {
		t.Fatal("ClaimIdempotencyKey(new key) claimed = false, want true")
	}
	running := queuepass.IdempotencyRecord{Fingerprint: fp, CreatedAt: at(1)}
	for _, other := range []struct {
		name string
		fp   [32]byte
	}{{"same body", fp}, {"other body", fingerprint("other")}} {
		rec, claimed := f.claim("k1", other.fp, 2)
		if claimed {
			t.Errorf("ClaimIdempotencyKey(running key, %s) claimed = true, want false", other.name)
		}
		if d := recordDiff(rec, running); d != "" {
			t.Errorf("ClaimIdempotencyKey(running key, %s): %s", other.name, d)
		}
	}

	done := queuepass.IdempotencyRecord{
		Fingerprint: fp,
		CreatedAt:   at(1),
		Done:        true,
		Status:      201,
		Header:      map[string]string{"Location": "/v1/events/tour", "Content-Type": "application/json"},
		Body:        []byte("{\"id\":\"tour\",\"name\":\"Tour ✨\"}\n"),
	}
	if err := f.s.FinishIdempotencyKey(f.ctx(), "k1", done); err != nil {
		t.Fatalf("FinishIdempotencyKey error: %v", err)
	}
	for _, other := range []struct {
		name string
		fp   [32]byte
	}{{"same body", fp}, {"other body", fingerprint("other")}} {
		rec, claimed := f.claim("k1", other.fp, 3)
		if claimed {
			t.Errorf("ClaimIdempotencyKey(finished key, %s) claimed = true, want false", other.name)
		}
		if d := recordDiff(rec, done); d != "" {
			t.Errorf("ClaimIdempotencyKey(finished key, %s): %s", other.name, d)
		}
	}

	// Keys are opaque: other keys, however alike, are new.
	for _, key := range []string{"K1", "k1 ", "k", "k10"} {
		if _, claimed := f.claim(key, fp, 4); !claimed {
			t.Errorf("ClaimIdempotencyKey(%q) after claiming \"k1\": claimed = false, want true", key)
		}
	}
}

func testIdempotencyRelease(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	fp := fingerprint("a")
	f.claim("k", fp, 1)
	f.claim("kept", fp, 1)
	if err := f.s.ReleaseIdempotencyKey(f.ctx(), "k"); err != nil {
		t.Fatalf("ReleaseIdempotencyKey error: %v", err)
	}
	fp2 := fingerprint("b")
	if _, claimed := f.claim("k", fp2, 5); !claimed {
		t.Fatal("ClaimIdempotencyKey after release: claimed = false, want true")
	}
	rec, claimed := f.claim("k", fp, 6)
	if claimed {
		t.Error("second ClaimIdempotencyKey after release: claimed = true, want false")
	}
	if d := recordDiff(rec, queuepass.IdempotencyRecord{Fingerprint: fp2, CreatedAt: at(5)}); d != "" {
		t.Errorf("record of the key claimed again after release: %s", d)
	}
	if _, claimed := f.claim("kept", fp, 7); claimed {
		t.Error("releasing one key released another")
	}
}

func testIdempotencyPurge(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	fp := fingerprint("a")
	f.claim("old", fp, 1)
	f.claim("old-done", fp, 2)
	if err := f.s.FinishIdempotencyKey(f.ctx(), "old-done", queuepass.IdempotencyRecord{
		Fingerprint: fp, CreatedAt: at(2), Done: true, Status: 200, Body: []byte("{}"),
	}); err != nil {
		t.Fatalf("FinishIdempotencyKey error: %v", err)
	}
	f.claim("edge", fp, 10)
	f.claim("new", fp, 20)
	if err := f.s.PurgeIdempotencyKeys(f.ctx(), at(10)); err != nil {
		t.Fatalf("PurgeIdempotencyKeys error: %v", err)
	}
	for key, wantClaimed := range map[string]bool{"old": true, "old-done": true, "edge": false, "new": false} {
		if _, claimed := f.claim(key, fp, 30); claimed != wantClaimed {
			t.Errorf("after PurgeIdempotencyKeys(before %v), claiming %q (created %s) = %v, want %v",
				at(10), key, map[string]string{"old": "1", "old-done": "2", "edge": "10", "new": "20"}[key], claimed, wantClaimed)
		}
	}
}

func testIdempotencyConcurrent(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	const n = 30
	ctx := f.ctx()
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		claimed = make([]bool, n)
		recs    = make([]queuepass.IdempotencyRecord, n)
		errs    = make([]error, n)
	)
	fp := fingerprint("once")
	for i := range n {
		wg.Go(func() {
			<-start
			recs[i], claimed[i], errs[i] = f.s.ClaimIdempotencyKey(ctx, "once", fp, at(1))
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("concurrent ClaimIdempotencyKey error: %v", errs[i])
			continue
		}
		if claimed[i] {
			wins++
			continue
		}
		if d := recordDiff(recs[i], queuepass.IdempotencyRecord{Fingerprint: fp, CreatedAt: at(1)}); d != "" {
			t.Errorf("concurrent ClaimIdempotencyKey that lost: %s", d)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent claims of one key: %d claimed it, want exactly 1", n, wins)
	}
}
