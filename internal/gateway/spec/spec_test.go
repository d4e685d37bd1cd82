package spec

import (
	"strings"
	"testing"
)

func parse(t *testing.T, text string) Problems {
	t.Helper()
	_, _, ps := ParseFile([]byte(text), func(p string) ([]byte, error) { return []byte("doc of " + p), nil })
	return ps
}

func TestEveryProblemNamesItsLineAndField(t *testing.T) {
	ps := parse(t, `gateway:
  apis:
    - name: Population
      kind: graphql
      upstreams: [ftp://x, "https://127.0.0.1:9101?x=1"]
      auth: [key, password]
      timeout: soon
`)
	if len(ps) != 1 || ps[0].Line != 7 || !strings.Contains(ps[0].Message, `"soon" is not a duration`) {
		t.Fatalf("a value of the wrong type is named first, with its line: %v", ps)
	}
	ps = parse(t, `gateway:
  apis:
    - name: Population
      kind: graphql
      upstreams: [ftp://x, "https://127.0.0.1:9101?x=1"]
      auth: [key, password]
      retries: 9
      headers: {request: {set: {Authorization: x}}}
      cors: {origins: ["*"], credentials: true}
  plans:
    - name: bronze
      quota: {per_second: -1}
  consumers:
    - name: namur
      subscriptions: [{api: population, plan: gold}]
`)
	want := []string{
		`line 3: apis[Population].name: "Population": lower-case letters`,
		`line 3: apis[Population].kind: "graphql": rest or soap`,
		`line 3: apis[Population].upstreams[0]: "ftp://x": an http or https URL`,
		`line 3: apis[Population].upstreams[1]: "https://127.0.0.1:9101?x=1": no query`,
		`line 3: apis[Population].auth[1]: "password": key, jwt or mtls`,
		`line 3: apis[Population].retries: 9: from 0 to 5`,
		`line 3: apis[Population].headers.request.set: "Authorization": not a header a gateway may set`,
		`line 3: apis[Population].cors.origins[0]: "*" cannot go with credentials`,
		`line 11: plans[0].quota: a quota is a number of calls`,
		`line 14: consumers[namur].subscriptions[0].api: "population": no such API in this file`,
		`line 14: consumers[namur].subscriptions[0].plan: "gold": no such plan in this file`,
	}
	got := ps.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ps), len(want), got)
	}
}

func TestAnUnknownKeyIsRefusedAtItsOwnLine(t *testing.T) {
	ps := parse(t, "gateway:\n  apis:\n    - name: a\n      kind: rest\n      upstream: [https://x]\n  plan: []\n")
	if len(ps) != 2 || ps[0].Line != 5 || ps[0].Where != "apis[0].upstream" || ps[1].Line != 6 || ps[1].Where != "plan" ||
		!strings.Contains(ps[0].Message, "unknown key (known: auth, balance, cors,") {
		t.Fatalf("%v", ps)
	}
}

func TestSizesAndDurationsAreWrittenAsPeopleWriteThem(t *testing.T) {
	for in, want := range map[string]Size{"1024": 1024, "512KiB": 512 << 10, "10 MiB": 10 << 20, "1GB": 1e9, "2kb": 2000} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "10 parsecs", "999999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("gateway:\n  apis:\n    - name: a\n      kind: rest\n      upstreams: [https://127.0.0.1:1]\n      auth: [key]\n")
	f.Add("gateway:\n  plans:\n    - name: b\n      quota: {per_second: 1}\n  consumers:\n    - name: c\n      subscriptions: [{api: a, plan: b}]\n")
	f.Add("gateway: [1, 2]\n")
	f.Fuzz(func(t *testing.T, text string) {
		g, _, ps := ParseFile([]byte(text), func(string) ([]byte, error) { return nil, nil })
		if g == nil {
			if len(ps) == 0 {
				t.Fatal("no section and no problem")
			}
			return
		}
		if len(ps) > 0 {
			return
		}
		// Accepted: everything a gateway relies on holds.
		for _, a := range g.APIs {
			a = a.WithDefaults()
			if !ValidName(a.Name) || len(a.Upstreams) == 0 || len(a.Auth) == 0 || *a.Retries < 0 || *a.Retries > 5 || a.MaxRequestBytes <= 0 {
				t.Fatalf("accepted an unusable API: %+v", a)
			}
		}
		for _, c := range g.Consumers {
			if !ValidName(c.Name) {
				t.Fatalf("accepted consumer %q", c.Name)
			}
		}
	})
}
