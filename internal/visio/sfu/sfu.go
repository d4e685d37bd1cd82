// Package sfu is the media core of the web conference: a Selective Forwarding Unit built on
// Pion. Every participant has one PeerConnection with the SFU; the audio, camera and screen
// tracks a participant publishes are forwarded, never transcoded, to every other participant
// of the room. RTP packets are only rewritten where forwarding needs it: SSRC and payload type
// per receiver, and sequence numbers, timestamps and VP8 picture ids kept continuous when a
// receiver is switched from one simulcast layer to another or paused and resumed.
//
// Signalling is the caller's: Room.Join takes a function that delivers the SFU's offers,
// answers and ICE candidates to the participant, and Peer.HandleSignal takes theirs. The SFU
// renegotiates by sending a new offer whenever tracks are added to or removed from a peer's
// connection; it is the polite side of perfect negotiation, so when the participant's offer
// crosses one of its own it rolls its offer back, answers, and offers again afterwards.
//
// Camera video may be simulcast with the rids "q", "h" and "f" (quarter, half and full
// resolution, as browsers name them). Each receiver gets the highest layer its cap
// (Peer.SetMaxLayer) and the SFU's bandwidth estimate for that receiver allow; layers are only
// switched on a keyframe, which the SFU requests from the publisher when it wants to switch.
// The estimate comes from Pion's send-side estimator (GCC over transport-wide congestion
// control feedback) and REMB when the receiver sends it: congestion steps a receiver's layers
// down, and an unrestricted period steps them up again.
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"

	"socle/internal/visio/pionlog"
)

// Config says where the SFU's media flows.
type Config struct {
	// LoopbackOnly restricts candidates, local and remote, to loopback addresses. For tests.
	LoopbackOnly bool
	// UDPPortMin and UDPPortMax bound the UDP ports used for media; 0 means any.
	UDPPortMin, UDPPortMax uint16
	// NAT1To1IPs are the public addresses announced as host candidates in place of the
	// machine's own, when it sits behind a one-to-one NAT.
	NAT1To1IPs []string
	// ICEServers are the STUN and TURN servers the SFU itself uses.
	ICEServers []webrtc.ICEServer
	// FirstOfferWait is how long the SFU waits for a participant's first offer before it
	// offers what others publish (see Peer.spoke); zero is 3 s.
	FirstOfferWait time.Duration
}

// Validate reports the first inconsistency in the configuration.
func (c Config) Validate() error {
	if (c.UDPPortMin == 0) != (c.UDPPortMax == 0) {
		return errors.New("sfu: udp port range: set both bounds or neither")
	}
	if c.UDPPortMin > c.UDPPortMax {
		return fmt.Errorf("sfu: udp port range: min %d above max %d", c.UDPPortMin, c.UDPPortMax)
	}
	for _, ip := range c.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("sfu: nat 1:1 address %q is not an IP address", ip)
		}
	}
	return nil
}

// ErrClosed is returned when joining a room, or the SFU, after it was closed.
var ErrClosed = errors.New("sfu: closed")

// SFU holds the rooms of one server.
type SFU struct {
	cfg    Config
	logger *slog.Logger

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool
}

// New checks the configuration and returns an SFU with no rooms.
func New(cfg Config, logger *slog.Logger) (*SFU, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SFU{cfg: cfg, logger: logger, rooms: make(map[string]*Room)}, nil
}

// Room returns the room with that name, creating it if needed. A closed SFU returns a room
// that refuses every Join.
func (s *SFU) Room(name string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rooms[name]; ok {
		return r
	}
	r := newRoom(s, name)
	if s.closed {
		r.closed = true
		return r
	}
	s.rooms[name] = r
	return r
}

// Close closes every room, hanging up on every peer.
func (s *SFU) Close() {
	s.mu.Lock()
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.Close()
	}
}

func (s *SFU) forget(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
	}
}

// newAPI builds the Pion API for one peer connection: the codecs the SFU forwards, Pion's
// default interceptors but stats (NACK in both directions, RTCP sender and receiver reports,
// TWCC feedback for what the peer sends), TWCC sequence numbers on what the SFU sends, and a GCC
// bandwidth estimator for it, handed to onEstimator.
func (s *SFU) newAPI(onEstimator func(cc.BandwidthEstimator)) (*webrtc.API, error) {
	media := &webrtc.MediaEngine{}
	if err := registerCodecs(media); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	bwe, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		// No pacing: the SFU adapts by choosing layers, not by delaying packets. The
		// initial rate is high so that a receiver that sends no feedback is not throttled.
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(initialEstimate), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		return nil, fmt.Errorf("sfu: bandwidth estimator: %w", err)
	}
	bwe.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { onEstimator(e) })
	reg.Add(bwe) // before the NACK responder, as the cc package asks
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(media, reg); err != nil {
		return nil, fmt.Errorf("sfu: twcc: %w", err)
	}
	// Pion's default interceptors less its stats interceptor, which serves
	// PeerConnection.GetStats: the SFU keeps its own counts (Peer.Stats), and the stats
	// interceptor's bookkeeping of every packet sent and every report read was a few per
	// cent of the SFU's CPU time under `socle bench visio -peer`. The NACK responder keeps
	// references to what it retransmits, not copies: see localTrack.
	if err := webrtc.ConfigureNackWithOptions(media, reg, nil, nack.DisableCopy()); err != nil {
		return nil, fmt.Errorf("sfu: nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("sfu: rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(media); err != nil {
		return nil, fmt.Errorf("sfu: simulcast header extensions: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(media, reg); err != nil {
		return nil, fmt.Errorf("sfu: twcc: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(media), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(s.settings())), nil
}

// settings turns the configuration into Pion's setting engine.
func (s *SFU) settings() webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.LoggerFactory = pionlog.Factory(s.logger)
	if s.cfg.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetInterfaceFilter(isLoopbackInterface)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if s.cfg.UDPPortMin != 0 {
		// Validate has checked the range, the only error this returns.
		_ = se.SetEphemeralUDPPortRange(s.cfg.UDPPortMin, s.cfg.UDPPortMax)
	}
	if len(s.cfg.NAT1To1IPs) > 0 {
		se.SetNAT1To1IPs(s.cfg.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	return se
}

func isLoopbackInterface(name string) bool {
	iface, err := net.InterfaceByName(name)
	return err == nil && iface.Flags&net.FlagLoopback != 0
}

// registerCodecs registers what the SFU forwards: Opus, and VP8 and H.264, the two video
// codecs whose keyframes it can recognise, which layer switching needs. No RTX: lost packets
// are retransmitted on the media stream itself.
func registerCodecs(m *webrtc.MediaEngine) error {
	videoFB := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs := []struct {
		kind  webrtc.RTPCodecType
		codec webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 102, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFB,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}}},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.codec, c.kind); err != nil {
			return fmt.Errorf("sfu: register %s: %w", c.codec.MimeType, err)
		}
	}
	return nil
}
