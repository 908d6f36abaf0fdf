package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
)

// ErrStreamEnded is yielded when the server ends a ticket's stream before
// the ticket reached a final status (for example because it shut down, or
// because the client read too slowly); Stream may be called again.
var ErrStreamEnded = errors.New("client: stream ended before a final status")

// Stream follows a ticket over server-sent events: it yields the ticket at
// once and again whenever its status or position changes (at most about
// once a second), and stops after a ticket with a final status (not
// prequeue, waiting or admitted). An error ends the sequence: an *Error
// (for example code ticket_not_found) if the stream could not start,
// ErrStreamEnded if the server ended it early, or the network's or ctx's
// error. The request has no overall timeout (the Client's is lifted); it
// lasts until ctx ends or the stream does.
func (c *Client) Stream(ctx context.Context, eventID, ticketID string) iter.Seq2[Ticket, error] {
	return func(yield func(Ticket, error) bool) {
		if err := checkIDs(eventID, ticketID); err != nil {
			yield(Ticket{}, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		path := ticketPath(eventID, ticketID) + "/stream"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
		if err != nil {
			yield(Ticket{}, fmt.Errorf("client: %w", err))
			return
		}
		req.Header.Set("Accept", "text/event-stream")
		if c.userAgent != "" {
			req.Header.Set("User-Agent", c.userAgent)
		}
		hc := *c.hc
		hc.Timeout = 0
		resp, err := hc.Do(req)
		if err != nil {
			yield(Ticket{}, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			yield(Ticket{}, readError(resp))
			return
		}
		r := bufio.NewReader(resp.Body)
		var name, data string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				} else if errors.Is(err, io.EOF) {
					err = ErrStreamEnded
				}
				yield(Ticket{}, err)
				return
			}
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			if line != "" {
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "event":
					name = value
				case "data":
					data += value
				}
				continue
			}
			if name == "update" && data != "" {
				var t Ticket
				if err := json.Unmarshal([]byte(data), &t); err != nil {
					yield(Ticket{}, fmt.Errorf("client: decode stream update: %w", err))
					return
				}
				if !yield(t, nil) || !t.Status.Live() {
					return
				}
			}
			name, data = "", ""
		}
	}
}
