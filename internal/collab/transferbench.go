package collab

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"socle/internal/platform/identity"
	"socle/internal/platform/service"
)

// `socle bench transfer`: a large file up and down through socle's tus endpoint, against a
// bare net/http handler writing to and reading from the same disk, in one run; and socle's
// resident memory meanwhile, which must stay flat (the file streamed, never held).

func transferBenchCommand() service.Command {
	return service.Command{Name: "bench", Subcommands: []service.Command{{
		Name: "transfer", Summary: "upload and download throughput of a large file through socle's tus endpoint, against a bare net/http handler",
		Synopsis: "[flags]", Example: "socle bench transfer -mb 2048", Database: true, Bench: true, Run: runTransferBench,
		Description: `
On loopback, on the bench's scratch database and directory: a file of -mb MiB (generated, not
read from disk) is uploaded with one tus PATCH, twice, (as a signed-in agent's personal access token,
through the identity middleware, the PostgreSQL locker and the file store) and read back with
GET, twice; in the same run, interleaved (best of two each), a bare net/http handler receives the same bytes with PUT into a file of
the same directory and serves it with http.ServeFile. Prints MB/s of each and socle's ratio to
the bare handler, and this process's resident memory (VmRSS) before and at its peak during
socle's transfers: a peak growing with the file would mean the file is held in memory. The
virus scan is off (it measures clamd, not socle).`}}}
}

func runTransferBench(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	mb := fs.Int("mb", 2048, "the file's size in MiB")
	if err := env.Parse(args); err != nil {
		return err
	}
	if *mb < 1 || *mb > 64<<10 {
		return service.Usagef("-mb from 1 to 65536")
	}
	size := int64(*mb) << 20
	pool, err := env.OpenDB(ctx, 16)
	if err != nil {
		return err
	}
	logger := env.Logger()
	people := identity.New(pool, logger)
	u, err := people.AddUser(ctx, fmt.Sprintf("bench-%d@bench.socle.test", time.Now().UnixNano()), "Bench", "correct horse battery staple bench")
	if err != nil {
		return err
	}
	token, err := people.NewToken(ctx, u.ID, "bench", time.Hour)
	if err != nil {
		return err
	}
	dir := filepath.Join(env.DataDir(), "transfers-bench")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var srv *httptest.Server
	c, err := New(Config{Transfers: TransferConfig{StorageDir: dir, Clamd: "off", MaxSize: size, QuotaMB: 2**mb + 1}},
		service.Env{Pool: pool, Logger: logger, Identity: people, DataDir: env.DataDir(), PublicURL: func() string { return srv.URL }})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	defer c.Stop(context.Background())
	mux := http.NewServeMux()
	c.Routes(mux, http.NewServeMux())
	srv = httptest.NewServer(people.Middleware(mux))
	defer srv.Close()
	bare := httptest.NewServer(bareHandler(dir))
	defer bare.Close()

	out := env.Stdout()
	fmt.Fprintf(out, "transfer of %d MiB on loopback, socle (tus) against a bare net/http handler, same disk\n", *mb)
	rss := startRSS()
	base := rss.now()

	// Each twice, in the order bare, socle, socle, bare, the best of each kept: the disk's
	// writeback and the page cache then favour neither.
	client := &http.Client{}
	var loc string
	bareUp1, err := timed(func() error { return put(bare.URL+"/file", size) })
	if err != nil {
		return fmt.Errorf("bare upload: %w", err)
	}
	upload := func() error { var err error; loc, err = tusUpload(client, srv.URL, token, size); return err }
	socleUp1, err := timed(upload)
	if err != nil {
		return fmt.Errorf("socle upload: %w", err)
	}
	bareDown1, err := timed(func() error { return get(client, bare.URL+"/file", "", size) })
	if err != nil {
		return fmt.Errorf("bare download: %w", err)
	}
	socleDown1, err := timed(func() error { return get(client, loc, token, size) })
	if err != nil {
		return fmt.Errorf("socle download: %w", err)
	}
	socleDown2, err := timed(func() error { return get(client, loc, token, size) })
	if err != nil {
		return fmt.Errorf("socle download: %w", err)
	}
	bareDown2, err := timed(func() error { return get(client, bare.URL+"/file", "", size) })
	if err != nil {
		return fmt.Errorf("bare download: %w", err)
	}
	os.Remove(filepath.Join(dir, strings.TrimPrefix(loc, srv.URL+"/transfers/files/"))) // room for the second
	socleUp2, err := timed(upload)
	if err != nil {
		return fmt.Errorf("socle upload: %w", err)
	}
	bareUp2, err := timed(func() error { return put(bare.URL+"/file", size) })
	if err != nil {
		return fmt.Errorf("bare upload: %w", err)
	}
	bareUp, socleUp := min(bareUp1, bareUp2), min(socleUp1, socleUp2)
	bareDown, socleDown := min(bareDown1, bareDown2), min(socleDown1, socleDown2)
	peak := rss.stop()
	mbps := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	fmt.Fprintf(out, "%-10s %12s %12s %8s\n", "", "bare MB/s", "socle MB/s", "ratio")
	fmt.Fprintf(out, "%-10s %12.0f %12.0f %8.2f\n", "upload", mbps(bareUp), mbps(socleUp), mbps(socleUp)/mbps(bareUp))
	fmt.Fprintf(out, "%-10s %12.0f %12.0f %8.2f\n", "download", mbps(bareDown), mbps(socleDown), mbps(socleDown)/mbps(bareDown))
	fmt.Fprintf(out, "RSS: %d MiB before, %d MiB at the peak (+%d MiB for a %d MiB file)\n", base>>20, peak>>20, (peak-base)>>20, *mb)
	if peak-base > 256<<20 {
		return fmt.Errorf("socle's memory grew by %d MiB during the transfers: not streaming", (peak-base)>>20)
	}
	return nil
}

func timed(f func() error) (time.Duration, error) {
	t0 := time.Now()
	err := f()
	return time.Since(t0), err
}

// source is size bytes of a repeated random block, generated as they are read.
func source(size int64) io.Reader {
	block := make([]byte, 1<<20)
	rand.Read(block)
	return io.LimitReader(&repeat{b: block}, size)
}

type repeat struct {
	b []byte
	i int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.i:])
	r.i = (r.i + n) % len(r.b)
	return n, nil
}

// bareHandler is the baseline: PUT writes the body to a file, GET serves it.
func bareHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := filepath.Join(dir, "bare.bin")
		switch r.Method {
		case http.MethodPut:
			f, err := os.Create(path)
			if err == nil {
				_, err = io.Copy(f, r.Body)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet:
			http.ServeFile(w, r, path)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

func put(url string, size int64) error {
	req, _ := http.NewRequest(http.MethodPut, url, source(size))
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("PUT: %s", resp.Status)
	}
	return nil
}

func get(client *http.Client, url, token string, size int64) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && (resp.StatusCode != 200 || n != size) {
		err = fmt.Errorf("GET: %s, %d bytes of %d", resp.Status, n, size)
	}
	return err
}

// tusUpload makes a transfer through the API and sends the file with tus in one PATCH; it
// returns the upload's URL.
func tusUpload(client *http.Client, base, token string, size int64) (string, error) {
	do := func(method, url string, body io.Reader, hdr ...string) (*http.Response, error) {
		req, err := http.NewRequest(method, url, body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		if method == http.MethodPatch {
			req.ContentLength = size
		}
		return client.Do(req)
	}
	resp, err := do("POST", base+"/transfers/api/transfers", strings.NewReader(`{"recipients":["bench@example.org"]}`), "Content-Type", "application/json")
	if err != nil {
		return "", err
	}
	var created struct{ ID int64 }
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("creating the transfer: %s %v", resp.Status, err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	resp, err = do("POST", base+"/transfers/files/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", strconv.FormatInt(size, 10),
		"Upload-Metadata", "transfer "+b64(strconv.FormatInt(created.ID, 10))+",filename "+b64("bench.bin"))
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		return "", fmt.Errorf("tus creation: %s", resp.Status)
	}
	resp, err = do(http.MethodPatch, loc, source(size), "Tus-Resumable", "1.0.0", "Upload-Offset", "0",
		"Content-Type", "application/offset+octet-stream")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return "", fmt.Errorf("tus PATCH: %s", resp.Status)
	}
	return loc, nil
}

// rssSampler reads this process's VmRSS every 50 ms and keeps the peak.
type rssSampler struct {
	peak atomic.Int64
	done chan struct{}
	wg   sync.WaitGroup
}

func startRSS() *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if n := s.now(); n > s.peak.Load() {
				s.peak.Store(n)
			}
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() int64 {
	close(s.done)
	s.wg.Wait()
	return s.peak.Load()
}

// now is VmRSS in bytes (proc(5)), 0 where /proc is not.
func (s *rssSampler) now() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
