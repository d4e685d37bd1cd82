// Package directory is the emergency service's view of who is who: operators (bound to their
// client certificates and the networks, MCC-MNC, they run), PSAPs (their routing number,
// endpoint and certificates), communes and PDAAU rows. It is loaded from PostgreSQL into an
// immutable snapshot, swapped atomically when `socle apply` changes it.
package directory

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/geo"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database"
	"socle/internal/platform/identity"
)

// Operator is a mobile or fixed network operator that pushes AML messages.
type Operator struct {
	ID     string
	Name   string
	MCCMNC []string // "208-01"
	// LocationEndpoint is the operator's HELD server, empty if it has none; LocationCA
	// verifies it, nil meaning socle's own CA.
	LocationEndpoint string
	LocationCA       *x509.CertPool
	// TNAAU are the départements whose routing tables the operator may fetch ("*": all).
	TNAAU []string
}

// Owns reports whether the operator runs the network mcc-mnc.
func (o *Operator) Owns(mcc, mnc string) bool {
	for _, n := range o.MCCMNC {
		if n == mcc+"-"+mnc {
			return true
		}
	}
	return false
}

// PSAP is an emergency centre (public safety answering point).
type PSAP struct {
	ID            string
	Name          string
	RoutingNumber string // the centre's 10-digit number in the PDAAU
	Endpoint      string // where AML locations are pushed, https
	// CA is the bundle trusted for the PSAP's server certificate; nil means socle's own CA.
	CA *x509.CertPool
}

// Snapshot is the directory at one moment. It is never modified once built.
type Snapshot struct {
	Version       time.Time
	Operators     map[string]*Operator
	PSAPs         map[string]*PSAP
	byFingerprint map[string]org
	byRouting     map[string]*PSAP
	pdaau         map[pdaauKey]string
	blocks        map[string]Block
	versions      map[string]TableVersion
	areas         map[string]map[string]bool // PSAP id → départements the PDAAU routes calls from to it
	Communes      *geo.Index
}

// Serves reports whether the PDAAU in effect routes calls from at least one commune of the
// département to the PSAP, for at least one number: the PSAP's area.
func (s *Snapshot) Serves(psapID, dep string) bool { return s.areas[psapID][dep] }

// TableVersion is the PDAAU version in effect for a département: its number, and the TNAAU
// version its activation made.
type TableVersion struct{ PDAAU, TNAAU int64 }

// TableVersion returns the version of a département's table in effect.
func (s *Snapshot) TableVersion(dep string) (TableVersion, bool) {
	v, ok := s.versions[dep]
	return v, ok
}

// Block is a numbering-plan block: numbers starting with Prefix are served by Operator.
type Block struct {
	Prefix   string
	Operator *Operator
	Kind     string // mobile or fixed
}

// BlockFor returns the longest numbering-plan block holding number (E.164 digits, no '+').
func (s *Snapshot) BlockFor(number string) (Block, bool) {
	for n := min(len(number), 15); n >= 2; n-- {
		if b, ok := s.blocks[number[:n]]; ok {
			return b, true
		}
	}
	return Block{}, false
}

type org struct {
	operator *Operator
	psap     *PSAP
}

type pdaauKey struct{ insee, number string }

// The kinds of organisations the emergency service knows by their certificates
// (identity.Organisation.Kind).
const (
	KindOperator = "operator"
	KindPSAP     = "psap"
	// KindLegacy is the legacy location platform during a cutover (docs/operations-cutover.md):
	// known by the certificates SOCLE_EMERGENCY_CUTOVER_LEGACY_CERTS names, not by the
	// directory. It may push AML as the operators' relay, and locate any caller over HELD.
	KindLegacy = "legacy-platform"
)

// Organisation implements identity.CertResolver: the operator or PSAP a client certificate
// belongs to.
func (s *Snapshot) Organisation(fingerprint string) (identity.Organisation, bool) {
	if o, ok := s.OperatorByCert(fingerprint); ok {
		return identity.Organisation{Kind: KindOperator, ID: o.ID, Name: o.Name}, true
	}
	if p, ok := s.PSAPByCert(fingerprint); ok {
		return identity.Organisation{Kind: KindPSAP, ID: p.ID, Name: p.Name}, true
	}
	return identity.Organisation{}, false
}

// OperatorOf returns the operator calling, as the interconnect's middleware found it.
func (s *Snapshot) OperatorOf(c identity.Caller) (*Operator, bool) {
	if c.Org == nil || c.Org.Kind != KindOperator {
		return nil, false
	}
	o, ok := s.Operators[c.Org.ID]
	return o, ok
}

// PSAPOf returns the PSAP calling, as the interconnect's middleware found it.
func (s *Snapshot) PSAPOf(c identity.Caller) (*PSAP, bool) {
	if c.Org == nil || c.Org.Kind != KindPSAP {
		return nil, false
	}
	p, ok := s.PSAPs[c.Org.ID]
	return p, ok
}

// OperatorByCert returns the operator a client certificate belongs to.
func (s *Snapshot) OperatorByCert(fingerprint string) (*Operator, bool) {
	o := s.byFingerprint[fingerprint].operator
	return o, o != nil
}

// PSAPByCert returns the PSAP a client certificate belongs to.
func (s *Snapshot) PSAPByCert(fingerprint string) (*PSAP, bool) {
	p := s.byFingerprint[fingerprint].psap
	return p, p != nil
}

// PSAPByRoutingNumber returns the PSAP with a 10-digit routing number.
func (s *Snapshot) PSAPByRoutingNumber(n string) (*PSAP, bool) {
	p, ok := s.byRouting[n]
	return p, ok
}

// RoutingNumber is the PDAAU entry for a commune and a short number dialled.
func (s *Snapshot) RoutingNumber(insee, number string) (string, bool) {
	r, ok := s.pdaau[pdaauKey{insee, number}]
	return r, ok
}

// PDAAULen is the number of PDAAU rows.
func (s *Snapshot) PDAAULen() int { return len(s.pdaau) }

// Load reads the whole directory, in one read-only transaction so that the snapshot is of
// one moment: a directory applied meanwhile is seen whole or not at all.
func Load(ctx context.Context, pool *pgxpool.Pool) (*Snapshot, error) {
	s := &Snapshot{
		Version:       time.Now(),
		Operators:     map[string]*Operator{},
		PSAPs:         map[string]*PSAP{},
		byFingerprint: map[string]org{},
		byRouting:     map[string]*PSAP{},
		pdaau:         map[pdaauKey]string{},
		blocks:        map[string]Block{},
		versions:      map[string]TableVersion{},
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	defer tx.Rollback(ctx) // read only: nothing to commit
	// each runs one query and hands every row to scan; pgx.ForEachRow closes the rows
	// whatever happens, so that an early return gives the connection back to the pool.
	each := func(what, query string, dest []any, row func() error) error {
		rows, err := tx.Query(ctx, query)
		if err != nil {
			return fmt.Errorf("directory: %s: %w", what, err)
		}
		if _, err := pgx.ForEachRow(rows, dest, row); err != nil {
			return fmt.Errorf("directory: %s: %w", what, err)
		}
		return nil
	}

	var o Operator
	var caPEM string
	if err := each("operators", `SELECT id, name, mcc_mnc, coalesce(location_endpoint, ''), coalesce(location_ca_pem, ''), tnaau_departements FROM emergency.operators`,
		[]any{&o.ID, &o.Name, &o.MCCMNC, &o.LocationEndpoint, &caPEM, &o.TNAAU}, func() error {
			op := o
			var err error
			if op.LocationCA, err = storedCA(caPEM, "operator", op.ID); err != nil {
				return err
			}
			s.Operators[op.ID] = &op
			o.MCCMNC, o.TNAAU = nil, nil // the next row's arrays are its own, not op's
			return nil
		}); err != nil {
		return nil, err
	}

	var p PSAP
	if err := each("psaps", `SELECT id, name, routing_number, endpoint, coalesce(ca_pem, '') FROM emergency.psaps`,
		[]any{&p.ID, &p.Name, &p.RoutingNumber, &p.Endpoint, &caPEM}, func() error {
			ps := p
			var err error
			if ps.CA, err = storedCA(caPEM, "psap", ps.ID); err != nil {
				return err
			}
			s.PSAPs[ps.ID] = &ps
			s.byRouting[ps.RoutingNumber] = &ps
			return nil
		}); err != nil {
		return nil, err
	}

	var fp, opID, psapID string
	if err := each("certificates", `SELECT fingerprint, coalesce(operator_id, ''), coalesce(psap_id, '') FROM emergency.certificates`,
		[]any{&fp, &opID, &psapID}, func() error {
			s.byFingerprint[fp] = org{operator: s.Operators[opID], psap: s.PSAPs[psapID]}
			return nil
		}); err != nil {
		return nil, err
	}

	var k pdaauKey
	var routing string
	if err := each("pdaau", `SELECT insee, number, routing_number FROM emergency.pdaau`,
		[]any{&k.insee, &k.number, &routing}, func() error {
			s.pdaau[k] = routing
			return nil
		}); err != nil {
		return nil, err
	}

	var dep string
	var v TableVersion
	if err := each("pdaau versions", `SELECT DISTINCT ON (departement) departement, id, active_seq FROM emergency.pdaau_versions
		WHERE active_seq IS NOT NULL ORDER BY departement, active_seq DESC`,
		[]any{&dep, &v.PDAAU, &v.TNAAU}, func() error {
			s.versions[dep] = v
			return nil
		}); err != nil {
		return nil, err
	}

	var blk Block
	if err := each("number blocks", `SELECT prefix, operator_id, kind FROM emergency.number_blocks`,
		[]any{&blk.Prefix, &opID, &blk.Kind}, func() error {
			b := blk
			b.Operator = s.Operators[opID]
			s.blocks[b.Prefix] = b
			return nil
		}); err != nil {
		return nil, err
	}

	s.areas = map[string]map[string]bool{}
	for k, routing := range s.pdaau {
		if p, ok := s.byRouting[routing]; ok {
			if s.areas[p.ID] == nil {
				s.areas[p.ID] = map[string]bool{}
			}
			s.areas[p.ID][geo.Departement(k.insee)] = true
		}
	}

	communes, err := loadCommunes(ctx, tx)
	if err != nil {
		return nil, err
	}
	s.Communes = geo.NewIndex(communes)
	return s, nil
}

// storedCA reads a CA kept with an organisation; nil when none is (socle's own CA is used).
func storedCA(pemText, kind, id string) (*x509.CertPool, error) {
	if pemText == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemText)) {
		return nil, fmt.Errorf("%s %s: stored CA holds no certificate", kind, id)
	}
	return pool, nil
}

func loadCommunes(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]geo.Commune, error) {
	rows, err := q.Query(ctx, `SELECT code, name, geometry FROM emergency.communes`)
	if err != nil {
		return nil, fmt.Errorf("directory: communes: %w", err)
	}
	defer rows.Close()
	var out []geo.Commune
	for rows.Next() {
		var c geo.Commune
		var raw []byte
		if err := rows.Scan(&c.Code, &c.Name, &raw); err != nil {
			return nil, fmt.Errorf("directory: communes: %w", err)
		}
		var coords [][][][2]float64
		if err := json.Unmarshal(raw, &coords); err != nil {
			return nil, fmt.Errorf("directory: commune %s: %w", c.Code, err)
		}
		c.Geometry = fromCoordinates(coords)
		out = append(out, c)
	}
	return out, rows.Err()
}

// toCoordinates and fromCoordinates convert between geo's types and GeoJSON MultiPolygon
// coordinates ([lon, lat] positions, RFC 7946 §3.1.7), the form stored in the database.
func toCoordinates(mp geo.MultiPolygon) [][][][2]float64 {
	out := make([][][][2]float64, len(mp))
	for i, poly := range mp {
		out[i] = make([][][2]float64, len(poly))
		for j, ring := range poly {
			out[i][j] = make([][2]float64, len(ring))
			for k, p := range ring {
				out[i][j][k] = [2]float64{p.Lon, p.Lat}
			}
		}
	}
	return out
}

func fromCoordinates(c [][][][2]float64) geo.MultiPolygon {
	mp := make(geo.MultiPolygon, len(c))
	for i, poly := range c {
		mp[i] = make([]geo.Ring, len(poly))
		for j, ring := range poly {
			mp[i][j] = make(geo.Ring, len(ring))
			for k, p := range ring {
				mp[i][j][k] = geo.Point{Lon: p[0], Lat: p[1]}
			}
		}
	}
	return mp
}

// NotifyChannel is the channel directory changes are signalled on.
const NotifyChannel = schema.DirectoryChannel

// Live holds the current snapshot and replaces it when the directory changes.
type Live struct {
	pool     *pgxpool.Pool
	logger   *slog.Logger
	cur      atomic.Pointer[Snapshot]
	follower *database.Follower
}

// NewLive loads the directory once, listening already for the changes Watch will apply.
func NewLive(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (*Live, error) {
	l := &Live{pool: pool, logger: logger}
	l.follower = database.NewFollower(pool, NotifyChannel, logger, l.Reload, func(ctx context.Context, _ string) error {
		return l.Reload(ctx)
	})
	if err := l.follower.Start(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Get returns the current snapshot.
func (l *Live) Get() *Snapshot { return l.cur.Load() }

// Reload reads the directory again and swaps it in.
func (l *Live) Reload(ctx context.Context) error {
	s, err := Load(ctx, l.pool)
	if err != nil {
		return err
	}
	l.cur.Store(s)
	l.logger.Info("directory loaded", "operators", len(s.Operators), "psaps", len(s.PSAPs),
		"communes", s.Communes.Len(), "pdaau_rows", len(s.pdaau))
	return nil
}

// Watch reloads on every NOTIFY until ctx ends, reconnecting after errors. A reload after a
// reconnect covers any notification missed while disconnected.
func (l *Live) Watch(ctx context.Context) { l.follower.Run(ctx) }

// Close lets go of what NewLive took, when Watch was never run (Watch lets go of it when it ends).
func (l *Live) Close() { l.follower.Close() }
