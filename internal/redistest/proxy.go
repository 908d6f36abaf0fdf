package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Proxy forwards connections from a loopback port to the Redis at
// redisURL and counts the commands clients send through it, by name
// (upper case). It returns the URL to connect to instead (same scheme,
// credentials and database) and a function that returns the counts so
// far. It stops at cleanup. Proxy shows how many round trips a piece of
// code costs: INFO commandstats cannot, since it also counts the commands
// that scripts run.
func Proxy(t testing.TB, redisURL string) (proxyURL string, counts func() map[string]int64) {
	t.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatalf("redistest.Proxy: %v", err)
	}
	upstream := u.Host
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest.Proxy: %v", err)
	}
	p := &proxy{counts: map[string]int64{}, conns: map[net.Conn]bool{}}
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, up) {
				return
			}
			p.wg.Go(func() { io.Copy(c, up); c.Close() })
			p.wg.Go(func() { p.forward(c, up); up.Close() })
		}
	})
	t.Cleanup(func() {
		l.Close()
		p.closeAll()
		p.wg.Wait()
	})
	pu := *u
	pu.Host = l.Addr().String()
	return pu.String(), p.snapshot
}

type proxy struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]bool
	counts map[string]int64
}

func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) snapshot() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// forward copies RESP commands (arrays of bulk strings) from c to up,
// counting them.
func (p *proxy) forward(c, up net.Conn) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(up)
	for {
		name, err := copyCommand(r, w)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.counts[name]++
		p.mu.Unlock()
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// copyCommand copies one command from r to w and returns its name.
func copyCommand(r *bufio.Reader, w *bufio.Writer) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	w.WriteString(line)
	if !strings.HasPrefix(line, "*") {
		return "", errors.New("redistest.Proxy: inline commands are not supported")
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return "", fmt.Errorf("redistest.Proxy: bad array header %q", line)
	}
	var name string
	for i := range n {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		w.WriteString(hdr)
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil || !strings.HasPrefix(hdr, "$") {
			return "", fmt.Errorf("redistest.Proxy: bad bulk header %q", hdr)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		w.Write(buf)
		if i == 0 {
			name = strings.ToUpper(string(buf[:size]))
		}
	}
	return name, nil
}
