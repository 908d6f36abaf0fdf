package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/queuepass/queuepass/internal/pass"
)

// runKeygen makes a pass signing key file (mode 0600) for nodes to share
// with --pass-key-file. It never overwrites a file.
func runKeygen(args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("out", "", "the key file to create")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *out == "" || fset.NArg() > 0 {
		return fmt.Errorf("%w: keygen needs --out FILE and nothing else", errUsage)
	}
	if _, err := os.Stat(*out); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s already exists (or cannot be checked: %v); keygen never overwrites a key file", *out, err)
	}
	keys, created, err := pass.LoadOrCreate(*out)
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("%s appeared while keygen ran; left as it is", *out)
	}
	fmt.Fprintf(stdout, "wrote %s (key id %s); give every node --pass-key-file %s\n", *out, keys.SigningKeyID(), *out)
	return nil
}
