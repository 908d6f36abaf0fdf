package httpapi

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// limited rate-limits a route per client address (waitroom.Room.Allow):
// past the limit it answers 429 rate_limited with Retry-After. Admin calls
// with a valid key are never limited.
func limited(cfg Config, class waitroom.LimitClass, refused *prometheus.CounterVec, h http.Handler) http.Handler {
	room, log := cfg.Room, cfg.Logger
	if !room.Limited(class) {
		return h
	}
	admin := sha256.Sum256([]byte(cfg.AdminKey))
	count := refused.WithLabelValues(string(class))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAdmin(r, admin) {
			if err := room.Allow(r.Context(), class, clientAddress(r, cfg.TrustedProxies)); err != nil {
				if _, ok := errors.AsType[*queuepass.RateLimitError](err); ok {
					count.Inc()
				}
				writeProblem(w, problemFor(r.Context(), log, err))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// clientAddress names the client that rate limits count a request
// against. It is the connection's peer, unless the peer is a trusted proxy:
// then it is the rightmost address of X-Forwarded-For that is not a trusted
// proxy (what the last trusted proxy saw), walking the header from the
// right and stopping at anything that is not an address. Clients cannot
// forge their way past it: whatever they put in the header themselves is
// to the left of what the proxies add.
//
// IPv6 addresses count by their /64, the block one host or household
// usually has, so that a client cannot get a fresh bucket by changing the
// low bits of its address.
func clientAddress(r *http.Request, trusted []netip.Prefix) string {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	client := peer
	if isTrusted(peer, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop := parseAddr(strings.TrimSpace(hops[i]))
			if !hop.IsValid() {
				break
			}
			client = hop
			if !isTrusted(hop, trusted) {
				break
			}
		}
	}
	if client.Is6() {
		p, _ := client.Prefix(64)
		return p.String()
	}
	return client.String()
}

// parseAddr reads an IP address with or without a port, dropping an IPv6
// zone and unmapping IPv4-in-IPv6; the zero Addr if it is neither.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads a comma-separated list of addresses and CIDR
// blocks, such as "10.0.0.0/8,127.0.0.1,::1".
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an IP address or a CIDR block", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
