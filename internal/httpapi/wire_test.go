package httpapi

import (
	"encoding/json"
	"testing"
	"time"
)

// TestTicketJSONMatchesEncodingJSON checks the hand-written encoder against
// what encoding/json makes of the same values, for awkward strings too.
func TestTicketJSONMatchesEncodingJSON(t *testing.T) {
	type reference struct {
		ID                   string         `json:"id"`
		EventID              string         `json:"event_id"`
		UserID               string         `json:"user_id"`
		Status               string         `json:"status"`
		StatusReason         *string        `json:"status_reason"`
		Position             *int           `json:"position"`
		Ahead                *int           `json:"ahead"`
		EstimatedWaitSeconds *int           `json:"estimated_wait_seconds"`
		WaitRangeSeconds     *waitRangeJSON `json:"wait_range_seconds"`
		JoinedAt             *timestamp     `json:"joined_at"`
		AdmittedAt           *timestamp     `json:"admitted_at"`
		Pass                 *string        `json:"pass"`
		PassExpiresAt        *timestamp     `json:"pass_expires_at"`
		PollAfterSeconds     int            `json:"poll_after_seconds"`
		LikelySoldOut        bool           `json:"likely_sold_out"`
	}
	pos, ahead, eta, pass, revoked, abandoned := 7, 6, 0, "a.b.c", "revoked", "abandoned"
	rng := &waitRangeJSON{Low: 3, High: 12}
	at := ts(time.Date(2026, 12, 3, 18, 0, 0, 500, time.FixedZone("x", 3600)))
	for _, tk := range []ticketJSON{
		{ID: "id", EventID: "ev", UserID: "plain", Status: "waiting", Position: &pos, Ahead: &ahead, EstimatedWaitSeconds: &eta, WaitRangeSeconds: rng, JoinedAt: at, PollAfterSeconds: 2},
		{ID: "id", EventID: "ev", UserID: "late", Status: "waiting", Position: &pos, Ahead: &ahead, JoinedAt: at, PollAfterSeconds: 2, LikelySoldOut: true},
		{ID: "id", EventID: "ev", UserID: "quote\" back\\ slash ünïcødé 🎟 \x01 \n <&>", Status: "admitted", JoinedAt: at, AdmittedAt: at, Pass: &pass, PassExpiresAt: at, PollAfterSeconds: 30},
		{ID: "id", EventID: "ev", UserID: "u", Status: "expired", StatusReason: &revoked, JoinedAt: at, AdmittedAt: at, PollAfterSeconds: 60},
		{ID: "id", EventID: "ev", UserID: "u", Status: "expired", StatusReason: &abandoned, JoinedAt: at, PollAfterSeconds: 60},
	} {
		got, err := json.Marshal(tk)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		want, _ := json.Marshal(reference(tk))
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("hand-written JSON %s does not parse: %v", got, err)
		}
		json.Unmarshal(want, &b)
		if ga, gb := mustMarshal(a), mustMarshal(b); ga != gb {
			t.Errorf("ticket JSON = %s, want %s", ga, gb)
		}
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
