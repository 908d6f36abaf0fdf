package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass/client"
	"github.com/queuepass/queuepass/internal/servertest"
)

const (
	adminKey    = servertest.AdminKey
	waitingRoom = "https://queue.example/wait"
)

// startQueuePass serves a real QueuePass server and returns its URL.
func startQueuePass(t *testing.T) string {
	t.Helper()
	return servertest.Start(t, nil)
}

// admittedPass creates the event, lets fan join its line, admits fan
// through the API and returns fan's pass.
func admittedPass(t *testing.T, qp *client.Client, eventID, fan string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := qp.CreateEvent(ctx, client.CreateEventParams{ID: eventID, Name: eventID}); err != nil {
		t.Fatalf("CreateEvent(%s): %v", eventID, err)
	}
	tk, _, err := qp.Join(ctx, eventID, fan)
	if err != nil {
		t.Fatalf("Join(%s, %s): %v", eventID, fan, err)
	}
	if a, err := qp.Admit(ctx, eventID, 1); err != nil || a.Admitted != 1 {
		t.Fatalf("Admit(%s, 1) = %+v, %v; want 1 admitted", eventID, a, err)
	}
	tk, err = qp.Ticket(ctx, eventID, tk.ID)
	if err != nil {
		t.Fatalf("Ticket: %v", err)
	}
	if tk.Status != "admitted" || tk.Pass == "" {
		t.Fatalf("ticket after admission = %+v, want admitted with a pass", tk)
	}
	return tk.Pass
}

// startSite runs the program with args (after the program name) and
// returns the URL it serves. The program stops, and must return nil, at
// the end of the test.
func startSite(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"protected-site"}, args...), func(string) string { return "" }, outW, io.Discard)
		outW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})

	lines := make(chan string, 1)
	go func() { // ends when run returns and closes outW
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		_, u, ok := strings.Cut(line, " on ")
		if !ok {
			t.Fatalf("run printed %q, want the URL it serves", line)
		}
		return u
	case err := <-done:
		done <- err
		t.Fatalf("run returned before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not start serving within 10s")
	}
	return ""
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func get(t *testing.T, hc *http.Client, target, accept, bearer string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestProtectedSiteWithRealQueuePass(t *testing.T) {
	qpURL := startQueuePass(t)
	qp := client.New(qpURL, client.WithAdminKey(adminKey))
	fanPass := admittedPass(t, qp, "tour-2027", "fan-42")
	otherPass := admittedPass(t, qp, "other-event", "fan-7")

	site := startSite(t, "--queuepass", qpURL, "--event", "tour-2027", "--addr", "127.0.0.1:0",
		"--waiting-room", waitingRoom)
	const html = "text/html"

	t.Run("pass in the URL becomes a cookie", func(t *testing.T) {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, body := get(t, browser, site+"/tickets?seat=A&qp_pass="+url.QueryEscape(fanPass), html, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Welcome, fan-42!") {
			t.Fatalf("status %d, body %q; want the page for fan-42", resp.StatusCode, body)
		}
		if got := resp.Request.URL.String(); got != site+"/tickets?seat=A" {
			t.Errorf("landed on %s, want the URL without the pass", got)
		}
		if len(resp.Request.Response.Cookies()) != 1 {
			t.Errorf("the redirect set cookies %v, want the pass cookie", resp.Request.Response.Cookies())
		}
		resp, body = get(t, browser, site+"/other-page", html, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "fan-42") {
			t.Errorf("next page with the cookie: status %d, body %q; want the page", resp.StatusCode, body)
		}
	})

	t.Run("bearer pass", func(t *testing.T) {
		resp, body := get(t, &http.Client{Timeout: 10 * time.Second}, site+"/", "", fanPass)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "fan-42") {
			t.Errorf("status %d, body %q; want the page", resp.StatusCode, body)
		}
	})

	refusals := []struct {
		name     string
		target   string
		accept   string
		bearer   string
		wantCode int
	}{
		{"no pass, API call", "/", "application/json", "", http.StatusUnauthorized},
		{"no pass, navigation", "/", html, "", http.StatusSeeOther},
		{"another event's pass as bearer", "/", "application/json", otherPass, http.StatusUnauthorized},
		{"another event's pass in the URL, API call", "/?qp_pass=" + url.QueryEscape(otherPass), "application/json", "", http.StatusUnauthorized},
		{"another event's pass in the URL, navigation", "/?qp_pass=" + url.QueryEscape(otherPass), html, "", http.StatusSeeOther},
	}
	browser := &http.Client{CheckRedirect: noRedirects, Timeout: 10 * time.Second}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, browser, site+tt.target, tt.accept, tt.bearer)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, body %q; want %d", resp.StatusCode, body, tt.wantCode)
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("refusal set cookies %v", resp.Cookies())
			}
			if tt.wantCode == http.StatusSeeOther {
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				q := loc.Query()
				if !strings.HasPrefix(loc.String(), waitingRoom+"?") || q.Get("event") != "tour-2027" || q.Get("return") != site+"/" {
					t.Errorf("Location = %s, want the waiting room with event=tour-2027&return=%s/", loc, site)
				}
				return
			}
			var p struct{ Code string }
			if err := json.Unmarshal([]byte(body), &p); err != nil || p.Code != "unauthorized" ||
				resp.Header.Get("Content-Type") != "application/problem+json" ||
				!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("refusal %q (%v), headers %v; want an unauthorized problem with WWW-Authenticate: Bearer", body, err, resp.Header)
			}
		})
	}

	t.Run("health is not behind the gate", func(t *testing.T) {
		if resp, _ := get(t, &http.Client{Timeout: 10 * time.Second}, site+"/healthz", "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /healthz: status %d, want 200", resp.StatusCode)
		}
	})
}

func TestRunNeedsEvent(t *testing.T) {
	err := run(t.Context(), []string{"protected-site", "--addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil {
		t.Error("run without --event: no error")
	}
}
