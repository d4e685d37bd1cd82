package pdaauweb

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"socle/internal/web"
)

// Every word of the pages is in French and in English: both catalogs have the same keys, and
// every key the templates and the handlers use is in them.
func TestEveryMessageIsInFrenchAndEnglish(t *testing.T) {
	uses := regexp.MustCompile(`call \$?\.T "([a-z.-]+)"|"((?:err|done|when|where|problems|version|draft|open|rows|dep)\.[a-z.-]+)"`)
	keys, err := web.KeysUsed(uses, []fs.FS{templateFiles}, "pdaauweb.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 40 {
		t.Fatalf("only %d keys found: the pattern no longer matches the pages", len(keys))
	}
	var used []string
	for _, key := range keys {
		if !strings.HasSuffix(key, ".html") { // a template's name
			used = append(used, key)
		}
	}
	for _, m := range messages.Missing(used) {
		t.Error(m)
	}
}
