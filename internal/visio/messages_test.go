package visio

import (
	"io/fs"
	"regexp"
	"testing"

	"socle/internal/web"
)

// Every key the pages and the meeting script use has words in French and in English.
func TestEveryMessageIsInFrenchAndEnglish(t *testing.T) {
	uses := regexp.MustCompile(`call \$?\.T "([a-z.-]+)"|M\['([a-z.-]+)'\]|status\('([a-z.-]+)'`)
	keys, err := web.KeysUsed(uses, []fs.FS{templateFiles, staticFiles})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 50 {
		t.Fatalf("only %d keys found: the pattern no longer matches the pages", len(keys))
	}
	for _, m := range messages.Missing(keys) {
		t.Error(m)
	}
}
