// Package boltstore is the embedded queuepass.Store: one data directory on
// one machine, holding a bbolt file, with the indexes needed for speed
// (line positions, the user index, counts) kept in memory and rebuilt from
// the file at Open.
//
// Every change goes through one writer goroutine that runs all calls queued
// at the time in one bbolt transaction with one fsync (group commit), then
// applies their effects to memory, then answers the callers. So a call that
// returns without error is on disk, and readers never see a change that is
// not: tickets, draws, access codes and spent challenges alike. Token
// buckets (TakeToken) are the exception the contract allows: they are not
// records and live in memory only. Only one process at a time may open a
// data directory.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/queuepass/queuepass"
)

var _ queuepass.Store = (*Store)(nil)

// FileName is the name of the bbolt file in the data directory.
const FileName = "queuepass.db"

// defaultMaxBatch is how many calls one commit carries at most.
const defaultMaxBatch = 1000

// Store is the embedded store. Make one with Open; all its methods are
// safe for concurrent use.
type Store struct {
	db       *bbolt.DB
	maxBatch int

	// closeMu guards closing and sends on ops, so that Close never closes
	// ops under a sender.
	closeMu    sync.RWMutex
	closing    bool
	ops        chan *op
	writerDone chan struct{}

	// mu guards the in-memory state below. Readers hold it shared; the
	// writer holds it exclusively only to apply a committed batch.
	mu      sync.RWMutex
	closed  bool
	events  map[string]*eventMem
	order   []*eventMem   // by meta.Seq: creation order
	txid    int           // the bbolt transaction that memory reflects
	applied chan struct{} // closed (and replaced) whenever txid moves

	watchers watchers
	tokens   tokenBuckets

	// lastSeq is owned by the writer goroutine.
	lastSeq uint64

	// commits counts the batches committed to disk, ops the calls they
	// carried: ops/commits is the group commit's yield.
	commits, committedOps atomic.Int64
}

// eventMem is what memory holds of one event.
type eventMem struct {
	meta  eventMeta
	users map[string]uint64 // user ID → number of the user's live ticket
	line  lineIndex         // waiting slots
}

// options are the knobs tests turn.
type options struct {
	maxBatch int
}

// Open opens the store in the data directory dir, creating both if needed
// (the directory with mode 0700), and rebuilds the in-memory indexes from
// the file. It fails if another process (or another Store in this one) has
// the directory open, with an error that says so.
func Open(dir string) (*Store, error) {
	return open(dir, options{maxBatch: defaultMaxBatch})
}

func open(dir string, o options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: create data directory: %w", err)
	}
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{
		Timeout:        time.Second,
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: data directory %s is in use by another queuepass process: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", dir, err)
	}
	s := &Store{
		db:         db,
		maxBatch:   o.maxBatch,
		ops:        make(chan *op, o.maxBatch),
		writerDone: make(chan struct{}),
		events:     make(map[string]*eventMem),
		applied:    make(chan struct{}),
	}
	s.tokens.init()
	if err := s.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: load %s: %w", dir, err)
	}
	go s.write()
	return s, nil
}

// load creates the top-level buckets if needed and rebuilds memory.
func (s *Store) load() error {
	top := [][]byte{bucketEvents, bucketOrder, bucketIdem, bucketIdemTime}
	missing := false
	if err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range top {
			missing = missing || tx.Bucket(name) == nil
		}
		return nil
	}); err != nil {
		return err
	}
	if missing {
		if err := s.db.Update(func(tx *bbolt.Tx) error {
			for _, name := range top {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		s.txid = tx.ID()
		events := tx.Bucket(bucketEvents)
		return tx.Bucket(bucketOrder).ForEach(func(k, id []byte) error {
			eb := events.Bucket(id)
			if eb == nil {
				return fmt.Errorf("event %q listed but missing", id)
			}
			em, err := loadEvent(eb)
			if err != nil {
				return fmt.Errorf("event %q: %w", id, err)
			}
			s.events[em.meta.ID] = em
			s.order = append(s.order, em)
			s.lastSeq = max(s.lastSeq, em.meta.Seq)
			return nil
		})
	})
}

func loadEvent(eb *bbolt.Bucket) (*eventMem, error) {
	m, err := unmarshalMeta(eb.Get(keyMeta))
	if err != nil {
		return nil, err
	}
	if m.RecentAdmissions, err = unmarshalRecent(eb.Get(keyRecent)); err != nil {
		return nil, err
	}
	c := m.Counts
	em := &eventMem{meta: m, users: make(map[string]uint64, c.Prequeue+c.Waiting+c.Admitted)}
	lc := eb.Bucket(bucketLine).Cursor()
	for k, _ := lc.First(); k != nil; k, _ = lc.Next() {
		em.line.add(keyU64(k))
	}
	err = eb.Bucket(bucketTickets).ForEach(func(k, v []byte) error {
		r, err := unmarshalTicket(v)
		if err != nil {
			return fmt.Errorf("ticket %d: %w", keyU64(k), err)
		}
		if number := keyU64(k); liveStatus(&m, number, r.status).Live() {
			em.users[r.userID] = number
		}
		return nil
	})
	return em, err
}

// Ping reports ErrUnavailable once the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	return nil
}

var errClosed = fmt.Errorf("boltstore: closed: %w", queuepass.ErrUnavailable)

// Close finishes the calls already queued, stops the writer and closes the
// file. Later calls, Close included, fail with ErrUnavailable.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closing {
		s.closeMu.Unlock()
		return errClosed
	}
	s.closing = true
	s.tokens.closed.Store(true)
	close(s.ops)
	s.closeMu.Unlock()
	<-s.writerDone

	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.watchers.closeAll()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// read runs fn under the shared lock in a bbolt read transaction that
// shows exactly the state memory reflects. If the writer has committed a
// batch that it has not applied yet, read waits for it and tries again.
func (s *Store) read(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	for {
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return errClosed
		}
		stale := false
		err := s.db.View(func(tx *bbolt.Tx) error {
			if tx.ID() != s.txid {
				stale = true
				return nil
			}
			return fn(tx)
		})
		applied := s.applied
		s.mu.RUnlock()
		if !stale {
			return err
		}
		select {
		case <-applied:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// op is one mutating call, run by the writer inside a batch.
type op struct {
	ctx context.Context
	// run decides from b's view, writes to b.tx and registers its effects
	// on memory with b.after. It returns a domain error (see isDomain)
	// only before it has written or registered anything.
	run  func(b *batch) error
	err  error
	done chan struct{}
}

// submit queues run for the writer and waits until it is durable and
// applied, or until ctx is done (the call may then still happen).
func (s *Store) submit(ctx context.Context, run func(b *batch) error) error {
	o := &op{ctx: ctx, run: run, done: make(chan struct{})}
	s.closeMu.RLock()
	if s.closing {
		s.closeMu.RUnlock()
		return errClosed
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write is the writer goroutine: it commits whatever is queued, batch by
// batch, until Close closes ops.
func (s *Store) write() {
	defer close(s.writerDone)
	for o := range s.ops {
		ops := []*op{o}
	drain:
		for len(ops) < s.maxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break drain
				}
				ops = append(ops, o)
			default:
				break drain
			}
		}
		s.commit(ops)
	}
}

// errNothingWritten makes bbolt roll back a batch that wrote nothing, to
// save its fsync.
var errNothingWritten = errors.New("nothing written")

// commit runs ops in one transaction, applies their effects and answers
// them. An op that fails for an unexpected reason (not a domain error) is
// answered alone and the others are run again in a fresh transaction.
func (s *Store) commit(ops []*op) {
	for len(ops) > 0 {
		b := newBatch(s)
		bad := -1
		wrote := false
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b.tx = tx
			for i, o := range ops {
				if o.err = o.ctx.Err(); o.err != nil {
					continue
				}
				if o.err = o.run(b); o.err != nil && !isDomain(o.err) {
					bad = i
					return o.err
				}
			}
			if err := b.flush(); err != nil {
				return err
			}
			if st := tx.Stats(); st.GetNodeCount() == 0 {
				return errNothingWritten
			}
			wrote = true
			b.txid = tx.ID()
			return nil
		})
		if bad >= 0 {
			o := ops[bad]
			o.err = fmt.Errorf("boltstore: %w", o.err)
			close(o.done)
			ops = slices.Delete(ops, bad, bad+1)
			continue
		}
		if err != nil && !errors.Is(err, errNothingWritten) {
			for _, o := range ops {
				o.err = fmt.Errorf("boltstore: commit: %w: %w", queuepass.ErrUnavailable, err)
				close(o.done)
			}
			return
		}
		s.apply(b, wrote)
		if wrote {
			s.watchers.signal(b.metas)
			s.commits.Add(1)
			s.committedOps.Add(int64(len(ops)))
		}
		for _, o := range ops {
			close(o.done)
		}
		return
	}
}

// apply makes a committed batch visible: its effects in order, then the
// event records it changed.
func (s *Store) apply(b *batch, wrote bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range b.hooks {
		fn()
	}
	for id := range b.dirty {
		if m, em := b.metas[id], s.events[id]; m != nil && em != nil {
			em.meta = *m
		}
	}
	if wrote {
		s.txid = b.txid
		close(s.applied)
		s.applied = make(chan struct{})
	}
}

// isDomain reports whether err is an answer about the data (not found,
// conflict, …) rather than a failure of the store.
func isDomain(err error) bool {
	var ve *queuepass.ValidationError
	if errors.As(err, &ve) {
		return true
	}
	for _, target := range []error{
		queuepass.ErrEventNotFound, queuepass.ErrEventExists, queuepass.ErrEventClosed,
		queuepass.ErrEventNotOpen, queuepass.ErrInvalidTransition, queuepass.ErrTicketNotFound,
		queuepass.ErrTicketNotWaiting, queuepass.ErrTicketNotAdmitted, queuepass.ErrConflict,
		queuepass.ErrChallengeRequired, queuepass.ErrChallengeFailed, queuepass.ErrAccessDenied,
		queuepass.ErrCodeExists, queuepass.ErrCodeNotFound,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// batch is the writer's view while it runs one batch of ops: the bbolt
// transaction (which already holds the writes of earlier ops) plus an
// overlay of the in-memory state they changed.
type batch struct {
	s     *Store
	tx    *bbolt.Tx
	txid  int                     // the transaction's ID, once it has written
	metas map[string]*eventMeta   // copies of touched events; nil: deleted
	dirty map[string]bool         // events whose meta must be written
	users map[string]*userOverlay // by event ID
	hooks []func()                // effects on memory, in op order
}

// userOverlay is a batch's changes to one event's user index.
type userOverlay struct {
	fresh bool              // memory's index does not apply (event created or closed in this batch)
	live  map[string]uint64 // user → live ticket number; 0: none
}

func newBatch(s *Store) *batch {
	return &batch{
		s:     s,
		metas: make(map[string]*eventMeta),
		dirty: make(map[string]bool),
		users: make(map[string]*userOverlay),
	}
}

// after registers an effect to apply to memory once the batch is durable.
func (b *batch) after(fn func()) { b.hooks = append(b.hooks, fn) }

// event returns the batch's copy of an event's meta, or ErrEventNotFound.
// Changes to it are kept only if the op calls touch.
func (b *batch) event(id string) (*eventMeta, error) {
	if m, ok := b.metas[id]; ok {
		if m == nil {
			return nil, fmt.Errorf("%w: %q", queuepass.ErrEventNotFound, id)
		}
		return m, nil
	}
	em := b.s.events[id] // the writer is the only goroutine that changes events
	if em == nil {
		return nil, fmt.Errorf("%w: %q", queuepass.ErrEventNotFound, id)
	}
	m := em.meta
	b.metas[id] = &m
	return &m, nil
}

// touch marks an event's meta as changed.
func (b *batch) touch(id string) { b.dirty[id] = true }

// bucket returns the event's bucket in the transaction.
func (b *batch) bucket(id string) *bbolt.Bucket {
	return b.tx.Bucket(bucketEvents).Bucket([]byte(id))
}

// live returns the number of the user's live ticket in the event, or 0.
func (b *batch) live(eventID, userID string) uint64 {
	if o := b.users[eventID]; o != nil {
		if n, ok := o.live[userID]; ok || o.fresh {
			return n
		}
	}
	if em := b.s.events[eventID]; em != nil {
		return em.users[userID]
	}
	return 0
}

// setLive records the user's live ticket (0: none) in the batch and, once
// durable, in memory.
func (b *batch) setLive(eventID, userID string, number uint64) {
	o := b.users[eventID]
	if o == nil {
		o = &userOverlay{live: make(map[string]uint64)}
		b.users[eventID] = o
	}
	o.live[userID] = number
	b.after(func() {
		em := b.s.events[eventID]
		if em == nil {
			return
		}
		if number != 0 {
			em.users[userID] = number
		} else {
			delete(em.users, userID)
		}
	})
}

// resetUsers replaces the event's user index with users.
func (b *batch) resetUsers(eventID string, users map[string]uint64) {
	b.users[eventID] = &userOverlay{fresh: true, live: users}
	mem := make(map[string]uint64, len(users))
	for u, n := range users {
		mem[u] = n
	}
	b.after(func() {
		if em := b.s.events[eventID]; em != nil {
			em.users = mem
		}
	})
}

// flush writes the changed event records.
func (b *batch) flush() error {
	for id := range b.dirty {
		m := b.metas[id]
		if m == nil {
			continue
		}
		data, err := m.marshal()
		if err != nil {
			return err
		}
		if err := b.bucket(id).Put(keyMeta, data); err != nil {
			return err
		}
	}
	return nil
}

// CommitStats reports how many batches the store has committed to disk and
// how many calls they carried; their ratio is the yield of group commit.
func (s *Store) CommitStats() (commits, ops int64) {
	return s.commits.Load(), s.committedOps.Load()
}
