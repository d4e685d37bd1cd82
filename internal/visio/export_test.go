package visio

import "socle/internal/visio/sfu"

// MediaPeer is participant id's SFU peer in room, for tests that check a resume keeps it.
func (s *Service) MediaPeer(room, id string) *sfu.Peer {
	s.mu.Lock()
	r := s.rooms[room]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	v, _ := s.peers.Load(r.media + "\x00" + id)
	p, _ := v.(*sfu.Peer)
	return p
}
