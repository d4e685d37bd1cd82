// Command socle runs the platform's services and its tools: see `socle -h`.
package main

import (
	"os"

	"socle/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
