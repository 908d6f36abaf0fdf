module github.com/queuepass/queuepass

go 1.26.0

require (
	github.com/getkin/kin-openapi v0.133.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/prometheus/client_golang v1.23.2 // indirect
	github.com/swaggo/files/v2 v2.0.2 // indirect
	go.etcd.io/bbolt v1.4.3 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
	golang.org/x/text v0.31.0 // indirect
)
