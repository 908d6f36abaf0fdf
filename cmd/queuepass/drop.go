package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/drop"
)

// stringList is a flag that may be given several times.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// errInvariant reports a rehearsal whose checks failed.
var errInvariant = errors.New("drop rehearsal: an invariant failed")

func runDrop(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("drop", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var servers stringList
	fset.Var(&servers, "server", "base URL of a QueuePass server, e.g. http://127.0.0.1:8080 (repeat for several nodes)")
	adminKey := fset.String("admin-key", getenv("QUEUEPASS_ADMIN_KEY"), "admin key (env QUEUEPASS_ADMIN_KEY)")
	fans := fset.Int("fans", drop.DefaultFans, "fans that join")
	concurrency := fset.Int("concurrency", drop.DefaultConcurrency, "requests in flight at once")
	batch := fset.Int("batch", drop.DefaultBatch, "tickets per admission (1..10000)")
	rate := fset.Int("rate", 0, "steady-rate rehearsal: the event admits this many a minute by itself, instead of the admin in batches")
	stream := fset.Bool("stream", false, "fans wait on server-sent update streams instead of polling")
	bots := fset.Int("bots", 0, "bots that attack the rush: they join as fast as they can from few addresses and retry at once on any refusal")
	botAddresses := fset.Int("bot-addresses", drop.DefaultBotAddresses, fmt.Sprintf("client addresses the bots come from (1..%d)", drop.MaxBotAddresses))
	botConcurrency := fset.Int("bot-concurrency", drop.DefaultBotConcurrency, "bots' requests in flight at once")
	challenge := fset.Int("challenge", 0, fmt.Sprintf("proof of work per new ticket: the event's challenge_difficulty in leading zero bits (0..%d; 0: none)", queuepass.MaxChallengeDifficulty))
	arrival := fset.Duration("arrival", 0, "spread the fans' joins at random over this window (e.g. 10s) instead of sending them all at once")
	if err := fset.Parse(args); err != nil {
		return err
	}
	switch {
	case len(servers) == 0:
		return fmt.Errorf("%w: drop needs at least one --server URL", errUsage)
	case *adminKey == "":
		return fmt.Errorf("%w: drop needs --admin-key (or QUEUEPASS_ADMIN_KEY)", errUsage)
	case *fans < 1 || *concurrency < 1 || *batch < 1 || *batch > 10000:
		return fmt.Errorf("%w: --fans and --concurrency must be positive, --batch 1..10000", errUsage)
	case *rate < 0 || *rate > 1_000_000:
		return fmt.Errorf("%w: --rate must be 0..1000000", errUsage)
	case *bots < 0 || *bots > 1_000_000:
		return fmt.Errorf("%w: --bots must be 0..1000000", errUsage)
	case *bots > 0 && *rate > 0:
		return fmt.Errorf("%w: --bots needs admissions by the admin: leave out --rate", errUsage)
	case *botAddresses < 1 || *botAddresses > drop.MaxBotAddresses || *botConcurrency < 1:
		return fmt.Errorf("%w: --bot-addresses must be 1..%d, --bot-concurrency positive", errUsage, drop.MaxBotAddresses)
	case *challenge < 0 || *challenge > queuepass.MaxChallengeDifficulty:
		return fmt.Errorf("%w: --challenge must be 0..%d", errUsage, queuepass.MaxChallengeDifficulty)
	case *arrival < 0 || *arrival > drop.MaxArrival:
		return fmt.Errorf("%w: --arrival must be 0..%v", errUsage, drop.MaxArrival)
	case fset.NArg() > 0:
		return fmt.Errorf("%w: drop takes no arguments, got %q", errUsage, fset.Args())
	}
	f, isFile := stderr.(*os.File)
	report, err := drop.Run(ctx, drop.Config{
		Servers:        servers,
		AdminKey:       *adminKey,
		Fans:           *fans,
		Concurrency:    *concurrency,
		Batch:          *batch,
		Rate:           *rate,
		Stream:         *stream,
		Bots:           *bots,
		BotAddresses:   *botAddresses,
		BotConcurrency: *botConcurrency,
		Challenge:      *challenge,
		Arrival:        *arrival,
		Progress:       stderr,
		Interactive:    isFile && term.IsTerminal(int(f.Fd())),
	})
	if report != nil {
		if werr := report.WriteText(stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if !report.OK() {
		return errInvariant
	}
	return nil
}
