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
	return fmt.Sprintf("socle %s %s %s/%s", release(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// release is the version socle was built as, and the commit: what the database records of
// the release that migrated it.
func release() string {
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
	return v
}
