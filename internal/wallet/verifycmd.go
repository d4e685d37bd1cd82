package wallet

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"socle/internal/platform/pki"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
	"socle/internal/wallet/verifier"
)

// verifyRequestCommand is `socle wallet verify-request`: a relying party's script.
var verifyRequestCommand = service.Command{
	Name: "verify-request", Summary: "ask for a presentation as a relying party, through the gateway, and print what was disclosed",
	Synopsis: "--dcql FILE [--mode direct_post.jwt|direct_post] [--key KEY] [flags]", Database: true, Run: runVerifyRequest,
	Example: "socle wallet verify-request --dcql pid-name.json",
	Description: `
Acts as a relying party: sends the DCQL query of FILE (OpenID4VP 1.0 §6) to the gateway's
API verification with a consumer key (--key, or the demo's <data-dir>/gateway-demo/verifier-key.txt),
prints on the first line of standard output the request URI to show the holder (QR code or
link), waits for the wallet's answer, and prints the credentials and claims disclosed as JSON.
Exits non-zero if the presentation is refused or the request expires. A query the verifier
refuses is reported at its line in FILE.`,
}

func runVerifyRequest(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	dcqlFile := fs.String("dcql", "", "the DCQL query, a JSON file")
	mode := fs.String("mode", verifier.ModeDirectPostJWT, "the response mode: direct_post.jwt (encrypted, HAIP) or direct_post")
	keyFlag := fs.String("key", "", "the consumer's API key (empty: <data-dir>/gateway-demo/verifier-key.txt)")
	public := fs.String("public-url", "", "socle's public address (empty: SOCLE_PUBLIC_URL, or the web listener of the socle running on -data-dir)")
	api := fs.String("api", "verification", "the verifier's API on the gateway")
	if err := env.Parse(args); err != nil {
		return err
	}
	if *dcqlFile == "" {
		return service.Usagef("--dcql: the DCQL query's file is required")
	}
	if *mode != verifier.ModeDirectPost && *mode != verifier.ModeDirectPostJWT {
		return service.Usagef("--mode %q: direct_post.jwt or direct_post", *mode)
	}
	query, err := os.ReadFile(*dcqlFile)
	if err != nil {
		return err
	}
	// Checked here first, so that the mistake is shown at its line in the file.
	if _, err := verifier.ParseQuery(query); err != nil {
		return dcqlFileError(*dcqlFile, query, err)
	}
	key := *keyFlag
	if key == "" {
		b, err := os.ReadFile(filepath.Join(env.DataDir(), "gateway-demo", "verifier-key.txt"))
		if err != nil {
			return fmt.Errorf("no consumer key: give --key (%w)", err)
		}
		key = strings.TrimSpace(string(b))
	}
	base := *public
	if base == "" {
		var err error
		if base, err = server.RunningURL(env.DataDir()); err != nil {
			return fmt.Errorf("%w, or --public-url", err)
		}
	}
	// The system's roots, and socle's development CA when there is one.
	var pools []*x509.CertPool
	if p, err := pki.LoadPool(filepath.Join(env.DataDir(), "pki", "ca.crt")); err == nil {
		pools = append(pools, p)
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.TrustAny(pki.SystemAnd(pools...)...)}}
	endpoint := strings.TrimSuffix(base, "/") + "/apis/" + *api + "/v1/requests"
	call := func(method, url string, body []byte) (int, map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("X-API-Key", key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return res.StatusCode, nil, fmt.Errorf("%s %s: %d, not JSON: %.200s", method, url, res.StatusCode, b)
		}
		return res.StatusCode, m, nil
	}
	body, _ := json.Marshal(map[string]any{"dcql_query": json.RawMessage(query), "response_mode": *mode})
	code, made, err := call("POST", endpoint, body)
	if err != nil {
		return err
	}
	if code != http.StatusCreated {
		return fmt.Errorf("the verifier refused the request (%d): %s", code, problemText(made))
	}
	fmt.Fprintln(env.Stdout(), made["request_uri"])
	fmt.Fprintf(env.Stderr(), "waiting for the wallet's answer until %v\n", made["expires_at"])
	id, _ := made["id"].(string)
	for {
		code, got, err := call("GET", endpoint+"/"+id+"?wait=25", nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("reading the request (%d): %s", code, problemText(got))
		}
		switch got["status"] {
		case "pending":
			continue
		case "accepted":
			enc := json.NewEncoder(env.Stdout())
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(got["result"])
		case "refused":
			res, _ := got["result"].(map[string]any)
			return fmt.Errorf("presentation refused: %v: %v", res["error"], res["error_description"])
		default:
			return fmt.Errorf("the request is %v: no answer in time", got["status"])
		}
	}
}

// problemText is a problem+json answer on one line, with its fields at fault.
func problemText(m map[string]any) string {
	s := fmt.Sprint(m["detail"])
	if errs, ok := m["errors"].([]any); ok {
		for _, e := range errs {
			if fe, ok := e.(map[string]any); ok {
				s += fmt.Sprintf("; %v: %v", fe["field"], fe["reason"])
			}
		}
	}
	return s
}

// dcqlFileError names the line of file where the query's mistake is: a JSON syntax error's
// offset, or the value at the path a QueryError names (its nearest parent when the value is
// missing).
func dcqlFileError(file string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(json.Unmarshal(data, new(any)), &se) {
		// Offset is just past the byte at fault.
		line := bytes.Count(data[:max(0, min(int(se.Offset)-1, len(data)))], []byte("\n")) + 1
		return fmt.Errorf("%s:%d: not JSON: %v", file, line, se)
	}
	var qe *verifier.QueryError
	if errors.As(err, &qe) {
		offsets := map[string]int{}
		d := json.NewDecoder(bytes.NewReader(data))
		walkJSON(d, "", offsets)
		p := qe.Path
		for {
			if off, ok := offsets[p]; ok {
				return fmt.Errorf("%s:%d: %s", file, lineAt(data, off), qe.Error())
			}
			i := strings.LastIndexAny(p, ".[")
			if i <= 0 {
				break
			}
			p = p[:i]
		}
		return fmt.Errorf("%s: %s", file, qe.Error())
	}
	return fmt.Errorf("%s: %w", file, err)
}

// lineAt is the 1-based line of the first token at or after a byte offset (the decoder's
// offsets fall before the separators and blanks that precede a value).
func lineAt(data []byte, off int) int {
	off = min(off, len(data))
	for off < len(data) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// walkJSON records the offset where each value starts, by its path as QueryError writes it
// (credentials[0].claims[1].path). It stops at the first malformed token.
func walkJSON(d *json.Decoder, path string, offsets map[string]int) bool {
	// The value starts after any whitespace and separator the decoder has not yet read.
	start := int(d.InputOffset())
	tok, err := d.Token()
	if err != nil {
		return false
	}
	offsets[path] = start
	delim, ok := tok.(json.Delim)
	if !ok {
		return true
	}
	switch delim {
	case '{':
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return false
			}
			name, _ := k.(string)
			child := name
			if path != "" {
				child = path + "." + name
			}
			if !walkJSON(d, child, offsets) {
				return false
			}
		}
	case '[':
		for i := 0; d.More(); i++ {
			if !walkJSON(d, path+"["+strconv.Itoa(i)+"]", offsets) {
				return false
			}
		}
	}
	_, err = d.Token() // the closing delimiter
	return err == nil
}
