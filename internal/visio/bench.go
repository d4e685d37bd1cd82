package visio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"socle/internal/platform/service"
	"socle/internal/visio/visiobench"
)

// benchCommands is the service's benchmark, in the platform's `socle bench`.
func benchCommands() service.Command {
	return service.Command{Name: "bench", Subcommands: []service.Command{
		{Name: "visio", Summary: "the SFU with synthetic participants: how many a node carries within 1 % loss",
			Synopsis: "[flags]", Example: "socle bench visio", Bench: true, Run: runBench,
			Description: `
Measures the web conference's SFU on loopback (127.0.0.1 only): synthetic Pion participants,
each publishing a VP8 camera (600 kbit/s) and audio (50 packets/s) and receiving everyone
else's, at each room size in turn, first with every pair of participants connected directly
(the baseline), then through the SFU, in the same run. Prints packets/s and Mbit/s received,
loss, send-to-receipt latency, and the process's CPU time per 1,000 packets received; the
difference between the two paths is what the SFU adds. Stops after the first size losing more
than 1 % through the SFU. Needs no database.

With -peer galene=PATH, each size runs through socle's SFU and through the Galène binary at
PATH instead, each server a process of its own, in a network namespace the bench makes
(root, or unprivileged user namespaces, and iproute2's ip); it prints forwarded packets per
second per core of each server's CPU time, loss and latency, and the ratio socle/Galène.`},
	}}
}

func runBench(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	sizes := fs.String("sizes", "2,4,8,12,16,24,32", "room sizes, participants, comma-separated and increasing")
	o := visiobench.Options{MaxLoss: 0.01}
	fs.DurationVar(&o.For, "for", 2*time.Second, "measured window of each phase")
	peer := fs.String("peer", "", "galene=PATH: compare with the Galène binary at PATH instead of direct connections")
	profiles := fs.String("profiles", "", "with -peer: a directory where each server writes a CPU profile of each size")
	serveSFU := fs.Bool("serve-sfu", false, "serve only the SFU and print its address (the bench's own child process, with -peer)")
	if err := env.Parse(args); err != nil {
		return err
	}
	if *serveSFU {
		return visiobench.ServeSFU(ctx, env.Logger(), env.Stdout())
	}
	if *peer != "" {
		name, path, ok := strings.Cut(*peer, "=")
		if !ok || name != "galene" || path == "" {
			return service.Usagef("-peer: want galene=PATH, got %q", *peer)
		}
		if path, err := filepath.Abs(path); err == nil {
			o.Peer = path
		}
		if fi, err := os.Stat(o.Peer); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return service.Usagef("-peer: %s is not an executable file", path)
		}
	}
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 || n > 48 || (len(o.Sizes) > 0 && n <= o.Sizes[len(o.Sizes)-1]) {
			return service.Usagef("-sizes: want increasing sizes from 2 to 48, got %q", *sizes)
		}
		o.Sizes = append(o.Sizes, n)
	}
	if o.For <= 0 || o.For > time.Minute {
		return service.Usagef("-for must be positive and at most a minute")
	}
	if *profiles != "" {
		if o.Peer == "" {
			return service.Usagef("-profiles: only with -peer")
		}
		if fi, err := os.Stat(*profiles); err != nil || !fi.IsDir() {
			return service.Usagef("-profiles: %s is not a directory", *profiles)
		}
		o.Profiles, _ = filepath.Abs(*profiles)
	}
	if o.Peer != "" {
		// The comparison runs in a network namespace of its own: this command again, there.
		if os.Getenv(visiobench.NamespaceEnv) == "" {
			return visiobench.RunInNamespace(ctx, env.Stdout(), env.Stderr())
		}
		if err := visiobench.SetUpNamespace(); err != nil {
			return err
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.SFUCommand = []string{exe, "bench", "visio", "-serve-sfu"}
	}
	res, err := visiobench.Run(ctx, o, env.Logger(), env.Stderr())
	if err != nil {
		return err
	}
	res.Print(env.Stdout(), o)
	fmt.Fprintln(env.Stdout())
	return nil
}
