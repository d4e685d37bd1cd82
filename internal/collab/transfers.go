package collab

import "net/http"

// transferRoutes mounts the large-file transfers (Melanissimo) under /transfers/.
func (c *Collab) transferRoutes(webMux, icMux *http.ServeMux) {}
