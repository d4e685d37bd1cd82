package notes

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/cases.json from the Go implementation")

// The fixture static/notes.test.mjs checks the browser client against, so that Go and
// JavaScript agree op for op, canonical form included.
type fixture struct {
	About     string             `json:"about"`
	Transform []transformFixture `json:"transform"`
	Compose   []composeFixture   `json:"compose"`
	Parse     []parseFixture     `json:"parse"`
	Invalid   []string           `json:"invalid"`
}

type transformFixture struct {
	Text   string `json:"text"`
	A      Op     `json:"a"`
	B      Op     `json:"b"`
	A2     Op     `json:"a2"`
	B2     Op     `json:"b2"`
	Result string `json:"result"` // a then b2, b then a2
}

type composeFixture struct {
	Text   string `json:"text"`
	A      Op     `json:"a"`
	B      Op     `json:"b"`
	AB     Op     `json:"ab"`
	Result string `json:"result"`
}

type parseFixture struct {
	JSON string `json:"json"` // as a client may send it
	Op   Op     `json:"op"`   // as it is read
}

func makeFixture(t *testing.T) fixture {
	fx := fixture{About: "Written by go test ./internal/visio/notes -run TestFixture -update; read by static/notes.test.mjs."}
	addTransform := func(text string, a, b Op) {
		a2, b2, err := Transform(a, b)
		if err != nil {
			t.Fatal(err)
		}
		fx.Transform = append(fx.Transform, transformFixture{text, a, b, a2, b2, mustApply(t, mustApply(t, text, a), b2)})
	}
	addCompose := func(text string, a, b Op) {
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatal(err)
		}
		fx.Compose = append(fx.Compose, composeFixture{text, a, b, ab, mustApply(t, text, ab)})
	}
	for _, c := range transformCases {
		addTransform(c.text, c.a, c.b)
	}
	for _, c := range composeCases {
		addCompose(c.text, c.a, c.b)
	}
	rnd := rand.New(rand.NewPCG(2026, 12))
	for range 200 {
		text := randomText(rnd, rnd.IntN(10))
		n := utf8.RuneCountInString(text)
		addTransform(text, randomOp(rnd, n), randomOp(rnd, n))
		a := randomOp(rnd, n)
		addCompose(text, a, randomOp(rnd, a.TargetLen()))
	}
	for _, c := range jsonCases {
		fx.Parse = append(fx.Parse, parseFixture{c.json, c.op})
	}
	fx.Invalid = invalidJSON
	return fx
}

func TestFixtureIsWhatGoComputes(t *testing.T) {
	b, err := encodeFixture(makeFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "cases.json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, b) {
		t.Fatalf("%s is not what Go computes now; if that is intended, run go test -run TestFixture -update and check the JavaScript agrees", path)
	}
}

// encodeFixture writes one case a line, to keep diffs readable.
func encodeFixture(fx fixture) ([]byte, error) {
	var b bytes.Buffer
	line := func(v any) error {
		var l bytes.Buffer
		enc := json.NewEncoder(&l)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		b.Write(bytes.TrimSuffix(l.Bytes(), []byte("\n")))
		return nil
	}
	b.WriteString("{\n\"about\": ")
	if err := line(fx.About); err != nil {
		return nil, err
	}
	list := func(name string, n int, item func(int) any) error {
		b.WriteString(",\n\"" + name + "\": [")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n  ")
			if err := line(item(i)); err != nil {
				return err
			}
		}
		b.WriteString("\n]")
		return nil
	}
	for _, err := range []error{
		list("transform", len(fx.Transform), func(i int) any { return fx.Transform[i] }),
		list("compose", len(fx.Compose), func(i int) any { return fx.Compose[i] }),
		list("parse", len(fx.Parse), func(i int) any { return fx.Parse[i] }),
		list("invalid", len(fx.Invalid), func(i int) any { return fx.Invalid[i] }),
	} {
		if err != nil {
			return nil, err
		}
	}
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}
