// Command queuepass runs the QueuePass waiting room (serve), rehearses a
// ticket drop against it over real HTTP (drop), with bots attacking it if
// asked, and checks an event's published pre-queue draw as anyone can
// (verify-draw).
//
//	queuepass serve [--addr 127.0.0.1:8080] [--data ./queuepass-data]
//	queuepass drop --server URL [--server URL ...] --admin-key KEY [--fans 10000] [--concurrency 200] [--batch 500]
//	               [--bots N] [--bot-addresses 4] [--challenge BITS] [--arrival 10s]
//	queuepass verify-draw --server URL --event ID [--ticket ID] [--commitment HEX]
//	queuepass keygen --out FILE
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "queuepass:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for usage errors, 1 for everything else.
func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// errUsage marks errors in how the command was called.
var errUsage = errors.New("usage")

const usage = `QueuePass: a fair virtual waiting room.

Usage:
  queuepass serve [--addr 127.0.0.1:8080] [--data ./queuepass-data]
  queuepass drop --server URL [--server URL ...] --admin-key KEY [--fans 10000] [--concurrency 200] [--batch 500]
                 [--bots N] [--bot-addresses 4] [--challenge BITS] [--arrival 10s]
  queuepass verify-draw --server URL --event ID [--ticket ID] [--commitment HEX]
                                (check an event's pre-queue draw; no admin key needed)
  queuepass keygen --out FILE   (a pass signing key file to share between nodes)

Run "queuepass COMMAND -h" for a command's flags.
`

// run is the whole program: it reads flags and environment, builds what the
// command needs and runs it until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch cmd, rest := args[1], args[2:]; cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "drop":
		return runDrop(ctx, rest, getenv, stdout, stderr)
	case "verify-draw":
		return runVerifyDraw(ctx, rest, stdout, stderr)
	case "keygen":
		return runKeygen(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
}

// envDefault returns the environment variable's value, or def when unset.
func envDefault(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
