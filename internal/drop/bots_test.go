package drop

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass/client"
	"github.com/queuepass/queuepass/internal/httpapi"
	"github.com/queuepass/queuepass/internal/servertest"
	"github.com/queuepass/queuepass/internal/waitroom"
)

const testAdminKey = servertest.AdminKey

// newServer starts a real server with the given rate limits, trusting
// loopback as a proxy (so that the rehearsal's simulated addresses count),
// and returns its URL.
func newServer(t *testing.T, limits waitroom.Limits) string {
	t.Helper()
	return servertest.Start(t, func(room *waitroom.Config, srv *httpapi.Config) {
		room.Limits = limits
		srv.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
}

// rehearse runs cfg against url, keeping the event, and returns the report
// and the event's stats after it.
func rehearse(t *testing.T, url string, cfg Config) (*Report, client.Stats) {
	t.Helper()
	cfg.Servers, cfg.AdminKey, cfg.KeepEvent = []string{url}, testAdminKey, true
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("\n%s", text.String())
	if !rep.OK() {
		t.Errorf("the rehearsal failed:\n%s", text.String())
	}
	for _, want := range []string{"bots: ", "first admission", "all admissions", "fair share"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	stats, err := client.New(url, client.WithAdminKey(testAdminKey)).Stats(ctx, rep.EventID)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return rep, stats
}

// checkBotNumbers checks that what the report says of the bots adds up,
// and agrees with the server's stats.
func checkBotNumbers(t *testing.T, rep *Report, stats client.Stats) {
	t.Helper()
	b := rep.Bots
	if b.FanTickets+b.Tickets != stats.TotalTickets || b.ServerTickets != stats.TotalTickets {
		t.Errorf("tickets: %d fans' + %d bots', report says the server counts %d; stats say %d",
			b.FanTickets, b.Tickets, b.ServerTickets, stats.TotalTickets)
	}
	if b.FanTickets != rep.Fans {
		t.Errorf("fans with a ticket = %d, want all %d", b.FanTickets, rep.Fans)
	}
	// Every admission admitted every fan and some bots; passes live 15
	// minutes, so every ticket admitted is still admitted.
	if b.All.Admitted != rep.Admitted+b.All.Bots || stats.Counts.Admitted != b.All.Admitted {
		t.Errorf("all admissions: %d tickets of which %d bots', %d fans admitted; the server counts %d admitted",
			b.All.Admitted, b.All.Bots, rep.Admitted, stats.Counts.Admitted)
	}
	if stats.Counts.Waiting != stats.TotalTickets-b.All.Admitted {
		t.Errorf("the server counts %d waiting, want %d tickets - %d admitted", stats.Counts.Waiting, stats.TotalTickets, b.All.Admitted)
	}
	if b.All.Bots > b.Tickets || b.FirstBatch.Bots > b.FirstBatch.Admitted || b.FirstBatch.Bots > b.All.Bots {
		t.Errorf("bots admitted: %d in the first admission, %d in all, of %d with a ticket", b.FirstBatch.Bots, b.All.Bots, b.Tickets)
	}
	if want := min(rep.Batch, stats.TotalTickets); b.FirstBatch.Admitted != want {
		t.Errorf("first admission admitted %d, want %d", b.FirstBatch.Admitted, want)
	}
	for _, s := range []Share{b.FirstBatch, b.All} {
		if got, want := s.Of(), float64(s.Bots)/float64(s.Admitted); got != want {
			t.Errorf("share of %+v = %v, want %v", s, got, want)
		}
	}
	if want := float64(b.Bots) / float64(b.Bots+rep.Fans); math.Abs(b.FairShare-want) > 1e-12 {
		t.Errorf("fair share = %v, want %v", b.FairShare, want)
	}
	if joined := total(b.Joins, false) - total(b.Joins, true); joined != b.Tickets {
		t.Errorf("bots' joins answered 2xx: %d, want one for each of the %d bots with a ticket", joined, b.Tickets)
	}
	if b.Unheard != 0 {
		t.Errorf("%d bot tickets were never heard of, on loopback", b.Unheard)
	}
}

func TestBotsWithoutDefences(t *testing.T) {
	url := newServer(t, nil)
	rep, stats := rehearse(t, url, Config{
		Fans: 200, Concurrency: 20, Batch: 50,
		Bots: 30, BotAddresses: 3, BotConcurrency: 8,
		Arrival: 300 * time.Millisecond,
	})
	checkBotNumbers(t, rep, stats)
	b := rep.Bots
	// Without defences nothing refuses a bot: each bot that tried got its
	// ticket with its one join.
	if b.Refused() != 0 || len(b.Challenges) != 0 || total(b.Joins, false) != b.Tickets || b.Tickets == 0 {
		t.Errorf("bots: challenges %v, joins %v, %d tickets; want no challenges or refusals, a ticket per join",
			b.Challenges, b.Joins, b.Tickets)
	}
}

func TestBotsAgainstChallengeAndRateLimits(t *testing.T) {
	perSecond := func(burst int) waitroom.Limit { return waitroom.Limit{Interval: time.Second, Burst: burst} }
	url := newServer(t, waitroom.Limits{
		waitroom.LimitJoin:      perSecond(5),
		waitroom.LimitChallenge: perSecond(5),
		waitroom.LimitRead:      perSecond(5),
	})
	rep, stats := rehearse(t, url, Config{
		Fans: 150, Concurrency: 20, Batch: 40,
		Bots: 40, BotAddresses: 2, BotConcurrency: 8,
		Challenge: 8, Arrival: time.Second,
	})
	checkBotNumbers(t, rep, stats)
	b := rep.Bots
	limited := 0
	for _, s := range append(b.Challenges, b.Joins...) {
		if s.Status == http.StatusTooManyRequests {
			limited += s.Count
		}
	}
	if limited == 0 {
		t.Errorf("bots got no 429 (challenges %v, joins %v), want some", b.Challenges, b.Joins)
	}
	if rep.Challenges.Count < rep.Fans || rep.Challenges.Errors != 0 {
		t.Errorf("fans asked for %d challenges (%d failed), want at least one a fan and no failures", rep.Challenges.Count, rep.Challenges.Errors)
	}
}

func TestForwardedFor(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- strings.Join(r.Header.Values("X-Forwarded-For"), ",")
	}))
	defer srv.Close()
	hc := withForwardedFor(srv.Client())
	for _, tt := range []struct {
		ctx  context.Context
		want string
	}{
		{fromAddress(t.Context(), fanAddress(0)), "10.0.0.1"},
		{fromAddress(t.Context(), botAddress(3)), "198.18.0.3"},
		{t.Context(), ""},
	} {
		req, _ := http.NewRequestWithContext(tt.ctx, http.MethodGet, srv.URL, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := <-got; h != tt.want {
			t.Errorf("X-Forwarded-For = %q, want %q", h, tt.want)
		}
		if req.Header.Get("X-Forwarded-For") != "" {
			t.Error("the transport changed the caller's request")
		}
	}
}

func TestAddresses(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{fanAddress(0), "10.0.0.1"},
		{fanAddress(255), "10.0.1.0"},
		{fanAddress(fanAddresses - 1), "10.255.255.254"},
		{fanAddress(fanAddresses), "10.0.0.1"},
		{botAddress(0), "198.18.0.0"},
		{botAddress(1<<16 + 2), "198.19.0.2"},
		{botAddress(MaxBotAddresses - 1), "198.19.255.255"},
	} {
		if tt.got != tt.want {
			t.Errorf("address = %s, want %s", tt.got, tt.want)
		}
	}
	for _, tt := range []struct {
		user string
		want int
	}{{"bot-0", 0}, {"bot-9", 9}, {"bot-10", -1}, {"bot-03", -1}, {"bot--1", -1}, {"fan-1", -1}, {"bot-", -1}} {
		if got := botIndex(tt.user, 10); got != tt.want {
			t.Errorf("botIndex(%q, 10) = %d, want %d", tt.user, got, tt.want)
		}
	}
}

// TestBotAdmissions checks how admissions of bots' tickets are judged:
// known, learned from an admission when the bot never heard its answer,
// or unknown.
func TestBotAdmissions(t *testing.T) {
	c := newChecker(2, 3)
	for i, id := range []string{"f0", "f1"} {
		c.joined(i, []joinAttempt{{sent: int64(i * 10), acked: int64(i*10 + 5), ticket: ticket(id, i, "waiting", i+1), created: true}})
	}
	c.bots[0].ticket, c.bots[1].ticket = "b0", "f1" // bot 1 shares fan 1's ticket
	c.index()
	if got := c.sharedTickets.Load(); got != 1 || c.fans[1].state != fanNoTicket || c.bots[1].ticket != "" {
		t.Fatalf("shared tickets = %d (fan 1 %d, bot 1 %q), want 1, both losing it", got, c.fans[1].state, c.bots[1].ticket)
	}
	c.admit([]client.AdmittedTicket{{ID: "b0", UserID: "bot-0"}, {ID: "f0", UserID: "fan-0"}})
	c.admit([]client.AdmittedTicket{
		{ID: "b2", UserID: "bot-2"},   // unheard: bot 2 had no ticket
		{ID: "b0", UserID: "bot-0"},   // twice
		{ID: "x", UserID: "bot-0"},    // bot 0 holds another ticket
		{ID: "b0", UserID: "bot-1"},   // another bot's ticket
		{ID: "y", UserID: "bot-7"},    // no such bot
		{ID: "f1", UserID: "bot-1"},   // the shared ticket is no one's
		{ID: "z", UserID: "stranger"}, // nobody's
	})
	if c.firstBatch != (Share{Admitted: 2, Bots: 1}) {
		t.Errorf("first batch = %+v, want 2 admitted, 1 bot", c.firstBatch)
	}
	if c.botsAdmitted != 2 || c.botsUnheard != 1 || c.admitted != 9 {
		t.Errorf("bots admitted %d, unheard %d, all admitted %d; want 2, 1, 9", c.botsAdmitted, c.botsUnheard, c.admitted)
	}
	if got := c.admittedTwice.Load(); got != 1 {
		t.Errorf("admitted twice = %d, want 1", got)
	}
	if got := c.unknown.Load(); got != 5 {
		t.Errorf("unknown = %d, want 5", got)
	}
	if c.bots[2].rank != 2 || c.fans[0].rank != 1 {
		t.Errorf("ranks: bot 2 %d, fan 0 %d; want 2, 1", c.bots[2].rank, c.fans[0].rank)
	}
}
