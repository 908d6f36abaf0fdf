package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/httpapi"
	"github.com/queuepass/queuepass/internal/servertest"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// newDrawServer starts a real server on a test clock and returns its URL,
// an admin client for it, and the clock.
func newDrawServer(t *testing.T) (string, *client.Client, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New(time.Now())
	url := servertest.Start(t, func(wc *waitroom.Config, _ *httpapi.Config) { wc.Now = clock.Now })
	return url, client.New(url, client.WithAdminKey(servertest.AdminKey)), clock
}

// drawnEvent is an event whose pre-queue was drawn at opening.
type drawnEvent struct {
	id         string
	commitment string   // as the event showed it before opening
	tickets    []string // the pre-queue's tickets, in joining order
}

// newDrawnEvent creates a scheduled event, has n users join its
// pre-queue, and opens it.
func newDrawnEvent(t *testing.T, admin *client.Client, id string, n int) drawnEvent {
	t.Helper()
	ctx := t.Context()
	opens := time.Now().Add(time.Hour)
	ev, err := admin.CreateEvent(ctx, client.CreateEventParams{ID: id, Name: "Draw " + id, OpensAt: &opens})
	if err != nil {
		t.Fatal(err)
	}
	if ev.State != queuepass.StateScheduled || ev.Draw == nil {
		t.Fatalf("created event %s with draw %+v, want scheduled with a commitment", ev.State, ev.Draw)
	}
	de := drawnEvent{id: id, commitment: ev.Draw.Commitment}
	for i := range n {
		tk, _, err := admin.Join(ctx, id, fmt.Sprintf("user-%d", i))
		if err != nil || tk.Status != queuepass.StatusPrequeue {
			t.Fatalf("join = %s, %v; want a pre-queue ticket", tk.Status, err)
		}
		de.tickets = append(de.tickets, tk.ID)
	}
	open := queuepass.StateOpen
	if _, err := admin.UpdateEvent(ctx, id, client.EventPatch{State: &open}); err != nil {
		t.Fatal(err)
	}
	return de
}

// verifyDraw runs verify-draw through run() and returns its output and
// result.
func verifyDraw(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), append([]string{"queuepass", "verify-draw"}, args...), env(nil), &out, io.Discard)
	return out.String(), err
}

// checkLine returns the mark (ok or FAIL) and the rest of verify-draw's
// line for the check whose promise starts with promise, or "" if there is
// none.
func checkLine(out, promise string) (mark, rest string) {
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != "ok" && f[0] != "FAIL") {
			continue
		}
		text := strings.Join(f[1:], " ")
		if strings.HasPrefix(text, promise) {
			return f[0], strings.TrimSpace(strings.TrimPrefix(text, promise))
		}
	}
	return "", ""
}

func TestVerifyDraw(t *testing.T) {
	url, admin, clock := newDrawServer(t)
	de := newDrawnEvent(t, admin, "tour", 7)

	// Nobody joined after opening and nobody was admitted, so a ticket's
	// position is its place in the draw.
	mine := de.tickets[3]
	tk, err := admin.Ticket(t.Context(), de.id, mine)
	if err != nil || tk.Position == nil {
		t.Fatalf("ticket = %+v, %v; want a position", tk, err)
	}
	out, err := verifyDraw(t, "--server", url, "--event", de.id, "--ticket", mine, "--commitment", de.commitment)
	if err != nil {
		t.Fatalf("verify-draw of a true draw = %v\n%s", err, out)
	}
	t.Logf("\n%s", out)
	for _, promise := range []string{
		"the draw is of this event",
		"the seed matches the published commitment",
		"the event publishes that commitment",
		"the seed matches the commitment you noted",
		"the order is the one the seed gives",
		"your ticket is in the draw",
	} {
		if mark, _ := checkLine(out, promise); mark != "ok" {
			t.Errorf("line %q: %q, want ok\n%s", promise, mark, out)
		}
	}
	if _, rest := checkLine(out, "your ticket is in the draw"); rest != fmt.Sprintf("place %d of 7", *tk.Position) {
		t.Errorf("your place: %q, want place %d of 7 (the ticket's position)", rest, *tk.Position)
	}
	if !strings.Contains(out, "OK:") || strings.Contains(out, "FAIL") {
		t.Errorf("verify-draw output lacks the verdict or has a FAIL:\n%s", out)
	}

	// A wrong noted commitment is caught, and only it.
	wrong := sha256.Sum256([]byte("another seed"))
	out, err = verifyDraw(t, "--server", url, "--event", de.id, "--commitment", hex.EncodeToString(wrong[:]))
	if !errors.Is(err, errDrawCheck) || exitCode(err) != 1 {
		t.Errorf("verify-draw with a wrong commitment = %v, want errDrawCheck (exit 1)\n%s", err, out)
	}
	if mark, _ := checkLine(out, "the seed matches the commitment you noted"); mark != "FAIL" {
		t.Errorf("noted commitment line: %q, want FAIL\n%s", mark, out)
	}
	if mark, _ := checkLine(out, "the order is the one the seed gives"); mark != "ok" {
		t.Errorf("order line: %q, want ok\n%s", mark, out)
	}

	// A ticket that joined after the draw was never in it: that is said,
	// and is no failure of the draw.
	clock.Advance(time.Second)
	late, _, err := admin.Join(t.Context(), de.id, "late-comer")
	if err != nil {
		t.Fatal(err)
	}
	out, err = verifyDraw(t, "--server", url, "--event", de.id, "--ticket", late.ID)
	if mark, _ := checkLine(out, "your ticket joined after the draw"); err != nil || mark != "ok" {
		t.Errorf("verify-draw of a ticket that joined after the draw = %v, line %q; want ok\n%s", err, mark, out)
	}

	// A ticket the server does not know is not in the draw: that fails.
	other := newDrawnEvent(t, admin, "other", 2)
	out, err = verifyDraw(t, "--server", url, "--event", de.id, "--ticket", other.tickets[0])
	if mark, _ := checkLine(out, "your ticket is in the draw"); !errors.Is(err, errDrawCheck) || mark != "FAIL" {
		t.Errorf("verify-draw of a ticket of another event = %v, line %q; want FAIL\n%s", err, mark, out)
	}
}

// TestVerifyDrawCatchesTampering puts a proxy that rewrites the draw in
// front of a real server: each forgery must fail its check.
func TestVerifyDrawCatchesTampering(t *testing.T) {
	url, admin, _ := newDrawServer(t)
	de := newDrawnEvent(t, admin, "tour", 6)
	mine := de.tickets[2]
	myHash := func() string { h := queuepass.DrawHash(mine); return hex.EncodeToString(h[:]) }()

	tests := []struct {
		name   string
		tamper func(d *client.Draw)
		fail   []string // promises whose lines must fail
		pass   []string // and those that must still hold
	}{
		{
			name:   "changed seed",
			tamper: func(d *client.Draw) { d.Seed = flipHex(d.Seed) },
			fail:   []string{"the seed matches the published commitment", "the seed matches the commitment you noted"},
			pass:   []string{"the event publishes that commitment", "your ticket is in the draw"},
		},
		{
			name:   "another event's draw",
			tamper: func(d *client.Draw) { d.EventID = "other" },
			fail:   []string{"the draw is of this event"},
			pass:   []string{"the seed matches the published commitment", "the order is the one the seed gives", "your ticket is in the draw"},
		},
		{
			name:   "two places swapped",
			tamper: func(d *client.Draw) { d.Order[0], d.Order[4] = d.Order[4], d.Order[0] },
			fail:   []string{"the order is the one the seed gives"},
			pass:   []string{"the seed matches the published commitment", "the seed matches the commitment you noted", "your ticket is in the draw"},
		},
		{
			// The verifier learns the entrants from the order itself, so a
			// replacement shows only where it changes the sorted set's
			// ranks, as here, or to the holder of the ticket replaced.
			name: "one entrant replaced",
			tamper: func(d *client.Draw) {
				other := strings.Repeat("00", 32)
				if slices.Min(d.Order) == myHash {
					other = strings.Repeat("ff", 32)
				}
				d.Order[slices.Index(d.Order, myHash)] = other
			},
			fail: []string{"the order is the one the seed gives", "your ticket is in the draw"},
			pass: []string{"the seed matches the published commitment", "the seed matches the commitment you noted"},
		},
		{
			// A consistent forgery: a seed of the forger's, its commitment,
			// and the order it gives. Only the commitments published before
			// opening catch it.
			name: "forged seed, commitment and order",
			tamper: func(d *client.Draw) {
				seed := sha256.Sum256([]byte("forged"))
				c := queuepass.DrawCommitment(seed)
				d.Seed, d.Commitment = hex.EncodeToString(seed[:]), hex.EncodeToString(c[:])
				hashes := make([][32]byte, len(d.Order))
				for i, o := range d.Order {
					b, _ := hex.DecodeString(o)
					hashes[i] = [32]byte(b)
				}
				for i, h := range queuepass.ShuffleDraw(seed, hashes) {
					d.Order[i] = hex.EncodeToString(h[:])
				}
			},
			fail: []string{"the event publishes that commitment", "the seed matches the commitment you noted"},
			pass: []string{"the seed matches the published commitment", "the order is the one the seed gives", "your ticket is in the draw"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := tamperingProxy(t, url, tt.tamper)
			out, err := verifyDraw(t, "--server", proxy, "--event", de.id, "--ticket", mine, "--commitment", de.commitment)
			t.Logf("\n%s", out)
			if !errors.Is(err, errDrawCheck) || exitCode(err) == 0 {
				t.Errorf("verify-draw through the proxy = %v, want errDrawCheck and a non-zero exit\n%s", err, out)
			}
			for _, p := range tt.fail {
				if mark, _ := checkLine(out, p); mark != "FAIL" {
					t.Errorf("line %q: %q, want FAIL\n%s", p, mark, out)
				}
			}
			for _, p := range tt.pass {
				if mark, _ := checkLine(out, p); mark != "ok" {
					t.Errorf("line %q: %q, want ok\n%s", p, mark, out)
				}
			}
			if !strings.Contains(out, "FAILED:") {
				t.Errorf("no FAILED verdict:\n%s", out)
			}
		})
	}
}

// tamperingProxy forwards to target, rewriting the body of draws with
// tamper.
func tamperingProxy(t *testing.T, target string, tamper func(*client.Draw)) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/draw") {
			return nil
		}
		var d client.Draw
		err := json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if err != nil {
			return err
		}
		tamper(&d)
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	c := byte('0')
	if s[0] == '0' {
		c = '1'
	}
	return string(c) + s[1:]
}

func TestVerifyDrawBeforeOpening(t *testing.T) {
	url, admin, _ := newDrawServer(t)
	opens := time.Now().Add(time.Hour)
	ev, err := admin.CreateEvent(t.Context(), client.CreateEventParams{ID: "later", Name: "Later", OpensAt: &opens})
	if err != nil {
		t.Fatal(err)
	}
	out, err := verifyDraw(t, "--server", url, "--event", ev.ID)
	if !errors.Is(err, errDrawPending) || !strings.Contains(out, ev.Draw.Commitment) {
		t.Errorf("verify-draw before opening = %v, %q; want errDrawPending and the commitment to note", err, out)
	}
	if _, err := verifyDraw(t, "--server", url, "--event", "nope"); err == nil || !strings.Contains(err.Error(), "event_not_found") {
		t.Errorf("verify-draw of an unknown event = %v, want event_not_found", err)
	}
}

func TestVerifyDrawUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--event", "x"},
		{"--server", "127.0.0.1:8080", "--event", "x"},
		{"--server", "http://127.0.0.1:1"},
		{"--server", "http://127.0.0.1:1", "--event", "x", "--commitment", "abc"},
		{"--server", "http://127.0.0.1:1", "--event", "x", "extra"},
	} {
		err := run(context.Background(), append([]string{"queuepass", "verify-draw"}, args...), env(nil), io.Discard, io.Discard)
		if exitCode(err) != 2 {
			t.Errorf("verify-draw %q = %v (exit %d), want a usage error (exit 2)", args, err, exitCode(err))
		}
	}
}
