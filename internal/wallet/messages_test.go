package wallet

import (
	"io/fs"
	"regexp"
	"testing"

	"socle/internal/web"
)

// Every word of the wallet's pages is in French and in English, and every key the templates
// name has its words.
func TestEveryMessageIsInFrenchAndEnglish(t *testing.T) {
	keys, err := web.KeysUsed(regexp.MustCompile(`T "([a-z0-9._-]+)"`), []fs.FS{templateFiles})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range messages.Missing(keys) {
		t.Error(m)
	}
}
