package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/redisstore"
	"github.com/queuepass/queuepass/internal/redistest"
	"github.com/queuepass/queuepass/internal/storetest"
)

// adminClient returns a client for inspecting and cleaning the Redis at
// url, closed at cleanup.
func adminClient(t testing.TB, url string) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(c.Close)
	return c
}

// deleteKeys deletes every key that starts with prefix, on every node.
func deleteKeys(t testing.TB, c rueidis.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	for _, node := range c.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Errorf("SCAN %s*: %v", prefix, err)
				return
			}
			cmds := make(rueidis.Commands, 0, len(e.Elements))
			for _, k := range e.Elements {
				cmds = append(cmds, node.B().Unlink().Key(k).Build())
			}
			for _, r := range node.DoMulti(ctx, cmds...) {
				if err := r.Error(); err != nil {
					t.Errorf("UNLINK: %v", err)
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
}

// newStores returns a storetest factory: each store it makes is opened on
// url under a key prefix of its own, whose keys are deleted at cleanup.
func newStores(t *testing.T, url string) func(t *testing.T) queuepass.Store {
	admin := adminClient(t, url)
	return func(t *testing.T) queuepass.Store {
		s, _ := open(t, url, admin, 1)
		return s
	}
}

// open opens n handles on url sharing one fresh key prefix (n processes'
// view of one store), and returns the first and all of them.
func open(t *testing.T, url string, admin rueidis.Client, n int) (*redisstore.Store, []*redisstore.Store) {
	t.Helper()
	prefix := "qptest:" + rand.Text()[:12] + ":"
	var all []*redisstore.Store
	for range n {
		s, err := redisstore.Open(t.Context(), url, redisstore.WithKeyPrefix(prefix))
		if err != nil {
			t.Fatalf("Open(%s): %v", url, err)
		}
		all = append(all, s)
	}
	t.Cleanup(func() {
		for _, s := range all {
			s.Close()
		}
		deleteKeys(t, admin, prefix)
	})
	return all[0], all
}

func TestConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.Run(t, newStores(t, url))
}

func TestConformanceCluster(t *testing.T) {
	url := redistest.Cluster(t, 3)
	storetest.Run(t, newStores(t, url))
}

// TestConformanceTwoHandles runs the suite on two handles of one store,
// used in turn, as two processes would: every promise, the concurrent ones
// included, holds across handles.
func TestConformanceTwoHandles(t *testing.T) {
	url := redistest.URL(t)
	admin := adminClient(t, url)
	storetest.Run(t, func(t *testing.T) queuepass.Store {
		_, hs := open(t, url, admin, 2)
		return &alternating{handles: [2]queuepass.Store{hs[0], hs[1]}}
	})
}

// alternating is a queuepass.Store that sends each call to the next of
// two handles.
type alternating struct {
	handles [2]queuepass.Store
	calls   atomic.Uint64
}

func (a *alternating) next() queuepass.Store { return a.handles[a.calls.Add(1)%2] }

func (a *alternating) CreateEvent(ctx context.Context, ev queuepass.Event) (queuepass.Event, error) {
	return a.next().CreateEvent(ctx, ev)
}
func (a *alternating) Event(ctx context.Context, id string) (queuepass.Event, error) {
	return a.next().Event(ctx, id)
}
func (a *alternating) Events(ctx context.Context, after string, limit int) ([]queuepass.Event, error) {
	return a.next().Events(ctx, after, limit)
}
func (a *alternating) UpdateEvent(ctx context.Context, ev queuepass.Event, at time.Time) (queuepass.Event, error) {
	return a.next().UpdateEvent(ctx, ev, at)
}
func (a *alternating) DeleteEvent(ctx context.Context, id string) error {
	return a.next().DeleteEvent(ctx, id)
}
func (a *alternating) Draw(ctx context.Context, eventID string) ([][32]byte, error) {
	return a.next().Draw(ctx, eventID)
}
func (a *alternating) Join(ctx context.Context, eventID, userID string, proof queuepass.JoinProof, at time.Time) (queuepass.Ticket, bool, error) {
	return a.next().Join(ctx, eventID, userID, proof, at)
}
func (a *alternating) Ticket(ctx context.Context, eventID, ticketID string) (queuepass.Ticket, error) {
	return a.next().Ticket(ctx, eventID, ticketID)
}
func (a *alternating) Leave(ctx context.Context, eventID, ticketID string, at time.Time) (queuepass.Ticket, error) {
	return a.next().Leave(ctx, eventID, ticketID, at)
}
func (a *alternating) Admit(ctx context.Context, eventID string, count int, at time.Time) (queuepass.Admission, error) {
	return a.next().Admit(ctx, eventID, count, at)
}
func (a *alternating) AdmitPaced(ctx context.Context, eventID string, perMinute int, at time.Time) (queuepass.Admission, error) {
	return a.next().AdmitPaced(ctx, eventID, perMinute, at)
}
func (a *alternating) Complete(ctx context.Context, eventID, ticketID string, quantity int, at time.Time) (queuepass.Ticket, error) {
	return a.next().Complete(ctx, eventID, ticketID, quantity, at)
}
func (a *alternating) Revoke(ctx context.Context, eventID, ticketID string, at time.Time) (queuepass.Ticket, error) {
	return a.next().Revoke(ctx, eventID, ticketID, at)
}
func (a *alternating) Touch(ctx context.Context, eventID, ticketID string, at time.Time) error {
	return a.next().Touch(ctx, eventID, ticketID, at)
}
func (a *alternating) ExpirePasses(ctx context.Context, eventID string, at time.Time) (int, error) {
	return a.next().ExpirePasses(ctx, eventID, at)
}
func (a *alternating) AddCodes(ctx context.Context, eventID string, codes []queuepass.AccessCode) error {
	return a.next().AddCodes(ctx, eventID, codes)
}
func (a *alternating) SetCodeUses(ctx context.Context, eventID, code string, uses int) (queuepass.AccessCode, error) {
	return a.next().SetCodeUses(ctx, eventID, code, uses)
}
func (a *alternating) Codes(ctx context.Context, eventID, after string, limit int) ([]queuepass.AccessCode, error) {
	return a.next().Codes(ctx, eventID, after, limit)
}
func (a *alternating) TakeToken(ctx context.Context, key string, interval time.Duration, burst int, at time.Time) (bool, time.Duration, error) {
	return a.next().TakeToken(ctx, key, interval, burst, at)
}
func (a *alternating) ClaimIdempotencyKey(ctx context.Context, key string, fp [32]byte, at time.Time) (queuepass.IdempotencyRecord, bool, error) {
	return a.next().ClaimIdempotencyKey(ctx, key, fp, at)
}
func (a *alternating) FinishIdempotencyKey(ctx context.Context, key string, resp queuepass.IdempotencyRecord) error {
	return a.next().FinishIdempotencyKey(ctx, key, resp)
}
func (a *alternating) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	return a.next().ReleaseIdempotencyKey(ctx, key)
}
func (a *alternating) PurgeIdempotencyKeys(ctx context.Context, before time.Time) error {
	return a.next().PurgeIdempotencyKeys(ctx, before)
}
func (a *alternating) Watch(ctx context.Context, eventID string) (<-chan struct{}, error) {
	return a.next().Watch(ctx, eventID)
}
func (a *alternating) Ping(ctx context.Context) error { return a.next().Ping(ctx) }
func (a *alternating) Close() error {
	return errors.Join(a.handles[0].Close(), a.handles[1].Close())
}

var base = time.Date(2026, time.December, 3, 18, 0, 0, 0, time.UTC)

func TestTwoHandlesJoinSameUser(t *testing.T) {
	url := redistest.URL(t)
	_, hs := open(t, url, adminClient(t, url), 2)
	ctx := t.Context()
	if _, err := hs[0].CreateEvent(ctx, queuepass.Event{ID: "e", Name: "e", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	const n = 64
	var wg sync.WaitGroup
	ids := make([]string, n)
	created := make([]bool, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			var tk queuepass.Ticket
			tk, created[i], errs[i] = hs[i%2].Join(ctx, "e", "alice", queuepass.JoinProof{}, base)
			ids[i] = tk.ID
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	made := 0
	for i := range n {
		if created[i] {
			made++
		}
		if ids[i] != ids[0] {
			t.Errorf("handles returned tickets %q and %q for one user", ids[0], ids[i])
		}
	}
	if made != 1 {
		t.Errorf("%d concurrent joins of one user on two handles created %d tickets, want 1", n, made)
	}
}

func TestTwoHandlesAdmitMaxActive(t *testing.T) {
	url := redistest.URL(t)
	_, hs := open(t, url, adminClient(t, url), 2)
	ctx := t.Context()
	const capacity, waiting = 50, 200
	if _, err := hs[0].CreateEvent(ctx, queuepass.Event{ID: "e", Name: "e", State: queuepass.StateOpen, MaxActive: capacity, PassTTL: time.Hour, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	var line []string
	for i := range waiting {
		tk, _, err := hs[i%2].Join(ctx, "e", fmt.Sprintf("u%d", i), queuepass.JoinProof{}, base)
		if err != nil {
			t.Fatal(err)
		}
		line = append(line, tk.ID)
	}
	// Admit and complete from both handles until the line is empty; a
	// watcher checks that Admitted never exceeds MaxActive.
	var (
		mu       sync.Mutex
		admitted = map[string]int{}
		order    []string
		errs     []error
		wg       sync.WaitGroup
		done     = make(chan struct{})
	)
	fail := func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	watcher := sync.WaitGroup{}
	watcher.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			ev, err := hs[1].Event(ctx, "e")
			if err != nil {
				fail(err)
				return
			}
			if ev.Counts.Admitted > capacity {
				fail(fmt.Errorf("Admitted = %d > MaxActive %d", ev.Counts.Admitted, capacity))
				return
			}
		}
	})
	for w := range 8 {
		wg.Go(func() {
			h := hs[w%2]
			for range 10 * waiting {
				adm, err := h.Admit(ctx, "e", 7, base.Add(time.Second))
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				for _, tk := range adm.Tickets {
					admitted[tk.ID]++
					order = append(order, tk.ID)
				}
				mu.Unlock()
				for _, tk := range adm.Tickets {
					if _, err := hs[(w+1)%2].Complete(ctx, "e", tk.ID, 1, base.Add(2*time.Second)); err != nil {
						fail(err)
						return
					}
				}
				if adm.Waiting == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	watcher.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, id := range line {
		if admitted[id] != 1 {
			t.Errorf("ticket %d of the line was admitted %d times, want once", i+1, admitted[id])
		}
	}
	ev, err := hs[0].Event(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	if want := (queuepass.Counts{Completed: waiting}); ev.Counts != want {
		t.Errorf("Counts = %+v, want %+v", ev.Counts, want)
	}
}

// TestOneRoundTripPerCall counts, through a counting proxy, the commands
// that N joins (with and without proof), ticket reads, leaves, admissions,
// paced admissions, completions, code additions and listings and token
// takes send: one EVALSHA each, nothing else.
func TestOneRoundTripPerCall(t *testing.T) {
	url, counts := redistest.Proxy(t, redistest.URL(t))
	admin := adminClient(t, redistest.URL(t))
	s, _ := open(t, url, admin, 1)
	ctx := t.Context()
	for _, ev := range []queuepass.Event{
		{ID: "e", Name: "e", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: base},
		{ID: "gated", Name: "gated", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: base,
			ChallengeDifficulty: 8, Access: queuepass.AccessByCode},
	} {
		if _, err := s.CreateEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	proof := func(i int) queuepass.JoinProof {
		return queuepass.JoinProof{Challenge: fmt.Sprintf("ch%d", i), ChallengeExpires: base.Add(time.Minute), Code: fmt.Sprintf("C%d", i)}
	}
	// Run each script once, so that none below pays for loading it.
	tk, _, err := s.Join(ctx, "e", "warm", queuepass.JoinProof{}, base)
	if err != nil {
		t.Fatal(err)
	}
	s.Ticket(ctx, "e", tk.ID)
	s.Admit(ctx, "e", 1, base)
	s.AdmitPaced(ctx, "e", 60, base)
	s.Complete(ctx, "e", tk.ID, 1, base)
	s.Leave(ctx, "e", tk.ID, base)
	s.AddCodes(ctx, "gated", nil)
	s.Codes(ctx, "gated", "", 10)
	s.TakeToken(ctx, "warm", time.Second, 1, base)

	const n = 100
	var tickets []queuepass.Ticket
	steps := []struct {
		name  string
		calls int
		call  func(i int) error
	}{
		{"Join", n, func(i int) error {
			tk, _, err := s.Join(ctx, "e", fmt.Sprintf("u%d", i), queuepass.JoinProof{}, base)
			tickets = append(tickets, tk)
			return err
		}},
		{"Ticket", n, func(i int) error { _, err := s.Ticket(ctx, "e", tickets[i].ID); return err }},
		{"Leave", n / 2, func(i int) error { _, err := s.Leave(ctx, "e", tickets[n-1-i].ID, base); return err }},
		{"Admit", n / 2, func(i int) error { _, err := s.Admit(ctx, "e", 1, base); return err }},
		{"AdmitPaced", n / 2, func(i int) error {
			_, err := s.AdmitPaced(ctx, "e", 60, base.Add(time.Duration(i)*time.Second))
			return err
		}},
		{"Complete", n / 2, func(i int) error { _, err := s.Complete(ctx, "e", tickets[i].ID, 1, base); return err }},
		{"AddCodes", n, func(i int) error {
			return s.AddCodes(ctx, "gated", []queuepass.AccessCode{{Code: proof(i).Code, Uses: 1}})
		}},
		{"Codes", n, func(i int) error { _, err := s.Codes(ctx, "gated", proof(i).Code, 10); return err }},
		{"Join with proof", n, func(i int) error {
			_, created, err := s.Join(ctx, "gated", fmt.Sprintf("u%d", i), proof(i), base)
			if err == nil && !created {
				err = errors.New("no ticket made")
			}
			return err
		}},
		{"TakeToken", n, func(i int) error {
			_, _, err := s.TakeToken(ctx, "client", time.Second, 10, base.Add(time.Duration(i)*time.Millisecond))
			return err
		}},
	}
	for _, st := range steps {
		before := counts()
		for i := range st.calls {
			if err := st.call(i); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		after := counts()
		var total int64
		for cmd, c := range after {
			if cmd != "PING" { // the client's own keepalive
				total += c - before[cmd]
			}
		}
		evalsha := after["EVALSHA"] - before["EVALSHA"]
		t.Logf("%d × %s: %d commands sent, %d of them EVALSHA", st.calls, st.name, total, evalsha)
		if total != int64(st.calls) || evalsha != int64(st.calls) {
			t.Errorf("%d × %s sent %d commands (%d EVALSHA), want %d EVALSHA and nothing else", st.calls, st.name, total, evalsha, st.calls)
		}
	}
}

// TestMemoryPerTicket measures, on a Redis of its own, the memory that
// 100k waiting tickets take (INFO memory used_memory before and after).
func TestMemoryPerTicket(t *testing.T) {
	redistest.URL(t)
	if testing.Short() {
		t.Skip("100k joins; skipped with -short")
	}
	url, _ := redistest.Server(t)
	admin := adminClient(t, url)
	s, _ := open(t, url, admin, 1)
	ctx := t.Context()
	used := func() int64 {
		info, err := admin.Do(ctx, admin.B().Info().Section("memory").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory in INFO memory")
		return 0
	}
	if _, err := s.CreateEvent(ctx, queuepass.Event{ID: "drop-2026", Name: "e", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	before := used()
	var wg sync.WaitGroup
	var failed atomic.Value
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				// User IDs like an app's: 20 characters.
				if _, _, err := s.Join(ctx, "drop-2026", fmt.Sprintf("user-%015d", i), queuepass.JoinProof{}, base.Add(time.Duration(i)*time.Millisecond)); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		t.Fatal(err)
	}
	per := float64(used()-before) / n
	t.Logf("INFO memory: %.0f bytes per waiting ticket (%d tickets, 20-byte user IDs)", per, n)
	// Where it goes, by kind of key (t: records, u: user index, l: line).
	keys, err := admin.Do(ctx, admin.B().Keys().Pattern("*drop-2026*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]int64{}
	for _, k := range keys {
		size, err := admin.Do(ctx, admin.B().MemoryUsage().Key(k).Samples(0).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		_, kind, _ := strings.Cut(k, "}:")
		kind, _, _ = strings.Cut(kind, ":")
		byKind[kind] += size
	}
	t.Logf("MEMORY USAGE per ticket by key kind: t %.1f, u %.1f, l %.1f (%d keys)",
		float64(byKind["t"])/n, float64(byKind["u"])/n, float64(byKind["l"])/n, len(keys))
	for kind := range byKind {
		if kind != "m" && kind != "t" && kind != "u" && kind != "l" {
			t.Errorf("joins made keys of kind %q; a join to an event that asks no proof stores a record, a user and a line entry, nothing else", kind)
		}
	}
	if per > 250 {
		t.Errorf("%.0f bytes per waiting ticket, want at most 250", per)
	}
}

// TestUnavailable checks that a store whose Redis is gone answers
// ErrUnavailable within its timeout, and recovers when Redis is back.
func TestUnavailable(t *testing.T) {
	redistest.URL(t)
	url, kill := redistest.Server(t)
	ctx := t.Context()
	s, err := redisstore.Open(ctx, url, redisstore.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateEvent(ctx, queuepass.Event{ID: "e", Name: "e", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	kill()
	for _, call := range []struct {
		name string
		fn   func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"Join", func() error { _, _, err := s.Join(ctx, "e", "u", queuepass.JoinProof{}, base); return err }},
		{"Event", func() error { _, err := s.Event(ctx, "e"); return err }},
	} {
		begin := time.Now()
		err := call.fn()
		if !errors.Is(err, queuepass.ErrUnavailable) {
			t.Errorf("%s with Redis down: error %v, want ErrUnavailable", call.name, err)
		}
		if d := time.Since(begin); d > 3*time.Second {
			t.Errorf("%s with Redis down took %v, want at most about the 1s timeout", call.name, d)
		}
	}

	// Nothing listens on a port just freed: Open fails with ErrUnavailable.
	if _, err := redisstore.Open(ctx, url, redisstore.WithTimeout(time.Second)); !errors.Is(err, queuepass.ErrUnavailable) {
		t.Errorf("Open with Redis down: error %v, want ErrUnavailable", err)
	}
}

func TestOpenInvalid(t *testing.T) {
	ctx := t.Context()
	for _, tt := range []struct {
		url  string
		opts []redisstore.Option
	}{
		{"http://127.0.0.1:6379", nil},
		{"127.0.0.1:6379", nil},
		{"redis://127.0.0.1:6379/0", []redisstore.Option{redisstore.WithKeyPrefix("a{b")}},
		{"redis://127.0.0.1:6379/0", []redisstore.Option{redisstore.WithTimeout(0)}},
	} {
		if s, err := redisstore.Open(ctx, tt.url, tt.opts...); err == nil {
			s.Close()
			t.Errorf("Open(%q) with %d options: no error, want one", tt.url, len(tt.opts))
		} else if errors.Is(err, queuepass.ErrUnavailable) {
			t.Errorf("Open(%q): %v; want a configuration error, not ErrUnavailable", tt.url, err)
		}
	}
}

// TestOpenInvalidURLHidesPassword: a URL that does not parse is not quoted
// back, since the password is in it.
func TestOpenInvalidURLHidesPassword(t *testing.T) {
	_, err := redisstore.Open(t.Context(), "redis://:MyPa%zzword@127.0.0.1:1/0")
	if err == nil || strings.Contains(err.Error(), "MyPa") || strings.Contains(err.Error(), "zzword") {
		t.Errorf("Open(bad URL with a password) = %v, want an error without the password", err)
	}
}

// TestForeignDataIsNotUnavailability: an error reply that no retry cures
// (here WRONGTYPE, from a key of the store's holding something else) must
// not pass for an outage.
func TestForeignDataIsNotUnavailability(t *testing.T) {
	url := redistest.URL(t)
	admin := adminClient(t, url)
	prefix := "qpforeign:" + rand.Text()[:12] + ":"
	t.Cleanup(func() { deleteKeys(t, admin, prefix) })
	s, err := redisstore.Open(t.Context(), url, redisstore.WithKeyPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := admin.Do(t.Context(), admin.B().Set().Key(prefix+"qp:{e}:m").Value("not a hash").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Join(t.Context(), "e", "u", queuepass.JoinProof{}, time.Now())
	if err == nil || errors.Is(err, queuepass.ErrUnavailable) {
		t.Errorf("Join over a foreign key = %v, want an error that is not ErrUnavailable", err)
	}
}

func benchStore(b *testing.B) (*redisstore.Store, context.Context) {
	url := redistest.URL(b)
	admin := adminClient(b, url)
	prefix := "qpbench:" + rand.Text()[:12] + ":"
	s, err := redisstore.Open(b.Context(), url, redisstore.WithKeyPrefix(prefix))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		deleteKeys(b, admin, prefix)
	})
	ctx := b.Context()
	if _, err := s.CreateEvent(ctx, queuepass.Event{ID: "e", Name: "e", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: base}); err != nil {
		b.Fatal(err)
	}
	return s, ctx
}

// BenchmarkJoin joins new users from parallel goroutines.
func BenchmarkJoin(b *testing.B) {
	s, ctx := benchStore(b)
	var next atomic.Int64
	b.SetParallelism(8) // many requests in flight, as on a busy node
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Join(ctx, "e", "u"+strconv.FormatInt(next.Add(1), 10), queuepass.JoinProof{}, base); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTicket reads the positions of 10k waiting tickets from parallel
// goroutines.
func BenchmarkTicket(b *testing.B) {
	s, ctx := benchStore(b)
	ids := make([]string, 10_000)
	for i := range ids {
		tk, _, err := s.Join(ctx, "e", "u"+strconv.Itoa(i), queuepass.JoinProof{}, base)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = tk.ID
	}
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Ticket(ctx, "e", ids[next.Add(1)%int64(len(ids))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
