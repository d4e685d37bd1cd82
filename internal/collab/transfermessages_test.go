package collab

import (
	"io/fs"
	"regexp"
	"testing"

	"socle/internal/web"
)

// Every word of the transfer pages is in French and in English.
func TestTransferMessagesInFrenchAndEnglish(t *testing.T) {
	keys, err := web.KeysUsed(regexp.MustCompile(`T "([a-z0-9._-]+)"`), []fs.FS{transferTemplates})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"uploading", "ready", "infected", "abandoned", "expired"} {
		keys = append(keys, "state."+s) // named by the file's state
	}
	for _, m := range transferMessages.Missing(keys) {
		t.Error(m)
	}
}
