package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X socle/internal/cli.version=...".
var version = ""

func init() {
	register(command{name: "version", summary: "print the version", run: func(ctx context.Context, args []string) error {
		fs := flags("version", "", "Prints socle's version, the commit it was built from and the Go version.")
		if err := parse(fs, nil, args); err != nil {
			return err
		}
		fmt.Fprintln(stdout, versionString())
		return nil
	}})
}

func versionString() string {
	v, rev := version, ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12]
			}
			if s.Key == "vcs.modified" && s.Value == "true" {
				rev += "+dirty"
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if rev != "" {
		v += " (" + rev + ")"
	}
	return fmt.Sprintf("socle %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
