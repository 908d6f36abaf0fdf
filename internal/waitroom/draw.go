package waitroom

import (
	"context"
	"sync"
	"time"

	"github.com/queuepass/queuepass"
)

// Draw is a published pre-queue draw (see queuepass.VerifyDraw).
type Draw struct {
	EventID    string
	Commitment [32]byte // queuepass.DrawCommitment(Seed), published since the event was created
	Seed       [32]byte
	DrawnAt    time.Time
	Order      [][32]byte // queuepass.DrawHash of each entrant's ticket ID, in draw order
}

// Draw returns the event's draw, once the event has opened. It fails with
// queuepass.ErrDrawPending while the event is scheduled (the seed is still
// secret), with queuepass.ErrNoDraw for an event that never had a
// pre-queue to draw (created open, or closed before it opened), and with
// queuepass.ErrEventNotFound.
//
// A draw never changes once made, so the room keeps the last few it read:
// a large one (32 bytes an entrant) is read from the store once, not on
// every request.
func (r *Room) Draw(ctx context.Context, eventID string) (Draw, error) {
	ev, err := r.Event(ctx, eventID)
	if err != nil {
		return Draw{}, err
	}
	if ev.DrawnAt.IsZero() {
		if ev.State == queuepass.StateScheduled {
			return Draw{}, queuepass.ErrDrawPending
		}
		return Draw{}, queuepass.ErrNoDraw
	}
	if d, ok := r.draws.get(ev); ok {
		return d, nil
	}
	order, err := r.store.Draw(ctx, eventID)
	if err != nil {
		return Draw{}, err
	}
	d := Draw{EventID: ev.ID, Commitment: queuepass.DrawCommitment(ev.DrawSeed), Seed: ev.DrawSeed, DrawnAt: ev.DrawnAt, Order: order}
	r.draws.put(d)
	return d, nil
}

// drawCacheSize is how many draws a room keeps.
const drawCacheSize = 8

// drawCache keeps the draws last read, evicting the oldest.
type drawCache struct {
	mu    sync.Mutex
	draws []Draw
}

// get returns the cached draw of ev, if it is of this very event (an
// event deleted and made again has another seed).
func (c *drawCache) get(ev queuepass.Event) (Draw, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.draws {
		if d.EventID == ev.ID && d.Seed == ev.DrawSeed && d.DrawnAt.Equal(ev.DrawnAt) {
			return d, true
		}
	}
	return Draw{}, false
}

func (c *drawCache) put(d Draw) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draws = append(c.draws, d)
	if len(c.draws) > drawCacheSize {
		c.draws = c.draws[1:]
	}
}

func (c *drawCache) forget(eventID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.draws[:0]
	for _, d := range c.draws {
		if d.EventID != eventID {
			kept = append(kept, d)
		}
	}
	c.draws = kept
}
