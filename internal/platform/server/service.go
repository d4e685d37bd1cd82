package server

import (
	"context"
	"net/http"
)

// Service is one of socle's services (emergency, visio, ...): a value with a lifecycle and
// its routes. Services never import each other.
type Service interface {
	Name() string
	// Start begins background work (workers, subscriptions); it returns once started.
	Start(ctx context.Context) error
	// Stop ends background work, waiting for work in flight up to ctx's deadline.
	Stop(ctx context.Context) error
	// Routes mounts the service's handlers: web for people and public APIs, interconnect for
	// organisations authenticated by client certificate.
	Routes(web, interconnect *http.ServeMux)
	// Ready reports whether the service can take traffic.
	Ready(ctx context.Context) error
}
