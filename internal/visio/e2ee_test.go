package visio

import "testing"

// The E2EE flag: the entrant who makes the room encrypted sets it, every welcome says it
// (the page of one without the key tells them why there is no media), and a clear room
// says false.
func TestWelcomeSaysWhetherTheRoomIsEndToEndEncrypted(t *testing.T) {
	welcome := func(r *Room, e Entrant) Message {
		var w Message
		if _, _, err := r.Enter(e, func(m Message) {
			if m["type"] == "welcome" {
				w = m
			}
		}, func(string, bool) {}); err != nil {
			t.Fatal(err)
		}
		return w
	}
	r := newRoom("chiffree", func() {})
	if w := welcome(r, Entrant{Name: "Agent", Moderator: true, E2EE: true}); w["e2ee"] != true {
		t.Fatalf("creator's welcome: e2ee = %v", w["e2ee"])
	}
	if w := welcome(r, Entrant{Name: "Invitée", Guest: true}); w["e2ee"] != true {
		t.Fatalf("guest's welcome: e2ee = %v", w["e2ee"])
	}
	clear := newRoom("en-clair", func() {})
	if w := welcome(clear, Entrant{Name: "Agent", Moderator: true}); w["e2ee"] != false {
		t.Fatalf("clear room's welcome: e2ee = %v", w["e2ee"])
	}
}
