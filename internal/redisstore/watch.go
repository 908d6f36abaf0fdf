package redisstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/queuepass/queuepass"
)

// hub holds a process's subscriptions for Watch: one per watched event,
// however many watchers it has, fanned out in process.
type hub struct {
	mu     sync.Mutex
	closed bool
	subs   map[string]*subscription // by event ID
}

// subscription is the one subscription to an event's channel, and the
// watchers it wakes.
type subscription struct {
	watchers map[chan struct{}]struct{}
	ready    chan struct{} // closed once Redis first confirmed the subscription
	once     sync.Once
	stop     context.CancelFunc
}

// Backoff between attempts to subscribe again after Redis went away.
const (
	minResubscribe = 50 * time.Millisecond
	maxResubscribe = 2 * time.Second
)

// Watch implements queuepass.Store.Watch with Redis pub/sub: every script
// that changes an event publishes on the event's channel, and this process
// holds one subscription per watched event, made by the first watcher and
// dropped with the last. Watch returns once Redis has confirmed the
// subscription. When the connection breaks the store subscribes again,
// with backoff, for as long as there are watchers, and then signals every
// watcher of the event, since changes made meanwhile were not seen.
func (s *Store) Watch(ctx context.Context, eventID string) (<-chan struct{}, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("redisstore: %w: store is closed", queuepass.ErrUnavailable)
	}
	ch := make(chan struct{}, 1)
	h := &s.hub
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, fmt.Errorf("redisstore: %w: store is closed", queuepass.ErrUnavailable)
	}
	if h.subs == nil {
		h.subs = make(map[string]*subscription)
	}
	sub := h.subs[eventID]
	if sub == nil {
		subCtx, stop := context.WithCancel(context.Background())
		sub = &subscription{watchers: make(map[chan struct{}]struct{}), ready: make(chan struct{}), stop: stop}
		h.subs[eventID] = sub
		go s.listen(subCtx, eventID, sub)
	}
	sub.watchers[ch] = struct{}{}
	h.mu.Unlock()

	unwatch := func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := sub.watchers[ch]; !ok {
			return false // the store closed it
		}
		delete(sub.watchers, ch)
		close(ch)
		if len(sub.watchers) == 0 {
			sub.stop()
			if h.subs[eventID] == sub {
				delete(h.subs, eventID)
			}
		}
		return true
	}
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case <-sub.ready:
	case <-ctx.Done():
		unwatch()
		return nil, fmt.Errorf("redisstore: watch %q: %w", eventID, ctx.Err())
	case <-timer.C:
		unwatch()
		return nil, fmt.Errorf("redisstore: watch %q: %w: no subscription within %v", eventID, queuepass.ErrUnavailable, s.timeout)
	}
	context.AfterFunc(ctx, func() { unwatch() })
	return ch, nil
}

// channel is the pub/sub channel of an event's changes (see the scripts'
// changed function).
func (s *Store) channel(eventID string) string { return s.prefix + "qp:{" + eventID + "}:w" }

// listen keeps the subscription of one event until ctx ends.
func (s *Store) listen(ctx context.Context, eventID string, sub *subscription) {
	var cmd rueidis.Completed
	if s.cluster {
		cmd = s.client.B().Ssubscribe().Channel(s.channel(eventID)).Build().Pin()
	} else {
		cmd = s.client.B().Subscribe().Channel(s.channel(eventID)).Build().Pin()
	}
	wake := func() { s.hub.wake(sub) }
	hooked := rueidis.WithOnSubscriptionHook(ctx, func(ps rueidis.PubSubSubscription) {
		if ps.Kind != "subscribe" && ps.Kind != "ssubscribe" {
			return
		}
		first := false
		sub.once.Do(func() { first = true; close(sub.ready) })
		if !first {
			wake() // subscribed again: what happened meanwhile was missed
		}
	})
	backoff := minResubscribe
	for {
		start := time.Now()
		// Receive returns when ctx ends, the client closes, or Redis goes
		// away or refuses; in the last two cases, subscribe again.
		s.client.Receive(hooked, cmd, func(rueidis.PubSubMessage) { wake() })
		if ctx.Err() != nil || s.closed.Load() {
			return
		}
		if time.Since(start) > maxResubscribe {
			backoff = minResubscribe
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxResubscribe)
	}
}

// wake signals every watcher of sub without waiting for any.
func (h *hub) wake(sub *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range sub.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// close ends every subscription and closes every watcher's channel.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, sub := range h.subs {
		sub.stop()
		for ch := range sub.watchers {
			close(ch)
		}
		sub.watchers = nil
	}
	h.subs = nil
}
