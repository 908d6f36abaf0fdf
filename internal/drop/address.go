package drop

import (
	"context"
	"net/http"
	"net/netip"
)

// Simulated client addresses. Every request of a fan carries an address of
// its own, and every request of a bot one of Config.BotAddresses, in
// X-Forwarded-For; a server that trusts the rehearsal's own address as a
// proxy (serve --trusted-proxies 127.0.0.1) then counts its rate limits
// per simulated client, as it would behind a real load balancer. The
// addresses come from blocks that name no real host: fans from 10.0.0.0/8,
// bots from 198.18.0.0/15 (RFC 2544's block for benchmarks).
const (
	fanAddresses    = 1<<24 - 2 // 10.0.0.1 to 10.255.255.254; fans beyond share them
	MaxBotAddresses = 1 << 17   // 198.18.0.0 to 198.19.255.255
)

// fanAddress is the address fan i's requests come from.
func fanAddress(i int) string {
	n := uint32(i%fanAddresses + 1)
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

// botAddress is the k-th address the bots' requests come from.
func botAddress(k int) string {
	n := uint32(k % MaxBotAddresses)
	return netip.AddrFrom4([4]byte{198, 18 + byte(n>>16), byte(n >> 8), byte(n)}).String()
}

// addressKey is the context key of the address a request comes from.
type addressKey struct{}

// fromAddress returns ctx for requests that come from addr.
func fromAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addressKey{}, addr)
}

// forwardedFor is a RoundTripper that sends, in X-Forwarded-For, the
// address that the request's context says it comes from (fromAddress). The
// public client needs no option for it: the rehearsal wraps its
// http.Client's transport.
type forwardedFor struct {
	base http.RoundTripper
}

func (t forwardedFor) RoundTrip(req *http.Request) (*http.Response, error) {
	addr, ok := req.Context().Value(addressKey{}).(string)
	if !ok {
		return t.base.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper must not change the caller's request
	req.Header.Set("X-Forwarded-For", addr)
	return t.base.RoundTrip(req)
}

// withForwardedFor returns a copy of hc whose transport sends each
// request's simulated address.
func withForwardedFor(hc *http.Client) *http.Client {
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = forwardedFor{base: base}
	return &c
}
