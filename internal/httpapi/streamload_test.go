package httpapi_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/queuepass/queuepass/internal/httpapi"
)

// TestStreamFanout measures, without asserting on time, how one node
// serves many event streams over loopback: N streams open, one admission
// of everyone, and the delay until the last stream saw its update; memory
// (HeapInuse) and goroutines per open stream. Client and server share the
// process, so the per-stream figures include the client's side. N comes
// from QUEUEPASS_STREAMS (default 200); for the README's numbers:
//
//	ulimit -n 65536
//	QUEUEPASS_STREAMS=10000 go test -run TestStreamFanout -v ./internal/httpapi/
func TestStreamFanout(t *testing.T) {
	n := 200
	if s := os.Getenv("QUEUEPASS_STREAMS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("QUEUEPASS_STREAMS=%q: want a positive number", s)
		}
	}
	a := newAPIWith(t, func(*httpapi.Config) {})
	ev := a.createEvent(map[string]any{"name": "Fanout"})
	ids := make([]string, n)
	for i := range ids {
		ids[i] = a.join(ev, fmt.Sprintf("u%d", i))["id"].(string)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}}
	defer client.CloseIdleConnections()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	var ready, done sync.WaitGroup
	seen := make([]time.Time, n)
	errs := make(chan error, n)
	for i, id := range ids {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			firstSeen := false
			defer func() {
				if !firstSeen {
					ready.Done()
				}
			}()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.url+streamPath(ev, id), nil)
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			updates := 0
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					errs <- fmt.Errorf("stream %d: %w after %d updates", i, err, updates)
					return
				}
				if !strings.HasPrefix(line, "data: ") {
					continue
				}
				if updates++; updates == 1 {
					firstSeen = true
					ready.Done()
					continue
				}
				if strings.Contains(line, `"status":"admitted"`) {
					seen[i] = time.Now()
					return
				}
			}
		}()
	}
	ready.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	runtime.GC()
	var open runtime.MemStats
	runtime.ReadMemStats(&open)
	goroutines := runtime.NumGoroutine() - goroutinesBefore

	a.clock.Advance(time.Second)
	start := time.Now()
	// The admission goes around the contract validator, whose check of a
	// response naming thousands of tickets would be counted as delay.
	for left := n; left > 0; left -= min(left, 10000) {
		req, _ := http.NewRequest("POST", a.url+"/v1/events/"+ev+"/admissions", strings.NewReader(fmt.Sprintf(`{"count":%d}`, min(left, 10000))))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("admit: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	admitted := time.Since(start)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var last time.Time
	for _, s := range seen {
		if s.After(last) {
			last = s
		}
	}
	t.Logf("%d streams: heap in use %.1f KiB per stream, %.2f goroutines per stream (client and server together)",
		n, float64(int64(open.HeapInuse)-int64(before.HeapInuse))/float64(n)/1024, float64(goroutines)/float64(n))
	t.Logf("admission call %v; the last stream saw its update %v after the admission began", admitted.Round(time.Millisecond), last.Sub(start).Round(time.Millisecond))
}
