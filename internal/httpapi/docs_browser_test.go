package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/queuepass/queuepass"
)

// TestBrowserChallenge runs the browser solver (/docs/queuepass-pow.js) and
// the page /docs/challenge in a real headless Chromium against a real
// server: the solver's SHA-256 and nonces agree with Go's, and the page,
// reached from /docs, joins an event that asks for proof of work.
func TestBrowserChallenge(t *testing.T) {
	a := newAPI(t)
	a.createEvent(map[string]any{"id": "drop", "name": "Drop", "challenge_difficulty": 12})
	tab := newBrowser(t)

	// within runs steps with a deadline of their own, so a page that never
	// gets there fails the test with the step that waited.
	within := func(d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, d)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// eval evaluates a JavaScript expression, awaiting a promise, into out.
	eval := func(what, expr string, out any) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: result %s: %v", what, raw, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}

	// /docs renders the contract offline, under its CSP, and links to the
	// page that tries proof of work.
	within(time.Minute, "opening /docs",
		chromedp.Navigate(a.url+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(".swagger-ui .info .title")),
		chromedp.Click(chromedp.CSS(`nav a[href="/docs/challenge"]`)),
		chromedp.WaitReady(chromedp.ID("join-form")),
	)

	// The page's SHA-256 is SHA-256: lengths around the block and padding
	// boundaries, and UTF-8.
	{
		inputs := []string{"", "abc", "QueuePass ‖ ✓"}
		for _, n := range []int{55, 56, 57, 63, 64, 65, 119, 120, 128, 1000} {
			inputs = append(inputs, strings.Repeat("x", n))
		}
		js, _ := json.Marshal(inputs)
		var got []string
		eval("hashing in the page", fmt.Sprintf("%s.map(QueuePass.sha256Hex)", js), &got)
		if len(got) != len(inputs) {
			t.Fatalf("hashing %d inputs in the page gave %d hashes", len(inputs), len(got))
		}
		for i, in := range inputs {
			sum := sha256.Sum256([]byte(in))
			if want := hex.EncodeToString(sum[:]); got[i] != want {
				t.Errorf("QueuePass.sha256Hex(%q) = %s, want %s", in, got[i], want)
			}
		}
	}

	// The page's solver finds the nonce that Go's does: both try 0, 1, 2, …
	{
		c := a.must(req{method: "POST", path: "/v1/events/drop/challenges"}, 200).json(t)
		challenge := c["challenge"].(string)
		var nonce string
		eval("solving in the page", fmt.Sprintf("QueuePass.solveChallenge(%q, 12)", challenge), &nonce)
		want, err := queuepass.SolveChallenge(t.Context(), challenge, 12)
		if err != nil {
			t.Fatal(err)
		}
		if nonce != want || !queuepass.ChallengeSolved(challenge, nonce, 12) {
			t.Errorf("QueuePass.solveChallenge(%q, 12) = %q, want %q (Go's)", challenge, nonce, want)
		}

		// A signal stops a search that would never end, between chunks.
		var reason string
		eval("aborting a solve", `(() => {
			const stop = new AbortController();
			return QueuePass.solveChallenge("x", 256, {signal: stop.signal, onProgress: () => stop.abort()})
				.then(() => "solved", err => err.name);
		})()`, &reason)
		if reason != "AbortError" {
			t.Errorf("an aborted solve ended with %q, want AbortError", reason)
		}
	}

	// The page joins with a solved challenge, and shows the ticket.
	{
		within(time.Minute, "joining on /docs/challenge",
			chromedp.SendKeys(chromedp.ID("event-id"), "drop"),
			chromedp.SendKeys(chromedp.ID("user-id"), "browser-user"),
			chromedp.Click(chromedp.ID("join")),
			chromedp.WaitReady(chromedp.CSS(`#result[data-state="ok"], #result[data-state="problem"]`)),
		)
		status, result := text("#status"), text("#result")
		if !strings.HasPrefix(status, "201 ") {
			t.Fatalf("the page says %q, want a 201; it shows:\n%s", status, result)
		}
		var ticket struct {
			ID      string `json:"id"`
			EventID string `json:"event_id"`
			UserID  string `json:"user_id"`
			Status  string `json:"status"`
		}
		if err := json.Unmarshal([]byte(result), &ticket); err != nil {
			t.Fatalf("the page shows %q, not a ticket: %v", result, err)
		}
		if ticket.EventID != "drop" || ticket.UserID != "browser-user" || ticket.Status != "waiting" {
			t.Errorf("the page shows the ticket %+v, want a waiting ticket of browser-user in drop", ticket)
		}
		if got := a.ticket("drop", ticket.ID); got["user_id"] != "browser-user" || got["status"] != "waiting" {
			t.Errorf("GET the page's ticket %s = %v, want browser-user waiting", ticket.ID, got)
		}
		if hashes, nonce := text("#hashes"), text("#nonce"); hashes == "–" || nonce == "–" {
			t.Errorf("the page shows %q hashes and nonce %q, want the work done", hashes, nonce)
		}

		// A problem is shown as such: the result was "ok", so waiting for
		// "problem" waits for this join.
		within(time.Minute, "joining a missing event on /docs/challenge",
			chromedp.SetValue(chromedp.ID("event-id"), "no-such-event"),
			chromedp.Click(chromedp.ID("join")),
			chromedp.WaitReady(chromedp.CSS(`#result[data-state="problem"]`)),
		)
		if status := text("#status"); !strings.HasPrefix(status, "404 event_not_found") {
			t.Errorf("joining a missing event, the page says %q, want 404 event_not_found", status)
		}
	}
}

// browserConsole collects what a tab reports that a working page never
// does: uncaught exceptions, CSP violations, and documentation files that
// fail to load. Failed API calls are not among them: the page shows those.
type browserConsole struct {
	mu   sync.Mutex
	msgs []string
}

func (c *browserConsole) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = fmt.Sprintf("uncaught %s at %s:%d", d.Text, d.URL, d.LineNumber+1)
		if d.Exception != nil {
			msg += ": " + d.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e.Level != cdplog.EntryLevelError || (e.Source == cdplog.EntrySourceNetwork && strings.Contains(e.URL, "/v1/")) {
			return
		}
		msg = fmt.Sprintf("%s %s: %s", e.Source, e.URL, e.Text)
	default:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msg)
}

func (c *browserConsole) problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// newBrowser starts a headless Chromium for t and returns the context of its
// tab. When t ends, whether it passed or not, t fails if the tab reported a
// problem (see browserConsole), and the browser is killed and waited for.
//
// QUEUEPASS_TEST_BROWSER names the browser to run; then the browser must
// work, or t fails. Without it t runs chromium from the PATH, and skips when
// there is none.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("QUEUEPASS_TEST_BROWSER")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Skip("no chromium on the PATH; QUEUEPASS_TEST_BROWSER names one to run this test")
		}
	}
	// The flags keep Chromium from calling out to the internet, which a
	// closed network answers slowly or not at all. chromedp gives each
	// browser a fresh user-data-dir of its own, and removes it, and kills
	// what is left of the browser's processes, when the browser ends.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // as root, and in containers without user namespaces
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	// The whole browser gets a deadline, so that nothing can hang the test
	// run; steps have shorter ones of their own.
	life, cancelLife := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancelLife)
	alloc, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	t.Cleanup(cancelAlloc) // kills the browser and waits for it
	console := new(browserConsole)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithListener(console.listen))
	t.Cleanup(cancelTab)
	t.Cleanup(func() {
		for _, msg := range console.problems() {
			t.Errorf("browser: %s", msg)
		}
	})

	// The first call starts the browser; it runs without a deadline of its
	// own, since that would end the browser with it.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	if _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("%s: enabling the log: %v", path, err)
	}
	return tab
}
