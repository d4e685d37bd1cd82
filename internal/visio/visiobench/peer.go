package visiobench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// With a peer, each size runs twice: through socle's SFU and through Galène, each a process
// of its own started for the phase, with the same participants in this process. What is
// compared is forwarded packets per second of the server's CPU time (user and system,
// from /proc), loss and latency. Both run in the bench's network namespace
// (RunInNamespace), where nothing else sends or receives.

// PerCore is packets received per second of the server's CPU time: how many packets a
// core forwards each second. Zero if no CPU time was measured.
func (p Phase) PerCore() float64 {
	if p.CPU <= 0 {
		return 0
	}
	return float64(p.Received) / p.CPU.Seconds()
}

// Ratio is socle's packets per core over the peer's; zero if either is unknown.
func (s Size) Ratio() float64 {
	if s.SFU.PerCore() == 0 || s.Peer.PerCore() == 0 {
		return 0
	}
	return s.SFU.PerCore() / s.Peer.PerCore()
}

func runWithPeer(ctx context.Context, o Options, logger *slog.Logger, progress io.Writer) (Result, error) {
	var r Result
	if len(o.SFUCommand) == 0 {
		return r, fmt.Errorf("visiobench: a peer is compared with socle's SFU in a process of its own: no command given for it")
	}
	for _, n := range o.Sizes {
		var s Size
		var err error
		command, peer := slices.Clone(o.SFUCommand), &galeneRoom{path: o.Peer}
		if o.Profiles != "" {
			command = append(command, "-cpuprofile", filepath.Join(o.Profiles, fmt.Sprintf("socle-%d.pprof", n)))
			peer.profile = filepath.Join(o.Profiles, fmt.Sprintf("galene-%d.pprof", n))
		}
		fmt.Fprintf(progress, "%d participants: through socle's SFU\n", n)
		if s.SFU, err = runPhase(ctx, n, o.For, &sfuRoom{logger: logger, command: command}, progress); err == nil {
			fmt.Fprintf(progress, "%d participants: through galene\n", n)
			s.Peer, err = runPhase(ctx, n, o.For, peer, progress)
		}
		if err != nil {
			if ctx.Err() != nil || len(r.Sizes) == 0 {
				return r, err
			}
			r.Stopped = fmt.Sprintf("stopped at %d participants: %v", n, err)
			return r, nil
		}
		r.Sizes = append(r.Sizes, s)
		// Both must have gone past the bound: the comparison is worth most where one of them
		// still carries the room.
		if s.SFU.Loss() > o.MaxLoss && s.Peer.Loss() > o.MaxLoss {
			r.Stopped = fmt.Sprintf("stopped at %d participants: %.2f %% lost through socle, %.2f %% through galene",
				n, s.SFU.Loss()*100, s.Peer.Loss()*100)
			return r, nil
		}
	}
	return r, nil
}

func (r Result) printWithPeer(w io.Writer, o Options) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Fprintf(w, `
Web conference, socle's SFU and galene side by side, %s measured per phase, in a network namespace
of the bench's own: every participant publishes VP8 at %d kbit/s (%d frames/s, %d packets of %d B)
and audio at %d packets/s of %d B (%d kbit/s in all), and receives everyone else's. Each server is
a process of its own; its CPU time (user and system) is the only one counted: packets/s/core is
packets received per second of it. "others" are the cores the rest of the machine (participants
included) kept busy meanwhile. Latency from send to receipt; loss by sequence number.
galene: %s

 size  server    packets/s   Mbit/s   loss %%  (worst)  cores  packets/s/core  others   p50 ms   p99 ms   setup
`, o.For, videoPacketRate*videoPayload*8/1000, frameRate, packetsPerFrame, videoPayload, audioRate, audioPayload,
		bitRate/1000, o.Peer)
	row := func(n int, name string, p Phase) {
		others := "     -"
		if p.Others >= 0 {
			others = fmt.Sprintf("%6.2f", p.Others.Seconds()/p.Window.Seconds())
		}
		fmt.Fprintf(w, "%5d  %-6s  %10.0f  %7.1f  %6.2f  (%6.2f)  %5.2f  %14.0f  %s  %7.2f  %7.2f  %5.1fs\n",
			n, name, p.Rate(), p.Mbits(), p.Loss()*100, p.WorstLoss*100, p.Cores(), p.PerCore(), others,
			ms(p.P50), ms(p.P99), p.Setup.Seconds())
	}
	for _, s := range r.Sizes {
		n := s.SFU.Participants
		row(n, "socle", s.SFU)
		row(n, "galene", s.Peer)
		fmt.Fprintf(w, "       socle/galene per core  %.2f×\n", s.Ratio())
	}
	if r.Stopped != "" {
		fmt.Fprintf(w, "%s\n", r.Stopped)
	}
	// The summary: the largest size both carried within the loss bound.
	var best *Size
	for i := range r.Sizes {
		if s := &r.Sizes[i]; s.SFU.Loss() <= o.MaxLoss && s.Peer.Loss() <= o.MaxLoss {
			best = s
		}
	}
	if best == nil {
		fmt.Fprintf(w, "summary: no size ran through both servers with at most %.1f %% loss\n", o.MaxLoss*100)
		return
	}
	fmt.Fprintf(w, "summary: at %d participants, the largest size both carried within %.1f %% loss, on %d CPUs: "+
		"socle forwarded %.0f packets/s per core, galene %.0f: %.2f×; p99 %.2f ms and %.2f ms\n",
		best.SFU.Participants, o.MaxLoss*100, runtime.NumCPU(), best.SFU.PerCore(), best.Peer.PerCore(), best.Ratio(),
		ms(best.SFU.P99), ms(best.Peer.P99))
}
