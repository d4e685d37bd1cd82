package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Simulcast layers, lowest first, by the rids browsers use.
const (
	layerQ = iota // quarter resolution
	layerH        // half
	layerF        // full
	layerCount
)

var rids = [layerCount]string{"q", "h", "f"}

// layerOf maps a rid to its layer; a track without simulcast (rid "") is a single layer, q.
func layerOf(rid string) (int, bool) {
	switch rid {
	case "", "q":
		return layerQ, true
	case "h":
		return layerH, true
	case "f":
		return layerF, true
	}
	return 0, false
}

const (
	keyframeInterval = 300 * time.Millisecond // least time between two keyframe requests
	layerStale       = 1500 * time.Millisecond
)

// meter counts packets and bytes and measures their rate between two samples.
type meter struct {
	packets, bytes atomic.Uint64
	bitrate        atomic.Uint64 // bit/s over the last sampling period

	mu        sync.Mutex
	lastBytes uint64
	lastAt    time.Time
}

func (m *meter) add(n int) {
	m.packets.Add(1)
	m.bytes.Add(uint64(n))
}

// sample updates the bitrate if at least a second went by since the last sample.
func (m *meter) sample(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.bytes.Load()
	if m.lastAt.IsZero() {
		m.lastBytes, m.lastAt = b, now
		return
	}
	if d := now.Sub(m.lastAt); d >= time.Second {
		m.bitrate.Store(uint64(float64(b-m.lastBytes) * 8 / d.Seconds()))
		m.lastBytes, m.lastAt = b, now
	}
}

// layer is one RTP stream a publisher sends: a simulcast layer, or the whole track.
type layer struct {
	index int
	rid   string
	ssrc  uint32
	meter meter

	lastPacket atomic.Int64 // unix nanoseconds
	lastPLI    atomic.Int64
	lost       atomic.Int64

	// Sequence accounting, touched by the read loop only.
	started  bool
	baseSeq  int64
	maxSeq   int64 // extended
	received int64
}

func (l *layer) account(seq uint16, size int, now time.Time) {
	l.meter.add(size)
	l.lastPacket.Store(now.UnixNano())
	l.received++
	if !l.started {
		l.started, l.baseSeq, l.maxSeq = true, int64(seq), int64(seq)
	} else if d := int64(int16(seq - uint16(l.maxSeq))); d > 0 {
		l.maxSeq += d
	}
	l.lost.Store(max(0, l.maxSeq-l.baseSeq+1-l.received))
}

// upTrack is a track a peer publishes: one to three layers, forwarded to downTracks.
type upTrack struct {
	pub      *Peer
	id       string
	kind     webrtc.RTPCodecType
	codec    webrtc.RTPCodecCapability
	receiver *webrtc.RTPReceiver

	downs atomic.Pointer[[]*downTrack] // copy on write, under mu

	mu      sync.Mutex
	layers  [layerCount]*layer
	running int // read loops
	closed  bool
}

func newUpTrack(pub *Peer, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) *upTrack {
	up := &upTrack{pub: pub, id: track.ID(), kind: track.Kind(), codec: track.Codec().RTPCodecCapability, receiver: receiver}
	up.downs.Store(&[]*downTrack{})
	return up
}

// addLayer registers a stream of the track, returning false when it was already closed or
// the rid is not one the SFU knows.
func (up *upTrack) addLayer(track *webrtc.TrackRemote) (*layer, bool) {
	index, ok := layerOf(track.RID())
	if !ok {
		return nil, false
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.closed || up.layers[index] != nil {
		return nil, false
	}
	l := &layer{index: index, rid: track.RID(), ssrc: uint32(track.SSRC())}
	up.layers[index] = l
	up.running++
	return l, true
}

// forward reads one layer and hands every packet to every receiver. It returns when the
// stream ends, and reports whether it was the track's last.
func (up *upTrack) forward(l *layer, track *webrtc.TrackRemote) (last bool) {
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			break
		}
		now := time.Now()
		l.account(pkt.SequenceNumber, len(pkt.Payload), now)
		info := frameInfo{picID: -1, tl0: -1}
		if len(pkt.Payload) > 0 {
			info = inspect(up.codec, pkt.Payload)
		}
		for _, d := range *up.downs.Load() {
			d.write(pkt, l.index, info, now)
		}
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	up.running--
	return up.running == 0
}

// available tells which layers have sent a packet lately.
func (up *upTrack) available(now time.Time) [layerCount]bool {
	up.mu.Lock()
	defer up.mu.Unlock()
	var a [layerCount]bool
	for i, l := range up.layers {
		a[i] = l != nil && now.Sub(time.Unix(0, l.lastPacket.Load())) < layerStale
	}
	return a
}

func (up *upTrack) layer(i int) *layer {
	up.mu.Lock()
	defer up.mu.Unlock()
	return up.layers[i]
}

// requestKeyframe asks the publisher for a keyframe on a layer, at most once per
// keyframeInterval whoever asks.
func (up *upTrack) requestKeyframe(i int) {
	l := up.layer(i)
	if l == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(keyframeInterval) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	_ = up.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
}

// addDown starts forwarding to d, unless the track was closed.
func (up *upTrack) addDown(d *downTrack) bool {
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.closed {
		return false
	}
	old := *up.downs.Load()
	downs := append(append(make([]*downTrack, 0, len(old)+1), old...), d)
	up.downs.Store(&downs)
	return true
}

func (up *upTrack) removeDown(d *downTrack) {
	up.mu.Lock()
	defer up.mu.Unlock()
	old := *up.downs.Load()
	downs := make([]*downTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			downs = append(downs, x)
		}
	}
	up.downs.Store(&downs)
}

// close stops forwarding and returns the receivers it was forwarded to.
func (up *upTrack) close() []*downTrack {
	up.mu.Lock()
	defer up.mu.Unlock()
	up.closed = true
	downs := *up.downs.Load()
	up.downs.Store(&[]*downTrack{})
	return downs
}

// downTrack is an upTrack as one receiver gets it: its own local track and RTP sender, the
// layer it gets, and the offsets that keep its numbering continuous.
type downTrack struct {
	up     *upTrack
	peer   *Peer // the receiver
	track  *localTrack
	sender *webrtc.RTPSender
	meter  meter

	lost atomic.Int64 // from the receiver's reports
	rtt  atomic.Int64 // nanoseconds

	mu      sync.Mutex
	current int // layer forwarded, -1 until a keyframe starts one
	target  int // layer wanted
	paused  bool
	closed  bool
	lastPLI time.Time

	// Output numbering: what was last sent, and the offsets from the current layer.
	started        bool
	lastSeq        uint16
	lastTS         uint32
	lastAt         time.Time
	seqOff         uint16
	tsOff          uint32
	havePic        bool
	lastPic, picOf int
	haveTL0        bool
	lastTL0, tl0Of int
}

func (d *downTrack) isVideo() bool { return d.up.kind == webrtc.RTPCodecTypeVideo }

// write forwards a packet of layer index, if it is the layer this receiver gets, switching
// to the target layer on its first keyframe.
func (d *downTrack) write(pkt *rtp.Packet, index int, info frameInfo, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.paused || d.closed {
		return
	}
	if index != d.current {
		if index != d.target || !info.keyframe {
			if d.target != d.current {
				d.askKeyframe(now)
			}
			return
		}
		d.switchTo(pkt, info, now)
	}

	out := &rtp.Packet{Header: pkt.Header, Payload: pkt.Payload} // the track keeps it (localTrack)
	out.Header.Extension, out.Header.ExtensionProfile, out.Header.Extensions = false, 0, nil
	out.SequenceNumber = pkt.SequenceNumber + d.seqOff
	out.Timestamp = pkt.Timestamp + d.tsOff
	if info.picID >= 0 || info.tl0 >= 0 {
		pic, tl0 := info.picID, info.tl0
		if pic >= 0 {
			pic = (pic + d.picOf) & (1<<info.picBits - 1)
			d.havePic, d.lastPic = true, pic
		}
		if tl0 >= 0 {
			tl0 = (tl0 + d.tl0Of) & 0xff
			d.haveTL0, d.lastTL0 = true, tl0
		}
		if pic != info.picID || tl0 != info.tl0 {
			out.Payload = rewriteVP8(pkt.Payload, info, pic, tl0)
		}
	}
	if !d.started || int16(out.SequenceNumber-d.lastSeq) > 0 {
		d.lastSeq, d.lastTS, d.lastAt = out.SequenceNumber, out.Timestamp, now
	}
	d.started = true
	d.meter.add(len(out.Payload))
	_ = d.track.writeRTP(out)
}

// switchTo makes the layer of pkt, a keyframe, the one forwarded, so that the receiver
// sees one stream: the sequence number follows the last one sent, the timestamp advances by
// the time elapsed, the VP8 picture ids follow on.
func (d *downTrack) switchTo(pkt *rtp.Packet, info frameInfo, now time.Time) {
	d.current = d.target
	if !d.started {
		return
	}
	d.seqOff = d.lastSeq + 1 - pkt.SequenceNumber
	elapsed := uint32(now.Sub(d.lastAt).Seconds() * float64(d.up.codec.ClockRate))
	d.tsOff = d.lastTS + max(elapsed, 1) - pkt.Timestamp
	if info.picID >= 0 && d.havePic {
		d.picOf = d.lastPic + 1 - info.picID
	}
	if info.tl0 >= 0 && d.haveTL0 {
		d.tl0Of = d.lastTL0 + 1 - info.tl0
	}
}

// askKeyframe requests a keyframe on the target layer, now and then while it is awaited.
func (d *downTrack) askKeyframe(now time.Time) {
	if d.target < 0 || now.Sub(d.lastPLI) < keyframeInterval {
		return
	}
	d.lastPLI = now
	go d.up.requestKeyframe(d.target)
}

// retarget chooses the layer this receiver should get, given the highest it may get.
func (d *downTrack) retarget(limit int, now time.Time) {
	if !d.isVideo() {
		d.mu.Lock()
		d.target = layerQ
		d.mu.Unlock()
		return
	}
	target := chooseLayer(d.up.available(now), limit)
	d.mu.Lock()
	defer d.mu.Unlock()
	if target < 0 || target == d.target {
		return
	}
	d.target = target
	if d.target != d.current && !d.paused {
		d.lastPLI = time.Time{}
		d.askKeyframe(now)
	}
}

// chooseLayer picks the highest available layer up to limit, or else the lowest available;
// -1 when none is.
func chooseLayer(available [layerCount]bool, limit int) int {
	for i := min(limit, layerCount-1); i >= 0; i-- {
		if available[i] {
			return i
		}
	}
	for i := range available {
		if available[i] {
			return i
		}
	}
	return -1
}

// setPaused stops or resumes forwarding; resuming waits for a keyframe.
func (d *downTrack) setPaused(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.paused == on {
		return
	}
	d.paused = on
	d.current = -1
	if !on {
		d.lastPLI = time.Time{}
		d.askKeyframe(time.Now())
	}
}

func (d *downTrack) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
}

// readRTCP reads what the receiver says of this stream: keyframe requests, forwarded to the
// publisher; receiver reports, for loss and round-trip time; REMB, for the estimate.
func (d *downTrack) readRTCP() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		d.handleRTCP(pkts)
	}
}

// handleRTCP does what the receiver's packets ask of this stream.
func (d *downTrack) handleRTCP(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.mu.Lock()
			layer := d.current
			d.mu.Unlock()
			if layer >= 0 {
				d.up.requestKeyframe(layer)
			}
		case *rtcp.ReceiverReport:
			d.readReports(p.Reports)
		case *rtcp.SenderReport:
			d.readReports(p.Reports)
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			d.peer.remb.Store(uint64(p.Bitrate))
		}
	}
}

func (d *downTrack) readReports(reports []rtcp.ReceptionReport) {
	ssrc := d.ssrc()
	for _, r := range reports {
		if r.SSRC != ssrc {
			continue
		}
		d.lost.Store(int64(r.TotalLost))
		if r.LastSenderReport != 0 {
			rtt := ntpMiddle(time.Now()) - r.LastSenderReport - r.Delay
			d.rtt.Store(int64(float64(rtt) / 65536 * float64(time.Second)))
		}
	}
}

func (d *downTrack) ssrc() uint32 {
	if enc := d.sender.GetParameters().Encodings; len(enc) > 0 {
		return uint32(enc[0].SSRC)
	}
	return 0
}

// ntpMiddle is the middle 32 bits of the NTP time, the unit of LSR and DLSR in reports.
func ntpMiddle(t time.Time) uint32 {
	secs := uint64(t.Unix()) + 2208988800
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return uint32((secs<<32 | frac) >> 16)
}
