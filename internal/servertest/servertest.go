// Package servertest starts a real QueuePass server for the tests of
// packages that talk to one over HTTP (the client, the gate's example, the
// rehearsal, the command line): the embedded store in a temporary
// directory, a fresh signing key, and an httptest listener, all closed when
// the test ends.
package servertest

import (
	"net/http/httptest"
	"testing"

	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/httpapi"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// AdminKey is the admin key of every server Start starts.
const AdminKey = "servertest-admin-key"

// Start serves QueuePass until t ends and returns its base URL. configure,
// if not nil, changes the room's and the server's configuration first.
func Start(t testing.TB, configure func(*waitroom.Config, *httpapi.Config)) string {
	t.Helper()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	roomCfg := waitroom.Config{Store: store, Keys: pass.Generate()}
	cfg := httpapi.Config{AdminKey: AdminKey}
	if configure != nil {
		configure(&roomCfg, &cfg)
	}
	cfg.Room = waitroom.New(roomCfg)
	srv := httptest.NewServer(httpapi.NewServer(cfg))
	t.Cleanup(srv.Close)
	return srv.URL
}
