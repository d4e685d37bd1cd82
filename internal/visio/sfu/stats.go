package sfu

import (
	"time"
)

// Stream directions, as seen from the SFU.
const (
	Inbound  = "inbound"  // the peer publishes, the SFU receives
	Outbound = "outbound" // the SFU forwards to the peer
)

// StreamStats describes one stream of a peer's connection, for "connection details".
type StreamStats struct {
	Direction string        `json:"direction"`        // Inbound or Outbound
	Kind      string        `json:"kind"`             // "audio" or "video"
	Publisher string        `json:"publisher"`        // peer id of who publishes the track
	TrackID   string        `json:"track_id"`         // the publisher's track id
	RID       string        `json:"rid,omitempty"`    // simulcast layer received or forwarded
	Bitrate   uint64        `json:"bitrate"`          // bit/s over the last second or so
	Packets   uint64        `json:"packets"`          // sent or received so far
	Bytes     uint64        `json:"bytes"`            // of payload
	Lost      int64         `json:"lost"`             // packets: seen missing (inbound), reported by the peer (outbound)
	RTT       time.Duration `json:"rtt_ns,omitempty"` // round-trip time, from the peer's reports; 0 when unknown
}

// Stats describes every stream of the peer's connection: each layer it publishes, then each
// track forwarded to it.
func (p *Peer) Stats() []StreamStats {
	p.mu.Lock()
	ups := append([]*upTrack(nil), p.ups...)
	downs := p.downList()
	p.mu.Unlock()

	var rtt time.Duration // the connection's, for the inbound streams
	for _, d := range downs {
		if r := time.Duration(d.rtt.Load()); r > 0 {
			rtt = r
			break
		}
	}
	var stats []StreamStats
	for _, up := range ups {
		for i := range layerCount {
			l := up.layer(i)
			if l == nil {
				continue
			}
			stats = append(stats, StreamStats{
				Direction: Inbound, Kind: up.kind.String(), Publisher: p.id, TrackID: up.id, RID: l.rid,
				Bitrate: l.meter.bitrate.Load(), Packets: l.meter.packets.Load(), Bytes: l.meter.bytes.Load(),
				Lost: l.lost.Load(), RTT: rtt,
			})
		}
	}
	for _, d := range downs {
		d.mu.Lock()
		current := d.current
		d.mu.Unlock()
		rid := ""
		if current >= 0 {
			if l := d.up.layer(current); l != nil {
				rid = l.rid
			}
		}
		stats = append(stats, StreamStats{
			Direction: Outbound, Kind: d.up.kind.String(), Publisher: d.up.pub.id, TrackID: d.up.id, RID: rid,
			Bitrate: d.meter.bitrate.Load(), Packets: d.meter.packets.Load(), Bytes: d.meter.bytes.Load(),
			Lost: d.lost.Load(), RTT: time.Duration(d.rtt.Load()),
		})
	}
	return stats
}
