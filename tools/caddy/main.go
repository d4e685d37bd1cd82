// Command caddy is Caddy v2 with its standard modules, built from its Go module as Caddy's
// documentation shows for a custom build. It lives in its own Go module so that Caddy and its
// dependencies stay out of socle's go.mod: `socle bench gateway` runs it as one of the paths
// it compares (make bench builds it as bin/caddy).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
