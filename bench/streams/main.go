// Command streams measures how one QueuePass node serves many event
// streams, with the node in its own process (so each side has its own
// open-file limit): it joins N fans, opens N ticket streams, admits them
// all in one call, and reports the delay from the admission's start to the
// last stream's update, and the node's heap and goroutines per stream (from
// its /metrics). Loopback only.
//
//	go run ./bench/streams --server http://127.0.0.1:8080 --admin-key KEY --n 10000
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "QueuePass base URL")
	key := flag.String("admin-key", "", "admin key")
	n := flag.Int("n", 10000, "streams")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	do := func(method, path, body string, admin bool) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx, method, *server+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if admin {
			req.Header.Set("Authorization", "Bearer "+*key)
		}
		resp, err := c.Do(req)
		if err != nil {
			log.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	event := fmt.Sprintf("streams-%d", time.Now().UnixNano())
	if st, b := do("POST", "/v1/events", `{"id":"`+event+`","name":"Streams"}`, true); st != 201 {
		log.Fatalf("create event: %d %s", st, b)
	}
	defer do("DELETE", "/v1/events/"+event, "", true)

	ids := make([]string, *n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			st, b := do("POST", "/v1/events/"+event+"/tickets", fmt.Sprintf(`{"user_id":"fan-%d"}`, i), false)
			var t struct{ ID string }
			if st != 201 || json.Unmarshal(b, &t) != nil {
				log.Fatalf("join: %d %s", st, b)
			}
			ids[i] = t.ID
		})
	}
	wg.Wait()
	heap0, gor0 := metrics(do)

	streams := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}}
	seen := make([]time.Time, *n)
	var ready, done sync.WaitGroup
	for i, id := range ids {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", *server+"/v1/events/"+event+"/tickets/"+id+"/stream", nil)
			resp, err := streams.Do(req)
			if err != nil {
				log.Fatalf("stream: %v", err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			first := true
			for sc.Scan() {
				line := sc.Text()
				if !strings.HasPrefix(line, "data:") {
					continue
				}
				if first {
					first = false
					ready.Done()
				}
				if strings.Contains(line, `"status":"admitted"`) {
					seen[i] = time.Now()
					return
				}
			}
			log.Fatalf("stream %d ended before its admission", i)
		}()
	}
	ready.Wait()
	heap1, gor1 := metrics(do)

	start := time.Now()
	for left := *n; left > 0; left -= min(left, 10000) {
		if st, b := do("POST", "/v1/events/"+event+"/admissions", fmt.Sprintf(`{"count":%d}`, min(left, 10000)), true); st != 200 {
			log.Fatalf("admit: %d %.200s", st, b)
		}
	}
	call := time.Since(start)
	done.Wait()
	var last time.Time
	for _, s := range seen {
		if s.After(last) {
			last = s
		}
	}
	fmt.Printf("%d streams on one node: heap %.1f KiB and %.1f goroutines per stream (server only)\n",
		*n, (heap1-heap0)/float64(*n)/1024, (gor1-gor0)/float64(*n))
	fmt.Printf("admission call %v; the last stream saw its update %v after the admission began\n",
		call.Round(time.Millisecond), last.Sub(start).Round(time.Millisecond))
}

// metrics reads the node's heap in use and goroutines from /metrics.
func metrics(do func(method, path, body string, admin bool) (int, []byte)) (heap, goroutines float64) {
	_, b := do("GET", "/metrics", "", true)
	for _, line := range bytes.Split(b, []byte("\n")) {
		var v float64
		if _, err := fmt.Sscanf(string(line), "go_memstats_heap_inuse_bytes %g", &v); err == nil {
			heap = v
		}
		if _, err := fmt.Sscanf(string(line), "go_goroutines %g", &v); err == nil {
			goroutines = v
		}
	}
	return heap, goroutines
}
