package web

import (
	"io/fs"
	"regexp"
	"slices"
	"testing"
	"testing/fstest"
)

func TestACatalogSaysWhatItLacks(t *testing.T) {
	c := Catalog{"fr": {"a": "un", "b": "deux"}, "en": {"a": "one", "c": "three"}}
	pages := fstest.MapFS{"p.html": {Data: []byte(`{{call .T "a"}} {{call .T "d"}}`)}}
	used, err := KeysUsed(regexp.MustCompile(`T "([a-z]+)"`), []fs.FS{pages})
	if err != nil || !slices.Equal(used, []string{"a", "d"}) {
		t.Fatalf("%v %v", used, err)
	}
	want := []string{"b has no en words", "c has no fr words", "d is used but lacks words"}
	if got := c.Missing(used); !slices.Equal(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
}
