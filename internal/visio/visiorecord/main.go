// Command visiorecord is a test tool, not part of socle: it joins a conference room as one
// more participant (a Pion peer, through the signalling as a page does) and writes the first
// video stream the SFU forwards to it, as it comes off the wire, to an IVF file. The E2EE
// browser test (tests/browser/visio-e2ee.test.mjs) records an end-to-end encrypted room and
// a clear one with it, and shows that a real VP8 decoder (vpxdec) decodes the clear one and
// not the other: the SFU forwards what it cannot read.
//
//	go run ./internal/visio/visiorecord -url 'https://localhost:8443/visio/salle?invite=...' -out e2ee.ivf -frames 150
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"

	"socle/internal/visio/client"
	"socle/internal/visio/sfu"
)

func main() {
	link := flag.String("url", "", "the room's invitation link (https://host/visio/<room>?invite=...)")
	out := flag.String("out", "", "the IVF file to write")
	frames := flag.Int("frames", 150, "how many video frames to record")
	timeout := flag.Duration("timeout", 90*time.Second, "give up after this long")
	insecure := flag.Bool("insecure", false, "accept the server's self-signed certificate (loopback tests)")
	flag.Parse()
	if *link == "" || *out == "" || *frames < 1 {
		fmt.Fprintln(os.Stderr, "visiorecord: -url and -out are needed, -frames must be at least 1")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	n, err := record(ctx, *link, *out, *frames, *insecure)
	if err != nil {
		slog.Error("visiorecord", "err", err, "frames", n)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"frames": n, "file": *out})
}

// socketURL turns a room link into its signalling WebSocket's: /visio/<room> → /visio/ws/<room>.
func socketURL(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(u.Path, "/visio/") {
		return "", fmt.Errorf("-url %q: not a room link (https://host/visio/<room>)", link)
	}
	u.Scheme = map[string]string{"https": "wss", "http": "ws"}[u.Scheme]
	u.Path = "/visio/ws/" + strings.TrimPrefix(u.Path, "/visio/")
	u.Fragment = "" // the E2EE key, which this recorder must not have
	return u.String(), nil
}

func record(ctx context.Context, link, out string, frames int, insecure bool) (int, error) {
	ws, err := socketURL(link)
	if err != nil {
		return 0, err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure}}}
	c, err := client.Join(ctx, hc, ws, "Enregistreur", "")
	if err != nil {
		return 0, fmt.Errorf("joining %s: %w", ws, err)
	}
	defer c.Close()

	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		return 0, err
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	var mu sync.Mutex // the signalling loop and the offer below both negotiate
	send := func(sig sfu.Signal) { c.Send(ctx, client.Message{"type": "signal", "signal": sig}) }
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		sig := sfu.Signal{Type: sfu.SignalCandidate}
		if cand != nil {
			init := cand.ToJSON()
			sig.Candidate = &init
		}
		send(sig)
	})

	done := make(chan error, 1)
	count := make(chan int, 1)
	count <- 0
	var once sync.Once
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeVideo || !strings.EqualFold(tr.Codec().MimeType, webrtc.MimeTypeVP8) {
			return
		}
		once.Do(func() { go func() { done <- save(ctx, pc, tr, out, frames, count) }() })
	})
	// The SFU offers the room's streams after this participant's first offer (sfu.Peer).
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return 0, err
		}
	}
	mu.Lock()
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("offer: %w", err)
	}
	send(sfu.Signal{Type: sfu.SignalOffer, SDP: offer.SDP})

	go func() {
		for {
			m, err := c.Next(ctx)
			if err != nil {
				return
			}
			if m.Type() != "signal" {
				continue
			}
			b, _ := json.Marshal(m["signal"])
			var sig sfu.Signal
			if json.Unmarshal(b, &sig) != nil {
				continue
			}
			mu.Lock()
			switch sig.Type {
			case sfu.SignalOffer: // polite: the SFU's offer wins
				if pc.SignalingState() != webrtc.SignalingStateStable {
					pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
				}
				if pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sig.SDP}) == nil {
					if answer, err := pc.CreateAnswer(nil); err == nil && pc.SetLocalDescription(answer) == nil {
						send(sfu.Signal{Type: sfu.SignalAnswer, SDP: answer.SDP})
					}
				}
			case sfu.SignalAnswer:
				pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sig.SDP})
			case sfu.SignalCandidate:
				if sig.Candidate != nil {
					pc.AddICECandidate(*sig.Candidate)
				}
			}
			mu.Unlock()
		}
	}()
	select {
	case err := <-done:
		return <-count, err
	case <-ctx.Done():
		return <-count, fmt.Errorf("no %d video frames forwarded in time: %w", frames, ctx.Err())
	}
}

// save writes tr's packets to out until it holds frames frames (counted by the RTP marker
// bit, which ends a frame: RFC 7741 §4.1), asking for a key frame (RTCP PLI, RFC 4585
// §6.3.1) until one came, since the IVF writer starts at a key frame.
func save(ctx context.Context, pc *webrtc.PeerConnection, tr *webrtc.TrackRemote, out string, frames int, count chan int) error {
	w, err := ivfwriter.New(out, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
	if err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	defer w.Close()
	pli := time.NewTicker(time.Second)
	defer pli.Stop()
	keyed := false
	for n := 0; n < frames; {
		select {
		case <-pli.C:
			if !keyed {
				pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
			}
		default:
		}
		tr.SetReadDeadline(time.Now().Add(10 * time.Second))
		p, _, err := tr.ReadRTP()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading the forwarded video: %w", err)
		}
		if err := w.WriteRTP(p); err != nil {
			return fmt.Errorf("writing %s: %w", out, err)
		}
		if !keyed && len(p.Payload) > 0 {
			keyed = isKeyStart(p.Payload)
		}
		if keyed && p.Marker {
			n++
			<-count
			count <- n
		}
	}
	if err := w.Close(); err != nil { // writes the frame count into the IVF header
		return fmt.Errorf("closing %s: %w", out, err)
	}
	return nil
}

// isKeyStart tells whether a VP8 RTP payload starts a key frame: the descriptor's S bit and
// partition 0 (RFC 7741 §4.2), then the payload header's inverted key-frame bit (RFC 6386
// §9.1).
func isKeyStart(b []byte) bool {
	if b[0]&0x10 == 0 || b[0]&0x07 != 0 {
		return false
	}
	i := 1
	if b[0]&0x80 != 0 { // X
		if len(b) < 2 {
			return false
		}
		x := b[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(b) <= i {
				return false
			}
			if b[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	return len(b) > i && b[i]&1 == 0
}
