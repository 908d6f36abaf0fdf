package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/queuepass/queuepass/internal/pass"
)

// MinRefreshInterval is the least time between two fetches of the JWK Set.
// A pass with an unknown kid triggers a fetch only when the last one
// started at least this long ago; until then it is refused.
const MinRefreshInterval = 30 * time.Second

// MaxKeyAge is how long fetched keys are used before they are fetched
// again, so that a key QueuePass stops publishing stops being trusted. If
// that fetch fails, the keys in hand stay in use.
const MaxKeyAge = time.Hour

const (
	fetchTimeout = 10 * time.Second // bounds each fetch, whatever the client
	maxJWKSBytes = 1 << 20
)

// newHTTPClient returns the client that fetches keys when Config has none.
func newHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: fetchTimeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: fetchTimeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   1,
		},
	}
}

// keysUnavailableError refuses a pass because no keys could be had yet.
type keysUnavailableError struct{ err error }

func (e keysUnavailableError) Error() string { return "no keys to verify passes: " + e.err.Error() }
func (e keysUnavailableError) Unwrap() error { return e.err }

// keySource holds the keys that verify passes: fixed ones, or ones fetched
// from a JWK Set URL and fetched again when they age or a pass names a key
// they lack. It is safe for concurrent use.
//
// A fetch runs in the goroutine of the request that needs it, detached
// from that request's cancellation and bounded by fetchTimeout; requests
// that need keys meanwhile wait for it (or for their own context) instead
// of starting another.
type keySource struct {
	url string // "": the keys in v are fixed
	hc  *http.Client
	log *slog.Logger

	mu        sync.Mutex
	v         *pass.Verifier // nil until the first successful fetch
	fetchedAt time.Time      // of v
	startedAt time.Time      // of the last fetch, successful or not
	inflight  *fetch         // the running fetch, or nil
}

// fetch is one fetch of the JWK Set. v and err are set before done closes.
type fetch struct {
	done chan struct{}
	v    *pass.Verifier
	err  error
}

func staticKeys(v *pass.Verifier) *keySource { return &keySource{v: v} }

func fetchedKeys(url string, hc *http.Client, log *slog.Logger) *keySource {
	return &keySource{url: url, hc: hc, log: log}
}

// verify checks token as a pass for eventID at now with the keys, fetching
// keys first if there are none or they are older than MaxKeyAge, and again
// if the pass names an unknown key. Its errors are *pass.VerifyError, or
// keysUnavailableError when there are no keys at all.
func (k *keySource) verify(ctx context.Context, token, eventID string, now time.Time) (Claims, error) {
	v, err := k.current(ctx, now)
	if err != nil {
		return Claims{}, err
	}
	c, err := v.Verify(token, eventID, now)
	var ve *pass.VerifyError
	if k.url != "" && errors.As(err, &ve) && ve.Reason == pass.ReasonUnknownKey {
		if nv, ferr := k.refresh(ctx, now, v, true); ferr == nil && nv != v {
			c, err = nv.Verify(token, eventID, now)
		}
	}
	if err != nil {
		return Claims{}, err
	}
	return Claims(c), nil
}

// current returns the keys to verify with at now.
func (k *keySource) current(ctx context.Context, now time.Time) (*pass.Verifier, error) {
	k.mu.Lock()
	v, fresh := k.v, k.url == "" || (k.v != nil && now.Sub(k.fetchedAt) < MaxKeyAge)
	k.mu.Unlock()
	if fresh {
		return v, nil
	}
	// Without keys, wait for them; with old keys, let one request fetch
	// while the others go on with the old keys.
	nv, err := k.refresh(ctx, now, v, v == nil)
	if nv == nil {
		if err == nil {
			err = errors.New("no keys fetched")
		}
		return nil, keysUnavailableError{err}
	}
	return nv, nil
}

// errTooSoon refuses a fetch within MinRefreshInterval of the last one.
var errTooSoon = errors.New("last fetch of keys was less than " + MinRefreshInterval.String() + " ago")

// refresh returns newer keys than seen: those another request fetched
// since, or those of a fetch it joins (if wait) or starts. It returns the
// current keys with an error if a fetch is not allowed yet or fails.
func (k *keySource) refresh(ctx context.Context, now time.Time, seen *pass.Verifier, wait bool) (*pass.Verifier, error) {
	k.mu.Lock()
	if k.v != seen {
		v := k.v
		k.mu.Unlock()
		return v, nil
	}
	if f := k.inflight; f != nil {
		k.mu.Unlock()
		if !wait {
			return seen, nil
		}
		select {
		case <-f.done:
			return f.v, f.err
		case <-ctx.Done():
			return seen, ctx.Err()
		}
	}
	if !k.startedAt.IsZero() && now.Sub(k.startedAt) < MinRefreshInterval {
		k.mu.Unlock()
		return seen, errTooSoon
	}
	f := &fetch{done: make(chan struct{})}
	k.inflight, k.startedAt = f, now
	k.mu.Unlock()

	v, err := k.fetch(context.WithoutCancel(ctx))

	k.mu.Lock()
	if err == nil {
		k.v, k.fetchedAt = v, now
		k.log.Info("gate: fetched keys", "url", k.url)
	} else {
		v = seen
		k.log.Warn("gate: fetching keys failed", "url", k.url, "err", err)
	}
	k.inflight = nil
	k.mu.Unlock()
	f.v, f.err = v, err
	close(f.done)
	return v, err
}

// fetch gets and parses the JWK Set.
func (k *keySource) fetch(ctx context.Context) (*pass.Verifier, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("gate: fetch keys: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gate: fetch keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("gate: fetch keys: %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("gate: fetch keys: %w", err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("gate: fetch keys: JWK Set larger than %d bytes", maxJWKSBytes)
	}
	v, err := pass.ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("gate: fetch keys: %w", err)
	}
	return v, nil
}
