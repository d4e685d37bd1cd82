package visiobench

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"socle/internal/visio/pionlog"
)

// Every payload carries, at stampAt, the time it was sent (nanoseconds since the phase
// began, on the monotonic clock) and the publisher's extended sequence number for that
// track, which the RTP sequence number repeats modulo 2^16. The SFU rewrites RTP sequence
// numbers by an offset per receiver, so the payload's number is the one compared.
const stampAt = 8

// Track kinds, indexing a publisher's two tracks.
const (
	video = iota
	audio
	kinds
)

// phase is one size on one path: its participants and its measuring window.
type phase struct {
	epoch    time.Time
	from, to atomic.Int64 // the window, in nanoseconds since epoch; from is far away until set
	parts    []*participant
	flowing  atomic.Int64 // streams, per receiver, that have delivered a packet
	stop     chan struct{}
	stopOnce sync.Once
	pubs     sync.WaitGroup
}

// halt stops the publishers and waits for them.
func (ph *phase) halt() {
	ph.stopOnce.Do(func() { close(ph.stop) })
	ph.pubs.Wait()
}

func newPhase(n int) *phase {
	ph := &phase{epoch: time.Now(), stop: make(chan struct{})}
	ph.from.Store(math.MaxInt64)
	for i := range n {
		ph.parts = append(ph.parts, newParticipant(ph, i))
	}
	return ph
}

// start sets a participant publishing.
func (ph *phase) start(p *participant) {
	ph.pubs.Add(1)
	go p.publish()
}

func (ph *phase) now() int64 { return int64(time.Since(ph.epoch)) }

func (ph *phase) inWindow(stamp int64) bool { return stamp >= ph.from.Load() && stamp < ph.to.Load() }

// topology connects a phase's participants: by pairs, or through the SFU.
type topology interface {
	// connect sets up every participant's connections and starts them publishing.
	connect(ctx context.Context, ph *phase) error
	// failed returns an error that happened after connect returned, if any.
	failed() error
	// close hangs up everything connect set up.
	close()
}

// runPhase connects n participants, waits until every stream flows, warms up, measures for
// a window, and hangs up.
func runPhase(ctx context.Context, n int, window time.Duration, topo topology, progress io.Writer) (Phase, error) {
	ph := newPhase(n)
	p := Phase{Participants: n, Window: window}
	defer func() {
		ph.halt()
		topo.close()
	}()
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := topo.connect(ctx, ph); err != nil {
		return p, err
	}
	want := int64(n * (n - 1) * kinds)
	for ph.flowing.Load() < want {
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return p, fmt.Errorf("%w: %d of %d streams flowing after %s", errSetup, ph.flowing.Load(), want, setupTimeout)
			}
			return p, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if err := topo.failed(); err != nil {
			return p, fmt.Errorf("%w: %w", errSetup, err)
		}
	}
	p.Setup = time.Since(ph.epoch)
	fmt.Fprintf(progress, "  %d streams flowing after %.1fs; measuring for %s\n", want, p.Setup.Seconds(), window)

	start := ph.now() + int64(warmUp)
	ph.to.Store(start + int64(window))
	ph.from.Store(start)
	time.Sleep(time.Duration(start - ph.now()))
	cpu0, all0 := phaseCPU(topo), machineCPU()
	time.Sleep(time.Duration(start + int64(window) - ph.now()))
	p.CPU = phaseCPU(topo) - cpu0
	p.Others = -1
	if all0 >= 0 {
		if all := machineCPU(); all >= 0 {
			p.Others = max(all-all0-p.CPU, 0)
		}
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	p.Memory = mem.HeapInuse + mem.StackInuse
	time.Sleep(grace)

	ph.halt()
	p.collect(ph)
	return p, nil
}

// serverProcess is a topology whose server runs in a process of its own: its CPU time so
// far, false while it runs in this one.
type serverProcess interface {
	cpu() (time.Duration, bool)
}

// phaseCPU is the CPU time that a phase measures: the server's when it has a process of its
// own, this whole process's otherwise.
func phaseCPU(topo topology) time.Duration {
	if sp, ok := topo.(serverProcess); ok {
		if d, ok := sp.cpu(); ok {
			return d
		}
	}
	return cpuTime()
}

// collect sums what the publishers sent and the receivers got in the window.
func (p *Phase) collect(ph *phase) {
	var hist [histBuckets]uint64
	for _, r := range ph.parts {
		var expected, received int64
		for _, pub := range ph.parts {
			if pub == r {
				continue
			}
			for k := range kinds {
				sent := pub.sent[k].count()
				expected += sent
				if in := r.inbound(pub.index, k); in != nil {
					in.mu.Lock()
					received += in.received
					p.Bytes += in.bytes
					in.mu.Unlock()
				}
			}
		}
		p.Expected += expected
		p.Received += received
		if expected > 0 {
			p.WorstLoss = max(p.WorstLoss, float64(expected-received)/float64(expected))
		}
		for i := range hist {
			hist[i] += uint64(r.latency[i].Load())
		}
	}
	for _, pub := range ph.parts {
		for k := range kinds {
			p.Published += pub.sent[k].count()
		}
	}
	p.P50, p.P99 = quantile(&hist, 0.50), quantile(&hist, 0.99)
}

// participant publishes a camera and a microphone, and receives everyone else's.
type participant struct {
	ph    *phase
	index int
	id    string
	video *webrtc.TrackLocalStaticRTP
	audio *webrtc.TrackLocalStaticRTP
	key   atomic.Bool // the next video frame is a keyframe
	sent  [kinds]window

	mu      sync.Mutex
	in      map[int]*inbound // by publisher index * kinds + kind
	latency histogram
}

func newParticipant(ph *phase, i int) *participant {
	p := &participant{ph: ph, index: i, id: "p" + strconv.Itoa(i), in: make(map[int]*inbound)}
	p.key.Store(true)
	var err error
	// A track and stream id are all a local track needs; these cannot fail.
	p.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "camera", p.id)
	if err != nil {
		panic(err)
	}
	p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "mic", p.id)
	if err != nil {
		panic(err)
	}
	return p
}

// window records the first and last sequence numbers a publisher sent in the measuring
// window on one track; only the publishing goroutine writes it.
type window struct {
	first, last int64
	any         bool
}

func (w *window) note(seq int64) {
	if !w.any {
		w.first, w.any = seq, true
	}
	w.last = seq
}

func (w *window) count() int64 {
	if !w.any {
		return 0
	}
	return w.last - w.first + 1
}

// publish sends the participant's packets on schedule until the phase stops. A publisher
// that falls behind catches up rather than skipping, so that every phase offers the same
// load; what it sent late shows as latency no more than it would from a real encoder.
func (p *participant) publish() {
	defer p.ph.pubs.Done()
	start := time.Now()
	var seq [kinds]int64
	var frames, sounds int64
	buf := [kinds][]byte{make([]byte, videoPayload), make([]byte, audioPayload)}
	send := func(k int, pkt *rtp.Packet) {
		stamp := p.ph.now()
		binary.BigEndian.PutUint64(pkt.Payload[stampAt:], uint64(stamp))
		binary.BigEndian.PutUint64(pkt.Payload[stampAt+8:], uint64(seq[k]))
		pkt.SequenceNumber = uint16(seq[k])
		if p.ph.inWindow(stamp) {
			p.sent[k].note(seq[k])
		}
		seq[k]++
		track := p.video
		if k == audio {
			track = p.audio
		}
		_ = track.WriteRTP(pkt) // a receiver not yet connected misses it, and that is all
	}
	for {
		nextVideo := start.Add(time.Duration(frames) * time.Second / frameRate)
		nextAudio := start.Add(time.Duration(sounds) * time.Second / audioRate)
		next := nextVideo
		if nextAudio.Before(next) {
			next = nextAudio
		}
		if wait := time.Until(next); wait > 0 {
			select {
			case <-p.ph.stop:
				return
			case <-time.After(wait):
			}
		} else {
			select {
			case <-p.ph.stop:
				return
			default:
			}
		}
		now := time.Now()
		if !now.Before(nextVideo) {
			key := p.key.Swap(false)
			pic := int(frames & 0x7fff)
			for i := range packetsPerFrame {
				payload := buf[video]
				clear(payload[:stampAt])
				// VP8 payload descriptor (RFC 7741): X, S on the frame's first packet, then
				// I and a 15-bit picture id; the first packet then has the payload header,
				// whose lowest bit is 0 on a keyframe.
				payload[0], payload[1], payload[2], payload[3] = 0x80, 0x80, 0x80|byte(pic>>8), byte(pic)
				if i == 0 {
					payload[0] |= 0x10
					payload[4] = 0x01
					if key {
						payload[4] = 0x00
					}
				}
				send(video, &rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == packetsPerFrame-1,
					Timestamp: uint32(frames * 90000 / frameRate)}, Payload: payload})
			}
			frames++
		}
		if !now.Before(nextAudio) {
			send(audio, &rtp.Packet{Header: rtp.Header{Version: 2, Timestamp: uint32(sounds * 960)}, Payload: buf[audio]})
			sounds++
		}
	}
}

// readRTCP drains what receivers say about one of the participant's senders, taking
// keyframe requests.
func (p *participant) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.key.Store(true)
			}
		}
	}
}

// inbound is what a receiver got of one publisher's track in the window.
type inbound struct {
	mu       sync.Mutex
	seen     []uint64 // bit per sequence number
	received int64
	bytes    int64
}

const maxSeq = 1 << 22 // sequence numbers beyond (19 hours of video) are not recorded

func (p *participant) inbound(pub, kind int) *inbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.in[pub*kinds+kind]
}

// receive reads a track the participant receives until it ends.
func (p *participant) receive(tr *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	go func() { // sender reports, which the receiver reports then refer to
		buf := make([]byte, 1500)
		for {
			if _, _, err := receiver.Read(buf); err != nil {
				return
			}
		}
	}()
	pub, err := strconv.Atoi(strings.TrimPrefix(tr.StreamID(), "p"))
	if err != nil || pub < 0 || pub >= len(p.ph.parts) {
		return
	}
	kind := video
	if tr.Kind() == webrtc.RTPCodecTypeAudio {
		kind = audio
	}
	in := &inbound{}
	p.mu.Lock()
	if p.in[pub*kinds+kind] != nil {
		p.mu.Unlock()
		return
	}
	p.in[pub*kinds+kind] = in
	p.mu.Unlock()
	first := true
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if len(pkt.Payload) < stampAt+16 {
			continue
		}
		if first {
			first = false
			p.ph.flowing.Add(1)
		}
		stamp := int64(binary.BigEndian.Uint64(pkt.Payload[stampAt:]))
		if !p.ph.inWindow(stamp) {
			continue
		}
		seq := binary.BigEndian.Uint64(pkt.Payload[stampAt+8:])
		if seq >= maxSeq {
			continue
		}
		latency := time.Duration(p.ph.now() - stamp)
		in.mu.Lock()
		word := int(seq / 64)
		if word >= len(in.seen) {
			in.seen = append(in.seen, make([]uint64, word+1-len(in.seen))...)
		}
		if in.seen[word]&(1<<(seq%64)) == 0 { // not a retransmission already counted
			in.seen[word] |= 1 << (seq % 64)
			in.received++
			in.bytes += int64(len(pkt.Payload))
			p.latency.add(latency)
		}
		in.mu.Unlock()
	}
}

// histogram counts latencies in buckets 3 % wide from 1 µs up.
type histogram [histBuckets]atomic.Uint32

const (
	histBuckets = 640 // up to 160 s
	histGrowth  = 1.03
)

func (h *histogram) add(d time.Duration) {
	b := 0
	if us := float64(d) / 1e3; us > 1 {
		b = min(int(math.Log(us)/math.Log(histGrowth))+1, histBuckets-1)
	}
	h[b].Add(1)
}

// quantile returns the middle of the bucket holding the q-quantile.
func quantile(h *[histBuckets]uint64, q float64) time.Duration {
	var total uint64
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var acc uint64
	for b, c := range h {
		acc += c
		if acc >= rank && c > 0 {
			if b == 0 {
				return time.Microsecond
			}
			return time.Duration(math.Pow(histGrowth, float64(b)-0.5) * 1e3)
		}
	}
	return 0
}

// newClientAPI is a participant's Pion stack, as a browser's would be configured for
// what matters here: Pion's default codecs and interceptors (NACK, RTCP reports, TWCC
// feedback), and candidates on 127.0.0.1 only. Servers may also be reached on the remote
// addresses given.
func newClientAPI(remotes ...net.IP) *webrtc.API {
	var se webrtc.SettingEngine
	// The synthetic participants' own Pion logs (teardown chatter) are not what is measured.
	se.LoggerFactory = pionlog.Factory(slog.New(slog.DiscardHandler))
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	se.SetRemoteIPFilter(func(ip net.IP) bool {
		return ip.Equal(net.IPv4(127, 0, 0, 1)) || slices.ContainsFunc(remotes, ip.Equal)
	})
	se.SetInterfaceFilter(func(name string) bool {
		iface, err := net.InterfaceByName(name)
		return err == nil && iface.Flags&net.FlagLoopback != 0
	})
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// closeAll closes peer connections a few at a time.
func closeAll(pcs []*webrtc.PeerConnection) {
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, pc := range pcs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = pc.Close()
		})
	}
	wg.Wait()
}
