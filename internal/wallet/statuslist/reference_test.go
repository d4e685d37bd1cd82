package statuslist

import (
	"encoding/json"
	"errors"
	"testing"
)

// §6.2: the status claim of an SD-JWT VC names the list and the index.
func TestStatusClaimMarshalsAsSection6_2(t *testing.T) {
	c := StatusClaim{StatusList: &Reference{Idx: 4711, URI: "https://wallet.example.be/statuslists/7"}}
	b, err := json.Marshal(map[string]any{"status": c})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":{"status_list":{"idx":4711,"uri":"https://wallet.example.be/statuslists/7"}}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	ref, err := ParseStatusClaim(b)
	if err != nil {
		t.Fatal(err)
	}
	if ref != *c.StatusList {
		t.Fatalf("round trip gave %+v", ref)
	}
}

func TestStatusClaimKeepsOtherMechanisms(t *testing.T) {
	in := `{"status_list":{"idx":0,"uri":"https://a.example/1"},"other_mechanism":{"x":1}}`
	var c StatusClaim
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if string(c.Other["other_mechanism"]) != `{"x":1}` {
		t.Fatalf("other = %s", c.Other)
	}
	out, _ := json.Marshal(c)
	var again StatusClaim
	if err := json.Unmarshal(out, &again); err != nil || *again.StatusList != *c.StatusList ||
		string(again.Other["other_mechanism"]) != `{"x":1}` {
		t.Fatalf("re-encoded %s", out)
	}
}

func TestStatusClaimRefusals(t *testing.T) {
	for name, claims := range map[string]string{
		"no status claim":         `{"iss":"https://wallet.example.be"}`,
		"status null":             `{"status":null}`,
		"empty status":            `{"status":{}}`,
		"no status_list":          `{"status":{"other":{}}}`,
		"negative idx":            `{"status":{"status_list":{"idx":-1,"uri":"https://a.example/1"}}}`,
		"fractional idx":          `{"status":{"status_list":{"idx":1.5,"uri":"https://a.example/1"}}}`,
		"idx as a string":         `{"status":{"status_list":{"idx":"1","uri":"https://a.example/1"}}}`,
		"huge idx":                `{"status":{"status_list":{"idx":99999999999999999999,"uri":"https://a.example/1"}}}`,
		"no idx":                  `{"status":{"status_list":{"uri":"https://a.example/1"}}}`,
		"no uri":                  `{"status":{"status_list":{"idx":1}}}`,
		"relative uri":            `{"status":{"status_list":{"idx":1,"uri":"/statuslists/1"}}}`,
		"status_list not object":  `{"status":{"status_list":[1,"https://a.example/1"]}}`,
		"claims set not a object": `[]`,
	} {
		if _, err := ParseStatusClaim([]byte(claims)); !errors.Is(err, ErrReference) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := json.Marshal(StatusClaim{StatusList: &Reference{Idx: -1, URI: "https://a.example/1"}}); err == nil {
		t.Error("marshalled a negative idx")
	}
}
