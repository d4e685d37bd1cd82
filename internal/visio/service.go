// Package visio is the State's web conference (seed 003): rooms by name that authenticated
// agents create by entering them, guests admitted on an agent's invitation, moderation
// (lock with a password, lobby, mute, remove, end for all), chat and raised hands, all over
// one WebSocket per participant whose protocol is in docs/visio-signalling.md.
package visio

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/platform/config"
	"socle/internal/platform/identity"
	"socle/internal/platform/service"
	"socle/internal/visio/invite"
	"socle/internal/visio/notes"
	"socle/internal/visio/sfu"
	"socle/internal/visio/token"
	"socle/internal/visio/turn"
	"socle/internal/web"
)

// Config is the conference's configuration (SOCLE_VISIO_*).
type Config struct {
	JWTAppID      string
	JWTIssuers    []string // accepted iss; empty: JWTAppID
	JWTAudiences  []string // accepted aud; empty: any, as Jitsi
	JWTSecret     string
	JWTPublicKeys string // a directory of <kid>.pem public keys (RS256, ES256)
	JWTKeyServer  string // https URL serving <hex(sha256(kid))>.pem, as Jitsi's asap_key_server
	InviteKey     string // base64 of at least 32 random bytes
	InviteTTL     time.Duration
	// Media: where the SFU's audio and video flow.
	MediaLoopback bool     // tests and demos on one machine: loopback candidates only
	PublicIPs     []string // addresses announced to browsers behind a one-to-one NAT
	UDPPorts      string   // "min-max", empty: any
	// TURN: the built-in relay for people behind strict firewalls (UDP and TCP on TURNAddr).
	TURNAddr   string
	TURNSecret string
	// ResumeGrace: how long a participant whose connection dropped is waited for (resume.go).
	ResumeGrace time.Duration
	// Several media nodes (nodes.go): this node's name and the participants it takes new
	// meetings under.
	NodeID    string
	NodeLimit int
}

// Register declares the options.
func (c *Config) Register(s *config.Set) {
	s.String(&c.JWTAppID, "visio-jwt-app-id", "socle", "application id of Jitsi-format room tokens: the accepted iss unless visio-jwt-accepted-issuers says otherwise")
	s.List(&c.JWTIssuers, "visio-jwt-accepted-issuers", "", "accepted iss of room tokens, comma-separated, \"*\" any (empty: the application id), as Jitsi's asap_accepted_issuers")
	s.List(&c.JWTAudiences, "visio-jwt-accepted-audiences", "", "accepted aud of room tokens, comma-separated (empty or \"*\": any, Jitsi's default), as Jitsi's asap_accepted_audiences")
	s.Secret(&c.JWTSecret, "visio-jwt-secret", "shared secret of HS256 room tokens (empty: HS256 tokens refused)")
	s.String(&c.JWTPublicKeys, "visio-jwt-public-keys", "", "directory of <kid>.pem public keys for RS256/ES256 room tokens")
	s.String(&c.JWTKeyServer, "visio-jwt-key-server", "", "https URL of a key server giving the public key of a room token's kid at <url>/<hex(sha256(kid))>.pem, as Jitsi's asap_key_server (empty: none)")
	s.Secret(&c.InviteKey, "visio-invite-key", "base64 key (32 bytes or more) signing guest invitations (empty: one generated and kept in <data-dir>/visio-invite.key)")
	s.Duration(&c.InviteTTL, "visio-invite-ttl", 24*time.Hour, "how long a guest invitation is valid")
	s.Bool(&c.MediaLoopback, "visio-media-loopback", false, "offer only loopback media addresses (tests, a demo on one machine)")
	s.List(&c.PublicIPs, "visio-public-ips", "", "public IP addresses of the media server, announced in place of its own (one-to-one NAT)")
	s.String(&c.UDPPorts, "visio-udp-ports", "", "UDP port range of the media, min-max (empty: any)")
	s.String(&c.TURNAddr, "visio-turn-addr", "", "address of the built-in TURN relay, UDP and TCP, e.g. :3478 (empty: no relay); needs SOCLE_VISIO_PUBLIC_IPS")
	s.Secret(&c.TURNSecret, "visio-turn-secret", "secret of the TURN relay's time-limited credentials (empty: a new one at each start)")
	s.Duration(&c.ResumeGrace, "visio-resume-grace", DefaultResumeGrace, "how long a participant whose connection dropped stays in the room, waiting for its page to reconnect")
	s.Check(func() error {
		if c.ResumeGrace <= 0 {
			return fmt.Errorf("SOCLE_VISIO_RESUME_GRACE: want a positive duration, such as 30s (got %s)", c.ResumeGrace)
		}
		return nil
	})
	s.String(&c.NodeID, "visio-node-id", "", "this media node's name among several (letters, digits, - and _; empty: the host's name and a hash of the data directory)")
	s.Int(&c.NodeLimit, "visio-node-limit", 0, 0, 1_000_000, "participants above which this media node takes no new meeting (0: no limit)")
	s.Check(func() error {
		if c.NodeID != "" && !roomPattern.MatchString(strings.ToLower(c.NodeID)) {
			return fmt.Errorf("SOCLE_VISIO_NODE_ID: %q: 1 to 64 letters, digits, - or _, starting with a letter or digit", c.NodeID)
		}
		return nil
	})
	s.Check(func() error {
		if c.JWTKeyServer != "" {
			if _, err := token.NewKeyServer(c.JWTKeyServer, nil); err != nil {
				return fmt.Errorf("SOCLE_VISIO_JWT_KEY_SERVER: %w", err)
			}
		}
		return nil
	})
	s.Check(func() error {
		if c.TURNAddr != "" && len(c.PublicIPs) == 0 && !c.MediaLoopback {
			return fmt.Errorf("SOCLE_VISIO_TURN_ADDR needs SOCLE_VISIO_PUBLIC_IPS: the relay announces the first of them")
		}
		return nil
	})
}

// Deps are what the service stands on.
type Deps struct {
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Identity: agents signed in on the web may create rooms, as token holders may.
	Identity *identity.Store
	// Pool keeps the usage statistics; nil keeps none.
	Pool *pgxpool.Pool
	// DataDir keeps the invitation key generated when none is configured
	// (visio-invite.key), so that invitations outlive a restart; empty: a key for this
	// process only.
	DataDir string
	// Bus reaches the other media nodes; with Pool, meetings are placed over every node
	// (nodes.go). Nil: this node holds every meeting it is asked for.
	Bus *nats.Conn
}

// Service runs the conference rooms of this node.
type Service struct {
	cfg     Config
	log     *slog.Logger
	tokens  *token.Verifier
	invites *invite.Signer
	deps    Deps
	site    *web.Site // the pages' edge

	mu    sync.Mutex
	rooms map[string]*Room
	usage *usage
	media *sfu.SFU
	relay *turn.Server
	peers sync.Map          // meeting (Room.media) + "\x00" + participant id → *sfu.Peer
	whip  sync.Map          // WHIP and WHEP sessions: id → *mediaSession (whip.go)
	res   service.Resources // what Start took
	nodes *nodes
	stop  context.CancelFunc // ends the node's reports and relayed sessions
	// quitNode stops answering pings and sessions: replicas place meetings elsewhere.
	quitNode func()

	sessions sync.Map // resume token → *session (resume.go)

	conferences  prometheus.Gauge
	participants prometheus.Gauge
	started      prometheus.Counter
	durations    prometheus.Histogram
	relayed      prometheus.Gauge
}

var _ service.Service = (*Service)(nil)

// New builds the service.
func New(cfg Config, deps Deps) (*Service, error) {
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger.With("service", "visio"), rooms: map[string]*Room{}, usage: &usage{pool: deps.Pool}}
	s.site = newSite()
	s.site.Logger = s.log
	s.tokens = &token.Verifier{AppID: cfg.JWTAppID, Issuers: cfg.JWTIssuers, Audiences: cfg.JWTAudiences,
		Secret: []byte(cfg.JWTSecret), Leeway: 30 * time.Second}
	if cfg.JWTPublicKeys != "" {
		keys, err := loadKeys(cfg.JWTPublicKeys)
		if err != nil {
			return nil, err
		}
		s.tokens.Keys = keys
	}
	if cfg.JWTKeyServer != "" {
		ks, err := token.NewKeyServer(cfg.JWTKeyServer, nil)
		if err != nil {
			return nil, fmt.Errorf("SOCLE_VISIO_JWT_KEY_SERVER: %w", err)
		}
		s.tokens.KeyServer = ks
	}
	var err error
	switch {
	case cfg.InviteKey != "":
		key, err := base64.StdEncoding.DecodeString(cfg.InviteKey)
		if err != nil {
			return nil, fmt.Errorf("SOCLE_VISIO_INVITE_KEY: not base64")
		}
		if s.invites, err = invite.New(key); err != nil {
			return nil, fmt.Errorf("SOCLE_VISIO_INVITE_KEY: %w", err)
		}
	case deps.DataDir == "":
		key := make([]byte, 32)
		rand.Read(key)
		s.log.Warn("no SOCLE_VISIO_INVITE_KEY: invitations last until this process stops")
		s.invites, _ = invite.New(key) // 32 bytes: the length it wants
	}
	// Otherwise Start reads the key kept in the data directory, or makes it.
	mcfg := sfu.Config{LoopbackOnly: cfg.MediaLoopback, NAT1To1IPs: cfg.PublicIPs}
	if cfg.UDPPorts != "" {
		var lo, hi uint16
		if _, err := fmt.Sscanf(cfg.UDPPorts, "%d-%d", &lo, &hi); err != nil {
			return nil, fmt.Errorf("SOCLE_VISIO_UDP_PORTS: want min-max, such as 40000-40999")
		}
		mcfg.UDPPortMin, mcfg.UDPPortMax = lo, hi
	}
	if s.media, err = sfu.New(mcfg, s.log.With("component", "sfu")); err != nil {
		return nil, fmt.Errorf("visio media: %w", err)
	}
	s.conferences = prometheus.NewGauge(prometheus.GaugeOpts{Name: "socle_visio_conferences", Help: "Conferences in progress on this node."})
	s.participants = prometheus.NewGauge(prometheus.GaugeOpts{Name: "socle_visio_participants", Help: "Participants in conferences on this node."})
	s.started = prometheus.NewCounter(prometheus.CounterOpts{Name: "socle_visio_conferences_started_total", Help: "Conferences started."})
	s.durations = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "socle_visio_conference_duration_seconds",
		Help: "How long conferences lasted.", Buckets: prometheus.ExponentialBuckets(60, 2, 10)})
	s.relayed = prometheus.NewGauge(prometheus.GaugeOpts{Name: "socle_visio_relayed_sessions",
		Help: "Participants' signalling relayed over NATS between this replica and another media node, both ends counted."})
	pool := deps.Pool
	if deps.Bus == nil {
		pool = nil // no way to reach another node: every meeting is here
	}
	s.nodes = newNodes(nodeID(cfg.NodeID, deps.DataDir), cfg.NodeLimit, pool, deps.Bus, s.log)
	s.nodes.load = s.load
	if deps.Registry != nil {
		deps.Registry.MustRegister(s.conferences, s.participants, s.started, s.durations, s.relayed)
		deps.Registry.MustRegister(s.nodes.collectors()...)
	}
	return s, nil
}

// loadKeys reads <kid>.pem public keys.
func loadKeys(dir string) (map[string]crypto.PublicKey, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return nil, err
	}
	keys := map[string]crypto.PublicKey{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("SOCLE_VISIO_JWT_PUBLIC_KEYS: %w", err)
		}
		// The key server's reader: the same kinds of keys, wherever they come from.
		k, err := token.ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("SOCLE_VISIO_JWT_PUBLIC_KEYS: %s: %w", p, err)
		}
		keys[strings.TrimSuffix(filepath.Base(p), ".pem")] = k
	}
	return keys, nil
}

// Name implements service.Service.
func (s *Service) Name() string { return "visio" }

// Start implements service.Service: the invitation key kept in the data directory (made the
// first time), and the TURN relay's sockets.
func (s *Service) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.res.Release(context.WithoutCancel(ctx))
		}
	}()
	if s.invites == nil {
		key, err := keyFile(filepath.Join(s.deps.DataDir, "visio-invite.key"))
		if err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(key)
		if err != nil {
			return fmt.Errorf("visio invitation key %s: not base64", filepath.Join(s.deps.DataDir, "visio-invite.key"))
		}
		if s.invites, err = invite.New(raw); err != nil {
			return fmt.Errorf("visio invitation key: %w", err)
		}
	}
	if s.cfg.TURNAddr != "" {
		relay, err := newRelay(s.cfg, s.log)
		if err != nil {
			return err
		}
		s.relay = relay
		s.res.AddFunc(func() { relay.Close() })
	}
	return s.startNode(ctx)
}

// Stop implements service.Service: every meeting ends, and what Start took is released.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	// Out of the cluster first, so that participants reconnecting from the meetings that
	// end here are placed on another node.
	if s.stop != nil {
		s.nodes.leave(ctx)
		if s.quitNode != nil {
			s.quitNode()
		}
		s.stop()
	}
	for _, r := range rooms {
		r.shutdown()
	}
	s.media.Close()
	return s.res.Release(ctx)
}

// newRelay starts the TURN relay on cfg.TURNAddr (UDP and TCP), announcing the first public
// address; it relays only to the SFU's public addresses (or anywhere on loopback, for tests).
func newRelay(cfg Config, log *slog.Logger) (*turn.Server, error) {
	secret := []byte(cfg.TURNSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	public := "127.0.0.1"
	if len(cfg.PublicIPs) > 0 {
		public = cfg.PublicIPs[0]
	}
	tc := turn.Config{Realm: "socle", Secret: secret, PublicIP: public, ListenUDP: cfg.TURNAddr, ListenTCP: cfg.TURNAddr,
		AllowPrivatePeers: cfg.MediaLoopback}
	for _, ip := range cfg.PublicIPs {
		if p, err := netip.ParsePrefix(ip + "/32"); err == nil {
			tc.AllowedPeers = append(tc.AllowedPeers, p)
		}
	}
	r, err := turn.New(tc, log.With("component", "turn"))
	if err != nil {
		return nil, fmt.Errorf("visio TURN relay: %w", err)
	}
	return r, nil
}

// iceServers are what a participant's browser may use to reach the media: the built-in
// relay, with credentials valid for its configured time.
func (s *Service) iceServers(user string) []turn.ICEServer {
	if s.relay == nil {
		return []turn.ICEServer{}
	}
	return []turn.ICEServer{s.relay.Credentials(user, time.Now())}
}

// Ready implements service.Service.
func (s *Service) Ready(context.Context) error { return nil }

// Routes implements service.Service: the conference is on the web listener.
func (s *Service) Routes(pages, _ *http.ServeMux) {
	// A room is /visio/<room>, or /visio/<tenant>/<room> for a tenant's, as Jitsi's
	// https://host/<tenant>/<room>: {path...} takes both; the literal paths below win.
	pages.HandleFunc("GET /visio/ws/{path...}", s.connect)
	pages.HandleFunc("GET /visio/{$}", s.home)
	pages.HandleFunc("GET /visio/{path...}", s.roomPage)
	pages.Handle("GET /visio/static/", s.static())
	pages.Handle("GET /visio/static/notes/", http.StripPrefix("/visio/static/notes/", notes.StaticHandler()))
	pages.Handle("GET /visio/stats", s.site.Handle(s.statsPage))
	pages.Handle("GET /visio/api/stats", s.site.Handle(s.statsAPI))
	// WHIP and WHEP: standard ingress and egress (whip.go).
	s.whipRoutes(pages)
}

// RoomKey reads the room of a URL path: "room", or "tenant/room" for a tenant's room, whose
// key is Jitsi's "[tenant]room" (token.TenantRoom, the MUC node of a multi-domain deployment,
// which tokens are checked against). Both names as RoomName.
func RoomKey(path string) (string, bool) {
	tenant, name, ok := strings.Cut(path, "/")
	if !ok {
		return RoomName(path)
	}
	t, okT := RoomName(tenant)
	n, okN := RoomName(name)
	return token.TenantRoom(t, n), okT && okN
}

// roomPath is the URL path of a room key: "room" or "tenant/room".
func roomPath(key string) string {
	if tenant, name := token.SplitRoom(key); tenant != "" {
		return tenant + "/" + name
	}
	return key
}

// room returns the room, creating it if create is set.
func (s *Service) room(name string, create bool) (*Room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rooms[name]; ok && !r.Ended() {
		return r, false
	}
	if !create {
		return nil, false
	}
	var r *Room
	r = newRoom(name, func() { s.forget(r) })
	r.usageID = s.usage.started(context.Background(), r.Created, s.nodes.id)
	s.rooms[name] = r
	s.conferences.Inc()
	s.started.Inc()
	return r, true
}

// forget drops an ended room.
func (s *Service) forget(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.Name] == r {
		delete(s.rooms, r.Name)
		s.conferences.Dec()
		s.media.Room(r.media).Close()
		s.durations.Observe(time.Since(r.Created).Seconds())
		s.nodes.unplace(context.Background(), r.Name)
		peak, joins, guests := r.counts()
		if err := s.usage.ended(context.Background(), r.usageID, time.Now(), peak, joins, guests); err != nil {
			s.log.Warn("conference statistics not recorded", "error", err)
		}
		s.log.Info("conference ended", "room", r.Name, "lasted", time.Since(r.Created).Round(time.Second))
	}
}

// InviteURL is the path of an invitation to room, valid for the configured time.
func (s *Service) InviteURL(room string) (string, time.Time) {
	exp := time.Now().Add(s.cfg.InviteTTL).Truncate(time.Second)
	return "/visio/" + roomPath(room) + "?invite=" + s.invites.Code(room, exp), exp
}

// keyFile returns the base64 key kept in path, creating it (32 random bytes, readable by its
// owner only) the first time.
func keyFile(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	key := base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("visio invitation key: %w", err)
	}
	return key, nil
}
