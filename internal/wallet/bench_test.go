package wallet

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"socle/internal/wallet/sources"
)

// newBench is `socle bench wallet`'s wallet on the test issuer (HTTPS), with the bench's
// population register on loopback, and n wallets with their offers.
func newBench(b *testing.B, n int) (*walletBench, []benchHolder) {
	s := newIssuerSiteWith(b, Config{}, "")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis/population/v1/persons/{nrn}", servePerson)
	register := httptest.NewServer(mux)
	b.Cleanup(register.Close)
	s.w.src = &sources.Client{Base: register.URL, Key: "bench", Population: "population", CivilStatus: "etat-civil", HTTP: register.Client()}
	wb := &walletBench{w: s.w, base: s.srv.URL, client: s.srv.Client()}
	hs, err := wb.holders(b.Context(), n, 1000)
	if err != nil {
		b.Fatal(err)
	}
	return wb, hs
}

// The three paths of `socle bench wallet`, one credential per operation: compare their
// ns/op (go test -run '^$' -bench Issue ./internal/wallet/).

func BenchmarkIssueBareSigning(b *testing.B) {
	wb, hs := newBench(b, 1)
	for b.Loop() {
		if err := wb.bare(b.Context(), hs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueFunction(b *testing.B) {
	wb, hs := newBench(b, 1)
	for b.Loop() {
		if err := wb.issueDirect(b.Context(), hs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueCredentialEndpoint(b *testing.B) {
	wb, hs := newBench(b, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := wb.endpoint(b.Context(), hs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// The bench's own phases: every wallet gets its credential, and presents it to a verifier
// that accepts it.
func TestTheWalletBenchIssuesAndVerifies(t *testing.T) {
	s := newIssuerSite(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis/population/v1/persons/{nrn}", servePerson)
	register := httptest.NewServer(mux)
	t.Cleanup(register.Close)
	s.w.src = &sources.Client{Base: register.URL, Key: "bench", Population: "population", CivilStatus: "etat-civil", HTTP: register.Client()}
	wb := &walletBench{w: s.w, base: s.srv.URL, client: s.srv.Client()}
	hs, err := wb.holders(t.Context(), 6, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []figures{measure(t.Context(), hs, 3, wb.bare), measure(t.Context(), hs, 3, wb.issueDirect), measure(t.Context(), hs, 3, wb.endpoint)} {
		if f.err != nil || f.n != 6 || f.p(0.99) <= 0 {
			t.Fatalf("%+v", f)
		}
	}
	var n int
	s.w.pool.QueryRow(t.Context(), `SELECT count(*) FROM wallet.issued WHERE kid = $1`, s.w.signer().kid).Scan(&n)
	if n != 12 {
		t.Fatalf("%d credentials recorded, want 12: 6 by the function, 6 by the endpoint", n)
	}
	ps, err := wb.presentations(hs)
	if err != nil {
		t.Fatal(err)
	}
	if f := measure(t.Context(), ps, 2, wb.verify); f.err != nil {
		t.Fatal(f.err)
	}
	// A presentation for another nonce is refused: the verifier's phase verifies.
	ps[0].nonce = "another"
	if err := wb.verify(t.Context(), ps[0]); err == nil {
		t.Fatal("a presentation for another nonce was verified")
	}
}
