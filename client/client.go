// Package client is a Go client for the QueuePass HTTP API (v1).
//
// A Client calls one server. Methods map one-to-one to API calls, take a
// context, and make exactly one HTTP request each: the client never retries
// on its own. A response with a status other than 2xx comes back as a
// *Error carrying the problem details; transport failures come back as the
// errors of net/http.
//
// Admin calls (events, stats, admissions, complete) send the admin key set
// with WithAdminKey; the others send no credentials, because a ticket's ID
// is its holder's credential.
//
// Calls that change state accept IdempotencyKey: a repeat of the request
// with the same key and body gets the first response replayed, so a caller
// that did not hear an answer can safely send again.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/queuepass/queuepass"
)

// DefaultTimeout bounds a whole call (connect, request, response) when New
// builds its own http.Client.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds how much of a response body the client reads,
// but for draws, which take about 67 bytes an entrant: maxDrawBytes allows
// about four million.
const (
	maxResponseBytes = 16 << 20
	maxDrawBytes     = 256 << 20
)

// Client calls one QueuePass server. It is safe for concurrent use.
type Client struct {
	baseURL   string // without a trailing slash
	hc        *http.Client
	adminKey  string
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc. The default is
// an http.Client with DefaultTimeout and connect, TLS and idle timeouts.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithAdminKey sets the key that admin calls send as a bearer token.
func WithAdminKey(key string) Option {
	return func(c *Client) { c.adminKey = key }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a Client for the server at baseURL, for example
// "http://127.0.0.1:8080". A trailing slash is ignored; a path prefix is
// kept. New does not contact the server.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		baseURL:   strings.TrimRight(baseURL, "/"),
		userAgent: "queuepass-client-go",
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.hc == nil {
		c.hc = NewHTTPClient(0)
	}
	return c
}

// NewHTTPClient returns an http.Client with DefaultTimeout per call,
// timeouts for connecting, TLS handshakes and idle connections, and up to
// maxIdlePerHost idle connections kept per server (16 if maxIdlePerHost
// <= 0). Callers that run many calls in parallel against one server should
// keep about as many idle connections as they run calls.
func NewHTTPClient(maxIdlePerHost int) *http.Client {
	if maxIdlePerHost <= 0 {
		maxIdlePerHost = 16
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: DefaultTimeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          max(100, maxIdlePerHost),
			MaxIdleConnsPerHost:   maxIdlePerHost,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: DefaultTimeout,
			ExpectContinueTimeout: time.Second,
		},
	}
}

// CallOption configures one call.
type CallOption func(*call)

// IdempotencyKey sends key (1..255 printable ASCII characters) as the
// call's Idempotency-Key header.
func IdempotencyKey(key string) CallOption {
	return func(c *call) { c.header.Set("Idempotency-Key", key) }
}

// call is one request under construction.
type call struct {
	method      string
	path        string // escaped, starting with /
	admin       bool
	body        any // nil: no body
	contentType string
	header      http.Header
	maxBytes    int64 // 0: maxResponseBytes
}

// CreateEvent creates an event and returns it as stored. The event opens at
// once unless p.OpensAt is in the future. A taken ID fails with an *Error
// of code event_exists (errors.Is queuepass.ErrEventExists). Admin call.
func (c *Client) CreateEvent(ctx context.Context, p CreateEventParams, opts ...CallOption) (Event, error) {
	var ev Event
	_, err := c.do(ctx, c.newCall(http.MethodPost, "/v1/events", true, p, opts), &ev)
	return ev, err
}

// GetEvent returns an event, or an *Error of code event_not_found.
func (c *Client) GetEvent(ctx context.Context, eventID string) (Event, error) {
	var ev Event
	if err := checkIDs(eventID); err != nil {
		return ev, err
	}
	_, err := c.do(ctx, c.newCall(http.MethodGet, eventPath(eventID), false, nil, nil), &ev)
	return ev, err
}

// ListEvents returns one page of events in creation order. Admin call.
func (c *Client) ListEvents(ctx context.Context, o ListOptions) (EventPage, error) {
	var page EventPage
	_, err := c.do(ctx, c.newCall(http.MethodGet, "/v1/events"+o.query(), true, nil, nil), &page)
	return page, err
}

// query encodes o as a URL query, "" for the defaults.
func (o ListOptions) query() string {
	q := url.Values{}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// AllEvents iterates over every event in creation order, fetching pages of
// up to 200 as it goes. It stops after yielding the first error.
func (c *Client) AllEvents(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		o := ListOptions{Limit: 200}
		for {
			page, err := c.ListEvents(ctx, o)
			if err != nil {
				yield(Event{}, err)
				return
			}
			for _, ev := range page.Events {
				if !yield(ev, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			o.Cursor = page.NextCursor
		}
	}
}

// UpdateEvent applies p to an event's settings as a JSON merge patch and
// returns the event as stored. A state change the lifecycle does not allow
// fails with an *Error of code invalid_transition. Admin call.
func (c *Client) UpdateEvent(ctx context.Context, eventID string, p EventPatch) (Event, error) {
	var ev Event
	if err := checkIDs(eventID); err != nil {
		return ev, err
	}
	cl := c.newCall(http.MethodPatch, eventPath(eventID), true, p, nil)
	cl.contentType = "application/merge-patch+json"
	_, err := c.do(ctx, cl, &ev)
	return ev, err
}

// DeleteEvent removes an event and all its tickets. Admin call.
func (c *Client) DeleteEvent(ctx context.Context, eventID string) error {
	if err := checkIDs(eventID); err != nil {
		return err
	}
	_, err := c.do(ctx, c.newCall(http.MethodDelete, eventPath(eventID), true, nil, nil), nil)
	return err
}

// Stats returns an event's counts and admission figures. Admin call.
func (c *Client) Stats(ctx context.Context, eventID string) (Stats, error) {
	var s Stats
	if err := checkIDs(eventID); err != nil {
		return s, err
	}
	_, err := c.do(ctx, c.newCall(http.MethodGet, eventPath(eventID)+"/stats", true, nil, nil), &s)
	return s, err
}

// Join puts userID in the event's line and returns the ticket, with created
// true for a new ticket (201). A user who already holds a live ticket gets
// it back with created false (200), so repeating a join is safe. A closed
// event fails with an *Error of code event_closed.
func (c *Client) Join(ctx context.Context, eventID, userID string, opts ...CallOption) (t Ticket, created bool, err error) {
	return c.JoinWith(ctx, eventID, JoinParams{UserID: userID}, opts...)
}

// JoinWith is Join with what an event may ask of a new ticket: a solved
// challenge (proof of work) and an access code. Without them such an event
// refuses a new ticket with an *Error of code challenge_required (428),
// challenge_failed or forbidden (403); a user who holds a live ticket gets
// it back without either.
func (c *Client) JoinWith(ctx context.Context, eventID string, p JoinParams, opts ...CallOption) (t Ticket, created bool, err error) {
	if err := checkIDs(eventID); err != nil {
		return t, false, err
	}
	status, err := c.do(ctx, c.newCall(http.MethodPost, eventPath(eventID)+"/tickets", false, p, opts), &t)
	return t, status == http.StatusCreated, err
}

// Challenge asks for a proof-of-work challenge for one join of the event.
// Each new ticket spends one; solve it with Challenge.Solve.
func (c *Client) Challenge(ctx context.Context, eventID string) (Challenge, error) {
	var ch Challenge
	if err := checkIDs(eventID); err != nil {
		return ch, err
	}
	_, err := c.do(ctx, c.newCall(http.MethodPost, eventPath(eventID)+"/challenges", false, nil, nil), &ch)
	return ch, err
}

// JoinSolving joins, first getting and solving a challenge when the event
// asks for proof of work (ev.ChallengeDifficulty > 0): two requests, plus
// the work, instead of one. code is the access code, or "". A join refused
// for a reason that may pass (429 rate_limited, 5xx) leaves the challenge
// unspent, but JoinSolving drops it; callers that want to resend the same
// work call Challenge, Challenge.Solve and JoinWith themselves.
func (c *Client) JoinSolving(ctx context.Context, ev Event, userID, code string, opts ...CallOption) (t Ticket, created bool, err error) {
	p := JoinParams{UserID: userID, AccessCode: code}
	if ev.ChallengeDifficulty > 0 {
		ch, err := c.Challenge(ctx, ev.ID)
		if err != nil {
			return t, false, err
		}
		proof, err := ch.Solve(ctx)
		if err != nil {
			return t, false, err
		}
		p.Challenge, p.Nonce = proof.Challenge, proof.Nonce
	}
	return c.JoinWith(ctx, ev.ID, p, opts...)
}

// Draw returns an opened event's published draw, which anyone may check
// with Draw.Verify. Before the event opens it fails with an *Error of code
// event_not_open; an event that never had a pre-queue, with not_found.
func (c *Client) Draw(ctx context.Context, eventID string) (Draw, error) {
	var d Draw
	if err := checkIDs(eventID); err != nil {
		return d, err
	}
	cl := c.newCall(http.MethodGet, eventPath(eventID)+"/draw", false, nil, nil)
	cl.maxBytes = maxDrawBytes
	_, err := c.do(ctx, cl, &d)
	return d, err
}

// AddCodes adds access codes to an event (an event with access "code"
// takes joins only with one), each good for uses joins, and returns them.
// A code the event has already fails with an *Error of code
// invalid_request (field codes), and nothing is added. Admin call.
func (c *Client) AddCodes(ctx context.Context, eventID string, codes []string, uses int, opts ...CallOption) ([]AccessCode, error) {
	body := struct {
		Codes []string `json:"codes"`
		Uses  int      `json:"uses"`
	}{codes, uses}
	return c.addCodes(ctx, eventID, body, opts)
}

// GenerateCodes adds n random access codes (1..1000), each good for uses
// joins, and returns them. Admin call.
func (c *Client) GenerateCodes(ctx context.Context, eventID string, n, uses int, opts ...CallOption) ([]AccessCode, error) {
	body := struct {
		Generate int `json:"generate"`
		Uses     int `json:"uses"`
	}{n, uses}
	return c.addCodes(ctx, eventID, body, opts)
}

func (c *Client) addCodes(ctx context.Context, eventID string, body any, opts []CallOption) ([]AccessCode, error) {
	var out struct {
		Codes []AccessCode `json:"codes"`
	}
	if err := checkIDs(eventID); err != nil {
		return nil, err
	}
	_, err := c.do(ctx, c.newCall(http.MethodPost, eventPath(eventID)+"/codes", true, body, opts), &out)
	return out.Codes, err
}

// SetCodeUses sets how many joins an access code grants in all and
// returns it: 0 ends a code given out by mistake. A code keeps at least
// the uses it has made tickets with. An unknown code fails with an *Error
// of code not_found. Admin call.
func (c *Client) SetCodeUses(ctx context.Context, eventID, code string, uses int) (AccessCode, error) {
	var out AccessCode
	if err := checkIDs(eventID, code); err != nil {
		return out, err
	}
	body := struct {
		Uses int `json:"uses"`
	}{uses}
	cl := c.newCall(http.MethodPatch, eventPath(eventID)+"/codes/"+url.PathEscape(code), true, body, nil)
	cl.contentType = "application/merge-patch+json"
	_, err := c.do(ctx, cl, &out)
	return out, err
}

// ListCodes returns one page of an event's access codes with their usage,
// in code order. Admin call.
func (c *Client) ListCodes(ctx context.Context, eventID string, o ListOptions) (CodePage, error) {
	var page CodePage
	if err := checkIDs(eventID); err != nil {
		return page, err
	}
	_, err := c.do(ctx, c.newCall(http.MethodGet, eventPath(eventID)+"/codes"+o.query(), true, nil, nil), &page)
	return page, err
}

// Ticket returns a ticket with its current position and, once admitted, its
// pass. An unknown ticket fails with an *Error of code ticket_not_found.
func (c *Client) Ticket(ctx context.Context, eventID, ticketID string) (Ticket, error) {
	var t Ticket
	if err := checkIDs(eventID, ticketID); err != nil {
		return t, err
	}
	_, err := c.do(ctx, c.newCall(http.MethodGet, ticketPath(eventID, ticketID), false, nil, nil), &t)
	return t, err
}

// Leave takes a waiting (or pre-queued) ticket out of the line; leaving
// twice is not an error. An admitted ticket fails with an *Error of code
// ticket_not_waiting.
func (c *Client) Leave(ctx context.Context, eventID, ticketID string) error {
	if err := checkIDs(eventID, ticketID); err != nil {
		return err
	}
	_, err := c.do(ctx, c.newCall(http.MethodDelete, ticketPath(eventID, ticketID), false, nil, nil), nil)
	return err
}

// Admit admits up to count (1..10000) waiting tickets in line order,
// within the event's max_active, and returns them. It may admit none. An
// event that is not open fails with an *Error of code event_not_open.
// Admin call.
func (c *Client) Admit(ctx context.Context, eventID string, count int, opts ...CallOption) (Admission, error) {
	var a Admission
	if err := checkIDs(eventID); err != nil {
		return a, err
	}
	body := struct {
		Count int `json:"count"`
	}{count}
	_, err := c.do(ctx, c.newCall(http.MethodPost, eventPath(eventID)+"/admissions", true, body, opts), &a)
	return a, err
}

// Complete reports that the protected site is done with an admitted
// ticket, which frees its capacity, and returns the ticket. A ticket that
// is not admitted fails with an *Error of code ticket_not_admitted. Admin
// call.
func (c *Client) Complete(ctx context.Context, eventID, ticketID string, opts ...CallOption) (Ticket, error) {
	return c.complete(ctx, eventID, ticketID, nil, opts)
}

// CompleteQuantity is Complete for a visit that took quantity (1..10000)
// units of the event's inventory (Complete counts one); once the inventory
// is sold out the event closes by itself. Admin call.
func (c *Client) CompleteQuantity(ctx context.Context, eventID, ticketID string, quantity int, opts ...CallOption) (Ticket, error) {
	body := struct {
		Quantity int `json:"quantity"`
	}{quantity}
	return c.complete(ctx, eventID, ticketID, body, opts)
}

func (c *Client) complete(ctx context.Context, eventID, ticketID string, body any, opts []CallOption) (Ticket, error) {
	var t Ticket
	if err := checkIDs(eventID, ticketID); err != nil {
		return t, err
	}
	_, err := c.do(ctx, c.newCall(http.MethodPost, ticketPath(eventID, ticketID)+"/complete", true, body, opts), &t)
	return t, err
}

// Revoke ends an admitted ticket's pass at once, which frees its capacity,
// and returns the ticket: expired, with StatusReason
// queuepass.ReasonRevoked. Revoking a revoked ticket returns it unchanged;
// any other ticket that is not admitted with a live pass fails with an
// *Error of code ticket_not_admitted. Admin call.
func (c *Client) Revoke(ctx context.Context, eventID, ticketID string, opts ...CallOption) (Ticket, error) {
	var t Ticket
	if err := checkIDs(eventID, ticketID); err != nil {
		return t, err
	}
	_, err := c.do(ctx, c.newCall(http.MethodPost, ticketPath(eventID, ticketID)+"/revoke", true, nil, opts), &t)
	return t, err
}

// VerifyPass asks the server whether pass admits its holder to eventID. An
// invalid pass is not an error: it comes back with Valid false and a
// Reason.
func (c *Client) VerifyPass(ctx context.Context, pass, eventID string) (Verification, error) {
	var v Verification
	body := struct {
		Pass    string `json:"pass"`
		EventID string `json:"event_id"`
	}{pass, eventID}
	_, err := c.do(ctx, c.newCall(http.MethodPost, "/v1/passes/verify", false, body, nil), &v)
	return v, err
}

// JWKS returns the public keys that verify passes, for checking passes
// without calling the server.
func (c *Client) JWKS(ctx context.Context) (JWKS, error) {
	var s JWKS
	_, err := c.do(ctx, c.newCall(http.MethodGet, "/.well-known/jwks.json", false, nil, nil), &s)
	return s, err
}

func eventPath(eventID string) string {
	return "/v1/events/" + url.PathEscape(eventID)
}

func ticketPath(eventID, ticketID string) string {
	return eventPath(eventID) + "/tickets/" + url.PathEscape(ticketID)
}

// checkIDs rejects empty IDs, which would turn a call into another one
// (GET /v1/events/ is not GET /v1/events/{id}).
func checkIDs(ids ...string) error {
	for _, id := range ids {
		if id == "" {
			return errors.New("client: empty ID")
		}
	}
	return nil
}

func (c *Client) newCall(method, path string, admin bool, body any, opts []CallOption) *call {
	cl := &call{method: method, path: path, admin: admin, body: body, header: http.Header{}}
	if body != nil {
		cl.contentType = "application/json"
	}
	for _, opt := range opts {
		opt(cl)
	}
	return cl
}

// do sends cl and decodes a 2xx response body into out (unless out is nil
// or the status is 204). It returns the status, and a *Error for any other
// status.
func (c *Client) do(ctx context.Context, cl *call, out any) (int, error) {
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return 0, fmt.Errorf("client: encode %s %s: %w", cl.method, cl.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.baseURL+cl.path, body)
	if err != nil {
		return 0, fmt.Errorf("client: %w", err)
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if cl.admin && c.adminKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.adminKey)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() {
		// Drain a little so that the connection can be reused.
		io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, readError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, nil
	}
	limit := cl.maxBytes
	if limit == 0 {
		limit = maxResponseBytes
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("client: decode %s %s response (%d): %w", cl.method, cl.path, resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}

// readError builds the *Error for a non-2xx response. A body that is not a
// problem (for example a proxy's HTML page) leaves Code empty and puts the
// start of the body in Detail.
func readError(resp *http.Response) *Error {
	e := &Error{
		Status:     resp.StatusCode,
		Title:      http.StatusText(resp.StatusCode),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		var p struct {
			Type   string                 `json:"type"`
			Title  string                 `json:"title"`
			Detail string                 `json:"detail"`
			Code   string                 `json:"code"`
			Errors []queuepass.FieldError `json:"errors"`
		}
		if json.Unmarshal(b, &p) == nil {
			e.Type, e.Code, e.Detail, e.Fields = p.Type, p.Code, p.Detail, p.Errors
			if p.Title != "" {
				e.Title = p.Title
			}
			return e
		}
	}
	const maxDetail = 200
	d := strings.TrimSpace(string(b))
	if len(d) > maxDetail {
		d = d[:maxDetail] + "…"
	}
	e.Detail = d
	return e
}
