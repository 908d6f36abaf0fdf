package httpapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/queuepass/queuepass/internal/waitroom"
)

// addRoutes is the API's table of contents.
func addRoutes(mux *http.ServeMux, cfg Config, m *metrics) {
	room, log := cfg.Room, cfg.Logger
	admin := func(h http.Handler) http.Handler { return requireAdmin(cfg.AdminKey, h) }
	idem := func(h http.Handler) http.Handler { return idempotent(room, log, h) }
	limit := func(class waitroom.LimitClass, h http.Handler) http.Handler {
		return limited(cfg, class, m.rateLimited, h)
	}
	joins, challenges, reads := waitroom.LimitJoin, waitroom.LimitChallenge, waitroom.LimitRead

	// Events: admins manage them; anyone may read one (a waiting page shows it).
	mux.Handle("POST /v1/events", admin(idem(handleCreateEvent(log, room))))
	mux.Handle("GET /v1/events", admin(handleListEvents(log, room)))
	mux.Handle("GET /v1/events/{event_id}", limit(reads, handleGetEvent(log, room)))
	mux.Handle("PATCH /v1/events/{event_id}", admin(handleUpdateEvent(log, room)))
	mux.Handle("DELETE /v1/events/{event_id}", admin(handleDeleteEvent(log, room)))
	mux.Handle("GET /v1/events/{event_id}/stats", admin(handleStats(log, room)))

	// The pre-queue's draw, published at opening for anyone to verify.
	mux.Handle("GET /v1/events/{event_id}/draw", limit(reads, handleDraw(log, room)))

	// Access codes: admins add, list and change them; joins of events with
	// access "code" need one.
	mux.Handle("POST /v1/events/{event_id}/codes", admin(idem(handleAddCodes(log, room))))
	mux.Handle("GET /v1/events/{event_id}/codes", admin(handleListCodes(log, room)))
	mux.Handle("PATCH /v1/events/{event_id}/codes/{code}", admin(handleSetCodeUses(log, room)))

	// Tickets: anyone joins (with a solved challenge where the event asks for
	// proof of work); the ticket ID is the holder's credential.
	mux.Handle("POST /v1/events/{event_id}/challenges", limit(challenges, noStore(handleChallenge(log, room))))
	mux.Handle("POST /v1/events/{event_id}/tickets", limit(joins, noStore(idem(handleJoin(log, room)))))
	mux.Handle("GET /v1/events/{event_id}/tickets/{ticket_id}", limit(reads, noStore(handleTicket(log, room.Ticket))))
	mux.Handle("DELETE /v1/events/{event_id}/tickets/{ticket_id}", noStore(handleLeave(log, room)))
	mux.Handle("GET /v1/events/{event_id}/tickets/{ticket_id}/stream", limit(reads, untimed(noStore(handleStream(log, room, cfg.StreamHeartbeat, cfg.Draining)))))
	mux.Handle("POST /v1/events/{event_id}/tickets/{ticket_id}/complete", admin(noStore(idem(handleComplete(log, room)))))
	mux.Handle("POST /v1/events/{event_id}/tickets/{ticket_id}/revoke", admin(noStore(idem(handleTicket(log, room.Revoke)))))

	// Admissions: admins admit in batches.
	mux.Handle("POST /v1/events/{event_id}/admissions", admin(noStore(idem(handleAdmit(log, room)))))

	// Passes: protected sites verify them, with the JWKS or by asking.
	mux.Handle("GET /.well-known/jwks.json", handleJWKS(room))
	mux.Handle("POST /v1/passes/verify", handleVerifyPass(log, room))

	// Operations and documentation.
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(log, room))
	switch metrics := promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}); cfg.Metrics {
	case MetricsAdmin:
		mux.Handle("GET /metrics", admin(metrics))
	case MetricsOff:
	default:
		mux.Handle("GET /metrics", metrics)
	}
	mux.Handle("GET /openapi.yaml", handleOpenAPI())
	docs := handleDocs()
	mux.Handle("GET /docs", docs)
	mux.Handle("GET /docs/", docs)
}
