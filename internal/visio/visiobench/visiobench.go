// Package visiobench measures the web conference's SFU on loopback: synthetic Pion
// participants, each publishing a VP8 camera and an Opus-like audio track and receiving
// everyone else's, at increasing room sizes. Each size runs twice in the same run: once with
// every pair of participants connected directly (a mesh of Pion peer connections, the
// baseline), once through the SFU; the difference is what the SFU adds.
//
// Everything runs in one process, so CPU time is the whole process's: publishers, SFU and
// receivers. In the mesh a publisher's Pion stack encrypts and sends each packet once per
// receiver, as the SFU does in its place, and every receiver decrypts what it gets either
// way; so the mesh costs about what the clients cost plus the sends the SFU takes over, and
// the difference is the SFU's own work: receiving each published packet, choosing and
// rewriting what each receiver gets, and its interceptors on both legs.
package visiobench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What a participant publishes: a VP8 camera at 30 frames/s of two packets each (600 kbit/s
// of payload; one packet a frame would not fit an MTU at that rate) and audio at 50 packets/s.
const (
	frameRate       = 30
	packetsPerFrame = 2
	videoPayload    = 1250 // bytes
	audioRate       = 50
	audioPayload    = 100 // bytes: 40 kbit/s, a voice Opus stream

	videoPacketRate = frameRate * packetsPerFrame
	packetRate      = videoPacketRate + audioRate // per publisher
	bitRate         = (videoPacketRate*videoPayload + audioRate*audioPayload) * 8
)

const (
	warmUp       = 500 * time.Millisecond // after every stream flows, before measuring
	grace        = 500 * time.Millisecond // after the window, for packets still on their way
	setupTimeout = 45 * time.Second       // from the first connection until every stream flows
)

// Options of a run.
type Options struct {
	Sizes   []int         // participants in a room, in increasing order
	For     time.Duration // measured window of each phase
	MaxLoss float64       // stop after the first size losing more than this share via the SFU

	// Peer is the path of a Galène binary: each size then runs through socle's SFU and
	// through Galène, each in a process of its own, instead of the mesh and the SFU (peer.go).
	Peer string
	// SFUCommand starts socle's SFU in a process of its own (ServeSFU), with Peer.
	SFUCommand []string
	// Profiles, with Peer, is a directory where each server writes a CPU profile of each
	// phase: socle-<size>.pprof and galene-<size>.pprof.
	Profiles string
}

// Phase is what one phase (one size, one path) measured in its window.
type Phase struct {
	Participants int
	Setup        time.Duration // from the first connection until every stream flows
	Window       time.Duration
	Published    int64 // packets the publishers sent, each counted once
	Expected     int64 // deliveries: each published packet times its receivers
	Received     int64 // distinct packets received, by sequence number
	Bytes        int64 // of RTP payload received
	WorstLoss    float64
	CPU          time.Duration // user and system time of the whole process
	Others       time.Duration // CPU time the rest of the machine used meanwhile, -1 if unknown
	Memory       uint64        // bytes of Go heap and stacks in use at the end of the window
	P50, P99     time.Duration // from send to receipt
}

// Rate is packets received per second.
func (p Phase) Rate() float64 { return float64(p.Received) / p.Window.Seconds() }

// Mbits is payload received, in Mbit/s.
func (p Phase) Mbits() float64 { return float64(p.Bytes) * 8 / p.Window.Seconds() / 1e6 }

// Loss is the share of deliveries that did not arrive.
func (p Phase) Loss() float64 {
	if p.Expected == 0 {
		return 0
	}
	return float64(p.Expected-p.Received) / float64(p.Expected)
}

// CPUPerK is the process's CPU time per 1,000 packets received.
func (p Phase) CPUPerK() time.Duration {
	if p.Received == 0 {
		return 0
	}
	return time.Duration(float64(p.CPU) * 1000 / float64(p.Received))
}

// Cores is the CPU time over the window's length: how many cores were busy.
func (p Phase) Cores() float64 { return p.CPU.Seconds() / p.Window.Seconds() }

// Size is one room size, both paths.
type Size struct {
	Direct, SFU Phase
	Peer        Phase // with Options.Peer, in place of Direct
}

// Result is every size run, and why the run stopped where it did.
type Result struct {
	Sizes   []Size
	Stopped string
	MaxRSS  int64 // bytes, the process's peak
}

// Run measures each size in turn, the mesh then the SFU, until the SFU loses more than
// o.MaxLoss or the sizes run out. A size that cannot be set up ends the run with what was
// measured before it.
func Run(ctx context.Context, o Options, logger *slog.Logger, progress io.Writer) (r Result, err error) {
	defer func() { r.MaxRSS = maxRSS() }()
	if o.Peer != "" {
		return runWithPeer(ctx, o, logger, progress)
	}
	for _, n := range o.Sizes {
		var s Size
		var err error
		fmt.Fprintf(progress, "%d participants: direct connections, %d pairs\n", n, n*(n-1)/2)
		if s.Direct, err = runPhase(ctx, n, o.For, &mesh{}, progress); err == nil {
			fmt.Fprintf(progress, "%d participants: through the SFU\n", n)
			s.SFU, err = runPhase(ctx, n, o.For, &sfuRoom{logger: logger}, progress)
		}
		if err != nil {
			if ctx.Err() != nil || len(r.Sizes) == 0 {
				return r, err
			}
			r.Stopped = fmt.Sprintf("stopped at %d participants: %v", n, err)
			return r, nil
		}
		r.Sizes = append(r.Sizes, s)
		if loss := s.SFU.Loss(); loss > o.MaxLoss {
			r.Stopped = fmt.Sprintf("stopped at %d participants: %.2f %% lost through the SFU", n, loss*100)
			return r, nil
		}
	}
	return r, nil
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the CPU time every process of the machine used so far, from /proc/stat:
// user, nice, system, irq, softirq and steal, in USER_HZ (100 on Linux); -1 if unknown.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return -1
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// maxRSS is the process's peak resident set, in bytes (Linux reports kilobytes).
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}

var errSetup = errors.New("visiobench: setup")

// Print writes the table and the summary.
func (r Result) Print(w io.Writer, o Options) {
	if o.Peer != "" {
		r.printWithPeer(w, o)
		return
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Fprintf(w, `
Web conference on loopback, %s measured per phase: every participant publishes VP8 at %d kbit/s
(%d frames/s, %d packets of %d B) and audio at %d packets/s of %d B (%d kbit/s in all), and receives
everyone else's.
direct: every pair of participants connected by its own Pion peer connection (the baseline);
sfu: every participant connected to the SFU. CPU is the whole process's (publishers, SFU,
receivers) per 1,000 packets received, and the cores it kept busy; "others" are the cores the rest
of the machine kept busy meanwhile (on a shared machine, the noise). Latency from send to receipt;
loss by sequence number.

 size  path      packets/s   Mbit/s   loss %%  (worst)   CPU ms/1k  cores  others   p50 ms   p99 ms   setup  mem MB
`, o.For, videoPacketRate*videoPayload*8/1000, frameRate, packetsPerFrame, videoPayload, audioRate, audioPayload, bitRate/1000)
	row := func(n int, name string, p Phase) {
		others := "     -"
		if p.Others >= 0 {
			others = fmt.Sprintf("%6.2f", p.Others.Seconds()/p.Window.Seconds())
		}
		fmt.Fprintf(w, "%5d  %-6s  %10.0f  %7.1f  %6.2f  (%6.2f)  %9.2f  %5.2f  %s  %7.2f  %7.2f  %5.1fs  %6.0f\n",
			n, name, p.Rate(), p.Mbits(), p.Loss()*100, p.WorstLoss*100, ms(p.CPUPerK()), p.Cores(), others,
			ms(p.P50), ms(p.P99), p.Setup.Seconds(), float64(p.Memory)/(1<<20))
	}
	for _, s := range r.Sizes {
		n := s.SFU.Participants
		row(n, "direct", s.Direct)
		row(n, "sfu", s.SFU)
		fmt.Fprintf(w, "       sfu adds                                      %+9.2f                 %+7.2f  %+7.2f\n",
			ms(s.SFU.CPUPerK()-s.Direct.CPUPerK()), ms(s.SFU.P50-s.Direct.P50), ms(s.SFU.P99-s.Direct.P99))
	}
	if r.Stopped != "" {
		fmt.Fprintf(w, "%s\n", r.Stopped)
	}
	fmt.Fprintf(w, "peak resident memory %.0f MB\n", float64(r.MaxRSS)/(1<<20))
	// The summary: the largest size the SFU carried within the loss bound.
	var best *Size
	for i := range r.Sizes {
		if r.Sizes[i].SFU.Loss() <= o.MaxLoss {
			best = &r.Sizes[i]
		}
	}
	if best == nil {
		fmt.Fprintf(w, "summary: no size ran through the SFU with at most %.1f %% loss\n", o.MaxLoss*100)
		return
	}
	s := best.SFU
	fmt.Fprintf(w, "summary: up to %d participants within %.1f %% loss: %.0f packets/s (%.0f Mbit/s) forwarded "+
		"on %d CPUs; per 1,000 packets the process spent %.2f ms through the SFU, %.2f ms direct (%+.2f); "+
		"p99 %.2f ms, direct %.2f ms\n",
		s.Participants, o.MaxLoss*100, s.Rate(), s.Mbits(), runtime.NumCPU(), ms(s.CPUPerK()), ms(best.Direct.CPUPerK()),
		ms(s.CPUPerK()-best.Direct.CPUPerK()), ms(s.P99), ms(best.Direct.P99))
}
