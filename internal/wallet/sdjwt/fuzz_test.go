package sdjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is one issued PID SD-JWT shared by the fuzz targets.
var fixture = sync.OnceValue(func() (f struct {
	issuer, holder *ecdsa.PrivateKey
	sd             *SDJWT
	digests        map[string]bool
}) {
	var err error
	if f.issuer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if f.holder, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	is := &Issuer{Key: f.issuer, Alg: "ES256", Type: "example+sd-jwt", Decoys: 1}
	s, err := is.Issue(Credential{Claims: pid(), Disclosable: pidDisclosable, HolderKey: f.holder.Public()})
	if err != nil {
		panic(err)
	}
	if f.sd, err = Parse(s); err != nil {
		panic(err)
	}
	f.digests = map[string]bool{}
	for _, d := range f.sd.Disclosures {
		f.digests[d.Digest] = true
	}
	return f
})

func FuzzParse(f *testing.F) {
	fx := fixture()
	f.Add(fx.sd.String())
	sel, _ := fx.sd.Select(Path{"address", "locality"}, Path{"nationalities", 1})
	f.Add(sel.String())
	kb, _ := sel.Bind(KeyBinding{Key: fx.holder, Alg: "ES256", Audience: "a", Nonce: "n", IssuedAt: now})
	f.Add(kb)
	f.Add("~")
	f.Add("a.b.c~~")
	f.Fuzz(func(t *testing.T, s string) {
		sd, err := Parse(s)
		if err != nil {
			return
		}
		// What parses writes back to the same string, and parses again.
		if sd.String() != s {
			t.Fatalf("String() = %q, input %q", sd.String(), s)
		}
		for _, d := range sd.Disclosures {
			if _, ok := lookup(sd.Claims, d.Path); !ok {
				t.Fatalf("disclosure path %s not in claims %v", d.Path, sd.Claims)
			}
		}
	})
}

func FuzzParseDisclosure(f *testing.F) {
	for _, d := range fixture().sd.Disclosures {
		f.Add(d.Encoded)
	}
	f.Add(b64.EncodeToString([]byte(`["s","_sd",1]`)))
	f.Add(b64.EncodeToString([]byte(`["s"]`)))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDisclosure(s, "sha-256")
		if err != nil {
			return
		}
		if d.Name == "_sd" || d.Name == "..." || (d.Element && d.Name != "") {
			t.Fatalf("accepted %+v", d)
		}
	})
}

// FuzzVerifyPresentation keeps the issuer's JWT and lets the fuzzer choose everything after
// it: accepted means every presented disclosure is one the issuer made.
func FuzzVerifyPresentation(f *testing.F) {
	fx := fixture()
	for _, paths := range [][]Path{nil, {{"given_name"}}, {{"address", "country"}, {"nationalities", 0}}, {{"address"}}} {
		sel, _ := fx.sd.Select(paths...)
		tail := strings.TrimPrefix(sel.String(), sel.JWT+"~")
		f.Add(tail)
		p, _ := sel.Bind(KeyBinding{Key: fx.holder, Alg: "ES256", Audience: "a", Nonce: "n", IssuedAt: now})
		f.Add(strings.TrimPrefix(p, sel.JWT+"~"))
	}
	v := verifier(fx.issuer.Public())
	f.Fuzz(func(t *testing.T, tail string) {
		res, err := v.Verify(context.Background(), fx.sd.JWT+"~"+tail, Expect{Audience: "a", Nonce: "n"})
		if err != nil {
			return
		}
		for _, d := range res.Disclosures {
			if !fx.digests[d.Digest] {
				t.Fatalf("accepted a disclosure the issuer never made: %s", d.Encoded)
			}
		}
		for _, p := range res.Disclosed {
			if _, ok := lookup(res.Claims, p); !ok {
				t.Fatalf("disclosed path %s not in claims", p)
			}
		}
	})
}

// FuzzVerifySigned lets the fuzzer write the issuer-signed payload too (signed here with the
// trusted key), to exercise §7.1 step 3 on any structure: accepted means every disclosure's
// digest is written in the signed payload or in another presented disclosure.
func FuzzVerifySigned(f *testing.F) {
	fx := fixture()
	dGiven, hGiven := disclose(f, "salt", "given_name", "Camille")
	dElem, hElem := disclose(f, "salt", "FR")
	dNested, hNested := disclose(f, "salt", "address", map[string]any{"_sd": []any{hGiven}})
	f.Add(`{"_sd":["`+hGiven+`"]}`, dGiven+"~")
	f.Add(`{"n":[{"...":"`+hElem+`"},1]}`, dElem+"~")
	f.Add(`{"_sd":["`+hNested+`"]}`, dNested+"~"+dGiven+"~")
	f.Add(`{"_sd":["`+hGiven+`"],"given_name":1}`, dGiven+"~")
	f.Add(`{"_sd_alg":"sha-512"}`, "~")
	v := &Verifier{IssuerKey: keyFunc(fx.issuer.Public()), Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, payload string, tail string) {
		jwt, err := signJWT(fx.issuer, "ES256", header{}, []byte(payload))
		if err != nil {
			return
		}
		res, err := v.Verify(context.Background(), jwt+"~"+tail, Expect{})
		if err != nil {
			return
		}
		signed := map[string]bool{}
		collectStrings(jsonValue(payload), signed)
		for _, d := range res.Disclosures {
			collectStrings(d.Value, signed)
		}
		for _, d := range res.Disclosures {
			if !signed[d.Digest] {
				t.Fatalf("accepted disclosure %s whose digest %s is nowhere signed", d.Encoded, d.Digest)
			}
		}
	})
}

func jsonValue(s string) any {
	var v any
	_ = decodeJSON([]byte(s), &v)
	return v
}

func collectStrings(v any, into map[string]bool) {
	switch t := v.(type) {
	case string:
		into[t] = true
	case []any:
		for _, e := range t {
			collectStrings(e, into)
		}
	case map[string]any:
		for _, e := range t {
			collectStrings(e, into)
		}
	}
}
