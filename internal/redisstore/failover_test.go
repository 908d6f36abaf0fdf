package redisstore_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/redisstore"
	"github.com/queuepass/queuepass/internal/redistest"
)

// TestClusterFailover kills, with SIGKILL, the master that serves an event
// while users join it from several goroutines, on a Redis Cluster of three
// masters with one replica each (AOF, appendfsync always). It checks that
// every call during the failover either succeeds or fails promptly with
// ErrUnavailable, that the same Store serves joins again once the replica
// is promoted, and that no user ends up with two live tickets. Acknowledged
// joins that the replica had not received when its master died are lost:
// replication is asynchronous. The test logs how many, without judging.
func TestClusterFailover(t *testing.T) {
	const (
		timeout = time.Second     // the store's call timeout
		margin  = 1 * time.Second // slack for a loaded machine and -race
		joiners = 4
		before  = 100 // acknowledged joins to make before the kill
		after   = 100 // and after it
		eventID = "failover"
	)
	c := redistest.ClusterWithReplicas(t, 3, 1, "--appendonly", "yes", "--appendfsync", "always")
	ctx := t.Context()
	s, err := redisstore.Open(ctx, c.URL, redisstore.WithTimeout(timeout))
	if err != nil {
		t.Fatalf("Open(%s): %v", c.URL, err)
	}
	defer s.Close()
	ev := queuepass.Event{ID: eventID, Name: eventID, State: queuepass.StateOpen, PassTTL: time.Hour, CreatedAt: base}
	if _, err := s.CreateEvent(ctx, ev); err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	c.WaitReplicated(t) // the event itself survives the failover

	j := &joinLog{acked: map[string]ack{}, attempted: map[string]bool{}, errs: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopJoiners := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopJoiners()
	for g := range joiners {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("joiner %d panicked: %v", g, p)
				}
			}()
			retry := time.NewTimer(0)
			defer retry.Stop()
			for i := 0; ; {
				select {
				case <-stop:
					return
				case <-retry.C:
				}
				user := fmt.Sprintf("u%d-%d", g, i)
				j.attempt(user)
				begin := time.Now()
				tk, _, err := s.Join(ctx, eventID, user, queuepass.JoinProof{}, begin)
				d := time.Since(begin)
				j.done(user, begin, d, tk, err)
				switch {
				case d > timeout+margin:
					t.Errorf("Join(%q) took %v (error %v), want at most %v", user, d, err, timeout+margin)
				case err != nil && !errors.Is(err, queuepass.ErrUnavailable):
					t.Errorf("Join(%q) = %v, want success or ErrUnavailable", user, err)
				}
				if err == nil {
					i++ // else retry the same user: the failed join may have happened
					retry.Reset(0)
				} else {
					retry.Reset(10 * time.Millisecond) // back off, like a client would
				}
			}
		})
	}

	waitUntil(t, 20*time.Second, fmt.Sprintf("%d joins before the kill", before), func() bool {
		return j.count(false) >= before
	})
	key := "qp:{" + eventID + "}:m"
	master := c.MasterOf(t, key)
	killedAt := time.Now()
	c.Kill(t, master)
	j.killed(time.Now())
	newMaster := c.Failover(t, key, master, 30*time.Second)
	failedOver := time.Since(killedAt)
	waitUntil(t, 30*time.Second, fmt.Sprintf("%d joins begun after the kill", after), func() bool {
		return j.count(true) >= after
	})
	waitUntil(t, 10*time.Second, "Ping to succeed", func() bool { return s.Ping(ctx) == nil })
	stopJoiners()
	if t.Failed() {
		return
	}

	// Every user the joiners tried now has exactly one live ticket: joining
	// again returns it, or a new one if the acknowledged ticket was lost.
	users := j.users()
	var lost []string
	positions := make([]int, 0, len(users))
	for _, user := range users {
		tk, created, err := s.Join(ctx, eventID, user, queuepass.JoinProof{}, time.Now())
		if err != nil {
			t.Fatalf("Join(%q) after the failover: %v", user, err)
		}
		a, acked := j.acked[user]
		switch {
		case !acked:
			// Never acknowledged: made or not, there is one ticket now.
		case !created && tk.ID == a.id:
			// Kept.
		case created && !a.afterKill:
			lost = append(lost, user)
			if _, err := s.Ticket(ctx, eventID, a.id); !errors.Is(err, queuepass.ErrTicketNotFound) {
				t.Errorf("Ticket(%q) of %s, lost in the failover = %v, want ErrTicketNotFound", a.id, user, err)
			}
		case created:
			t.Errorf("Join(%q) made a new ticket; its join acknowledged after the kill was lost", user)
		default:
			t.Errorf("Join(%q) = ticket %s, want the acknowledged %s or a new one", user, tk.ID, a.id)
		}
		positions = append(positions, tk.Position)
	}
	got, err := s.Event(ctx, eventID)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if got.Counts.Waiting != len(users) || got.Counts.Total() != len(users) {
		t.Errorf("Counts = %+v, want %d waiting tickets, one per user, and nothing else", got.Counts, len(users))
	}
	slices.Sort(positions)
	for i, p := range positions {
		if p != i+1 {
			t.Errorf("positions of the users' tickets, sorted, are %v…, want 1..%d", positions[:i+1], len(users))
			break
		}
	}

	t.Logf("errors during the failover: %v", j.errs)
	t.Logf("store opened on %s; killed master %s; %s took over after %v (cluster-node-timeout %v)", c.URL, master, newMaster, failedOver.Round(time.Millisecond), redistest.NodeTimeout)
	t.Logf("first join begun after the kill succeeded %v after it", j.firstAfter.Sub(killedAt).Round(time.Millisecond))
	t.Logf("%d joins acknowledged before the kill, %d lost in the failover %v; %d acknowledged after; %d calls failed with ErrUnavailable; slowest call %v",
		j.count(false), len(lost), lost, j.count(true), j.unavailable, j.slowest.Round(time.Millisecond))
}

// joinLog records what the joiners of TestClusterFailover were told.
type joinLog struct {
	mu          sync.Mutex
	killedAt    time.Time       // zero until the kill
	attempted   map[string]bool // every user a joiner called Join for
	acked       map[string]ack  // by user
	firstAfter  time.Time       // when the first join begun after the kill succeeded
	unavailable int             // calls that failed with ErrUnavailable
	errs        map[string]int  // their messages, counted
	slowest     time.Duration   // the longest call
	nAcked      [2]int          // acknowledged joins begun before, after the kill
}

// ack is an acknowledged join.
type ack struct {
	id        string // ticket ID
	afterKill bool   // begun after the master was dead
}

func (j *joinLog) attempt(user string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.attempted[user] = true
}

func (j *joinLog) done(user string, begin time.Time, d time.Duration, tk queuepass.Ticket, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.slowest = max(j.slowest, d)
	if err != nil {
		if errors.Is(err, queuepass.ErrUnavailable) {
			j.unavailable++
			j.errs[err.Error()]++
		}
		return
	}
	afterKill := !j.killedAt.IsZero() && begin.After(j.killedAt)
	if afterKill && j.firstAfter.IsZero() {
		j.firstAfter = begin.Add(d)
	}
	j.acked[user] = ack{id: tk.ID, afterKill: afterKill}
	if afterKill {
		j.nAcked[1]++
	} else {
		j.nAcked[0]++
	}
}

func (j *joinLog) killed(at time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.killedAt = at
}

// count returns the number of acknowledged joins begun before the kill, or
// after it.
func (j *joinLog) count(afterKill bool) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if afterKill {
		return j.nAcked[1]
	}
	return j.nAcked[0]
}

// users returns every user a joiner tried, sorted.
func (j *joinLog) users() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for u := range j.attempted {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// waitUntil polls cond until it holds, or fails the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
