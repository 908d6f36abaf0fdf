package httpapi

import (
	"bufio"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/queuepass/queuepass/internal/waitroom"
)

// drawAlgorithm names the procedure of queuepass.DrawOrder, so that a
// verifier knows what to recompute.
const drawAlgorithm = "queuepass-draw-v1: sort the SHA-256 hashes of the entrants' ticket IDs, then shuffle them with Go's math/rand/v2 Rand.Shuffle driven by ChaCha8 keyed with the seed"

// handleDraw publishes an opened event's draw: the seed, its commitment,
// and the order as SHA-256 hashes of ticket IDs. The order can be long (65
// bytes of JSON an entrant), so it is written as it is encoded.
func handleDraw(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		d, err := room.Draw(r.Context(), id)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// It never changes once made; an event deleted and made again
		// under its ID has another seed, so a client may keep it a while.
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriterSize(w, 32<<10)
		bw.WriteString(`{"event_id":`)
		bw.Write(appendString(nil, d.EventID))
		bw.WriteString(`,"algorithm":`)
		bw.Write(appendString(nil, drawAlgorithm))
		bw.WriteString(`,"commitment":"`)
		bw.WriteString(hex.EncodeToString(d.Commitment[:]))
		bw.WriteString(`","seed":"`)
		bw.WriteString(hex.EncodeToString(d.Seed[:]))
		bw.WriteString(`","drawn_at":`)
		bw.Write(ts(d.DrawnAt).appendJSON(nil))
		bw.WriteString(`,"entrants":`)
		bw.WriteString(strconv.Itoa(len(d.Order)))
		bw.WriteString(`,"order":[`)
		var buf [2 + 2*32 + 1]byte
		for i, h := range d.Order {
			b := buf[:0]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = hex.AppendEncode(b, h[:])
			bw.Write(append(b, '"'))
		}
		bw.WriteString("]}\n")
		if err := bw.Flush(); err != nil {
			log.DebugContext(r.Context(), "writing a draw", "err", err)
		}
	})
}
