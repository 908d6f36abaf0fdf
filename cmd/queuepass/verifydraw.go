package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
)

// errDrawCheck reports a draw that failed a check.
var errDrawCheck = errors.New("verify-draw: the draw failed a check")

// errDrawPending reports an event whose draw is not made yet.
var errDrawPending = errors.New("verify-draw: the event has not opened yet, so its draw is not made")

// runVerifyDraw checks an opened event's published draw as anyone can,
// without the admin key: that the seed is the one the event committed to
// (and the one the user noted before opening, with --commitment), and that
// the order is exactly what the seed gives for its entrants; with
// --ticket, it finds the ticket's place. It prints one line per check and
// fails with errDrawCheck if any fails.
func runVerifyDraw(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("verify-draw", flag.ContinueOnError)
	fset.SetOutput(stderr)
	server := fset.String("server", "", "base URL of the QueuePass server, e.g. https://queue.example.com")
	eventID := fset.String("event", "", "ID of the event whose draw to check")
	ticketID := fset.String("ticket", "", "your ticket ID: says your place in the draw (or that it joined after it), and fails if a ticket from before opening is not in it")
	noted := fset.String("commitment", "", "the event's draw commitment (64 hex digits) as you noted it before the event opened")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if u, err := url.Parse(*server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: verify-draw needs --server with an http(s) URL", errUsage)
	}
	var want []byte
	if *noted != "" {
		b, err := hex.DecodeString(strings.TrimSpace(*noted))
		if err != nil || len(b) != 32 {
			return fmt.Errorf("%w: --commitment must be 64 hex digits (a SHA-256)", errUsage)
		}
		want = b
	}
	switch {
	case *eventID == "":
		return fmt.Errorf("%w: verify-draw needs --event ID", errUsage)
	case fset.NArg() > 0:
		return fmt.Errorf("%w: verify-draw takes no arguments, got %q", errUsage, fset.Args())
	}

	c := client.New(*server, client.WithUserAgent("queuepass-verify-draw"))
	ev, err := c.GetEvent(ctx, *eventID)
	if err != nil {
		return fmt.Errorf("verify-draw: event %s: %w", *eventID, err)
	}
	d, err := c.Draw(ctx, *eventID)
	if errors.Is(err, queuepass.ErrEventNotOpen) && ev.Draw != nil {
		fmt.Fprintf(stdout, "Event %s has not opened yet: its pre-queue is drawn at opening.\n"+
			"Note its commitment now, and check the draw once it has opened with --commitment %s\n", ev.ID, ev.Draw.Commitment)
		return errDrawPending
	}
	if err != nil {
		return fmt.Errorf("verify-draw: draw of event %s: %w", *eventID, err)
	}

	// A ticket that is not in the draw may have joined after it: only the
	// pre-queue is drawn. Its join time tells (zero when it cannot be read).
	var joined time.Time
	if *ticketID != "" && d.Place(*ticketID) == 0 {
		if tk, err := c.Ticket(ctx, *eventID, *ticketID); err == nil {
			joined = tk.JoinedAt
		}
	}
	checks := checkDraw(ev, d, want, *ticketID, joined)
	var b strings.Builder
	fmt.Fprintf(&b, "Draw of event %s on %s: %d entrants, drawn at %s\n", d.EventID, *server, d.Entrants, d.DrawnAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "seed:       %s\ncommitment: %s\nalgorithm:  %s\n\n", d.Seed, d.Commitment, d.Algorithm)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	failed := 0
	for _, ch := range checks {
		mark := "ok"
		if !ch.ok {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, ch.promise, ch.detail)
	}
	tw.Flush()
	b.WriteString("\n")
	if failed == 0 {
		b.WriteString("OK: the seed is the one committed to before the event opened, and the order is the one it gives\n")
	} else {
		fmt.Fprintf(&b, "FAILED: %d of %d checks\n", failed, len(checks))
	}
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return err
	}
	if failed > 0 {
		return errDrawCheck
	}
	return nil
}

// drawCheck is the outcome of one check of a draw.
type drawCheck struct {
	ok      bool
	promise string
	detail  string
}

// checkDraw checks draw d of event ev: that it is ev's, the seed against
// the draw's commitment, the draw's commitment against the event's, the
// seed against the commitment the user noted (want, if not nil), the order
// against the seed (client.Draw.Verify), and the place of ticketID (if not
// ""), which joined at joined (zero if unknown): a ticket that joined
// after the draw (in a later second: the API's times are whole seconds)
// was never in it.
func checkDraw(ev client.Event, d client.Draw, want []byte, ticketID string, joined time.Time) []drawCheck {
	var checks []drawCheck
	add := func(ok bool, promise, detail string) {
		checks = append(checks, drawCheck{ok, promise, detail})
	}

	if d.EventID == ev.ID {
		add(true, "the draw is of this event", ev.ID)
	} else {
		add(false, "the draw is of this event", fmt.Sprintf("it says it is of event %q", d.EventID))
	}

	seed, seedErr := hex.DecodeString(d.Seed)
	var sum [32]byte
	if seedErr == nil && len(seed) == 32 {
		sum = queuepass.DrawCommitment([32]byte(seed))
	} else {
		seedErr = fmt.Errorf("the seed %q is not 32 bytes of hex", d.Seed)
	}
	seedCommitment := hex.EncodeToString(sum[:])
	switch {
	case seedErr != nil:
		add(false, "the seed matches the published commitment", seedErr.Error())
	case strings.EqualFold(seedCommitment, d.Commitment):
		add(true, "the seed matches the published commitment", "SHA-256(seed) = "+short(seedCommitment))
	default:
		add(false, "the seed matches the published commitment", fmt.Sprintf("SHA-256(seed) = %s, the draw says %s", short(seedCommitment), short(d.Commitment)))
	}

	switch {
	case ev.Draw == nil:
		add(false, "the event publishes that commitment", "the event shows no draw")
	case strings.EqualFold(ev.Draw.Commitment, d.Commitment):
		add(true, "the event publishes that commitment", short(ev.Draw.Commitment))
	default:
		add(false, "the event publishes that commitment", fmt.Sprintf("the event shows %s", short(ev.Draw.Commitment)))
	}

	if want != nil {
		noted := hex.EncodeToString(want)
		switch {
		case seedErr != nil:
			add(false, "the seed matches the commitment you noted", seedErr.Error())
		case noted == seedCommitment:
			add(true, "the seed matches the commitment you noted", short(noted))
		default:
			add(false, "the seed matches the commitment you noted", fmt.Sprintf("SHA-256(seed) = %s, you noted %s", short(seedCommitment), short(noted)))
		}
	}

	// The order is checked against the seed alone: the commitment has
	// its own lines above.
	bySeed := d
	bySeed.Commitment = seedCommitment
	if err := bySeed.Verify(); err != nil {
		detail := strings.TrimPrefix(err.Error(), "client: ")
		detail = strings.TrimPrefix(detail, queuepass.ErrDrawOrder.Error()+": ")
		add(false, "the order is the one the seed gives", detail)
	} else {
		add(true, "the order is the one the seed gives", fmt.Sprintf("%d entrants", len(d.Order)))
	}

	if ticketID != "" {
		switch place := d.Place(ticketID); {
		case place > 0:
			add(true, "your ticket is in the draw", fmt.Sprintf("place %d of %d", place, len(d.Order)))
		case joined.After(d.DrawnAt):
			add(true, "your ticket joined after the draw", fmt.Sprintf("at %s; only tickets from before opening are drawn, and later ones queue behind them",
				joined.UTC().Format(time.RFC3339)))
		default:
			add(false, "your ticket is in the draw", fmt.Sprintf("it is not among the %d entrants", len(d.Order)))
		}
	}
	return checks
}

// short abbreviates a hex hash for a report line.
func short(h string) string {
	if len(h) <= 16 {
		return h
	}
	return h[:16] + "…"
}
