package notes

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStaticHandlerServesTheClient(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/visio/notes/", StaticHandler()))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/visio/notes/notes.js")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(string(body), "export class NotesArea") {
		t.Fatalf("%s %q %.80q", res.Status, res.Header.Get("Content-Type"), body)
	}
	res, err = http.Get(srv.URL + "/visio/notes/notes.test.mjs")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("the tests are served: %s", res.Status)
	}
}
