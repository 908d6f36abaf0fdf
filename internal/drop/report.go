package drop

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a rehearsal. The invariant counts are each zero
// when the servers keep the API's promises; see the package documentation
// for how each is judged.
type Report struct {
	EventID   string
	Servers   []string
	Fans      int           // fans that joined (or tried to)
	Repeaters int           // fans that sent their join twice
	Rounds    int           // admissions made
	Admitted  int           // fans named by an admission
	Elapsed   time.Duration // from creating the event to the last check

	// How fans waited: admitted by the admin in batches of Batch, or by
	// the event itself at Rate a minute (when positive); polling, or on
	// streams when Streaming.
	Batch     int
	Rate      int
	Streaming bool
	// StreamRestarts counts streams the server ended before the fan was
	// admitted, which the fan then opened again.
	StreamRestarts int

	// Challenge is the proof of work each new ticket cost (leading zero
	// bits; 0: none), and Arrival the window the fans' joins were spread
	// over (0: all sent at once).
	Challenge int
	Arrival   time.Duration
	// RateLimitWaits counts the calls of fans refused with 429 that they
	// sent again after the Retry-After. They are not errors.
	RateLimitWaits int

	// Bots is what the bots did; Bots.Bots is 0 in a rehearsal without
	// them.
	Bots BotReport

	// Estimates compares each fan's estimated_wait_seconds at its join with
	// the wait it really had.
	Estimates EstimateStats

	// LocalPassCheck reports whether passes were also checked on their own,
	// against the JWKS; if not, LocalPassNote says why.
	LocalPassCheck bool
	LocalPassNote  string

	// Invariants.
	FansWithoutOneTicket int   // fans whose join attempts did not yield exactly one ticket ID
	RepeatJoinErrors     int   // fans whose joins made no or several tickets (201), or came back for another user or not waiting
	SharedTickets        int   // ticket IDs handed to more than one fan
	Inversions           int64 // pairs admitted against real-time join order
	PositionRises        int   // reads where a waiting ticket's position rose
	PositionErrors       int   // reads where a position disagreed with the ticket's place in line
	StatusErrors         int   // reads whose status disagreed with the admissions
	AdmittedTwice        int   // tickets named by more than one admission
	NeverAdmitted        int   // fans with a ticket that no admission named
	UnknownAdmitted      int   // admitted tickets that no fan holds
	InvalidPasses        int   // admitted fans whose pass the server did not verify as theirs
	WrongEventAccepted   int   // passes not rejected with wrong_event for another event
	LocalPassFailures    int   // passes that failed the local JWKS check

	// Calls, by kind. A stream call lasts from opening a stream to its
	// first update. Challenges are the fans' requests for proof-of-work
	// challenges (not the solving).
	Join, Challenges, Poll, Admit, Verify, Streams CallStats
}

// BotReport is what the bots of a rehearsal did.
type BotReport struct {
	Bots        int           // bot identities
	Addresses   int           // client addresses they came from
	Concurrency int           // their requests in flight
	Rush        time.Duration // how long they tried: until every fan's join was answered

	Tickets int // bots that got a ticket
	Unheard int // of them, tickets first learned from an admission: the bot's join failed, yet the server made it

	// The tickets add up when ServerTickets, the event's tickets in the
	// server's stats after the rehearsal (-1: unknown), is FanTickets +
	// Tickets.
	FanTickets    int
	ServerTickets int

	// Challenges and Joins count the bots' requests of each kind by the
	// HTTP status of their answers, in order; status 0 counts requests
	// that got no answer.
	Challenges, Joins []StatusCount

	FirstBatch Share   // the first admission that admitted anyone
	All        Share   // every admission of the rehearsal, which ends when no fan waits
	FairShare  float64 // Bots / (Bots + Fans): the share bots would get if they were no faster than fans
}

// StatusCount is how many requests got one HTTP status.
type StatusCount struct {
	Status, Count int
}

// Requests is the number of requests bots sent.
func (b BotReport) Requests() int { return total(b.Challenges, false) + total(b.Joins, false) }

// Refused is the number of bots' requests that got no 2xx answer.
func (b BotReport) Refused() int { return total(b.Challenges, true) + total(b.Joins, true) }

// total sums counts, only those of statuses other than 2xx if refused.
func total(counts []StatusCount, refused bool) int {
	n := 0
	for _, s := range counts {
		if !refused || s.Status < 200 || s.Status > 299 {
			n += s.Count
		}
	}
	return n
}

// Share is how many tickets some admissions admitted, and how many of them
// were bots'.
type Share struct {
	Admitted, Bots int
}

// Of is the bots' share of the admitted tickets, 0 for none.
func (s Share) Of() float64 {
	if s.Admitted == 0 {
		return 0
	}
	return float64(s.Bots) / float64(s.Admitted)
}

// EstimateStats judge the wait estimates: for each fan whose join was
// answered with an estimate and that was seen admitted, the absolute
// relative error |estimate − wait| / max(wait, 1 s), where the wait is
// admitted_at − joined_at as the server reports them (whole seconds, so
// each wait is known to within a second).
type EstimateStats struct {
	Fans              int     // fans with an estimate at join and a known wait
	MedianErr, P90Err float64 // quantiles of the absolute relative error (0.1 is 10%)
	MedianWait        time.Duration
}

// quantileOf returns the q-quantile of xs (nearest rank), 0 for none. It
// sorts xs.
func quantileOf(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	k := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(k, 0), len(xs)-1)]
}

// CallStats describe one kind of call.
type CallStats struct {
	Count, Errors int
	Span          time.Duration // from the start of the first call to the end of the last
	P50, P99, Max time.Duration
	ErrorSamples  []string // the first few errors
}

// PerSecond is the number of calls per second over Span.
func (s CallStats) PerSecond() float64 {
	if s.Span <= 0 {
		return 0
	}
	return float64(s.Count) / s.Span.Seconds()
}

// invariant is one promise the rehearsal checks.
type invariant struct {
	promise    string
	violations int64
	unit       string
}

func (r *Report) invariants() []invariant {
	known := "admissions name only fans' tickets"
	if r.Bots.Bots > 0 {
		known = "admissions name only fans' and bots' tickets"
	}
	return []invariant{
		{"every fan holds exactly one ticket", int64(r.FansWithoutOneTicket), "fans without one ticket"},
		{"a repeated join returns the ticket (200)", int64(r.RepeatJoinErrors), "fans answered wrongly"},
		{"no ticket is shared by two fans", int64(r.SharedTickets), "shared tickets"},
		{"admissions follow line order", r.Inversions, "inversions"},
		{"a waiting position never rises", int64(r.PositionRises), "rises"},
		{"positions are exact", int64(r.PositionErrors), "wrong positions"},
		{"ticket status matches admissions", int64(r.StatusErrors), "wrong statuses"},
		{"no ticket is admitted twice", int64(r.AdmittedTwice), "tickets admitted twice"},
		{"every fan is admitted", int64(r.NeverAdmitted), "fans never admitted"},
		{known, int64(r.UnknownAdmitted), "unknown tickets"},
		{"every pass verifies for its event", int64(r.InvalidPasses), "invalid passes"},
		{"a pass is rejected for another event", int64(r.WrongEventAccepted), "passes accepted elsewhere"},
		{"every pass verifies against the JWKS", int64(r.LocalPassFailures), "passes failing locally"},
	}
}

func (r *Report) calls() []struct {
	kind string
	s    CallStats
} {
	return []struct {
		kind string
		s    CallStats
	}{{"join", r.Join}, {"challenge", r.Challenges}, {"poll", r.Poll}, {"stream", r.Streams}, {"admit", r.Admit}, {"verify", r.Verify}}
}

// OK reports whether every invariant held and every call succeeded.
func (r *Report) OK() bool {
	if r.Fans == 0 {
		return false
	}
	for _, inv := range r.invariants() {
		if inv.violations != 0 {
			return false
		}
	}
	for _, c := range r.calls() {
		if c.s.Errors != 0 {
			return false
		}
	}
	return true
}

// WriteText writes the report for people to read.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Drop rehearsal of event %s on %s\n", r.EventID, strings.Join(r.Servers, ", "))
	fmt.Fprintf(&b, "%d fans (%d joined twice), %d admitted in %d admissions, %s\n",
		r.Fans, r.Repeaters, r.Admitted, r.Rounds, r.Elapsed.Round(time.Millisecond))
	how := fmt.Sprintf("admin admits batches of %d", r.Batch)
	if r.Rate > 0 {
		how = fmt.Sprintf("the event admits %d a minute by itself", r.Rate)
	}
	wait := "polling"
	if r.Streaming {
		wait = fmt.Sprintf("on streams (%d reopened)", r.StreamRestarts)
	}
	fmt.Fprintf(&b, "%s; fans wait %s\n", how, wait)
	var rush []string
	if r.Arrival > 0 {
		rush = append(rush, fmt.Sprintf("fans' joins spread over %s", r.Arrival))
	}
	if r.Challenge > 0 {
		rush = append(rush, fmt.Sprintf("%d bits of proof of work per new ticket", r.Challenge))
	}
	if r.RateLimitWaits > 0 || r.Challenge > 0 || r.Bots.Bots > 0 {
		rush = append(rush, fmt.Sprintf("fans waited out %d %s (429)", r.RateLimitWaits, plural(r.RateLimitWaits, "refusal", "refusals")))
	}
	if len(rush) > 0 {
		fmt.Fprintf(&b, "%s\n", strings.Join(rush, "; "))
	}
	if e := r.Estimates; e.Fans > 0 {
		fmt.Fprintf(&b, "wait estimates at join vs real waits (%d fans, median wait %s): |error| median %.1f%%, p90 %.1f%%\n\n",
			e.Fans, e.MedianWait, 100*e.MedianErr, 100*e.P90Err)
	} else {
		b.WriteString("wait estimates: no fan had an estimate at its join and was admitted\n\n")
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	broken := 0
	for _, inv := range r.invariants() {
		mark := "ok"
		if inv.violations != 0 {
			mark = "FAIL"
			broken++
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d %s\n", mark, inv.promise, inv.violations, inv.unit)
	}
	tw.Flush()
	if !r.LocalPassCheck {
		fmt.Fprintf(&b, "  (passes not checked against the JWKS: %s)\n", r.LocalPassNote)
	}

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  calls\tcount\terrors\tper s\tp50\tp99\tmax\t\n")
	errs := 0
	for _, c := range r.calls() {
		errs += c.s.Errors
		if c.kind == "challenge" && r.Challenge == 0 && c.s.Count == 0 {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%.0f\t%s\t%s\t%s\t\n", c.kind, c.s.Count, c.s.Errors,
			c.s.PerSecond(), fmtDuration(c.s.P50), fmtDuration(c.s.P99), fmtDuration(c.s.Max))
	}
	tw.Flush()
	for _, c := range r.calls() {
		for _, e := range c.s.ErrorSamples {
			fmt.Fprintf(&b, "  %s error: %s\n", c.kind, e)
		}
	}

	if r.Bots.Bots > 0 {
		b.WriteString("\n")
		r.Bots.writeText(&b)
	}

	b.WriteString("\n")
	if r.OK() {
		b.WriteString("OK: every invariant held and every call succeeded\n")
	} else {
		fmt.Fprintf(&b, "FAILED: %d invariants broken, %d calls failed\n", broken, errs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeText writes the bots' section of a report.
func (bt BotReport) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "bots: %d from %d addresses, %d requests in flight, for the %s of the rush; %d got a ticket",
		bt.Bots, bt.Addresses, bt.Concurrency, bt.Rush.Round(time.Millisecond), bt.Tickets)
	if bt.Unheard > 0 {
		fmt.Fprintf(b, " (%d never heard it)", bt.Unheard)
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "  tickets: %d fans' + %d bots' = %d", bt.FanTickets, bt.Tickets, bt.FanTickets+bt.Tickets)
	switch {
	case bt.ServerTickets < 0:
		b.WriteString("; the server's count is unknown\n")
	case bt.ServerTickets == bt.FanTickets+bt.Tickets:
		fmt.Fprintf(b, "; the server counts %d\n", bt.ServerTickets)
	default:
		fmt.Fprintf(b, "; the server counts %d, which does not add up\n", bt.ServerTickets)
	}
	for _, kind := range []struct {
		name   string
		counts []StatusCount
	}{{"challenges", bt.Challenges}, {"joins", bt.Joins}} {
		if kind.name == "challenges" && len(kind.counts) == 0 {
			continue // the event asked for no proof of work
		}
		fmt.Fprintf(b, "  %s: %d sent, %d refused", kind.name, total(kind.counts, false), total(kind.counts, true))
		for i, s := range kind.counts {
			sep := ", "
			if i == 0 {
				sep = "; answers: "
			}
			if s.Status == 0 {
				fmt.Fprintf(b, "%snone %d", sep, s.Count)
			} else {
				fmt.Fprintf(b, "%s%d %s %d", sep, s.Status, http.StatusText(s.Status), s.Count)
			}
		}
		b.WriteString("\n")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  \tadmitted\tbots\tbots' share\tfair share\t\n")
	for _, row := range []struct {
		name string
		s    Share
	}{{"first admission", bt.FirstBatch}, {"all admissions", bt.All}} {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%.1f%%\t%.1f%%\t\n", row.name, row.s.Admitted, row.s.Bots, 100*row.s.Of(), 100*bt.FairShare)
	}
	tw.Flush()
}

// plural is one or many, as n says.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fmtDuration shows a latency with three significant digits or so.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}
