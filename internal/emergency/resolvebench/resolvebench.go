// Package resolvebench measures the commune resolver — point to INSEE code — against
// PostGIS's ST_Contains with a GiST index over the same polygons, in the same run.
package resolvebench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/geo"
)

// Options of a run.
type Options struct {
	Communes int // synthetic communes
	Vertices int // per commune
	Points   int // resolved by socle's index
	PGPoints int // resolved by PostGIS (slower: fewer)
}

// Result is what a run measured.
type Result struct {
	Build        time.Duration
	PerCore      float64 // socle's resolves per second, one goroutine
	Load         time.Duration
	PostGIS      float64 // PostGIS resolves per second, one connection
	Ratio        float64
	Checked      int
	Disagreement int
}

// Run measures. pool must reach a database where the postgis extension can be created.
func Run(ctx context.Context, pool *pgxpool.Pool, o Options, log io.Writer) (Result, error) {
	var r Result
	fmt.Fprintf(log, "generating %d communes of %d vertices\n", o.Communes, o.Vertices)
	cs := geo.Synthetic(o.Communes, o.Vertices, 1)
	t0 := time.Now()
	ix := geo.NewIndex(cs)
	r.Build = time.Since(t0)

	rng := rand.New(rand.NewPCG(7, 8))
	pts := make([][2]float64, o.Points)
	for i := range pts {
		pts[i] = [2]float64{41.3 + rng.Float64()*9.8, -5 + rng.Float64()*14.5}
	}
	fmt.Fprintf(log, "socle: %d resolves on one goroutine\n", o.Points)
	t0 = time.Now()
	for _, p := range pts {
		ix.Locate(p[0], p[1])
	}
	r.PerCore = float64(len(pts)) / time.Since(t0).Seconds()

	fmt.Fprintf(log, "PostGIS: loading the same polygons\n")
	t0 = time.Now()
	if err := load(ctx, pool, cs); err != nil {
		return r, err
	}
	r.Load = time.Since(t0)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return r, err
	}
	defer conn.Release()
	const q = `SELECT code FROM bench_communes WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY code LIMIT 1`
	fmt.Fprintf(log, "PostGIS: %d resolves on one connection\n", o.PGPoints)
	got := make([]string, o.PGPoints)
	t0 = time.Now()
	for i := 0; i < o.PGPoints; i++ {
		p := pts[i]
		err := conn.QueryRow(ctx, q, p[1], p[0]).Scan(&got[i])
		if err != nil && err != pgx.ErrNoRows {
			return r, fmt.Errorf("postgis: %w", err)
		}
	}
	r.PostGIS = float64(o.PGPoints) / time.Since(t0).Seconds()
	r.Ratio = r.PerCore / r.PostGIS
	for i := 0; i < o.PGPoints; i++ {
		code, _ := ix.Locate(pts[i][0], pts[i][1])
		r.Checked++
		if code != got[i] {
			r.Disagreement++
		}
	}
	return r, nil
}

// load writes the polygons into a PostGIS table with a GiST index.
func load(ctx context.Context, pool *pgxpool.Pool, cs []geo.Commune) error {
	for _, sql := range []string{
		`CREATE EXTENSION IF NOT EXISTS postgis`,
		`DROP TABLE IF EXISTS bench_communes`,
		`CREATE UNLOGGED TABLE bench_communes (code text PRIMARY KEY, wkt text, geom geometry(MultiPolygon, 4326))`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return fmt.Errorf("postgis (install postgresql-15-postgis-3): %w", err)
		}
	}
	i := 0
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"bench_communes"}, []string{"code", "wkt"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(cs) {
				return nil, nil
			}
			c := cs[i]
			i++
			return []any{c.Code, wkt(c.Geometry)}, nil
		}))
	if err != nil {
		return fmt.Errorf("postgis: load: %w", err)
	}
	for _, sql := range []string{
		`UPDATE bench_communes SET geom = ST_GeomFromText(wkt, 4326), wkt = NULL`,
		`CREATE INDEX ON bench_communes USING gist (geom)`,
		`ANALYZE bench_communes`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return fmt.Errorf("postgis: %w", err)
		}
	}
	return nil
}

func wkt(mp geo.MultiPolygon) string {
	var b strings.Builder
	b.WriteString("MULTIPOLYGON(")
	for i, poly := range mp {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j, ring := range poly {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for k, p := range ring {
				if k > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.FormatFloat(p.Lon, 'f', -1, 64))
				b.WriteByte(' ')
				b.WriteString(strconv.FormatFloat(p.Lat, 'f', -1, 64))
			}
			b.WriteByte(')')
		}
		b.WriteByte(')')
	}
	b.WriteByte(')')
	return b.String()
}

// Print writes the figures.
func (r Result) Print(w io.Writer, o Options) {
	fmt.Fprintf(w, `
Commune resolver, %d synthetic communes of %d vertices over metropolitan France
  socle index               %10.0f resolves/s on one core   (target >= 2,000,000)   built in %s
baseline: PostGIS ST_Contains with a GiST index, same polygons, one connection
  PostGIS                   %10.0f resolves/s               (loaded and indexed in %s)
  ratio socle / PostGIS     %10.0f                          (target >= 100)
  answers compared          %d, disagreeing %d
`, o.Communes, o.Vertices, r.PerCore, r.Build.Round(time.Millisecond), r.PostGIS, r.Load.Round(time.Millisecond),
		r.Ratio, r.Checked, r.Disagreement)
}
