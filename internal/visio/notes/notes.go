// Package notes keeps a web conference's shared notes: one text that every participant
// edits at once, whose concurrent edits converge, that latecomers get as it stands, and
// that is destroyed when the meeting ends.
//
// It is server-ordered operational transformation, as in Google Docs, Etherpad or ot.js.
// The server's Doc holds the text and a revision number. A client sends an Op made on the
// revision it has; the Doc transforms it against every op applied since, applies it, and
// the op as applied goes to the other clients while the sender gets an acknowledgement.
// A client keeps at most one op in flight and buffers the rest, transforming what the
// server sends against them (static/notes.js, served by StaticHandler).
//
// The messages the signalling server carries, whatever envelope it puts them in:
//
//	joining       server → client  {"text": "...", "rev": 12}         Doc.Join or Snapshot
//	an edit       client → server  {"rev": 12, "op": [5, "abc", -3]}  Peer.Submit
//	acknowledged  server → sender  {"rev": 13}                        the rev Submit returned
//	an edit       server → others  {"rev": 13, "op": [5, "abc", -3]}  the op Submit returned
//	refused       server → sender  an error; the client reloads from a snapshot
//
// Revisions in acknowledgements and edits are the revision after the op; the browser
// client applies them in that order whatever order they arrive in. A joining client
// should be subscribed to the edits before it takes its snapshot, so it misses none.
package notes

import (
	"embed"
	"io/fs"
	"net/http"
)

// Static holds the browser client, static/notes.js.
//
//go:embed static/*.js
var Static embed.FS

// StaticHandler serves the browser client: notes.js at the root of wherever it is mounted,
// say http.StripPrefix("/visio/notes/", notes.StaticHandler()).
func StaticHandler() http.Handler {
	sub, err := fs.Sub(Static, "static")
	if err != nil {
		panic(err) // embedded files: a broken name is a build error in disguise
	}
	return http.FileServerFS(sub)
}
