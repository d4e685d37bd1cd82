package visio_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"socle/internal/platform/config"
	"socle/internal/visio"
	"socle/internal/visio/client"
	"socle/internal/visio/sfu"
)

// newSiteGrace is newSite with a grace period of its own for dropped participants.
func newSiteGrace(t *testing.T, grace time.Duration) *site {
	t.Helper()
	svc, err := visio.New(visio.Config{JWTAppID: "socle", JWTSecret: secret, InviteTTL: time.Hour, MediaLoopback: true, ResumeGrace: grace},
		visio.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux, nil)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(func() { svc.Stop(context.Background()); srv.Close() })
	return &site{t: t, srv: srv, svc: svc}
}

// next skips c's messages until one of type typ that match accepts.
func next(t *testing.T, c *client.Client, typ string, match func(client.Message) bool) client.Message {
	t.Helper()
	for {
		m, err := c.WaitFor(ctx(t), typ)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if match == nil || match(m) {
			return m
		}
	}
}

func TestADroppedParticipantResumesWithItsIDItsMediaAndWhatItMissed(t *testing.T) {
	s := newSiteGrace(t, time.Minute)
	camille := s.agent("salle", "Camille")
	url := s.url("salle", "jwt="+token(t, "salle", nil))
	dominique, err := client.Join(ctx(t), s.srv.Client(), url, "Dominique", "")
	if err != nil {
		t.Fatal(err)
	}
	you := dominique.Welcome["you"].(map[string]any)["id"].(string)
	tok := dominique.Welcome.String("resume")
	if len(tok) < 22 { // 128 bits in base64url
		t.Fatalf("resume token %q: want 128 random bits", tok)
	}
	// The SFU peer is made just after the welcome.
	var peer *sfu.Peer
	for deadline := time.Now().Add(5 * time.Second); peer == nil; {
		if time.Now().After(deadline) {
			t.Fatal("no SFU peer for the participant")
		}
		peer = s.svc.MediaPeer("salle", you)
		runtime.Gosched()
	}
	want(t, camille, "joined")
	if err := dominique.Send(ctx(t), client.Message{"type": "hand", "raised": true}); err != nil {
		t.Fatal(err)
	}
	next(t, camille, "hand", func(m client.Message) bool { return m.String("id") == you })

	// The network goes: no close frame. The others see the participant reconnecting, and
	// what is said meanwhile is kept for them.
	last := dominique.Last()
	dominique.Drop()
	next(t, camille, "reconnecting", func(m client.Message) bool { return m.String("id") == you && m["on"] == true })
	if err := camille.Send(ctx(t), client.Message{"type": "chat", "text": "vous m'entendez ?"}); err != nil {
		t.Fatal(err)
	}
	want(t, camille, "chat")

	back, err := client.Resume(ctx(t), s.srv.Client(), url, tok, last)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(back.Close)
	chat := want(t, back, "chat")
	if text := chat["message"].(map[string]any)["text"]; text != "vous m'entendez ?" {
		t.Errorf("chat missed while away: %v", text)
	}
	resumed := want(t, back, "resumed")
	if resumed["received"] != float64(1) {
		t.Errorf("received = %v, want 1: the participant had raised its hand", resumed["received"])
	}
	next(t, camille, "reconnecting", func(m client.Message) bool { return m.String("id") == you && m["on"] == false })
	if got := s.svc.MediaPeer("salle", you); got != peer {
		t.Errorf("SFU peer after resume: %p, want the same %p", got, peer)
	}
	// Still the same participant: what it says comes from its id.
	if err := back.Send(ctx(t), client.Message{"type": "chat", "text": "oui"}); err != nil {
		t.Fatal(err)
	}
	got := next(t, camille, "chat", func(m client.Message) bool { return m["message"].(map[string]any)["text"] == "oui" })
	if from := got["message"].(map[string]any)["from"]; from != you {
		t.Errorf("chat from %v after resume, want %s", from, you)
	}
}

func TestAParticipantNotBackWithinTheGraceLeavesAndItsTokenIsRefused(t *testing.T) {
	s := newSiteGrace(t, 300*time.Millisecond)
	camille := s.agent("salle", "Camille")
	url := s.url("salle", "jwt="+token(t, "salle", nil))
	dominique, err := client.Join(ctx(t), s.srv.Client(), url, "Dominique", "")
	if err != nil {
		t.Fatal(err)
	}
	you := dominique.Welcome["you"].(map[string]any)["id"].(string)
	tok := dominique.Welcome.String("resume")
	last := dominique.Last()
	dominique.Drop()
	start := time.Now()
	next(t, camille, "left", func(m client.Message) bool { return m.String("id") == you })
	t.Logf("left %v after the drop (grace 300ms)", time.Since(start))
	if p := s.svc.MediaPeer("salle", you); p != nil {
		t.Error("the SFU peer outlived the grace period")
	}
	_, err = client.Resume(ctx(t), s.srv.Client(), url, tok, last)
	var r *client.Refused
	if !errors.As(err, &r) || r.Status != http.StatusGone || r.Problem != "urn:socle:problem:resume-unknown" {
		t.Fatalf("resume after the grace: %v, want 410 resume-unknown (the session is forgotten)", err)
	}
	// Unknown tokens and bad positions are refused too, before any upgrade.
	if _, err = client.Resume(ctx(t), s.srv.Client(), url, "AAAAAAAAAAAAAAAAAAAAAA", 0); !errors.As(err, &r) || r.Status != http.StatusGone {
		t.Errorf("unknown token: %v, want 410", err)
	}
	if _, err := client.Resume(ctx(t), s.srv.Client(), url+"&last=x", "t", 0); !errors.As(err, &r) || r.Status != http.StatusBadRequest {
		t.Errorf("last=x: %v, want 400", err)
	}
}

func TestLeavingIsNotResumable(t *testing.T) {
	s := newSiteGrace(t, time.Minute)
	camille := s.agent("salle", "Camille")
	url := s.url("salle", "jwt="+token(t, "salle", nil))
	dominique, err := client.Join(ctx(t), s.srv.Client(), url, "Dominique", "")
	if err != nil {
		t.Fatal(err)
	}
	you := dominique.Welcome["you"].(map[string]any)["id"].(string)
	dominique.Close() // a close frame: the participant left
	next(t, camille, "left", func(m client.Message) bool { return m.String("id") == you })
	_, err = client.Resume(ctx(t), s.srv.Client(), url, dominique.Welcome.String("resume"), dominique.Last())
	var r *client.Refused
	if !errors.As(err, &r) || r.Status != http.StatusGone {
		t.Fatalf("resume after leaving: %v, want 410", err)
	}
}

func TestTheResumeWindowIsBounded(t *testing.T) {
	s := newSiteGrace(t, time.Minute)
	camille := s.agent("salle", "Camille")
	url := s.url("salle", "jwt="+token(t, "salle", nil))
	dominique, err := client.Join(ctx(t), s.srv.Client(), url, "Dominique", "")
	if err != nil {
		t.Fatal(err)
	}
	you := dominique.Welcome["you"].(map[string]any)["id"].(string)
	dominique.Drop()
	next(t, camille, "reconnecting", func(m client.Message) bool { return m.String("id") == you })
	// More chat than a resume can replay.
	for range 600 {
		if err := camille.Send(ctx(t), client.Message{"type": "chat", "text": "x"}); err != nil {
			t.Fatal(err)
		}
		want(t, camille, "chat")
	}
	_, err = client.Resume(ctx(t), s.srv.Client(), url, dominique.Welcome.String("resume"), 1)
	var r *client.Refused
	if !errors.As(err, &r) || r.Status != http.StatusGone {
		t.Fatalf("resume from a message no longer kept: %v, want 410", err)
	}
	// It leaves at once rather than at the end of the grace.
	next(t, camille, "left", func(m client.Message) bool { return m.String("id") == you })
}

func TestTheResumeGraceMustBePositive(t *testing.T) {
	for value, ok := range map[string]bool{"": true, "45s": true, "0s": false, "-5s": false} {
		var c visio.Config
		s := config.New()
		c.Register(s)
		env := map[string]string{"SOCLE_VISIO_RESUME_GRACE": value}
		// The config package refuses a negative duration as it reads it; the check, zero.
		err := s.LoadEnv(func(k string) string { return env[k] })
		if err == nil {
			err = s.Validate()
		}
		if ok && err != nil || !ok && (err == nil || !strings.Contains(err.Error(), "SOCLE_VISIO_RESUME_GRACE")) {
			t.Errorf("%q: %v", value, err)
		}
		if value == "" && c.ResumeGrace != visio.DefaultResumeGrace {
			t.Errorf("default grace %s, want %s", c.ResumeGrace, visio.DefaultResumeGrace)
		}
	}
}

func TestARemovedParticipantCannotResume(t *testing.T) {
	s := newSiteGrace(t, time.Minute)
	camille := s.agent("salle", "Camille")
	url := s.url("salle", "jwt="+token(t, "salle", nil))
	dominique, err := client.Join(ctx(t), s.srv.Client(), url, "Dominique", "")
	if err != nil {
		t.Fatal(err)
	}
	you := dominique.Welcome["you"].(map[string]any)["id"].(string)
	want(t, camille, "joined")
	if err := camille.Send(ctx(t), client.Message{"type": "kick", "id": you}); err != nil {
		t.Fatal(err)
	}
	want(t, dominique, "kicked")
	next(t, camille, "left", func(m client.Message) bool { return m.String("id") == you })
	_, err = client.Resume(ctx(t), s.srv.Client(), url, dominique.Welcome.String("resume"), dominique.Last())
	var r *client.Refused
	if !errors.As(err, &r) || r.Status != http.StatusGone {
		t.Fatalf("resume after being removed: %v, want 410", err)
	}
}
