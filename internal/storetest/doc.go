// Package storetest is the conformance suite for queuepass.Store: every
// promise made in the Store doc comments, and the store-level rules of the
// HTTP API contract, turned into checks that any backend must pass.
//
// A backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) queuepass.Store {
//			s, err := boltstore.Open(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run calls newStore once per subtest, from that subtest's goroutine and
// with its *testing.T, and needs an empty store each time. Subtests run in
// parallel, so stores made by one newStore must not share state (use
// t.TempDir, or a separate Redis database or key prefix per call). The
// backend releases the store in a t.Cleanup it registers; the suite may
// already have called Close (to check that later calls fail with
// ErrUnavailable), so that cleanup must tolerate a second Close or ignore
// its error.
//
// Where the Store doc leaves a choice open (whether a refused Admit or
// Complete expires passes that ran out), the suite accepts either. It does
// read ticket IDs with queuepass.ParseTicketID, which the ID format
// requires, to forge IDs with a valid number and a wrong secret.
//
// The suite never sleeps and never reads the clock: every time it hands a
// store is a fixed base time plus whole seconds, which is also all the
// precision it expects stores to keep. Run with -short for a smaller
// randomized model test and smaller concurrent loads.
//
// Backend tests add only what the contract cannot say, such as that data
// survives a reopen.
package storetest
