package visio

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The statistics page shows every media node's last report, when there are several.
func TestTheStatisticsPageShowsEveryNode(t *testing.T) {
	s := &Service{site: newSite()}
	st := Stats{Nodes: []Load{{Node: "node-0", CPU: 0.25, PacketsPerSec: 1200, Participants: 7, Rooms: 2, MaxParticipants: 100},
		{Node: "node-1", CPU: 1.5, PacketsPerSec: 31000.4, Participants: 40, Rooms: 5}}}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/visio/stats", nil)
	r.Header.Set("Accept-Language", "fr")
	s.render(w, r, http.StatusOK, "stats.html", page{Stats: &st})
	body := w.Body.String()
	for _, want := range []string{"Par nœud média", "node-0", "node-1", "31", "Limite de participants"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
}
