package collab

import "net/http"

// pollRoutes mounts the meeting polls (Pégase) under /polls/.
func (c *Collab) pollRoutes(mux *http.ServeMux) {}
