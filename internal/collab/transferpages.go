package collab

import "net/http"

func (c *Collab) transferPages(mux *http.ServeMux) {}

func (c *Collab) renderTransfer(w http.ResponseWriter, r *http.Request, name string, v any) {
	writeJSON(w, http.StatusOK, v)
}
