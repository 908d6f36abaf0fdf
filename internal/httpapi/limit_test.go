package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 127.0.0.1,::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"198.51.100.7:5000", nil, "198.51.100.7"},
		{"198.51.100.7:5000", []string{"203.0.113.1"}, "198.51.100.7"}, // untrusted peer: header ignored
		{"127.0.0.1:5000", nil, "127.0.0.1"},
		{"127.0.0.1:5000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"127.0.0.1:5000", []string{"203.0.113.1, 10.1.2.3"}, "203.0.113.1"},            // through two proxies
		{"127.0.0.1:5000", []string{"6.6.6.6, 203.0.113.1"}, "203.0.113.1"},             // a forged hop on the left
		{"127.0.0.1:5000", []string{"6.6.6.6", "203.0.113.1, 10.0.0.9"}, "203.0.113.1"}, // several headers
		{"127.0.0.1:5000", []string{"junk, 203.0.113.1"}, "203.0.113.1"},
		{"127.0.0.1:5000", []string{"203.0.113.1, junk"}, "127.0.0.1"}, // stop at what is not an address
		{"127.0.0.1:5000", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"}, // all trusted: the leftmost
		{"[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"[::1]:443", []string{"2001:db8:aa:bb::1"}, "2001:db8:aa:bb::/64"},
		{"[::ffff:198.51.100.7]:80", nil, "198.51.100.7"},
		{"[fe80::1%eth0]:80", nil, "fe80::/64"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddress(r, trusted); got != tt.want {
			t.Errorf("clientAddress(peer %s, X-Forwarded-For %q) = %q, want %q", tt.peer, tt.xff, got, tt.want)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.1.2.3/8 ,::ffff:127.0.0.1,,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	if len(got) != len(want) {
		t.Fatalf("ParseTrustedProxies = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ParseTrustedProxies[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "1.2.3"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
}
