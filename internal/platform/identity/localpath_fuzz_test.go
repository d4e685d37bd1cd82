package identity

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzLocalPath: ?next= on the sign-in page is anyone's text, and socle redirects to it
// after signing in. It is kept as it is or replaced by "/", and what is kept stays on
// socle: resolved against socle's address it names the same scheme and host, and it holds
// nothing a browser would read otherwise (a backslash, a control character it strips).
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/pdaau/75", "/pdaau/2A/versions?page=2#top", "/%2F%2Fevil.example", "//evil.example",
		"/\\evil.example", "https://evil.example/", "/\t/evil.example", "/login", "/login?next=//x", "javascript:alert(1)", ""} {
		f.Add(s)
	}
	base, _ := url.Parse("https://socle.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := localPath(next)
		if got != "/" && got != next {
			t.Fatalf("%q became %q", next, got)
		}
		if got == "/" {
			return
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsFunc(got, func(c rune) bool {
			return c == '\\' || c < 0x20 || c == 0x7f
		}) {
			t.Fatalf("%q kept", got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%q kept, and Go cannot read it: %v", got, err)
		}
		if r := base.ResolveReference(u); r.Scheme != "https" || r.Host != "socle.example" || r.User != nil {
			t.Fatalf("%q leads to %s", got, r)
		}
	})
}
