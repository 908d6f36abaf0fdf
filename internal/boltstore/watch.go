package boltstore

import (
	"context"
	"sync"
)

// watchers are the channels that Watch handed out, by event ID. A commit
// signals them after applying its effects to memory, so a watcher that
// reads the store on a signal sees the change.
type watchers struct {
	mu     sync.Mutex
	closed bool
	byID   map[string]map[chan struct{}]struct{}
}

// Watch implements queuepass.Store.Watch. Only this process writes the data
// directory, so signals come straight from the writer goroutine, after each
// commit that changed the event.
func (s *Store) Watch(ctx context.Context, eventID string) (<-chan struct{}, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 1)
	w := &s.watchers
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, errClosed
	}
	if w.byID == nil {
		w.byID = make(map[string]map[chan struct{}]struct{})
	}
	set := w.byID[eventID]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		w.byID[eventID] = set
	}
	set[ch] = struct{}{}
	w.mu.Unlock()

	context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		set := w.byID[eventID]
		if _, ok := set[ch]; !ok {
			return // closed by closeAll
		}
		delete(set, ch)
		if len(set) == 0 {
			delete(w.byID, eventID)
		}
		close(ch)
	})
	return ch, nil
}

// signal wakes the watchers of the events in ids, without ever waiting.
func (w *watchers) signal(ids map[string]*eventMeta) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range ids {
		for ch := range w.byID[id] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// closeAll closes every watcher's channel; later Watch calls fail.
func (w *watchers) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for _, set := range w.byID {
		for ch := range set {
			close(ch)
		}
	}
	w.byID = nil
}
