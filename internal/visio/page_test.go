package visio_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"socle/internal/visio"
	"socle/internal/visio/client"
)

// A chat message too long, or a message over MaxMessageBytes, is answered with an error the
// page can show, and the participant stays in the room: the next message goes through.
func TestAMessageTooLargeIsRefusedAndTheConnectionGoesOn(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	for _, m := range []client.Message{
		{"type": "chat", "text": strings.Repeat("é", visio.MaxChatRunes+1)},
		{"type": "chat", "text": strings.Repeat("x", visio.MaxMessageBytes+1)}, // above the limit, below the socket's
	} {
		if err := agent.Send(ctx(t), m); err != nil {
			t.Fatal(err)
		}
		e := want(t, agent, "error")
		if e.String("code") != visio.CodeTooLarge || e.String("request") != "chat" {
			t.Fatalf("answer: %v", e)
		}
		t.Logf("refused: %s", e.String("message"))
	}
	agent.Send(ctx(t), client.Message{"type": "chat", "text": "Plus court."})
	if m := want(t, agent, "chat")["message"].(map[string]any); m["text"] != "Plus court." {
		t.Fatalf("after the refusal: %v", m)
	}
}

// A room name is taken as people type it; one that makes no room is refused with the
// reason, in the form for a browser and as problem+json for a program.
func TestTheHomeFormTakesRoomNamesAsPeopleTypeThem(t *testing.T) {
	s := newSite(t)
	hc := s.srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path, accept string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", s.srv.URL+path, nil)
		req.Header.Set("Accept", accept)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	res := get("/visio/?room="+url.QueryEscape("Réunion préfecture"), "text/html")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/visio/reunion-prefecture" {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res = get("/visio/"+url.PathEscape("Réunion Préfecture")+"?lang=en", "text/html")
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/visio/reunion-prefecture?lang=en" {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Location"))
	}

	long := strings.Repeat("Réunion ", 9) // 71 once written for URLs
	res = get("/visio/?room="+url.QueryEscape(long), "application/json")
	var p struct {
		Type   string `json:"type"`
		Errors []struct{ Field, Reason string }
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != http.StatusBadRequest ||
		len(p.Errors) != 1 || p.Errors[0].Field != "room" || !strings.Contains(p.Errors[0].Reason, "71") {
		t.Fatalf("%d %+v %v", res.StatusCode, p, err)
	}
	res = get("/visio/?room="+url.QueryEscape(long), "text/html")
	body := readAll(t, res)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "71 caractères") || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("%d: %s", res.StatusCode, body)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
